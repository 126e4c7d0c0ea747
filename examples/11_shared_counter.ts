/**
 * Shared memory: four processes add to one `Value` under its lock, and the
 * parent reads the total. A `Barrier` starts them together so they really
 * contend.
 *
 * Run: deno run -A examples/11_shared_counter.ts
 */
import { Barrier, Process, task, Value } from "../mod.ts";

export const addMany = task(
  import.meta,
  async function addMany(total: Value<"i32">, times: number, start: Barrier) {
    await start.wait();
    for (let i = 0; i < times; i++) {
      // A worker may block on the lock; `using` releases it at the end of the block.
      using _ = total.getLock().acquireSync();
      total.value = total.value + 1; // a read-modify-write: safe only under the lock
    }
  },
);

if (import.meta.main) {
  const total = new Value("i32", 0);
  const start = new Barrier(5); // four workers and the parent
  const ps = Array.from(
    { length: 4 },
    () => new Process({ target: addMany, args: [total, 50_000, start] }),
  );
  ps.forEach((p) => p.start());

  await start.wait();
  const t0 = performance.now();
  {
    // The main thread never blocks: it takes the same lock with `await`.
    using _ = await total.getLock().acquire();
    console.log(`while the workers count: ${total.value}`);
  }
  for (const p of ps) await p.join();
  console.log(`total: ${total.value} (4 × 50,000) in ${(performance.now() - t0).toFixed(0)} ms`);

  if (total.value !== 200_000) throw new Error(`expected 200000, got ${total.value}`);
}
