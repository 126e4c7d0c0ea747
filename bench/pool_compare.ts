/**
 * Pool throughput and latency, Troupe vs a hand-written Worker pool, piscina, tinypool and
 * Python's `multiprocessing.Pool`, measured in one run on one machine. Rounds interleave every
 * case so that machine noise hits all alike; the table shows medians over the rounds. Each case
 * gets a fresh pool of `cpuCount()` workers, warmed by the same workload on n / 100 items; the
 * clock covers submission to the last result. The batched map cases last milliseconds, so each
 * round takes the best of several timed runs on its pool. Prints a markdown table; `--write` also
 * saves it to bench/results/pool.md.
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
const mapReps = quick ? 3 : 10; // timed repeats (best counts) of the short batched map cases
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

/** One case run once: the metrics it measured, in tasks/s, µs or x (speedup). */
type Case = () => Promise<Record<string, number>>;

const perSecond = (count: number, ms: number): number => count / (ms / 1000);

/** Times `timed` on a fresh pool made by `make`, after `warm`; ends the pool. */
async function onPool<P>(
  make: () => P,
  end: (pool: P) => Promise<void> | void,
  warm: (pool: P) => Promise<unknown>,
  timed: (pool: P) => Promise<unknown>,
): Promise<number> {
  const pool = make();
  try {
    await warm(pool);
    const t0 = performance.now();
    await timed(pool);
    return performance.now() - t0;
  } finally {
    await end(pool);
  }
}

/**
 * A throughput case: `run` over `items` on a pool warmed by `run` over `warmItems`. With `reps`,
 * the timed run repeats on the same pool and the best counts: other jobs on the machine only ever
 * slow a run down, and one map of tiny tasks lasts a few milliseconds, short enough to be hit.
 */
function throughput<P>(
  metric: string,
  make: () => P,
  end: (pool: P) => Promise<void> | void,
  run: (pool: P, xs: number[]) => Promise<unknown[]>,
  reps = 1,
): Case {
  return async () => {
    const pool = make();
    try {
      await run(pool, warmItems);
      let best = Infinity;
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        const values = await run(pool, items);
        best = Math.min(best, performance.now() - t0);
        check(values, squares, metric);
      }
      return { [metric]: perSecond(n, best) };
    } finally {
      await end(pool);
    }
  };
}

/** A speedup case: the fib tasks on a pool of one worker vs one of `cpus`. */
function speedup<P>(
  metric: string,
  make: (size: number) => P,
  end: (pool: P) => Promise<void> | void,
  run: (pool: P, ns: number[]) => Promise<unknown[]>,
): Case {
  return async () => {
    const expected = fibs.map(() => fibValue);
    const warmFibs = Array.from({ length: cpus * 2 }, () => 20);
    const timeOn = async (size: number) => {
      let values: unknown[] = [];
      const ms = await onPool(() => make(size), end, (p) => run(p, warmFibs), async (p) => {
        values = await run(p, fibs);
      });
      check(values, expected, `${metric} on ${size} worker(s)`);
      return ms;
    };
    const one = await timeOn(1);
    const all = await timeOn(cpus);
    return { [metric]: one / all };
  };
}

const newPool = (size = cpus) => new Pool({ processes: size });
const endPool = (pool: Pool) => pool[Symbol.asyncDispose]();
const newRaw = (size = cpus) => new RawPool(size);
const endRaw = (pool: RawPool) => pool.terminate();

const cases: Record<string, Case> = {
  "troupe map": throughput("troupe.map", newPool, endPool, (p, xs) => p.map(square, xs), mapReps),
  "troupe map chunksize 1": throughput(
    "troupe.mapChunk1",
    newPool,
    endPool,
    (p, xs) => p.map(square, xs, { chunksize: 1 }),
  ),
  "troupe apply": throughput(
    "troupe.apply",
    newPool,
    endPool,
    (p, xs) => Promise.all(xs.map((x) => p.apply(square, [x]))),
  ),
  "troupe applyAsync": throughput(
    "troupe.applyAsync",
    newPool,
    endPool,
    (p, xs) => Promise.all(xs.map((x) => p.applyAsync(square, [x]))),
  ),
  "troupe fib": speedup(
    "troupe.fib",
    newPool,
    endPool,
    (p, ns) => p.map(fib, ns, { chunksize: 1 }),
  ),
  "raw batched": throughput("raw.batched", newRaw, endRaw, (p, xs) => p.squareAll(xs), mapReps),
  "raw per-message": throughput(
    "raw.perMessage",
    newRaw,
    endRaw,
    (p, xs) => Promise.all(xs.map((x) => p.run<number>("square", x))),
  ),
  "raw fib": speedup(
    "raw.fib",
    newRaw,
    endRaw,
    (p, ns) => Promise.all(ns.map((k) => p.run("fib", k))),
  ),
};

// Round trips on warm pools: Troupe's and the raw pool's alternate trip by trip, so that both
// see the same machine (a round trip is mostly the OS waking a thread, which varies a lot).
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
    return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v) * 1000]));
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
  args.push("--reps", `${mapReps}`);
  return async () => {
    const out = await runPeer("node", args);
    if (!versions.some((v) => v.startsWith("Node"))) versions.push(`Node ${out.node}`);
    const metrics: Record<string, number> = {};
    for (const lib of ["piscina", "tinypool"]) {
      const r = out[lib] as Record<string, number>;
      metrics[`${lib}.perTask`] = perSecond(n, r.perTaskMs);
      metrics[`${lib}.batched`] = perSecond(n, r.batchedMs);
      metrics[`${lib}.roundTrip`] = r.roundTripUs;
      metrics[`${lib}.fib`] = r.fibOneMs / r.fibAllMs;
    }
    return metrics;
  };
}

