/**
 * A Pool across hosts on NATS JetStream against a local Pool, in one run:
 * 2 hosts × 1 worker on this machine, a nats-server of our own on 127.0.0.1.
 * Prints a markdown table: tasks/s for 10,000 tiny tasks through `apply` (all
 * submitted at once) and through `map`, one task's round trip (first and
 * median of 200), and a host's start to its first result.
 *
 *   deno run -A bench/cluster_bench.ts [--rounds 3]
 *
 * Needs `nats-server` on the PATH (Debian: apt-get install nats-server).
 */
import { Pool } from "../mod.ts";
import { Cluster } from "../cluster/mod.ts";
import { _resolutionFlags } from "../runtime/os_process.ts";
import { _ownArgv } from "../runtime/permissions.ts";
import { startNats } from "../tests/_nats.ts";
import { square } from "./fixtures/pool_tasks.ts";

const ROUNDS = Number(Deno.args[Deno.args.indexOf("--rounds") + 1]) || 3;
const N = 10_000;
const TRIPS = 200;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

interface Target {
  apply(fn: typeof square, args: [number]): Promise<number>;
  map(fn: typeof square, items: number[]): Promise<number[]>;
}

async function measure(target: Target) {
  const items = Array.from({ length: N }, (_, i) => i);
  let t0 = performance.now();
  await Promise.all(items.map((i) => target.apply(square, [i])));
  const applyRate = N / (performance.now() - t0) * 1000;
  t0 = performance.now();
  const values = await target.map(square, items);
  const mapRate = N / (performance.now() - t0) * 1000;
  if (values[N - 1] !== (N - 1) ** 2) throw new Error("wrong map result");
  const trips: number[] = [];
  for (let i = 0; i < TRIPS; i++) {
    t0 = performance.now();
    await target.apply(square, [i]);
    trips.push(performance.now() - t0);
  }
  return { applyRate, mapRate, first: trips[0], trip: median(trips) };
}

if (import.meta.main) {
  const load = () => Deno.loadavg()[0].toFixed(2);
  const loadBefore = load();
  // The test harness's server: it picks its own port and is stopped however the bench ends.
  await using server = await startNats();
  const url = server.url;
  const hosts: Deno.ChildProcess[] = [];
  const startHost = () =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ..._resolutionFlags(_ownArgv() ?? []),
        new URL("../cluster/host.ts", import.meta.url).pathname,
        "--servers",
        url,
        "--name",
        "bench",
        "--module",
        new URL("./fixtures/pool_tasks.ts", import.meta.url).pathname,
        "--processes",
        "1",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
  try {
    const cluster = await Cluster.connect({ servers: url, name: "bench" });
    await using _c = cluster;
    const remote = cluster.pool();
    // A host's start to its first result: the task waits in the stream for it.
    const t0 = performance.now();
    const first = remote.apply(square, [3]);
    hosts.push(startHost());
    await first;
    const hostStart = performance.now() - t0;
    hosts.push(startHost());
    await remote.map(square, Array.from({ length: 1000 }, (_, i) => i)); // both hosts warm

    await using local = new Pool({ processes: 2, idleTimeoutMs: Infinity });
    await local.map(square, [1, 2, 3, 4]);
    type Measured = Awaited<ReturnType<typeof measure>>;
    const runs: { cluster: Measured[]; local: Measured[] } = { cluster: [], local: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? ["cluster", "local"] as const : ["local", "cluster"] as const;
      for (const side of order) runs[side].push(await measure(side === "cluster" ? remote : local));
    }
    const pick = (side: keyof typeof runs, key: "applyRate" | "mapRate" | "first" | "trip") =>
      median(runs[side].map((m) => m[key]));
    const rate = (x: number) => `${Math.round(x).toLocaleString("en")}/s`;
    const ms = (x: number) => `${x.toFixed(2)} ms`;
    console.log(
      `Cluster (2 hosts × 1 thread worker, one nats-server ${url}) vs a local Pool(2), ` +
        `${ROUNDS} rounds, medians; load ${loadBefore} → ${load()}:\n`,
    );
    console.log("| metric | cluster | local Pool | Ray 2.58 (SCALE_OUT.md) |");
    console.log("| --- | --- | --- | --- |");
    console.log(
      `| 10,000 \`apply\` at once | ${rate(pick("cluster", "applyRate"))} | ${
        rate(pick("local", "applyRate"))
      } | 640–1,050/s |`,
    );
    console.log(
      `| \`map\` of 10,000 | ${rate(pick("cluster", "mapRate"))} | ${
        rate(pick("local", "mapRate"))
      } | 235–280k/s (Pool.map of 100k) |`,
    );
    console.log(
      `| one round trip, first / median | ${ms(pick("cluster", "first"))} / ${
        ms(pick("cluster", "trip"))
      } | ${ms(pick("local", "first"))} / ${ms(pick("local", "trip"))} | 2.8–3.4 ms |`,
    );
    console.log(`| host start → first result | ${ms(hostStart)} | | 6.4–7.4 s (ray.init) |`);
  } finally {
    for (const h of hosts) {
      h.kill("SIGTERM");
      await h.status;
    }
  }
}
