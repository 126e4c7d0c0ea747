/**
 * Scenario 9: CPU-bound work (a recursive fibonacci) runs about N times
 * faster on N cores. First with processes: the same fib one at a time, then
 * one per core at once. Then with pools: a `Pool` of one worker against a
 * `Pool` of `cpuCount()` workers mapping the same inputs.
 *
 * Run: deno run -A examples/09_cpu_bound_speedup.ts
 */
import { cpuCount, Pool, Process, task } from "../mod.ts";

export const fib = task(import.meta, function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
});

export const burn = task(import.meta, function burn(n: number) {
  fib(n);
});

async function withProcesses(n: number, jobs: number, atOnce: boolean): Promise<number> {
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

async function withPool(n: number, jobs: number, processes: number): Promise<number> {
  await using pool = new Pool({ processes });
  await pool.map(fib, Array(processes).fill(20)); // start the workers first
  const t0 = performance.now();
  const values = await pool.map(fib, Array(jobs).fill(n), { chunksize: 1 });
  if (values.some((v) => v !== values[0])) throw new Error("fib gave different answers");
  return performance.now() - t0;
}

if (import.meta.main) {
  const cores = cpuCount();
  const n = 33;
  const jobs = cores * 2;
  // Generous bound: the machine may be shared, so up to three tries each.
  const least = 1 + (cores - 1) * 0.3;
  const measure = async (what: string, one: () => Promise<number>, all: () => Promise<number>) => {
    let speedup = 0;
    for (let attempt = 0; attempt < 3 && speedup < least; attempt++) {
      const oneMs = await one();
      const allMs = await all();
      speedup = oneMs / allMs;
      console.log(
        `${what}: ${jobs} × fib(${n}) on one core ${oneMs.toFixed(0)} ms, on ${cores} cores ` +
          `${allMs.toFixed(0)} ms: ${speedup.toFixed(2)}x`,
      );
    }
    if (cores > 1 && speedup < least) {
      // Other programs holding the cores leave nothing to speed up with; say
      // so instead of failing. On an idle machine, a small speedup is a bug.
      const [load] = Deno.loadavg();
      if (load >= cores) {
        console.log(`${what}: the machine is busy (load ${load.toFixed(1)}), speedup not checked`);
        return;
      }
      throw new Error(`${what}: expected a speedup near ${cores}x, got ${speedup.toFixed(2)}x`);
    }
  };
  await measure(
    "processes",
    () => withProcesses(n, jobs, false),
    () => withProcesses(n, jobs, true),
  );
  await measure("pool", () => withPool(n, jobs, 1), () => withPool(n, jobs, cores));
}
