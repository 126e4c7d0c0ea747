/**
 * `task()`: declaring code that a worker can load.
 *
 * A worker cannot receive a function. The parent sends the URL of the module
 * that declared it plus a key; the worker imports that module, whose top-level
 * `task()` calls fill the same registry there, and looks the key up.
 *
 * @module
 */
import { _SHARED_STATE_VERSION } from "./context.ts";
import type { WireTaskRef } from "./protocol.ts";
import { _describe as describe, _isClass as isClass } from "./util.ts";

/** A function or class that can be declared as a task. */
// deno-lint-ignore no-explicit-any
export type TaskTarget = ((...args: any[]) => unknown) | (abstract new (...args: any[]) => unknown);

interface Registry {
  byModule: Map<string, Map<string, TaskTarget>>;
  byTarget: WeakMap<TaskTarget, WireTaskRef>;
  anonymous: Map<string, number>;
}

// Kept on globalThis so that two copies of this module (say, one from JSR and
// one from a local path) still share one registry.
const REGISTRY_KEY = Symbol.for(`troupe.task.registry.v${_SHARED_STATE_VERSION}`);

function registry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  return (g[REGISTRY_KEY] ??= {
    byModule: new Map(),
    byTarget: new WeakMap(),
    anonymous: new Map(),
  });
}

/**
 * Declares a function or class that a worker can load, and returns it unchanged.
 *
 * Call it at the top level of the module that defines `target`, passing that
 * module's `import.meta`. A worker then imports the module, and the same call
 * there registers the same key. (Python has the same rule: only top-level
 * functions pickle.) The key is `name` if given, else `target.name`, else the
 * order of anonymous declarations in the module.
 *
 * @param meta The declaring module's `import.meta`.
 * @param target The function, `Process` subclass or `Actor` class to declare.
 * @param name Key to register it under. @default {target.name}
 * @returns `target` itself, so it can still be called in this thread.
 * @throws {TypeError} When `target` is not a function or class, is declared
 * twice, or its key is already used in the module.
 *
 * @example Declaring a function
 * ```ts
 * import { task } from "@troupe/troupe";
 *
 * export const fib = task(import.meta, function fib(n: number): number {
 *   return n < 2 ? n : fib(n - 1) + fib(n - 2);
 * });
 * console.assert(fib(10) === 55);
 * ```
 */
export function task<T extends TaskTarget>(meta: ImportMeta, target: T, name?: string): T {
  if (typeof meta?.url !== "string") {
    throw new TypeError("task() needs the declaring module's import.meta as its first argument");
  }
  if (typeof target !== "function") {
    throw new TypeError(
      `task() can only declare a function or a class, got ${describe(target)}`,
    );
  }
  if (name !== undefined && (typeof name !== "string" || name.length === 0)) {
    throw new TypeError(`task() name must be a non-empty string, got ${describe(name)}`);
  }
  const reg = registry();
  const existing = reg.byTarget.get(target);
  if (existing) {
    throw new TypeError(
      `${label(target)} is already declared as task '${existing.key}' in ${existing.module}; ` +
        "declare each function or class once, at the top level of its module",
    );
  }
  const module = meta.url;
  let key = name ?? target.name;
  if (!key) {
    const n = reg.anonymous.get(module) ?? 0;
    reg.anonymous.set(module, n + 1);
    key = `#${n}`;
  }
  let keys = reg.byModule.get(module);
  if (!keys) reg.byModule.set(module, keys = new Map());
  if (keys.has(key)) {
    throw new TypeError(
      `task name '${key}' is used twice in ${module}; ` +
        `pass a distinct name as task()'s third argument, e.g. task(import.meta, fn, "${key}2")`,
    );
  }
  keys.set(key, target);
  reg.byTarget.set(target, { module, key });
  return target;
}

/** The wire reference of a declared target, or `undefined` when it was not declared. */
export function _taskRef(target: TaskTarget): WireTaskRef | undefined {
  return registry().byTarget.get(target);
}

/**
 * The wire reference of a declared target; throws the error users see for an
 * undeclared one. `role` names what it was passed as, e.g. "Process target".
 */
export function _requireTaskRef(target: unknown, role: string): WireTaskRef {
  if (typeof target !== "function") {
    throw new TypeError(
      `${role} must be a function or class declared with task(), got ${describe(target)}`,
    );
  }
  const ref = _taskRef(target as TaskTarget);
  if (ref) return ref;
  const id = target.name || "fn";
  throw new TypeError(
    `${role} ${
      label(target as TaskTarget)
    } was not declared with task(), so a worker cannot load it. ` +
      `Declare it at the top level of its module: ` +
      (isClass(target)
        ? `task(import.meta, ${id});`
        : `const ${id} = task(import.meta, function ${id}(...) { ... });`),
  );
}

/** Looks a task up in this thread's registry, after its module was imported. */
export function _resolveTask(ref: WireTaskRef): TaskTarget {
  const target = registry().byModule.get(ref.module)?.get(ref.key);
  if (target) return target;
  throw new TypeError(
    `task '${ref.key}' was not found in ${ref.module} after the worker imported it. ` +
      "task(import.meta, ...) must run at the module's top level, not inside " +
      "`if (import.meta.main)` or a function, so that importing the module declares it.",
  );
}

function label(target: TaskTarget): string {
  const kind = isClass(target) ? "class" : "function";
  return target.name ? `${kind} '${target.name}'` : `an anonymous ${kind}`;
}
