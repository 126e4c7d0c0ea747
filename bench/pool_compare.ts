/**
 * Pool throughput and latency, Troupe vs a hand-written Worker pool, piscina, tinypool and
 * Python's `multiprocessing.Pool`, measured in one run on one machine. Each case gets a fresh pool
 * of `cpuCount()` workers, warmed by one small call of the same workload (n / 100 items, as
 * Python's bench does), then times several calls on it; the clock covers submission to the last
 * result. Every case reports two numbers: its first timed call, which is what a program that calls
 * `map` once gets, and the median of its timed calls. Never the best: a best-of-N hides a slow
 * first call. Rounds interleave every case so that machine noise hits all alike; the tables show
 * the medians over rounds of both numbers, with the machine's load. Prints markdown; `--write`
 * also saves it to bench/results/pool.md.
 *
 *   deno task bench:pool [--quick] [--rounds N] [--write] [--no-peers]
 *
 * The peers run as subprocesses and are skipped (with a note) when missing: Node ≥ 20 with
 * `cd bench/peers && npm install`, and `python3`.
 */
import * as troupe from "../mod.ts";
import { cpuCount, Pool } from "../mod.ts";
import { fib, square } from "./fixtures/pool_tasks.ts";
import { RawPool } from "./fixtures/raw_pool.ts";

// ---- settings ---------------------------------------------------------------------------

const usage = "usage: deno task bench:pool [--quick] [--rounds N] [--write] [--no-peers]";
let quick = false, write = false, withPeers = true, rounds: number | undefined;
for (let i = 0; i < Deno.args.length; i++) {
  const arg = Deno.args[i];
  if (arg === "--quick") quick = true;
  else if (arg === "--write") write = true;
  else if (arg === "--no-peers") withPeers = false;
  else if (arg === "--rounds" || arg.startsWith("--rounds=")) {
    const value = arg === "--rounds" ? Deno.args[++i] : arg.slice("--rounds=".length);
    rounds = Number(value);
    if (!Number.isInteger(rounds) || rounds < 1) {
      throw new RangeError(`--rounds must be a positive integer, got ${value}\n${usage}`);
    }
  } else throw new TypeError(`unknown argument ${arg}\n${usage}`);
}
const cpus = cpuCount();
const n = quick ? 10_000 : 100_000; // tiny tasks per throughput case
const trips = quick ? 200 : 1000; // sequential round trips per pool
const fibN = 30;
const jsFibTasks = quick ? 32 : 128; // ~0.8 s of fib(30) on one core in V8
const pyFibTasks = quick ? 4 : 12; // ~1.1 s on one core in CPython, ~14x slower per call
const nodeBatch = 1000; // items per run() in the batched piscina/tinypool case
// Timed calls per pool: the first, then more for the median. The batched map cases last
// milliseconds; the per-task cases and fib take up to seconds a call.
const fastRuns = quick ? 5 : 10;
const slowRuns = quick ? 2 : 3;
rounds ??= quick ? 2 : 5;

const items = Array.from({ length: n }, (_, i) => i);
const squares = items.map((x) => x * x);
const warmItems = items.slice(0, Math.max(cpus * 4, Math.floor(n / 100)));
const fibs = Array.from({ length: jsFibTasks }, () => fibN);
const fibValue = fibOf(fibN);

function fibOf(k: number): number {
  return k < 2 ? k : fibOf(k - 1) + fibOf(k - 2);
}

function check(values: unknown[], expected: unknown[], what: string): void {
  if (values.length !== expected.length || values.some((v, i) => v !== expected[i])) {
    throw new Error(`${what}: wrong results`);
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b), mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// ---- the cases --------------------------------------------------------------------------

/** A metric as one case measured it: its first timed call and the median of all its calls. */
interface Sample {
  first: number;
  median: number;
}

/** One case run once: the metrics it measured, in tasks/s, µs or x (speedup). */
type Case = () => Promise<Record<string, Sample>>;

const perSecond = (count: number, ms: number): number => count / (ms / 1000);

/** The first of `xs` and their median. */
const sample = (xs: number[]): Sample => ({ first: xs[0], median: median(xs) });

/**
 * Times `runs` calls of `timed` on a fresh pool made by `make`, after one call of `warm`, passing
 * each result to `verify` after the clock stops; ends the pool. Returns the times in ms.
 */
async function onPool<P, R>(
  make: () => P,
  end: (pool: P) => Promise<void> | void,
  warm: (pool: P) => Promise<unknown>,
  timed: (pool: P) => Promise<R>,
  verify: (result: R) => void,
  runs: number,
): Promise<number[]> {
  const pool = make();
  try {
    await warm(pool);
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const result = await timed(pool);
      ms.push(performance.now() - t0);
      verify(result);
    }
    return ms;
  } finally {
    await end(pool);
  }
}

