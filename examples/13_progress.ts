/**
 * Watching a long `map`: a terminal progress bar drawn by `@std/cli`'s
 * `ProgressBar` from the map's `onProgress`, then what `pool.stats()` says of
 * the run (calls, workers, run and wait times) and the pool's events.
 *
 * The bar redraws on its own interval (here every 100 ms), however often
 * chunks finish: `onProgress` only sets its value.
 *
 * Run: deno run -A examples/13_progress.ts
 */
import { ProgressBar } from "@std/cli/unstable-progress-bar";
import { Pool, task } from "../mod.ts";

/** A few milliseconds of work per item. */
export const checksum = task(import.meta, function checksum(seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < 200_000; i++) h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) + i;
  return h >>> 0;
});

if (import.meta.main) {
  const items = Array.from({ length: 400 }, (_, i) => i);
  await using pool = new Pool({ processes: 2 });
  pool.on("workerStart", ({ name, pid }) => console.log(`${name} started (pid ${pid})`));

  const bar = new ProgressBar({
    max: items.length,
    interval: 100,
    formatter: (f) => `[${f.styledTime}] [${f.progressBar}] ${f.value}/${f.max} items`,
  });
  const sums = await pool.map(checksum, items, {
    chunksize: 10,
    onProgress: ({ done }) => bar.value = done,
  });
  await bar.stop();

  const s = pool.stats();
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  console.log(`${s.completed} calls done, ${s.failed} failed, on ${s.workers.length} workers:`);
  for (const w of s.workers) console.log(`  ${w.name} (pid ${w.pid}): ${w.completed} calls`);
  console.log(
    `  run time per call: p50 ${ms(s.runTimeMs.p50)}, p99 ${ms(s.runTimeMs.p99)}, ` +
      `max ${ms(s.runTimeMs.max)}`,
  );
  console.log(`  wait time per call: p50 ${ms(s.waitTimeMs.p50)}, max ${ms(s.waitTimeMs.max)}`);
  console.log(pool);

  // The example checks itself.
  if (sums.length !== items.length || s.completed !== items.length || s.failed !== 0) {
    throw new Error(`expected ${items.length} values, got ${sums.length}`);
  }
  if (sums[7] !== checksum(7)) throw new Error("a value differs from the same call made here");
}
