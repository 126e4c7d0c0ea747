/**
 * Scenario 4: a `Pool` of warm workers — `map`, `imap` (ordered, lazy),
 * `imapUnordered` (as they finish), `apply`, `applyAsync`, `starmap`. The
 * default size is `cpuCount()`, and `await using` ends every worker.
 *
 * Run: deno run -A examples/04_pool.ts
 */
import { cpuCount, Pool, task } from "../mod.ts";

export const square = task(import.meta, function square(x: number): number {
  return x * x;
});

export const power = task(import.meta, function power(base: number, exp: number): number {
  return base ** exp;
});

export const slowSquare = task(import.meta, async function slowSquare(x: number): Promise<number> {
  // Later items finish first, so imapUnordered shows a different order.
  await new Promise((resolve) => setTimeout(resolve, (6 - x) * 20));
  return x * x;
});

if (import.meta.main) {
  await using pool = new Pool();
  console.log(`pool of ${pool.processes} workers (cpuCount() = ${cpuCount()})`);

  const mapped = await pool.map(square, Array.from({ length: 10 }, (_, i) => i));
  console.log("map:          ", mapped.join(" "));

  const ordered: number[] = [];
  for await (const y of pool.imap(slowSquare, [1, 2, 3, 4, 5])) ordered.push(y);
  console.log("imap:         ", ordered.join(" "));

  const unordered: number[] = [];
  for await (const y of pool.imapUnordered(slowSquare, [1, 2, 3, 4, 5])) unordered.push(y);
  console.log("imapUnordered:", unordered.join(" "));

  console.log("apply:        ", await pool.apply(power, [2, 10]));
  const pending = pool.applyAsync(square, [12]);
  console.log("applyAsync:   ", await pending.get(5000), `(ready: ${pending.ready()})`);
  console.log("starmap:      ", (await pool.starmap(power, [[2, 3], [3, 2], [10, 2]])).join(" "));

  if (
    mapped[9] !== 81 || ordered.join() !== "1,4,9,16,25" ||
    [...unordered].sort((a, b) => a - b).join() !== "1,4,9,16,25"
  ) {
    throw new Error("unexpected pool results");
  }
}
