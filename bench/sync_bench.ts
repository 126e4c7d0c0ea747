/**
 * Shared-memory locks, Troupe vs Python's multiprocessing, in one run.
 * Prints a markdown table.
 *
 *   deno run -A bench/sync_bench.ts [--quick]
 *
 * Rows: uncontended Lock acquire + release (blocking in a worker, async on the
 * main thread), and a counter that 2 processes increment under one lock
 * (timed between two barriers, so process start-up is not counted). Python's
 * `multiprocessing.Lock` and `Value` run as a subprocess when `python3` exists.
 */
import { Barrier, Lock, Process, RawArray, RawValue } from "../mod.ts";
import { atomicCounter, lockedCounter, lockLoopSync } from "./fixtures/sync_targets.ts";

const quick = Deno.args.includes("--quick");
const N = quick ? 200_000 : 2_000_000;
const PER_WORKER = quick ? 50_000 : 200_000;
const WORKERS = 2;

const ns = (x: number) => `${x.toFixed(1)} ns`;
const rate = (ops: number, ms: number) => `${((ops / ms) * 1000 / 1e6).toFixed(2)} M/s`;

async function uncontendedSync(): Promise<number> {
  const p = new Process({ target: lockLoopSync, args: [new Lock(), N] });
  p.start();
  const result = await p.receive<number>();
  await p.join();
  return result;
}

async function uncontendedAsync(): Promise<number> {
  const lock = new Lock();
  for (let i = 0; i < 10_000; i++) (await lock.acquire()).release();
  const n = N / 4;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await lock.acquire();
    lock.release();
  }
  return ((performance.now() - t0) * 1e6) / n;
}

/**
 * Milliseconds for WORKERS processes to do PER_WORKER increments each: from
 * the first worker's start to the last one's end, as the workers clock them.
 */
async function counter(kind: "sync" | "async" | "atomic"): Promise<number> {
  const start = new Barrier(WORKERS + 1);
  const end = new Barrier(WORKERS + 1);
  const total = new RawValue("i32", 0);
  const cell = RawArray("i32", 1);
  const times = RawArray("f64", 2 * WORKERS);
  const lock = new Lock();
  const ps = Array.from(
    { length: WORKERS },
    (_, slot) =>
      kind === "atomic"
        ? new Process({ target: atomicCounter, args: [cell, PER_WORKER, start, end, times, slot] })
        : new Process({
          target: lockedCounter,
          args: [lock, total, PER_WORKER, start, end, kind, times, slot],
        }),
  );
  ps.forEach((p) => p.start());
  await start.wait();
  await end.wait();
  for (const p of ps) await p.join();
  const got = kind === "atomic" ? cell[0] : total.value;
  if (got !== WORKERS * PER_WORKER) throw new Error(`${kind} counter ended at ${got}`);
  const starts = Array.from({ length: WORKERS }, (_, i) => times[2 * i]);
  const ends = Array.from({ length: WORKERS }, (_, i) => times[2 * i + 1]);
  return Math.max(...ends) - Math.min(...starts);
}

interface PythonResult {
  version: string;
  lock_ns: number;
  counter_s: number;
}

async function python(): Promise<PythonResult | string> {
  const script = new URL("./peers/python_sync.py", import.meta.url).pathname;
  try {
    const out = await new Deno.Command("python3", {
      args: [script, String(N), String(PER_WORKER)],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) return "python3 failed";
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? "python3 not found" : String(error);
  }
}

const sync = await uncontendedSync();
const async = await uncontendedAsync();
const lockedSync = await counter("sync");
const lockedAsync = await counter("async");
const atomic = await counter("atomic");
const py = await python();
const ops = WORKERS * PER_WORKER;

console.log(
  `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores` +
    (typeof py === "string" ? `; Python: ${py}` : `; Python ${py.version}`),
);
console.log("");
console.log("| workload | Troupe | Python multiprocessing |");
console.log("| --- | --- | --- |");
console.log(
  `| uncontended Lock acquire + release, blocking in a worker | ${ns(sync)} | ${
    typeof py === "string" ? "—" : ns(py.lock_ns)
  } |`,
);
console.log(`| uncontended Lock acquire + release, async on the main thread | ${ns(async)} | — |`);
console.log(
  `| ${WORKERS} processes × ${PER_WORKER.toLocaleString("en")} increments under one Lock ` +
    `(blocking) | ${lockedSync.toFixed(0)} ms, ${rate(ops, lockedSync)} | ${
      typeof py === "string"
        ? "—"
        : `${(py.counter_s * 1000).toFixed(0)} ms, ${rate(ops, py.counter_s * 1000)}`
    } |`,
);
console.log(
  `| the same with async acquire() | ${lockedAsync.toFixed(0)} ms, ${rate(ops, lockedAsync)} | — |`,
);
console.log(
  `| the same with Atomics.add and no lock (the floor) | ${atomic.toFixed(0)} ms, ${
    rate(ops, atomic)
  } | — |`,
);
