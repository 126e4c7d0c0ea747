/**
 * Scenario 5: a process-pool executor, Python's `concurrent.futures`.
 * `submit` returns a Future (a Promise with `cancel()`, `running()`, `done()`);
 * `asCompleted` yields calls as they finish; `map` yields values in order;
 * `await using` shuts the executor down and waits.
 *
 * Run: deno run -A examples/05_executor.ts
 */
import { asCompleted, ProcessPoolExecutor, task, wait } from "../mod.ts";

export const isPrime = task(import.meta, function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
});

export const nap = task(import.meta, async function nap(ms: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
});

if (import.meta.main) {
  const candidates = [
    112272535095293,
    112582705942171,
    115280095190773,
    115797848077099,
    1099726899285419,
  ];
  const expected = [true, true, true, true, false];

  await using executor = new ProcessPoolExecutor();
  console.log(`executor with ${executor.maxWorkers} workers`);

  // submit: one future per call.
  const futures = candidates.map((n) => executor.submit(isPrime, n));
  for await (const done of asCompleted(futures)) {
    if (done.status === "rejected") throw done.reason;
    console.log(`as completed: ${candidates[done.index]} is prime: ${done.value}`);
    if (done.value !== expected[done.index]) {
      throw new Error(`wrong answer for ${candidates[done.index]}`);
    }
  }

  // map: values in input order.
  const mapped: boolean[] = [];
  for await (const prime of executor.map(isPrime, candidates)) mapped.push(prime);
  console.log("map:", mapped.join(" "));
  if (mapped.join() !== expected.join()) throw new Error("map gave the wrong answers");

  // wait() splits done from not done; cancel() drops a call no worker has started.
  const naps = [100, 100, 100, 100, 100, 100].map((ms) => executor.submit(nap, ms));
  const first = await wait(naps, { returnWhen: "FIRST_COMPLETED" });
  console.log(`after the first nap: ${first.done.size} done, ${first.notDone.size} not done`);
  const last = naps[naps.length - 1];
  console.log("cancel the last nap before it starts:", last.cancel());
  const all = await wait(naps);
  const cancelled = naps.filter((f) => f.cancelled()).length;
  console.log(`all done: ${all.done.size} (${cancelled} cancelled), ${all.notDone.size} not done`);
  if (first.notDone.size === 0 || cancelled !== 1 || all.notDone.size !== 0) {
    throw new Error("cancel or wait misbehaved");
  }
}
