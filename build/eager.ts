/**
 * Profile-guided eager compilation of `dist/troupe.js`.
 *
 * Deno keeps a V8 code cache of each module, made when the module is first
 * compiled. It holds the functions V8 compiled then, and V8 compiles a
 * function only when it is first called, unless the function is wrapped in
 * parentheses (V8's "PIFE" hint). So every worker parsed and compiled again
 * the ~40 runtime functions it runs while it starts (`_main`, the init
 * handler, `send`, the exit path): 0.2 to 0.4 ms of a ~11 ms start (measured,
 * Deno 2.9). Marking every function eager instead makes start-up slower: the
 * cache grows for all ~700 of them.
 *
 * So the build asks V8 which functions a worker compiles as it starts: it
 * runs a probe (a `Process` that receives, sends and exits; a `Pool` job; an
 * actor's spawn, call and stop) on the freshly built bundle with
 * `--log-function-events`, reads the source ranges the workers compiled, and
 * wraps those functions in parentheses. An eager function that a worker does
 * not run costs it almost nothing: the actor runtime's ~25 functions add no
 * measurable time to a `Process` worker's deserialization of the bundle
 * (0.50–0.53 ms either way over 20 workers), and halve the compiling an
 * actor's worker does as it starts (V8's log, whose logging inflates it; a
 * cold `spawn()` answered ~0.3 ms sooner). Wall-clock A/B runs of whole starts
 * are too noisy to tell 0.3 ms apart on this machine: compare two builds with
 * `bench/startup_profile.ts`, which reads V8's own timings.
 *
 * - `function f(…){…}` at the top level becomes `var f=(function f(…){…});`;
 *   when `f` is named anywhere before it, that var moves to the top of the
 *   bundle, where the declaration was hoisted to (a var is not hoisted, and a
 *   reference taken early, `register(f)`, would silently be undefined);
 * - a function expression or arrow function `x=>…` becomes `(x=>…)`;
 * - methods, and declarations nested in functions, stay as they are.
 *
 * Then it runs the probe again on the result, which must work and compile
 * fewer functions lazily. When V8 does not know the flag or its log has no
 * compile events (a Deno whose V8 logs differently), the bundle is left as it
 * is, with a warning: this is an optimisation, never a condition for the
 * build. A probe that fails otherwise fails the build: the bundle is broken.
 *
 * @module
 */

import { bracketDepths } from "./scan.ts";

/**
 * A function that V8 compiled lazily in a worker: its source range in the
 * bundle, from its parameter list to the end of its body.
 */
export interface Compiled {
  start: number;
  end: number;
}

/** What `eagerCompile` did. */
export interface EagerResult {
  source: string;
  /** Functions wrapped so that V8 compiles them with the module. */
  wrapped: number;
  /** Functions workers compiled lazily before and after. */
  lazyBefore: number;
  lazyAfter: number;
}

const PROBE_TASKS = `import { Actor, parentProcess, receive, task } from "./troupe.js";
export class Counter extends Actor {
  n = 0;
  add(k) {
    return this.n += k;
  }
}
task(import.meta, Counter);
export const double = task(import.meta, function double(x) {
  return 2 * x;
});
export const echo = task(import.meta, async function echo() {
  parentProcess().send(await receive());
});
`;

// The workers run side by side: V8 names each isolate's log after its
// address, which a later isolate could reuse, overwriting the log.
const PROBE_MAIN = `import * as api from "./troupe.js";
import { Pool, Process, spawn } from "./troupe.js";
import { Counter, double, echo } from "./probe_tasks.js";
const check = (ok, what) => {
  if (!ok) throw new Error("probe: " + what + " failed");
};
for (const [name, value] of Object.entries(api)) {
  if (typeof value === "function" && !name.startsWith("_")) {
    check(value.name === name, "the name of " + name + " (" + value.name + ")");
  }
}
const p = new Process({ target: echo });
p.start();
await using pool = new Pool({ processes: 1 });
check(await pool.apply(double, [21]) === 42, "Pool");
p.send("ping");
check(await p.receive() === "ping", "Process");
check(await p.join() === 0, "Process exit");
const ref = await spawn(Counter);
check(await ref.call.add(2) === 2, "actor");
await ref.stop();
`;