/** The Python case, or why it is skipped. */
async function pythonCase(): Promise<Case | string> {
  if (!await found("python3")) return "Python skipped: `python3` not found.";
  const args = [new URL("python_pool.py", peers).pathname, "--n", `${n}`, "--trips", `${trips}`];
  args.push("--fib", `${fibN}`, "--fib-tasks", `${pyFibTasks}`, "--reps", `${mapReps}`);
  return async () => {
    const out = await runPeer("python3", args);
    if (!versions.some((v) => v.startsWith("Python"))) {
      versions.push(`Python ${out.python} (start method ${out.startMethod})`);
    }
    const r = out.pool as Record<string, number>;
    return {
      "python.map": perSecond(n, r.mapMs),
      "python.mapChunk1": perSecond(n, r.mapChunk1Ms),
      "python.applyAsync": perSecond(n, r.applyAsyncMs),
      "python.roundTrip": r.roundTripUs,
      "python.fib": r.fibOneMs / r.fibAllMs,
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

const samples: Record<string, number[]> = {};
const names = Object.keys(cases);
const started = performance.now();
const loadBefore = Deno.loadavg()[0];
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + r) % names.length];
    const t0 = performance.now();
    const metrics = await cases[name]();
    for (const [metric, value] of Object.entries(metrics)) (samples[metric] ??= []).push(value);
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    console.error(`round ${r + 1}/${rounds}: ${name} (${s} s)`);
  }
}
const totalS = ((performance.now() - started) / 1000).toFixed(0);
const load = `${loadBefore.toFixed(1)} → ${Deno.loadavg()[0].toFixed(1)}`;

// ---- the table ------------------------------------------------------------------------------

const m = (metric: string): number | undefined =>
  samples[metric] ? median(samples[metric]) : undefined;

type Unit = "rate" | "µs" | "x";

/** A cell: the median of `metric` in its unit, with an optional note; "–" when not measured. */
function cell(metric: string, unit: Unit, note?: string): string {
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
}

/** "0.93x raw ≥ 0.8 ✓": Troupe's metric over a baseline's (or alone), against a bound. */
function target(ours: string, base: string | undefined, label: string, bound: string): string {
  const a = m(ours), b = base === undefined ? 1 : m(base);
  if (a === undefined || b === undefined) return `${label}: not measured`;
  const ratio = a / b, limit = Number(bound.slice(2));
  const ok = bound.startsWith("≤") ? ratio <= limit : ratio >= limit;
  return `${ratio.toFixed(2)}x${label ? ` ${label}` : ""} ${bound} ${ok ? "✓" : "✗"}`;
}

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

const rows: string[][] = [
  [
    `\`map\` ${count} × square, automatic chunksize`,
    cell("troupe.map", "rate"),
    cell("raw.batched", "rate", "a slice per worker"),
    cell("piscina.batched", "rate", `${nodeBatch} per run()`),
    cell("tinypool.batched", "rate", `${nodeBatch} per run()`),
    cell("python.map", "rate", "`map`"),
    `${target("troupe.map", "raw.batched", "raw", "≥ 0.8")}; ${
      target("troupe.map", "python.map", "Python", "≥ 1")
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
    `\`apply\` round trip on a warm pool, median of ${trips} (lower is better)`,
    cell("troupe.roundTrip", "µs"),
    cell("raw.roundTrip", "µs", "postMessage"),
    cell("piscina.roundTrip", "µs", "run()"),
    cell("tinypool.roundTrip", "µs", "run()"),
    cell("python.roundTrip", "µs", "`apply`"),
    target("troupe.roundTrip", "raw.roundTrip", "raw", "≤ 1.2"),
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
const table = [
  `| ${header.join(" | ")} | vs target |`,
  `| ${[...header, ""].map(() => "---").join(" | ")} |`,
  ...rows.map((row) => `| ${row.join(" | ")} |`),
].join("\n");

const details = Object.entries(samples).map(([metric, xs]) =>
  `- ${metric}: ${xs.map((x) => x >= 1000 ? x.toFixed(0) : x.toFixed(2)).join(", ")}`
);
const report = [
  `# Pool benchmark`,
  "",
  `\`deno task bench:pool ${Deno.args.join(" ")}\`, ${new Date().toISOString().slice(0, 16)}Z` +
  ` on ${cpus} cores (1-minute load average ${load}: other work on the machine skews every` +
  ` column, the speedups most), ${rounds} interleaved rounds (medians), ${totalS} s in all.`,
  versions.join(", ") + ".",
  "",
  table,
  "",
  "The raw pool is a hand-written `new Worker` pool (bench/fixtures/raw_pool.ts): batched = one " +
  "slice per worker; per-message = one `postMessage` per task, round-robin, all posted at once. " +
  "In the per-task rows the raw, piscina, tinypool and Python cells repeat one measurement each. " +
  `Throughput in tiny tasks per second, higher is better; the batched map row takes the best of ` +
  `${mapReps} timed runs on the warm pool in each round (for every column).`,
  ...(notes.length > 0 ? ["", ...notes.map((note) => `Note: ${note}`)] : []),
  "",
  "Every round (tasks/s, µs or x):",
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
