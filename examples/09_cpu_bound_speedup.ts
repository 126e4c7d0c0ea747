/**
 * Scenario 9: CPU-bound work (a recursive fibonacci) runs about N times
 * faster on N cores. Each process computes the same fib; first one at a
 * time, then one per core at once.
 *
 * Run: deno run -A examples/09_cpu_bound_speedup.ts
 */
import { cpuCount, Process, task } from "../mod.ts";

export const fib = task(import.meta, function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
});

export const burn = task(import.meta, function burn(n: number) {
  fib(n);
});

async function run(n: number, jobs: number, atOnce: boolean): Promise<number> {
  const t0 = performance.now();
  const ps = Array.from({ length: jobs }, () => new Process({ target: burn, args: [n] }));
  if (atOnce) {
    ps.forEach((p) => p.start());
    for (const p of ps) await p.join();
  } else {
    for (const p of ps) {
      p.start();
      await p.join();
    }
  }
  return performance.now() - t0;
}

if (import.meta.main) {
  const cores = cpuCount();
  const n = 34;
  const jobs = cores * 2;
  const oneCore = await run(n, jobs, false);
  const allCores = await run(n, jobs, true);
  const speedup = oneCore / allCores;
  console.log(`${jobs} × fib(${n}) one at a time: ${oneCore.toFixed(0)} ms`);
  console.log(`${jobs} × fib(${n}) on ${cores} cores:   ${allCores.toFixed(0)} ms`);
  console.log(`speedup: ${speedup.toFixed(2)}x on ${cores} cores`);
  // Generous bound: the machine may be shared.
  if (cores > 1 && speedup < 1 + (cores - 1) * 0.3) {
    throw new Error(`expected a speedup near ${cores}x, got ${speedup.toFixed(2)}x`);
  }
}
