/**
 * Scenario 6: a producer process and a consumer process talking through a
 * `Queue`. The producer puts typed work items and closes the queue; the
 * consumer's `for await` ends once the queue is closed and drained, and its
 * total comes back through a second queue.
 *
 * Run: deno run -A examples/06_queue.ts
 */
import { Process, Queue, task } from "../mod.ts";

interface Reading {
  sensor: string;
  value: number;
}

export const producer = task(
  import.meta,
  async function producer(readings: Queue<Reading>, count: number) {
    for (let i = 1; i <= count; i++) {
      await readings.put({ sensor: `s${i % 3}`, value: i });
    }
    readings.close(); // no more items: the consumer's loop ends after the last one
  },
);

export const consumer = task(
  import.meta,
  async function consumer(readings: Queue<Reading>, totals: Queue<Record<string, number>>) {
    const sums: Record<string, number> = {};
    for await (const { sensor, value } of readings) sums[sensor] = (sums[sensor] ?? 0) + value;
    await totals.put(sums);
  },
);

if (import.meta.main) {
  const count = 10_000;
  const readings = new Queue<Reading>({ maxsize: 100 }); // a full queue makes the producer wait
  const totals = new Queue<Record<string, number>>();
  const ps = [
    new Process({ target: producer, args: [readings, count] }),
    new Process({ target: consumer, args: [readings, totals] }),
  ];
  const t0 = performance.now();
  ps.forEach((p) => p.start());
  const sums = await totals.get({ timeoutMs: 10_000 });
  for (const p of ps) await p.join();
  totals.close();
  console.log(`consumer totals: ${JSON.stringify(sums)}`);
  console.log(`${count} readings in ${(performance.now() - t0).toFixed(0)} ms`);

  const expected: Record<string, number> = {};
  for (let i = 1; i <= count; i++) expected[`s${i % 3}`] = (expected[`s${i % 3}`] ?? 0) + i;
  if (JSON.stringify(sums) !== JSON.stringify(expected)) {
    throw new Error(`wrong totals: expected ${JSON.stringify(expected)}`);
  }
}
