/**
 * Start methods, as Python's `multiprocessing` has them: how a child comes
 * to be, and so what isolates it.
 *
 * - `"thread"` (the default): a Deno Worker, a thread of this OS process.
 *   Cheapest to start and to call; it shares the process's memory, so
 *   `Value`, `Lock` and the other shared-memory objects reach it directly.
 *   Its permissions limit what it may do to the system, not to its siblings.
 * - `"spawn"`: a new OS process, `deno run` with exactly the permissions
 *   asked. `kill()` always stops it, `memoryLimitMb` bounds its heap, running
 *   out of memory ends it alone, and its `pid` is its OS pid.
 *
 * @module
 */
import { PermissionError } from "./errors.ts";
import type { _StartOptions } from "./host.ts";
import { _describe } from "./util.ts";

/**
 * How a child process starts: `"thread"` (a Deno Worker in this OS process)
 * or `"spawn"` (an OS process of its own, `deno run`).
 *
 * @example
 * ```ts
 * import type { StartMethod } from "@troupe/troupe";
 *
 * const method: StartMethod = "spawn";
 * console.assert(method === "spawn");
 * ```
 */
export type StartMethod = "thread" | "spawn";

const METHODS: readonly StartMethod[] = ["thread", "spawn"];

let chosen: StartMethod | undefined;

/**
 * Sets the start method this program's children get when they are not given
 * one, as Python's `multiprocessing.set_start_method`: once, before the first
 * child, unless `force` is set. The first child made without a method (or a
 * call of {@linkcode getStartMethod}) fixes the default, as in Python.
 *
 * @example
 * ```ts
 * import { getStartMethod, setStartMethod } from "@troupe/troupe";
 *
 * setStartMethod("spawn", { force: true });
 * console.assert(getStartMethod() === "spawn");
 * setStartMethod("thread", { force: true });
 * ```
 *
 * @throws {Error} When a start method was set before and `force` is not set.
 * @throws {TypeError} When `method` is not a start method.
 */
export function setStartMethod(method: StartMethod, options: { force?: boolean } = {}): void {
  const checked = _checkMethod(method, "setStartMethod()");
  if (chosen !== undefined && !options.force && chosen !== checked) {
    throw new Error(
      `the start method was already set to "${chosen}" (by setStartMethod(), or by the first ` +
        `child or getStartMethod() call, which fix the default as in Python); set it once, ` +
        `before the first child, or pass { force: true } to change it`,
    );
  }
  chosen = checked;
}

/**
 * The start method children get when they are not given one: the one set by
 * {@linkcode setStartMethod}, else `"thread"`, which is then fixed (as
 * Python's `get_start_method()`: a later `setStartMethod` needs `force`).
 *
 * @example
 * ```ts
 * import { getStartMethod } from "@troupe/troupe";
 *
 * console.assert(["thread", "spawn"].includes(getStartMethod()));
 * ```
 */
export function getStartMethod(): StartMethod {
  return chosen ??= "thread";
}

/**
 * Every start method this platform has, Python's `get_all_start_methods()`.
 *
 * @example
 * ```ts
 * import { getAllStartMethods } from "@troupe/troupe";
 *
 * console.assert(getAllStartMethods().includes("spawn"));
 * ```
 */
export function getAllStartMethods(): StartMethod[] {
  return [...METHODS];
}

/** `method`, checked: a start method, or a `TypeError` naming the ones there are. */
export function _checkMethod(method: unknown, where: string): StartMethod {
  if (!(METHODS as readonly unknown[]).includes(method)) {
    throw new TypeError(
      `${where}: the start method must be ${METHODS.map((m) => `"${m}"`).join(" or ")}, got ${
        _describe(method)
      }`,
    );
  }
  return method as StartMethod;
}

/**
 * A child's start options, checked before anything starts: the method
 * (`undefined` takes the program's), and a memory limit only where one
 * applies. A spawn needs the right to run `deno`.
 */
export function _startOptions(
  method: unknown,
  memoryLimitMb: unknown,
  where: string,
): _StartOptions {
  const m = method === undefined ? getStartMethod() : _checkMethod(method, `${where} startMethod`);
  if (memoryLimitMb !== undefined) {
    if (
      typeof memoryLimitMb !== "number" || !Number.isInteger(memoryLimitMb) || memoryLimitMb < 1
    ) {
      throw new TypeError(
        `${where} memoryLimitMb must be a positive whole number of megabytes, got ${
          _describe(memoryLimitMb)
        }`,
      );
    }
    if (m !== "spawn") {
      throw new TypeError(
        `${where} memoryLimitMb needs startMethod: "spawn": a thread shares its process's heap, ` +
          `so only an OS process can have a limit of its own`,
      );
    }
  }
  if (m === "spawn") {
    const deno = Deno.execPath();
    const state = Deno.permissions.querySync({ name: "run", command: deno }).state;
    if (state !== "granted") {
      throw new PermissionError(
        `${where} startMethod "spawn" starts an OS process, which needs the right to run ` +
          `${deno} (${state}); grant it with --allow-run (or --allow-run=${deno}), or use ` +
          `startMethod: "thread"`,
      );
    }
  }
  return memoryLimitMb === undefined ? { method: m } : { method: m, memoryLimitMb };
}
