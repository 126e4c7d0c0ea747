/**
 * Process and pool start-up, Troupe vs a hand-written Worker, measured in one run under
 * `deno run` (what users run; `deno bench` also type-checks worker modules,
 * which inflates both sides). Prints a markdown table with the ratios.
 *
 *   deno run -A bench/startup_compare.ts [iterations]
 */
import { Pool, Process } from "../mod.ts";
import { rawWorker, rawWorkerWithArgs } from "./fixtures/raw.ts";
import { double, empty, ready } from "./fixtures/targets.ts";

const iterations = Number(Deno.args[0] ?? 200);

// The baseline is a raw worker sent its arguments by `postMessage`,
// as a `Process` is: "raw + args". The raw worker that posts as soon as it
// loads ("raw") receives nothing; it is shown for reference. So is "raw +
// args + library": the raw worker whose module imports Troupe first, as a
// target's module does. Its time over "raw + args" is what loading the
// library costs a worker; Troupe's time over it is what the runtime adds.
const RAW = "raw: new Worker → first message";
const RAW_ARGS = "raw + args: new Worker + postMessage(args) → reply";
const RAW_ARGS_END = "raw + args: … → reply, terminate()";
const RAW_LIBRARY = "raw + args + library: the same, its module imports Troupe";
const RAW_LIBRARY_END = "raw + args + library: … → reply, terminate()";
const FIRST = "Troupe: start() → first message";
const JOIN = "Troupe: start() + join() of an empty target";
const POOL = "Troupe: new Pool({ processes: 1 }) → first apply() answer";

const cases: Record<string, () => Promise<number>> = {
  [RAW]: async () => {
    const t0 = performance.now();
    const w = await rawWorker();
    const ms = performance.now() - t0;
    w.terminate();
    return ms;
  },
  [RAW_ARGS]: async () => {
    const t0 = performance.now();
    const w = await rawWorkerWithArgs([1, "a"]);
    const ms = performance.now() - t0;
    w.terminate();
    return ms;
  },
  [RAW_LIBRARY]: async () => {
    const t0 = performance.now();
    const w = await rawWorkerWithArgs([1, "a"], true);
    const ms = performance.now() - t0;
    w.terminate();
    return ms;
  },
  [FIRST]: async () => {
    const t0 = performance.now();
    const p = new Process({ target: ready });
    p.start();
    await p.receive();
    const ms = performance.now() - t0;
    await p.join();
    return ms;
  },
  [RAW_ARGS_END]: async () => {
    const t0 = performance.now();
    (await rawWorkerWithArgs([1, "a"])).terminate();
    return performance.now() - t0;
  },
  [RAW_LIBRARY_END]: async () => {
    const t0 = performance.now();
    (await rawWorkerWithArgs([1, "a"], true)).terminate();
    return performance.now() - t0;
  },
  [JOIN]: async () => {
    const t0 = performance.now();
    const p = new Process({ target: empty });
    p.start();
    await p.join();
    return performance.now() - t0;
  },
  [POOL]: async () => {
    const t0 = performance.now();
    const pool = new Pool({ processes: 1 });
    await pool.apply(double, [21]);
    const ms = performance.now() - t0;
    pool.terminate();
    await pool.join();
    return ms;
  },
};

// Run the cases in turn, one start each, so that machine noise hits all alike,
// in a new random order each round, so that what a case leaves behind (a
// worker still being torn down) does not always fall on the same next case.
// Each start gets a machine at rest: the last one's worker has finished
// ending, as in a program that starts one process. (Back to back, a start
// overlaps the teardown of the worker before it, which costs a short raw
// start relatively more.)
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));
const samples: Record<string, number[]> = Object.fromEntries(
  Object.keys(cases).map((k) => [k, []]),
);
for (const fn of Object.values(cases)) await fn(); // warm up
const order = Object.entries(cases);
for (let i = 0; i < iterations; i++) {
  for (let j = order.length - 1; j > 0; j--) {
    const k = Math.floor(Math.random() * (j + 1));
    [order[j], order[k]] = [order[k], order[j]];
  }
  for (const [name, fn] of order) {
    samples[name].push(await fn());
    await settle();
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
const ratio = (name: string, base: string) => `${(m[name] / m[base]).toFixed(2)}x`;
const row = (name: string, base?: string, library?: string) =>
  `| ${name} | ${m[name].toFixed(2)} ms | ${ratio(name, RAW)} | ${
    base ? ratio(name, base) : ""
  } | ${library ? ratio(name, library) : ""} |`;
console.log(
  "| case | median | vs raw | vs raw + args | vs raw + args + library |\n| --- | --- | --- | --- | --- |",
);
console.log(row(RAW));
console.log(row(RAW_ARGS, RAW_ARGS));
console.log(row(RAW_LIBRARY, RAW_ARGS, RAW_LIBRARY));
console.log(row(FIRST, RAW_ARGS, RAW_LIBRARY));
console.log(row(RAW_ARGS_END, RAW_ARGS_END));
console.log(row(RAW_LIBRARY_END, RAW_ARGS_END, RAW_LIBRARY_END));
console.log(row(JOIN, RAW_ARGS_END, RAW_LIBRARY_END));
console.log(row(POOL, RAW_ARGS, RAW_LIBRARY));
