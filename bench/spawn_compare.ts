/**
 * The "spawn" start method beside the "thread" one and Python's start
 * methods, measured side by side in one run under `deno run`. Prints a
 * markdown table: first call and median, never the best.
 *
 *   deno run -A bench/spawn_compare.ts [--starts 20] [--n 100000] [--trips 2000] [--runs 5]
 *     [--no-peers]
 *
 * - start + join of an empty target: Troupe spawn and thread, a bare
 *   `deno run` of an empty module (the floor a spawn cannot go below), and
 *   Python's spawn, forkserver and fork;
 * - `Pool({ processes: 2, startMethod: "spawn" }).map` of `n` tiny tasks on
 *   a warm pool, against Python's `Pool(2).map` on its spawn context;
 * - one `apply()` round trip at a time, against `apply_async().get()`.
 */
import { Pool, Process, Queue } from "../mod.ts";
import { empty, queueConsumer, queueProducer, square } from "./fixtures/targets.ts";

const USAGE = "usage: deno run -A bench/spawn_compare.ts [--starts N] [--n N] [--trips N] " +
  "[--runs N] [--items N] [--no-peers]";
const numbers: Record<string, number> = {
  starts: 20,
  n: 100_000,
  trips: 2000,
  runs: 5,
  items: 100_000,
};
let peers = true;
for (let i = 0; i < Deno.args.length; i++) {
  const arg = Deno.args[i];
  const name = arg.replace(/^--/, "");
  if (arg === "--no-peers") peers = false;
  else if (arg.startsWith("--") && name in numbers) {
    const value = Number(Deno.args[++i]);
    if (!Number.isInteger(value) || value < 1) {
      console.error(`${arg} needs a positive whole number; ${USAGE}`);
      Deno.exit(2);
    }
    numbers[name] = value;
  } else {
    console.error(`unknown argument ${JSON.stringify(arg)}; ${USAGE}`);
    Deno.exit(2);
  }
}
const { starts: STARTS, n: N, trips: TRIPS, runs: RUNS, items: ITEMS } = numbers;
const SIZE = 2;

function firstAndMedian(xs: number[]): { first: number; median: number } {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { first: xs[0], median };
}

async function times(k: number, once: () => Promise<unknown>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < k; i++) {
    const t0 = performance.now();
    await once();
    ms.push(performance.now() - t0);
  }
  return ms;
}

const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
const loadBefore = load();

const emptyModule = `data:application/javascript,${encodeURIComponent("")}`;
const bare = firstAndMedian(
  await times(
    STARTS,
    () => new Deno.Command(Deno.execPath(), { args: ["run", "--no-prompt", emptyModule] }).output(),
  ),
);
const startJoin = (startMethod: "spawn" | "thread") => async () => {
  const p = new Process({ target: empty, startMethod });
  p.start();
  await p.join();
};
const spawnStart = firstAndMedian(await times(STARTS, startJoin("spawn")));
const threadStart = firstAndMedian(await times(STARTS, startJoin("thread")));

const xs = Array.from({ length: N }, (_, i) => i);
const pool = new Pool({ processes: SIZE, startMethod: "spawn", idleTimeoutMs: Infinity });
await pool.map(square, xs.slice(0, 1000));
const mapMs = firstAndMedian(
  await times(RUNS, async () => {
    const out = await pool.map(square, xs);
    if (out[N - 1] !== (N - 1) ** 2) throw new Error("wrong map result");
  }),
);
const tripsUs: number[] = [];
for (let i = 0; i < TRIPS; i++) {
  const t0 = performance.now();
  await pool.apply(square, [i]);
  tripsUs.push((performance.now() - t0) * 1000);
}
const apply = firstAndMedian(tripsUs);
await pool.close();
await pool.join();

/** Items a second through one Queue from a spawn producer to a spawn consumer. */
async function queueRate(batch: number): Promise<number> {
  const q = new Queue<number>();
  const consumer = new Process({ target: queueConsumer, args: [q, batch], startMethod: "spawn" });
  const producer = new Process({
    target: queueProducer,
    args: [q, ITEMS, batch],
    startMethod: "spawn",
  });
  consumer.start();
  producer.start();
  // Both started: the clock runs from the producer's start to the last item taken.
  const t0 = performance.now();
  const count = await consumer.receive<number>();
  const ms = performance.now() - t0;
  await producer.join();
  await consumer.join();
  if (count !== ITEMS) throw new Error(`the consumer took ${count} of ${ITEMS} items`);
  return ITEMS / ms * 1000;
}
const queueOne = await queueRate(1);
const queueBatched = await queueRate(1000);

interface Py {
  version: string;
  spawn: { first: number; median: number };
  forkserver: { first: number; median: number };
  fork: { first: number; median: number };
  map: { first: number; median: number };
  apply: { first: number; median: number };
  queue_per_s: number;
}
let py: Py | undefined;
if (peers) {
  try {
    const script = new URL("./peers/python_start.py", import.meta.url).pathname;
    const out = await new Deno.Command("python3", {
      args: [
        script,
        ...["--starts", String(STARTS), "--n", String(N), "--trips", String(TRIPS)],
        ...["--items", String(ITEMS)],
      ],
      stdout: "piped",
    }).output();
    if (out.success) py = JSON.parse(new TextDecoder().decode(out.stdout));
  } catch {
    // No python3: its column stays empty.
  }
}

const ms = (x: number) => `${x.toFixed(1)} ms`;
const us = (x: number) => `${x.toFixed(0)} µs`;
const fm = (r: { first: number; median: number }, f: (x: number) => string) =>
  `${f(r.first)} / ${f(r.median)}`;
const rate = (n: number, msTaken: number) => `${(n / msTaken / 1000).toFixed(2)} M/s`;

console.log(
  `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores; Python ${
    py?.version ?? "not found"
  }; load ${loadBefore} at the start, ${load()} at the end\n`,
);
console.log("| measure (first / median) | Troupe | beside it | Python |");
console.log("| --- | --- | --- | --- |");
console.log(
  `| start + join, empty target | spawn ${fm(spawnStart, ms)} | thread ${
    fm(threadStart, ms)
  }; bare \`deno run\` ${fm(bare, ms)} | spawn ${py ? fm(py.spawn, ms) : "—"}; forkserver ${
    py ? fm(py.forkserver, ms) : "—"
  }; fork ${py ? fm(py.fork, ms) : "—"} |`,
);
console.log(
  `| Pool(${SIZE}, spawn).map of ${N.toLocaleString("en")} tiny tasks, warm pool | ${
    fm(mapMs, ms)
  } (${rate(N, mapMs.median)}) | — | ${
    py ? `${fm(py.map, ms)} (${rate(N, py.map.median)})` : "—"
  } |`,
);
console.log(
  `| apply() round trip, one at a time | ${fm(apply, us)} | — | ${
    py ? fm(py.apply, us) : "—"
  } (apply_async().get()) |`,
);
const k = (x: number) => `${(x / 1000).toFixed(1)}k/s`;
console.log(
  `| Queue, spawn child → spawn child, ${ITEMS.toLocaleString("en")} items (from the producer's ` +
    `start) | ${k(queueOne)} one put/get each | ${
      k(queueBatched)
    } with putMany/getMany of 1,000 | ${py ? k(py.queue_per_s) : "—"} |`,
);
console.log(
  `| spawn start / Python spawn start (median) | ${
    py ? (spawnStart.median / py.spawn.median).toFixed(2) : "—"
  } | | |`,
);
