/**
 * Troupe: Python's `multiprocessing` rebuilt for Deno as an actor framework.
 *
 * Every process is a Deno Worker with its own permissions and a mailbox.
 *
 * @example Three processes at once
 * ```ts
 * import { Process, task } from "@troupe/troupe";
 *
 * const work = task(import.meta, function work(n: number) {
 *   console.log(`working on ${n}`);
 * });
 *
 * if (import.meta.main) {
 *   const ps = [1, 2, 3].map((n) => new Process({ target: work, args: [n] }));
 *   ps.forEach((p) => p.start());
 *   for (const p of ps) await p.join();
 * }
 * ```
 *
 * @module
 */
// The library as one module, built from troupe.ts (`deno task build`). Its
// types come from the sources through dist/troupe.d.ts, so the docs and the
// type checker see the TypeScript.
export * from "./dist/troupe.js";
