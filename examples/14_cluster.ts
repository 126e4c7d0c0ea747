/**
 * Scenario 13: a pool across two hosts that survives one of them being
 * killed. The example starts a nats-server with JetStream on 127.0.0.1 (it
 * needs `nats-server` on the PATH: `apt-get install nats-server`), two hosts
 * (`cluster/host.ts`, each a `deno run` process with a local pool), and maps
 * slow tasks over the cluster. Midway it kills one host with SIGKILL: the
 * tasks that host held are delivered again, to the other, and every result
 * arrives once.
 *
 * Run: deno run -A examples/14_cluster.ts
 */
import { task } from "../mod.ts";
import { Cluster } from "../cluster/mod.ts";

/** A task of ~200 ms that says which host ran it. */
export const work = task(import.meta, async function work(x: number): Promise<[number, number]> {
  await new Promise((resolve) => setTimeout(resolve, 200));
  return [x * x, Deno.pid];
});

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** This program's own Deno flags that name its config (so the hosts resolve modules alike). */
function configFlags(): string[] {
  try {
    const argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
    const i = argv.indexOf("--config");
    return i > 0 ? ["--config", argv[i + 1]] : [];
  } catch {
    return [];
  }
}

if (import.meta.main) {
  const port = freePort();
  const store = await Deno.makeTempDir({ prefix: "troupe-example-" });
  const server = new Deno.Command("nats-server", {
    args: ["-js", "-a", "127.0.0.1", "-p", `${port}`, "-sd", store],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `nats://127.0.0.1:${port}`;
  const hosts: Deno.ChildProcess[] = [];
  try {
    const host = () =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          ...configFlags(),
          new URL("../cluster/host.ts", import.meta.url).pathname,
          "--servers",
          url,
          "--name",
          "example",
          "--module",
          new URL(import.meta.url).pathname,
          "--processes",
          "2",
          "--ack-wait-ms",
          "1500",
        ],
        stdout: "null",
        stderr: "inherit",
      }).spawn();
    // The server takes a moment to listen; connect retries until it does.
    let cluster: Cluster | undefined;
    for (let i = 0; i < 50 && !cluster; i++) {
      cluster = await Cluster.connect({ servers: url, name: "example", ackWaitMs: 1500 })
        .catch(() => new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)));
    }
    if (!cluster) throw new Error(`nats-server did not start on ${url}`);
    await using _cluster = cluster;
    hosts.push(host(), host());
    const pool = cluster.pool();

    const items = Array.from({ length: 40 }, (_, i) => i);
    const t0 = performance.now();
    let killed = false;
    const values = await pool.map(work, items, {
      chunksize: 1,
      // One host is killed once a quarter of the items are done, while both are busy.
      onProgress: ({ done }) => {
        if (killed || done < 10) return;
        killed = true;
        console.log(`${done} done: killing host pid ${hosts[0].pid} (SIGKILL)`);
        hosts[0].kill("SIGKILL");
      },
    });
    const ms = (performance.now() - t0).toFixed(0);
    const byHost = Map.groupBy(values, ([, pid]) => pid);
    for (const [pid, done] of byHost) {
      console.log(`host pid ${pid} returned ${done.length} results`);
    }
    console.log(`${values.length} results in ${ms} ms`);

    // The example checks itself: every item once, in order, right.
    const squares = values.map(([y]) => y);
    if (squares.join() !== items.map((x) => x * x).join()) {
      throw new Error(`wrong results: ${squares}`);
    }
  } finally {
    for (const h of hosts) {
      try {
        h.kill("SIGTERM");
      } catch {
        // gone
      }
      await h.status;
    }
    server.kill("SIGTERM");
    await server.status;
    await Deno.remove(store, { recursive: true });
  }
}