/**
 * Runs the probe on `source` and returns the ranges of the bundle's functions
 * that its workers compiled lazily. `deno` runs Deno with the given arguments
 * in the given directory and throws when it fails.
 */
async function profile(
  source: string,
  deno: (args: string[], cwd: string) => Promise<unknown>,
): Promise<Compiled[]> {
  const dir = await Deno.makeTempDir({ prefix: "troupe-probe-" });
  try {
    await Deno.writeTextFile(`${dir}/troupe.js`, source);
    await Deno.writeTextFile(`${dir}/probe_tasks.js`, PROBE_TASKS);
    await Deno.writeTextFile(`${dir}/probe_main.js`, PROBE_MAIN);
    await deno([
      "run",
      "-A",
      "--no-config",
      // Its temporary files would otherwise stay in the user's code cache.
      "--no-code-cache",
      `--v8-flags=--log-function-events,--logfile=${dir}/v8.log`,
      "probe_main.js",
    ], dir);
    const ranges = new Map<string, Compiled>();
    // One log per isolate; a worker's is the one with its generated entry (a data: URL).
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.endsWith(".log")) continue;
      const log = await Deno.readTextFile(`${dir}/${entry.name}`);
      if (!log.includes("data:application/javascript")) continue;
      let script: string | undefined;
      for (const line of log.split("\n")) {
        const f = line.split(",");
        if (f[0] === "script-details" && f[2].endsWith("/troupe.js")) script = f[1];
        else if (f[0] === "function" && f[1] === "parse-function" && f[2] === script) {
          ranges.set(`${f[3]}:${f[4]}`, { start: Number(f[3]), end: Number(f[4]) });
        }
      }
    }
    return [...ranges.values()];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Text to put around `code.slice(at, end)`. */
interface Edit {
  at: number;
  end: number;
  prefix: string;
  suffix: string;
  /** A declaration something before it names: it moves to the top, where a declaration is. */
  hoist?: boolean;
}

/** The edit that makes one compiled function eager, or undefined when it cannot be wrapped. */
function wrap(code: string, depths: Int32Array, fn: Compiled): Edit | undefined {
  const body = code.slice(fn.start, fn.end);
  const before = code.slice(Math.max(0, fn.start - 120), fn.start);
  // A function: V8's range starts at its parameter list, after `function name`.
  const func = /(async\s*)?function\s*\*?\s*([\w$]*)\s*$/.exec(before);
  if (func) {
    const at = fn.start - before.length + func.index;
    const prev = code.slice(0, at).trimEnd().at(-1) ?? "";
    if (prev === "" || prev === ";" || prev === "}" || prev === "{") {
      // A declaration: only at the top level, where it becomes a var, and
      // only when nothing before it names it: a var is not hoisted, so
      // `register(f)` above `function f` would pass undefined, and no load
      // would fail to say so.
      if (depths[at] !== 0 || func[2] === "") return undefined;
      const hoist = namedBefore(code, at, func[2]);
      return { at, end: fn.end, prefix: `var ${func[2]}=(`, suffix: ");", hoist };
    }
    return { at, end: fn.end, prefix: "(", suffix: ")" };
  }
  // An arrow function: its range starts at its parameters, or at `async`.
  if (/^(async\s*)?(\([^()]*\)|[\w$]+)\s*=>/.test(body)) {
    return { at: fn.start, end: fn.end, prefix: "(", suffix: ")" };
  }
  return undefined; // a method, getter or constructor
}