/** A throughput case: `run` over `items`, `runs` times, on a pool warmed by `run` over `warmItems`. */
function throughput<P>(
  metric: string,
  make: () => P,
  end: (pool: P) => Promise<void> | void,
  run: (pool: P, xs: number[]) => Promise<unknown[]>,
  runs: number,
): Case {
  return async () => {
    const ms = await onPool(
      make,
      end,
      (p) => run(p, warmItems),
      (p) => run(p, items),
      (values) => check(values, squares, metric),
      runs,
    );
    return { [metric]: sample(ms.map((t) => perSecond(n, t))) };
  };
}

/** A speedup case: the fib tasks on a pool of one worker vs one of `cpus`, call by call. */
function speedup<P>(
  metric: string,
  make: (size: number) => P,
  end: (pool: P) => Promise<void> | void,
  run: (pool: P, ns: number[]) => Promise<unknown[]>,
): Case {
  return async () => {
    const expected = fibs.map(() => fibValue);
    const warmFibs = Array.from({ length: cpus * 2 }, () => 20);
    const timeOn = (size: number) =>
      onPool(
        () => make(size),
        end,
        (p) => run(p, warmFibs),
        (p) => run(p, fibs),
        (values) => check(values, expected, `${metric} on ${size} worker(s)`),
        slowRuns,
      );
    const one = await timeOn(1);
    const all = await timeOn(cpus);
    return { [metric]: { first: one[0] / all[0], median: median(one) / median(all) } };
  };
}

const newPool = (size = cpus) => new Pool({ processes: size });
const endPool = (pool: Pool) => pool[Symbol.asyncDispose]();
const newRaw = (size = cpus) => new RawPool(size);
const endRaw = (pool: RawPool) => pool.terminate();

const cases: Record<string, Case> = {
  "troupe map": throughput("troupe.map", newPool, endPool, (p, xs) => p.map(square, xs), fastRuns),
  "troupe map chunksize 1": throughput(
    "troupe.mapChunk1",
    newPool,
    endPool,
    (p, xs) => p.map(square, xs, { chunksize: 1 }),
    slowRuns,
  ),
  "troupe apply": throughput(
    "troupe.apply",
    newPool,
    endPool,
    (p, xs) => Promise.all(xs.map((x) => p.apply(square, [x]))),
    slowRuns,
  ),
  "troupe applyAsync": throughput(
    "troupe.applyAsync",
    newPool,
    endPool,
    (p, xs) => Promise.all(xs.map((x) => p.applyAsync(square, [x]))),
    slowRuns,
  ),
  "troupe fib": speedup(
    "troupe.fib",
    newPool,
    endPool,
    (p, ns) => p.map(fib, ns, { chunksize: 1 }),
  ),
  "raw batched": throughput("raw.batched", newRaw, endRaw, (p, xs) => p.squareAll(xs), fastRuns),
  "raw per-message": throughput(
    "raw.perMessage",
    newRaw,
    endRaw,
    (p, xs) => Promise.all(xs.map((x) => p.run<number>("square", x))),
    slowRuns,
  ),
  "raw fib": speedup(
    "raw.fib",
    newRaw,
    endRaw,
    (p, ns) => Promise.all(ns.map((k) => p.run("fib", k))),
  ),
};

// Round trips on warm pools: Troupe's and the raw pool's alternate trip by trip, so that both
// see the same machine (a round trip is mostly the OS waking a thread, which varies a lot). The
// first trip is one sample, so it is noisy; the median is over every trip.
cases["apply / postMessage round trips"] = async () => {
  const pool = newPool(), raw = newRaw();
  try {
    await Promise.all(warmItems.map((x) => pool.apply(square, [x])));
    await Promise.all(warmItems.map((x) => raw.run("square", x)));
    const calls: [string, (x: number) => Promise<number>][] = [
      ["troupe.roundTrip", (x) => pool.apply(square, [x])],
      ["raw.roundTrip", (x) => raw.run<number>("square", x)],
    ];
    const times: Record<string, number[]> = { "troupe.roundTrip": [], "raw.roundTrip": [] };
    for (let i = 0; i < trips; i++) {
      for (const [metric, call] of i % 2 === 0 ? calls : [...calls].reverse()) {
        const t0 = performance.now();
        const y = await call(i);
        times[metric].push(performance.now() - t0);
        if (y !== i * i) throw new Error(`${metric}: wrong result`);
      }
    }
    return Object.fromEntries(
      Object.entries(times).map(([k, v]) => [k, sample(v.map((ms) => ms * 1000))]),
    );
  } finally {
    raw.terminate();
    await endPool(pool);
  }
};

