/**
 * Scenario 1: start three processes one after another, then all at once.
 *
 * Each process waits one "unit" (like Python's `time.sleep`). One after
 * another takes about three units; all at once takes about one.
 *
 * Run: deno run -A examples/01_sequential_vs_parallel.ts
 */
import { Process, task } from "../mod.ts";

const UNIT_MS = 400;

export const work = task(import.meta, async function work(label: string) {
  await new Promise((resolve) => setTimeout(resolve, UNIT_MS));
  console.log(`  ${label} done`);
});

if (import.meta.main) {
  console.log("one after another (start, join, start, join, ...):");
  let t0 = performance.now();
  for (const label of ["a", "b", "c"]) {
    const p = new Process({ target: work, args: [label] });
    p.start();
    await p.join();
  }
  const sequential = (performance.now() - t0) / UNIT_MS;
  console.log(`  took ${sequential.toFixed(2)} units`);

  console.log("all at once (start all, then join all):");
  t0 = performance.now();
  const ps = ["a", "b", "c"].map((label) => new Process({ target: work, args: [label] }));
  ps.forEach((p) => p.start());
  for (const p of ps) await p.join();
  const parallel = (performance.now() - t0) / UNIT_MS;
  console.log(`  took ${parallel.toFixed(2)} units`);

  if (!(parallel < 1.8 && parallel < sequential / 2)) {
    throw new Error(`all at once took ${parallel.toFixed(2)} units; expected about 1`);
  }
}