/** Whether the identifier `name` occurs in `code` before `at` (in any scope: a cheap, safe test). */
function namedBefore(code: string, at: number, name: string): boolean {
  const escaped = name.replace(/\$/g, "\\$");
  return new RegExp(`(?<![\\w$.])${escaped}(?![\\w$])`).test(code.slice(0, at));
}

/**
 * Wraps each function of `code` that starts at one of `compiled`'s ranges in
 * parentheses, where it can be (see the module doc); `depths` is
 * `bracketDepths(code)`. Returns the new code and how many were wrapped.
 */
export function wrapFunctions(
  code: string,
  depths: Int32Array,
  compiled: readonly Compiled[],
): { source: string; wrapped: number } {
  const edits = compiled.map((fn) => wrap(code, depths, fn))
    .filter((edit) => edit !== undefined)
    .sort((a, b) => b.at - a.at);
  // From the last edit back, so that an edit's offsets still hold when it is
  // made; a function that encloses edited ones ends that much later.
  let out = code;
  const made: Edit[] = [];
  // The wrapped declarations that move to the top, in their order.
  const hoisted: string[] = [];
  for (const edit of edits) {
    let end = edit.end;
    for (const inner of made) {
      if (inner.at >= edit.at && inner.at < edit.end) {
        end += inner.prefix.length + inner.suffix.length;
      }
    }
    const wrapped = edit.prefix + out.slice(edit.at, end) + edit.suffix;
    if (edit.hoist) {
      // Where the declaration was, nothing: a var defined at the top is what
      // a hoisted declaration is, since its body runs only when called.
      out = out.slice(0, edit.at) + out.slice(end);
      hoisted.unshift(wrapped);
    } else {
      out = out.slice(0, edit.at) + wrapped + out.slice(end);
      made.push(edit);
    }
  }
  // After the leading comment lines, which hold the bundle's header (`@ts-self-types`, its hash).
  let top = 0;
  while (out.startsWith("//", top)) {
    const eol = out.indexOf("\n", top);
    top = eol === -1 ? out.length : eol + 1;
  }
  const source = hoisted.length === 0
    ? out
    : out.slice(0, top) + hoisted.join("\n") + "\n" + out.slice(top);
  return { source, wrapped: made.length + hoisted.length };
}

/**
 * Wraps the functions that workers compile as they start so that V8 compiles
 * them with the module, and keeps them in its code cache. `deno` runs Deno
 * with the given arguments in the given directory.
 */
export async function eagerCompile(
  source: string,
  deno: (args: string[], cwd: string) => Promise<unknown>,
): Promise<EagerResult> {
  let compiled: Compiled[];
  try {
    compiled = await profile(source, deno);
  } catch (error) {
    // A V8 without the log flag: build without the optimisation. Any other
    // failure is the bundle's, and must not ship.
    if (!/did not recognize flag/.test(String(error))) throw error;
    console.warn(
      "warning: this V8 has no --log-function-events; dist/troupe.js stays lazily compiled",
    );
    return { source, wrapped: 0, lazyBefore: 0, lazyAfter: 0 };
  }
  const depths = bracketDepths(source);
  if (compiled.length === 0 || depths === undefined) {
    console.warn(
      compiled.length === 0
        ? "warning: V8 logged no lazily compiled functions; dist/troupe.js stays lazily compiled"
        : "warning: could not scan dist/troupe.js; it stays lazily compiled",
    );
    return { source, wrapped: 0, lazyBefore: compiled.length, lazyAfter: compiled.length };
  }
  const { source: out, wrapped } = wrapFunctions(source, depths, compiled);
  const after = await profile(out, deno);
  if (after.length >= compiled.length) {
    throw new Error(
      `eager compilation did not help: workers compiled ${after.length} functions lazily, ` +
        `${compiled.length} before`,
    );
  }
  return { source: out, wrapped, lazyBefore: compiled.length, lazyAfter: after.length };
}
