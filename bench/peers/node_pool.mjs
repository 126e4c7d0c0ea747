// piscina and tinypool on the workloads of bench/pool_compare.ts, as a Node user would
// drive them: one pool per workload, threads = cpu count, warmed by one small call before the
// clock starts, then timed over several calls. Prints one JSON object to stdout: for each
// measurement its first timed call and the median of the calls (times in ms, round trip in µs).
//
//   node bench/peers/node_pool.mjs --n 100000 --batch 1000 --trips 1000 --fib 30 --fib-tasks 128 \
//     --fast-runs 10 --slow-runs 3
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { Piscina } from "piscina";
import { Tinypool } from "tinypool";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "100000" },
    batch: { type: "string", default: "1000" },
    trips: { type: "string", default: "1000" },
    fib: { type: "string", default: "30" },
    "fib-tasks": { type: "string", default: "128" },
    "fast-runs": { type: "string", default: "10" },
    "slow-runs": { type: "string", default: "3" },
  },
});
const n = Number(values.n);
const batch = Number(values.batch);
const trips = Number(values.trips);
const fibN = Number(values.fib);
const fibTasks = Number(values["fib-tasks"]);
const fastRuns = Number(values["fast-runs"]); // timed calls of the batched case
const slowRuns = Number(values["slow-runs"]); // timed calls of the others
const threads = availableParallelism();
const filename = new URL("./node_worker.mjs", import.meta.url).href;

const libraries = {
  piscina: (size) => new Piscina({ filename, minThreads: size, maxThreads: size }),
  tinypool: (size) => new Tinypool({ filename, minThreads: size, maxThreads: size }),
};

const range = (count) => Array.from({ length: count }, (_, i) => i);
function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b), mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const firstAndMedian = (xs) => ({ first: xs[0], median: median(xs) });

function fibOf(k) {
  return k < 2 ? k : fibOf(k - 1) + fibOf(k - 2);
}

function check(values, expected, what) {
  if (values.length !== expected.length || values.some((v, i) => v !== expected[i])) {
    throw new Error(`${what}: wrong results`);
  }
}

/**
 * Runs `timed` `runs` times on a fresh pool of `size` threads after `warm`, passing each result to
 * `verify` after the clock stops; returns the first ms and the median.
 */
async function onPool(make, size, warm, timed, verify, runs = 1) {
  const pool = make(size);
  try {
    await warm(pool);
    const ms = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const result = await timed(pool);
      ms.push(performance.now() - t0);
      verify(result);
    }
    return firstAndMedian(ms);
  } finally {
    await pool.destroy();
  }
}

const perTask = (pool, items) => Promise.all(items.map((x) => pool.run(x, { name: "square" })));

async function batched(pool, items) {
  const parts = [];
  for (let i = 0; i < items.length; i += batch) {
    parts.push(pool.run(items.slice(i, i + batch), { name: "squareAll" }));
  }
  return (await Promise.all(parts)).flat();
}

async function measure(make) {
  const items = range(n);
  const squares = items.map((x) => x * x);
  const warmItems = range(Math.max(threads * 4, Math.floor(n / 100)));
  const out = {};

  out.perTaskMs = await onPool(
    make,
    threads,
    (p) => perTask(p, warmItems),
    (p) => perTask(p, items),
    (values) => check(values, squares, "one run() per task"),
    slowRuns,
  );
  out.batchedMs = await onPool(
    make,
    threads,
    (p) => batched(p, warmItems),
    (p) => batched(p, items),
    (values) => check(values, squares, `batches of ${batch}`),
    fastRuns,
  );

  const latencies = [];
  await onPool(make, threads, (p) => perTask(p, warmItems), async (p) => {
    for (let i = 0; i < trips; i++) {
      const t0 = performance.now();
      const y = await p.run(i, { name: "square" });
      latencies.push(performance.now() - t0);
      if (y !== i * i) throw new Error("round trip: wrong result");
    }
  }, () => {});
  out.roundTripUs = firstAndMedian(latencies.map((ms) => ms * 1000));

  const fibs = Array.from({ length: fibTasks }, () => fibN);
  const fibRun = (p) => Promise.all(fibs.map((k) => p.run(k, { name: "fib" })));
  const fibWarm = (p) => Promise.all(range(threads * 2).map(() => p.run(20, { name: "fib" })));
  const expected = fibs.map(() => fibOf(fibN));
  const checkFib = (values) => check(values, expected, "fib");
  out.fibOneMs = await onPool(make, 1, fibWarm, fibRun, checkFib, slowRuns);
  out.fibAllMs = await onPool(make, threads, fibWarm, fibRun, checkFib, slowRuns);
  return out;
}

const result = { node: process.versions.node, threads };
for (const [name, make] of Object.entries(libraries)) result[name] = await measure(make);
console.log(JSON.stringify(result));