// ProcessPoolExecutor is measured when this build exports it.
interface Executor {
  submit(fn: unknown, ...args: unknown[]): PromiseLike<unknown>;
  shutdown(options?: { wait?: boolean }): unknown;
}
const ExecutorClass = (troupe as Record<string, unknown>).ProcessPoolExecutor as
  | (new (options?: { maxWorkers?: number }) => Executor)
  | undefined;
if (ExecutorClass) {
  cases["troupe executor.submit"] = throughput(
    "troupe.submit",
    () => new ExecutorClass({ maxWorkers: cpus }),
    async (ex) => void await ex.shutdown({ wait: true }),
    (ex, xs) => Promise.all(xs.map((x) => ex.submit(square, x))),
    slowRuns,
  );
}

// ---- the peers, as subprocesses -----------------------------------------------------------

const notes: string[] = [];
const versions: string[] = [`Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`];
const peers = new URL("./peers/", import.meta.url);

async function found(command: string): Promise<boolean> {
  try {
    await new Deno.Command(command, { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function installed(pkg: string): boolean {
  try {
    Deno.statSync(new URL(`node_modules/${pkg}/package.json`, peers));
    return true;
  } catch {
    return false;
  }
}

/** What a peer script reports per measurement: its first call and the median, in ms or µs. */
type PeerResults = Record<string, Sample>;

/** A peer's times for `n` tasks, as rates. */
const rate = (ms: Sample): Sample => ({
  first: perSecond(n, ms.first),
  median: perSecond(n, ms.median),
});

/** A peer's speedup: its times on one worker over those on all. */
const ratio = (one: Sample, all: Sample): Sample => ({
  first: one.first / all.first,
  median: one.median / all.median,
});

/** Runs a peer script once and returns its JSON. */
async function runPeer(command: string, args: string[]): Promise<Record<string, unknown>> {
  const { code, stdout } = await new Deno.Command(command, { args, stderr: "inherit" }).output();
  const text = new TextDecoder().decode(stdout);
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${code}:\n${text}`);
  return JSON.parse(text);
}

/** The piscina and tinypool case, or why it is skipped. */
async function nodeCase(): Promise<Case | string> {
  if (!await found("node")) return "piscina and tinypool skipped: `node` not found (Node ≥ 20).";
  if (!installed("piscina") || !installed("tinypool")) {
    return "piscina and tinypool skipped: run `cd bench/peers && npm install` first.";
  }
  const args = [new URL("node_pool.mjs", peers).pathname, "--n", `${n}`, "--batch", `${nodeBatch}`];
  args.push("--trips", `${trips}`, "--fib", `${fibN}`, "--fib-tasks", `${jsFibTasks}`);
  args.push("--fast-runs", `${fastRuns}`, "--slow-runs", `${slowRuns}`);
  return async () => {
    const out = await runPeer("node", args);
    if (!versions.some((v) => v.startsWith("Node"))) versions.push(`Node ${out.node}`);
    const metrics: Record<string, Sample> = {};
    for (const lib of ["piscina", "tinypool"]) {
      const r = out[lib] as PeerResults;
      metrics[`${lib}.perTask`] = rate(r.perTaskMs);
      metrics[`${lib}.batched`] = rate(r.batchedMs);
      metrics[`${lib}.roundTrip`] = r.roundTripUs;
      metrics[`${lib}.fib`] = ratio(r.fibOneMs, r.fibAllMs);
    }
    return metrics;
  };
}

/** The Python case, or why it is skipped. */
async function pythonCase(): Promise<Case | string> {
  if (!await found("python3")) return "Python skipped: `python3` not found.";
  const args = [new URL("python_pool.py", peers).pathname, "--n", `${n}`, "--trips", `${trips}`];
  args.push("--fib", `${fibN}`, "--fib-tasks", `${pyFibTasks}`);
  args.push("--fast-runs", `${fastRuns}`, "--slow-runs", `${slowRuns}`);
  return async () => {
    const out = await runPeer("python3", args);
    if (!versions.some((v) => v.startsWith("Python"))) {
      versions.push(`Python ${out.python} (start method ${out.startMethod})`);
    }
    const r = out.pool as PeerResults;
    return {
      "python.map": rate(r.mapMs),
      "python.mapChunk1": rate(r.mapChunk1Ms),
      "python.applyAsync": rate(r.applyAsyncMs),
      "python.roundTrip": r.roundTripUs,
      "python.fib": ratio(r.fibOneMs, r.fibAllMs),
    };
  };
}

if (withPeers) {
  const peerCases = { "node peers": await nodeCase(), python: await pythonCase() };
  for (const [name, peer] of Object.entries(peerCases)) {
    if (typeof peer === "string") notes.push(peer);
    else cases[name] = peer;
  }
} else notes.push("piscina, tinypool and Python skipped: --no-peers.");

// ---- run: rounds interleave the cases, in a rotated order each round ------------------------

type Which = keyof Sample;
const samples: Record<string, Record<Which, number[]>> = {};
const names = Object.keys(cases);
const started = performance.now();
const loadavg = () => Deno.loadavg().map((x) => x.toFixed(2)).join(", ");
const loadBefore = loadavg();
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + r) % names.length];
    const t0 = performance.now();
    const metrics = await cases[name]();
    for (const [metric, { first, median }] of Object.entries(metrics)) {
      const s = samples[metric] ??= { first: [], median: [] };
      s.first.push(first);
      s.median.push(median);
    }
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    console.error(`round ${r + 1}/${rounds}: ${name} (${s} s, load ${loadavg()})`);
  }
}
const totalS = ((performance.now() - started) / 1000).toFixed(0);
const load = `${loadBefore} at the start, ${loadavg()} at the end`;

// ---- the tables: one of first calls, one of medians ------------------------------------------

type Unit = "rate" | "µs" | "x";

/** The rows of one table: `which` number of each case, its median over the rounds. */
function tableOf(which: Which): string {
  const m = (metric: string): number | undefined =>
    samples[metric] ? median(samples[metric][which]) : undefined;

  /** A cell: `metric` in its unit, with an optional note; "–" when not measured. */
  const cell = (metric: string, unit: Unit, note?: string): string => {
    const v = m(metric);
    if (v === undefined) return "–";
    const text = unit === "µs"
      ? `${v.toFixed(0)} µs`
      : unit === "x"
      ? `${v.toFixed(2)}x`
      : v >= 1e6
      ? `${(v / 1e6).toFixed(2)}M/s`
      : `${(v / 1e3).toFixed(1)}k/s`;
    return note ? `${text} (${note})` : text;
  };

  /** "0.93x raw ≥ 0.8 ✓": Troupe's metric over a baseline's (or alone), against a bound. */
  const target = (ours: string, base: string | undefined, label: string, bound: string) => {
    const a = m(ours), b = base === undefined ? 1 : m(base);
    if (a === undefined || b === undefined) return `${label}: not measured`;
    const ratio = a / b, limit = Number(bound.slice(2));
    const ok = bound.startsWith("≤") ? ratio <= limit : ratio >= limit;
    return `${ratio.toFixed(2)}x${label ? ` ${label}` : ""} ${bound} ${ok ? "✓" : "✗"}`;
  };

  const count = n.toLocaleString("en-US");
  const perTaskRow = (what: string, ours: string | undefined): string[] => [
    `${what} × ${count}, all at once`,
    ours ? cell(ours, "rate") : "not in this build",
    cell("raw.perMessage", "rate", "per-message"),
    cell("piscina.perTask", "rate", "run() per task"),
    cell("tinypool.perTask", "rate", "run() per task"),
    cell("python.applyAsync", "rate", "`apply_async`"),
    ours
      ? `${target(ours, "raw.perMessage", "raw", "≥ 0.8")}; ${
        target(ours, "piscina.perTask", "piscina", "≥ 4")
      }`
      : "–",
  ];
  const trip = which === "first" ? "the first round trip" : `median of ${trips} round trips`;
  const rows: string[][] = [
    [
      `\`map\` ${count} × square, automatic chunksize`,
      cell("troupe.map", "rate"),
      cell("raw.batched", "rate", "a slice per worker"),
      cell("piscina.batched", "rate", `${nodeBatch} per run()`),
      cell("tinypool.batched", "rate", `${nodeBatch} per run()`),
      cell("python.map", "rate", "`map`"),
      `${target("troupe.map", "raw.batched", "raw", "≥ 0.8")}; ${
        target("troupe.map", "python.map", "Python", "≥ 1.5")
      }`,
    ],
    [
      `\`map\` ${count} × square, chunksize 1`,
      cell("troupe.mapChunk1", "rate"),
      cell("raw.perMessage", "rate", "per-message"),
      cell("piscina.perTask", "rate", "run() per task"),
      cell("tinypool.perTask", "rate", "run() per task"),
      cell("python.mapChunk1", "rate", "`map` chunksize=1"),
      target("troupe.mapChunk1", "python.mapChunk1", "Python", "≥ 1"),
    ],
    perTaskRow("`apply`", "troupe.apply"),
    perTaskRow("`applyAsync`", "troupe.applyAsync"),
    perTaskRow("`ProcessPoolExecutor.submit`", ExecutorClass ? "troupe.submit" : undefined),
    [
      `\`apply\` round trip on a warm pool, ${trip} (lower is better)`,
      cell("troupe.roundTrip", "µs"),
      cell("raw.roundTrip", "µs", "postMessage"),
      cell("piscina.roundTrip", "µs", "run()"),
      cell("tinypool.roundTrip", "µs", "run()"),
      cell("python.roundTrip", "µs", "`apply`"),
      which === "first"
        ? "one trip, mostly noise: the target is on the median"
        : target("troupe.roundTrip", "raw.roundTrip", "raw", "≤ 1.2"),
    ],
    [
      `fib(${fibN}) × ${jsFibTasks} (Python × ${pyFibTasks}), ${cpus} workers vs 1 (speedup)`,
      cell("troupe.fib", "x"),
      cell("raw.fib", "x"),
      cell("piscina.fib", "x"),
      cell("tinypool.fib", "x"),
      cell("python.fib", "x"),
      target("troupe.fib", undefined, "", "≥ 1.8"),
    ],
  ];
  const header = ["workload", "Troupe", "raw Deno Worker pool", "piscina", "tinypool", "Python"];
  return [
    `| ${header.join(" | ")} | vs target |`,
    `| ${[...header, ""].map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}

const format = (x: number) => x >= 1000 ? x.toFixed(0) : x.toFixed(2);
const details = Object.entries(samples).map(([metric, { first, median }]) =>
  `- ${metric}: first ${first.map(format).join(", ")}; median ${median.map(format).join(", ")}`
);
const report = [
  `# Pool benchmark`,
  "",
  `\`deno task bench:pool ${Deno.args.join(" ")}\`, ${new Date().toISOString().slice(0, 16)}Z` +
  ` on ${cpus} cores, ${rounds} interleaved rounds, ${totalS} s in all. Load average (1, 5, 15` +
  ` min): ${load}; other work on the machine skews every column, the speedups most.`,
  versions.join(", ") + ".",
  "",
  `## The first call on a fresh pool`,
  "",
  "Each case's first timed call, after one warm-up call on n / 100 items; the median over the " +
  "rounds.",
  "",
  tableOf("first"),
  "",
  `## The median call`,
  "",
  `The median of each case's timed calls on its pool (${fastRuns} for the batched map cases, ` +
  `${slowRuns} for the others and for fib on each pool size), then the median over the rounds.`,
  "",
  tableOf("median"),
  "",
  "The raw pool is a hand-written `new Worker` pool (bench/fixtures/raw_pool.ts): batched = one " +
  "slice per worker; per-message = one `postMessage` per task, round-robin, all posted at once. " +
  "In the per-task rows the raw, piscina, tinypool and Python cells repeat one measurement each. " +
  "Throughput in tiny tasks per second, higher is better.",
  ...(notes.length > 0 ? ["", ...notes.map((note) => `Note: ${note}`)] : []),
  "",
  "Every round (tasks/s, µs or x), the first call and the median:",
  "",
  ...details,
  "",
].join("\n");

console.log(report);
if (write) {
  const out = new URL("./results/pool.md", import.meta.url);
  Deno.mkdirSync(new URL(".", out), { recursive: true });
  Deno.writeTextFileSync(out, report);
  // Aligned by `deno fmt`, so that the check task passes with the file committed.
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", out.pathname] }).output();
  console.error(`wrote ${out.pathname}`);
}
