// piscina and tinypool on the workloads of bench/pool_compare.ts, as a Node user would
// drive them: one pool per workload, threads = cpu count, warmed before the clock starts.
// Prints one JSON object (times in ms, round trip in µs) to stdout.
//
//   node bench/peers/node_pool.mjs --n 100000 --batch 1000 --trips 1000 --fib 30 --fib-tasks 128 \
//     --reps 10
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
    reps: { type: "string", default: "1" },
  },
});
const n = Number(values.n);
const batch = Number(values.batch);
const trips = Number(values.trips);
const fibN = Number(values.fib);
const fibTasks = Number(values["fib-tasks"]);
const reps = Number(values.reps); // timed repeats of the batched case; the best counts
const threads = availableParallelism();
const filename = new URL("./node_worker.mjs", import.meta.url).href;

const libraries = {
  piscina: (size) => new Piscina({ filename, minThreads: size, maxThreads: size }),
  tinypool: (size) => new Tinypool({ filename, minThreads: size, maxThreads: size }),
};

const range = (count) => Array.from({ length: count }, (_, i) => i);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function fibOf(k) {
  return k < 2 ? k : fibOf(k - 1) + fibOf(k - 2);
}

function check(values, expected, what) {
  if (values.length !== expected.length || values.some((v, i) => v !== expected[i])) {
    throw new Error(`${what}: wrong results`);
  }
}

/**
 * Runs `timed` `times` times on a fresh pool of `size` threads after `warm`, passing each result to
 * `verify` after the clock stops; returns the best ms.
 */
async function onPool(make, size, warm, timed, verify, times = 1) {
  const pool = make(size);
  try {
    await warm(pool);
    let best = Infinity;
    for (let i = 0; i < times; i++) {
      const t0 = performance.now();
      const result = await timed(pool);
      best = Math.min(best, performance.now() - t0);
      verify(result);
    }
    return best;
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
  );
  out.batchedMs = await onPool(
    make,
    threads,
    (p) => batched(p, warmItems),
    (p) => batched(p, items),
    (values) => check(values, squares, `batches of ${batch}`),
    reps,
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
  out.roundTripUs = median(latencies) * 1000;

  const fibs = Array.from({ length: fibTasks }, () => fibN);
  const fibRun = (p) => Promise.all(fibs.map((k) => p.run(k, { name: "fib" })));
  const fibWarm = (p) => Promise.all(range(threads * 2).map(() => p.run(20, { name: "fib" })));
  const expected = fibs.map(() => fibOf(fibN));
  const checkFib = (values) => check(values, expected, "fib");
  out.fibOneMs = await onPool(make, 1, fibWarm, fibRun, checkFib);
  out.fibAllMs = await onPool(make, threads, fibWarm, fibRun, checkFib);
  return out;
}

const result = { node: process.versions.node, threads };
for (const [name, make] of Object.entries(libraries)) result[name] = await measure(make);
console.log(JSON.stringify(result));
