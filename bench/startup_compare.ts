/**
 * Process start-up, Troupe vs a hand-written Worker, measured in one run under
 * `deno run` (what users run; `deno bench` also type-checks worker modules,
 * which inflates both sides). Prints a markdown table with the ratios.
 *
 *   deno run -A bench/startup_compare.ts [iterations]
 */
import { Process } from "../mod.ts";
import { rawWorker, rawWorkerWithArgs } from "./fixtures/raw.ts";
import { empty, ready } from "./fixtures/targets.ts";

const iterations = Number(Deno.args[0] ?? 200);

const cases: Record<string, () => Promise<number>> = {
  "raw: new Worker → first message": async () => {
    const t0 = performance.now();
    const w = await rawWorker();
    const ms = performance.now() - t0;
    w.terminate();
    return ms;
  },
  "raw: new Worker + postMessage(args) → reply": async () => {
    const t0 = performance.now();
    const w = await rawWorkerWithArgs([1, "a"]);
    const ms = performance.now() - t0;
    w.terminate();
    return ms;
  },
  "Troupe: start() → first message": async () => {
    const t0 = performance.now();
    const p = new Process({ target: ready });
    p.start();
    await p.receive();
    const ms = performance.now() - t0;
    await p.join();
    return ms;
  },
  "raw: start, run empty, end": async () => {
    const t0 = performance.now();
    (await rawWorker()).terminate();
    return performance.now() - t0;
  },
  "Troupe: start() + join() of an empty target": async () => {
    const t0 = performance.now();
    const p = new Process({ target: empty });
    p.start();
    await p.join();
    return performance.now() - t0;
  },
};

// Run the cases in turn, one start each, so that machine noise hits all alike.
// Each start gets a machine at rest: the last one's worker has finished
// ending, as in a program that starts one process. (Back to back, a start
// overlaps the teardown of the worker before it, which costs a short raw
// start relatively more.)
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));
const samples: Record<string, number[]> = Object.fromEntries(
  Object.keys(cases).map((k) => [k, []]),
);
for (const fn of Object.values(cases)) await fn(); // warm up
for (let i = 0; i < iterations; i++) {
  for (const [name, fn] of Object.entries(cases)) {
    samples[name].push(await fn());
    await settle();
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
const row = (name: string, base: string) =>
  `| ${name} | ${m[name].toFixed(2)} ms | ${(m[name] / m[base]).toFixed(2)}x |`;
console.log("| case | median | vs raw |\n| --- | --- | --- |");
console.log(row("raw: new Worker → first message", "raw: new Worker → first message"));
console.log(row("raw: new Worker + postMessage(args) → reply", "raw: new Worker → first message"));
console.log(row("Troupe: start() → first message", "raw: new Worker → first message"));
console.log(
  `| (Troupe: start() → first message, against the raw worker that waits for its args) | | ${
    (m["Troupe: start() → first message"] / m["raw: new Worker + postMessage(args) → reply"])
      .toFixed(2)
  }x |`,
);
console.log(row("raw: start, run empty, end", "raw: start, run empty, end"));
console.log(row("Troupe: start() + join() of an empty target", "raw: start, run empty, end"));
