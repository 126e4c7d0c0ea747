// A Pool across hosts on NATS JetStream: real nats-server processes on
// 127.0.0.1, real host processes (`deno run cluster/host.ts`), killed for real.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { Cluster, TaskLostError } from "../cluster/mod.ts";
import { parseHostArgs } from "../cluster/host.ts";
import { asCompleted, CancelledError, Empty, Full, Future, RemoteError, wait } from "../mod.ts";
import { _resolutionFlags } from "../runtime/os_process.ts";
import { _ownArgv } from "../runtime/permissions.ts";
import {
  add,
  crashes,
  crashesOn,
  fails,
  large,
  marked,
  nap,
  slowly,
  square,
} from "./fixtures/cluster_tasks.ts";
import { elsewhere } from "./fixtures/cluster_other.ts";
import { natsTest, startNats, startNatsCluster, waitForLeader } from "./_nats.ts";

const HOST = new URL("../cluster/host.ts", import.meta.url).pathname;
const TASKS = new URL("./fixtures/cluster_tasks.ts", import.meta.url).pathname;

/** A host process on `url`'s cluster `name`; killed (SIGKILL) when disposed if still running. */
function startHostProcess(url: string, name: string, extra: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ..._resolutionFlags(_ownArgv() ?? []),
      HOST,
      "--servers",
      url,
      "--name",
      name,
      "--module",
      TASKS,
      ...extra,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const ready = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      log += decoder.decode(chunk);
      if (log.includes("serving cluster")) return;
    }
    throw new Error(`the host ended before serving: ${log}`);
  })();
  const status = child.status;
  return {
    pid: child.pid,
    ready: withTimeout(ready, 30_000, "the host to start"),
    status,
    log: () => log,
    kill: (signal: Deno.Signal = "SIGKILL") => {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await status;
      await child.stderr.cancel().catch(() => {});
    },
  };
}

/** A process of its own that gets from a cluster queue (tests/fixtures/cluster_consumer.ts). */
function startGetter(url: string, name: string, queue: string, mode?: string) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ..._resolutionFlags(_ownArgv() ?? []),
      new URL("./fixtures/cluster_consumer.ts", import.meta.url).pathname,
      url,
      name,
      queue,
      ...(mode ? [mode] : []),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

natsTest("a cluster pool runs Pool's methods on a host, with errors as Pool's", async () => {
  await using nats = await startNats();
  await using host = startHostProcess(nats.url, "basic", ["--processes", "2"]);
  await host.ready;
  await using cluster = await Cluster.connect({ servers: nats.url, name: "basic" });
  const pool = cluster.pool();
  assertEquals(await pool.apply(square, [7]), 49);
  assertEquals(await pool.applyAsync(add, [2, 3]).get(10_000), 5);
  const items = Array.from({ length: 500 }, (_, i) => i);
  assertEquals(await pool.map(square, items), items.map((x) => x * x));
  assertEquals(await pool.starmap(add, [[1, 2], [3, 4]]), [3, 7]);
  const ordered: number[] = [];
  for await (const v of pool.imap(square, [1, 2, 3, 4])) ordered.push(v);
  assertEquals(ordered, [1, 4, 9, 16]);
  const unordered: number[] = [];
  for await (const ms of pool.imapUnordered(nap, [600, 10])) unordered.push(ms);
  assertEquals(unordered, [10, 600]);
  // The task's exception is its result, with its stack, and is not retried.
  const error = await pool.apply(fails, [3]).catch((e) => e);
  assertInstanceOf(error, RemoteError);
  assertEquals(error.remoteName, "RangeError");
  assertStringIncludes(error.remoteStack ?? "", "cluster_tasks.ts");
  await assertRejects(
    () => pool.apply(slowly, [1, 5000], { timeoutMs: 200 }),
    DOMException,
    "within 200 ms",
  );
  // No limit, as locally: null and Infinity are the same as none.
  assertEquals(await pool.apply(square, [3], { timeoutMs: null as unknown as number }), 9);
  assertEquals(await pool.apply(square, [4], { timeoutMs: Infinity }), 16);
  const aborted = AbortSignal.abort(new Error("stop"));
  await assertRejects(() => pool.apply(square, [1], { signal: aborted }), Error, "stop");

  // Pool's lifecycle, so that `await using pool = ...` moves by one line.
  assertEquals(await pool.mapAsync(square, [1, 2, 3]).get(20_000), [1, 4, 9]);
  const running = pool.apply(nap, [200]);
  pool.close();
  await assertRejects(() => pool.apply(square, [1]), Error, "this ClusterPool is closed");
  await pool.join();
  assertEquals(await running, 200, "close() lets the calls made finish");
  const other = cluster.pool();
  const slow = [other.apply(nap, [10_000]), other.apply(nap, [10_000], { timeoutMs: 60_000 })];
  await assertRejects(() => other.join(), Error, "close() or terminate() first");
  other.terminate();
  for (const call of slow) await assertRejects(() => call, CancelledError);
  await other.join();
  {
    await using scoped = cluster.pool();
    assertEquals(await scoped.apply(square, [5]), 25);
  }
  // The cluster goes on.
  assertEquals(await cluster.pool().apply(square, [6]), 36);
});

natsTest("applies made at once travel together, each with its own value or error", async () => {
  await using nats = await startNats();
  await using host = startHostProcess(nats.url, "batch", [
    "--processes",
    "2",
    "--max-deliver",
    "2",
  ]);
  await host.ready;
  await using cluster = await Cluster.connect({ servers: nats.url, name: "batch", maxDeliver: 2 });
  const pool = cluster.pool();
  const n = 300;
  const outcomes = await Promise.allSettled(
    Array.from(
      { length: n },
      (_, i) => i % 50 === 7 ? pool.apply(fails, [i]) : pool.apply(square, [i]),
    ),
  );
  for (let i = 0; i < n; i++) {
    const outcome = outcomes[i];
    if (i % 50 === 7) {
      assertEquals(outcome.status, "rejected");
      const reason = (outcome as PromiseRejectedResult).reason;
      assertInstanceOf(reason, RemoteError);
      assertStringIncludes(reason.message, `bad item ${i}`);
    } else assertEquals(outcome, { status: "fulfilled", value: i * i });
  }
  // A call that crashes its worker, gathered with others: only it is given up.
  const [crashed, ...rest] = await withTimeout(
    Promise.allSettled([3, 1, 2, 4].map((x) => pool.apply(crashesOn, [x]))),
    60_000,
    "the batch with a poison call",
  );
  assertInstanceOf((crashed as PromiseRejectedResult).reason, TaskLostError);
  assertEquals(rest, [1, 2, 4].map((value) => ({ status: "fulfilled", value })));
});

natsTest("a task of a module the host was not started with is refused and reported", async () => {
  await using nats = await startNats();
  await using host = startHostProcess(nats.url, "allow", ["--processes", "1"]);
  await host.ready;
  await using cluster = await Cluster.connect({ servers: nats.url, name: "allow" });
  const error = await cluster.pool().apply(elsewhere, []).catch((e) => e);
  assertInstanceOf(error, RemoteError);
  assertEquals(error.remoteName, "TypeError");
  assertStringIncludes(error.message, "refuses task 'elsewhere'");
  assertStringIncludes(error.message, "cluster_other.ts");
  // The host goes on serving.
  assertEquals(await cluster.pool().apply(square, [3]), 9);
});

natsTest("a host killed mid-task: its tasks run elsewhere, every result arrives once", async () => {
  await using nats = await startNats();
  const name = "failover";
  const ackWaitMs = 1500;
  await using a = startHostProcess(nats.url, name, [
    "--processes",
    "2",
    "--ack-wait-ms",
    `${ackWaitMs}`,
  ]);
  await using b = startHostProcess(nats.url, name, [
    "--processes",
    "2",
    "--ack-wait-ms",
    `${ackWaitMs}`,
  ]);
  await Promise.all([a.ready, b.ready]);
  await using cluster = await Cluster.connect({ servers: nats.url, name, ackWaitMs });
  const pool = cluster.pool();
  const n = 12;
  const dir = await Deno.makeTempDir({ prefix: "troupe-failover-" });
  const seen: number[] = [];
  // Each call its own message (a call with options is not gathered with others): both hosts
  // take some, two at a time.
  const calls = Array.from(
    { length: n },
    (_, i) =>
      pool.apply(marked, [i, 700, dir], { timeoutMs: 60_000 }).then(([x, pid]) => {
        seen.push(x);
        return pid;
      }),
  );
  // Host A dies while it holds tasks: it has started one (its worker left a mark) and it is
  // still running (700 ms each).
  const startedOn = (pid: number) =>
    [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(`.${pid}`)).map((e) =>
      Number(e.name.split(".")[0])
    );
  await withTimeout(
    (async () => {
      while (startedOn(a.pid).length === 0) await new Promise((r) => setTimeout(r, 20));
    })(),
    30_000,
    "host A to start a task",
  );
  a.kill("SIGKILL");
  const heldByA = startedOn(a.pid);
  const pids = await withTimeout(Promise.all(calls), 60_000, "every result");
  await Deno.remove(dir, { recursive: true });
  assertEquals(seen.sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i));
  // What A held when it died ran again on B, and B's result is the one the caller got.
  assert(heldByA.length > 0);
  for (const x of heldByA) assertEquals(pids[x], b.pid, `task ${x}, held by the killed host`);
  // Each call settled once: a second result for a task is dropped by its id.
  assertEquals(seen.length, n);
  assertEquals((await a.status).signal, "SIGKILL");
});

natsTest("a task that crashes its worker every time fails after the delivery limit", async () => {
  await using nats = await startNats();
  await using host = startHostProcess(nats.url, "poison", [
    "--processes",
    "1",
    "--max-deliver",
    "3",
  ]);
  await host.ready;
  await using cluster = await Cluster.connect({ servers: nats.url, name: "poison", maxDeliver: 3 });
  const error = await withTimeout(
    cluster.pool().apply(crashes, []).catch((e) => e),
    60_000,
    "the poison",
  );
  assertInstanceOf(error, TaskLostError);
  assertEquals(error.deliveries, 3);
  assertStringIncludes(error.message, "delivered 3 times");
  // The host, and the pool, go on.
  assertEquals(await cluster.pool().apply(square, [4]), 16);
});

natsTest(
  "bad input: an unreachable server, a bad name, settings that differ, no module",
  async () => {
    const closed = await Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    const t0 = performance.now();
    await assertRejects(
      () =>
        Cluster.connect({ servers: `nats://127.0.0.1:${port}`, name: "x", connectTimeoutMs: 1000 }),
      Error,
      `cannot reach the NATS server at nats://127.0.0.1:${port}`,
    );
    assert(performance.now() - t0 < 10_000, "the error comes within a bounded time");
    await assertRejects(
      () => Cluster.connect({ servers: "nats://127.0.0.1:1", name: "a.b" }),
      TypeError,
      "cluster name",
    );
    await using nats = await startNats();
    await using first = await Cluster.connect({
      servers: nats.url,
      name: "settings",
      maxQueued: 10,
    });
    await assertRejects(
      () => Cluster.connect({ servers: nats.url, name: "settings", maxQueued: 20 }),
      Error,
      "exists with max_msgs 10, not 20",
    );
    const err = await first.pool().apply((() => 1) as never, [] as never).catch((e) => e);
    assertInstanceOf(err, TypeError);
    assertStringIncludes(err.message, "declared with task()");
    for (const args of [[], ["--servers", nats.url, "--name", "x", "--bogus"]]) {
      let thrown: unknown;
      try {
        parseHostArgs(args);
      } catch (e) {
        thrown = e;
      }
      assertInstanceOf(thrown, TypeError);
    }
    const { startHost } = await import("../cluster/host.ts");
    await assertRejects(
      () => startHost({ servers: nats.url, name: "nomodule", modules: [] }),
      TypeError,
      "a host needs the modules",
    );
  },
);

natsTest("a cluster queue: FIFO, maxsize, Full and Empty; a dict: atomic per key", async () => {
  await using nats = await startNats();
  await using cluster = await Cluster.connect({ servers: nats.url, name: "shared" });
  const q = cluster.queue<{ n: number }>("work", { maxsize: 3 });
  for (let n = 0; n < 3; n++) await q.put({ n });
  assertEquals(await q.qsize(), 3);
  await assertRejects(() => q.put({ n: 3 }, { timeoutMs: 300 }), Full);
  // A put waiting for room that is aborted rejects with the reason and stores nothing.
  const stop = new AbortController();
  const waiting = q.put({ n: 3 }, { signal: stop.signal });
  setTimeout(() => stop.abort(new Error("stopped waiting")), 250);
  await assertRejects(() => waiting, Error, "stopped waiting");
  assertEquals(await q.qsize(), 3);
  await assertRejects(() => q.put({ n: 3 }, { timeoutMs: -1 }), RangeError, "put() timeoutMs");
  assertEquals([await q.get(), await q.get()], [{ n: 0 }, { n: 1 }]);
  // A short time limit still takes an item that is there (a pull may expire in under 1 s).
  assertEquals(await q.get({ timeoutMs: 200 }), { n: 2 });
  await assertRejects(() => q.get({ timeoutMs: 300 }), Empty);
  assert(await q.empty());
  await assertRejects(() => q.get({ signal: AbortSignal.abort(new Error("no")) }), Error, "no");

  const d = cluster.dict<string, number>("totals");
  await d.set("a", 1);
  await d.set("ünï/code key", 2);
  assertEquals(await d.get("a"), 1);
  assertEquals(await d.get("missing", -1), -1);
  assertEquals((await d.keys()).sort(), ["a", "ünï/code key"]);
  assertEquals(await d.setDefault("a", 9), 1);
  assertEquals(await d.setDefault("b", 9), 9);
  assertEquals(await d.pop("b"), 9);
  await assertRejects(() => d.pop("b"), Error, "is not in the dict");
  assertEquals(await d.pop("b", 0), 0);
  assertEquals(await d.delete("a"), true);
  assertEquals(await d.delete("a"), false);
  assertEquals(await d.toObject(), { "ünï/code key": 2 });
  // Two processes' worth of racing setDefault on one key: exactly one wins.
  const wins = await Promise.all(
    Array.from({ length: 10 }, (_, i) => d.setDefault("race", i)),
  );
  assertEquals(new Set(wins).size, 1);
  await d.clear();
  assertEquals(await d.size(), 0);
  await assertRejects(
    () => d.get({} as never),
    TypeError,
    "key must be a string or a finite number",
  );
});

natsTest("a queue's getter killed mid-way: no item lost, none taken twice", async () => {
  await using nats = await startNats();
  await using cluster = await Cluster.connect({ servers: nats.url, name: "qfault" });
  const q = cluster.queue<number>("items", { ackWaitMs: 1000 });
  const n = 300;
  const getter = () => startGetter(nats.url, "qfault", "items");
  const a = getter();
  const b = getter();
  const read = async (child: Deno.ChildProcess, seen: number[], onItem?: () => void) => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of child.stdout) {
      rest += decoder.decode(chunk);
      const lines = rest.split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        seen.push(Number(line));
        onItem?.();
      }
    }
  };
  const seenA: number[] = [];
  const seenB: number[] = [];
  let killed = false;
  const readA = read(a, seenA, () => {
    if (!killed && seenA.length >= 40) {
      killed = true;
      a.kill("SIGKILL");
    }
  });
  const readB = read(b, seenB);
  try {
    for (let i = 0; i < n; i++) await q.put(i);
    await withTimeout(Promise.all([readA, readB, b.status]), 60_000, "the getters");
  } finally {
    for (const child of [a, b]) {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
      await child.status;
    }
  }
  assert(killed, "getter A was killed mid-way");
  const all = [...seenA, ...seenB];
  assertEquals(all.length, new Set(all).size, "no item taken twice");
  // An item getter A took in the instant it was killed is gone with it, as in Python; any it
  // held unacknowledged went to B.
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !all.includes(i));
  assert(missing.length <= 1, `lost: ${missing}`);
  assert(seenB.length > 0);
});

natsTest(
  "a joinable cluster queue: taskDone() and join(); a holder killed before taskDone hands its item on",
  async () => {
    await using nats = await startNats();
    await using cluster = await Cluster.connect({ servers: nats.url, name: "joinq" });
    const q = cluster.joinableQueue<number>("jobs", { ackWaitMs: 1000 });
    await assertRejects(() => q.taskDone(), Error, "with no item taken");
    await q.join({ timeoutMs: 1000 }); // nothing put: nothing to wait for
    await q.putMany([1, 2, 3]);

    // A getter in its own process takes item 1 and is SIGKILLed before marking it done.
    const holder = startGetter(nats.url, "joinq", "jobs", "hold");
    const reader = holder.stdout.getReader();
    const { value } = await withTimeout(reader.read(), 30_000, "the holder's item");
    assertEquals(new TextDecoder().decode(value).trim(), "1");
    // It holds the item past the ack wait while it lives: its heartbeat keeps it.
    await new Promise((resolve) => setTimeout(resolve, 1600));
    assertEquals(await q.get({ timeoutMs: 5000 }), 2);
    holder.kill("SIGKILL");
    reader.releaseLock();
    await holder.stdout.cancel();
    await holder.status;
    await assertRejects(() => q.join({ timeoutMs: 200 }), DOMException, "3 unfinished");

    // Item 1 comes back to a getter after the ack wait; 3 was never taken.
    const rest = [await q.get({ timeoutMs: 5000 }), await q.get({ timeoutMs: 5000 })];
    assertEquals(rest.sort(), [1, 3]);
    assertEquals(q.held, 3);
    const joined = q.join({ timeoutMs: 10_000 });
    await q.taskDone();
    await q.taskDone();
    assertEquals(await q.qsize(), 1);
    await q.taskDone();
    await joined;
    assertEquals(q.held, 0);
    await assertRejects(() => q.get({ timeoutMs: 1500 }), Empty); // handled items do not return

    // A cluster closed while its queue holds an item hands it back at once, not after the ack wait.
    await q.put(4);
    {
      await using other = await Cluster.connect({ servers: nats.url, name: "joinq" });
      assertEquals(await other.joinableQueue<number>("jobs", { ackWaitMs: 1000 }).get(), 4);
    }
    assertEquals(await q.get({ timeoutMs: 700 }), 4);
    await q.taskDone();

    // The same queue opened with another ack wait is a clear error.
    await assertRejects(
      () => cluster.queue("jobs", { ackWaitMs: 5000 }).qsize(),
      Error,
      "exists with ackWaitMs 1000, not 5000",
    );
  },
);

natsTest(
  "SIGTERM: a host finishes the task it runs and exits 0; past --drain-ms it hands the task back",
  async () => {
    await using nats = await startNats();
    await using cluster = await Cluster.connect({ servers: nats.url, name: "drain" });
    const pool = cluster.pool();
    {
      await using host = startHostProcess(nats.url, "drain", ["--processes", "1"]);
      await host.ready;
      const running = pool.apply(slowly, [1, 800]);
      await new Promise((resolve) => setTimeout(resolve, 300)); // the host has it
      host.kill("SIGTERM");
      assertEquals(await withTimeout(running, 10_000, "the task"), [1, host.pid]);
      assertEquals((await withTimeout(host.status, 10_000, "the host to stop")).code, 0);
    }
    // A task longer than the host's drain time goes back to the stream, for the next host.
    await using first = startHostProcess(nats.url, "drain", [
      "--processes",
      "1",
      "--drain-ms",
      "200",
    ]);
    await first.ready;
    const long = pool.apply(slowly, [2, 1500]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    first.kill("SIGTERM");
    assertEquals((await withTimeout(first.status, 10_000, "the host to stop")).code, 0);
    await using second = startHostProcess(nats.url, "drain", ["--processes", "1"]);
    assertEquals(await withTimeout(long, 30_000, "the handed-back task"), [2, second.pid]);
  },
);

natsTest(
  "a 3-node JetStream cluster: the tasks stream's leader killed mid-submit loses nothing",
  async () => {
    await using nats = await startNatsCluster(3);
    const name = "elect";
    await using host = startHostProcess(nats.servers, name, [
      "--processes",
      "2",
      "--replicas",
      "3",
    ]);
    await host.ready;
    await using cluster = await Cluster.connect({ servers: nats.servers, name, replicas: 3 });
    const pool = cluster.pool();
    assertEquals(await pool.apply(square, [2]), 4);
    const leader = await waitForLeader(nats, `TROUPE_${name}_TASKS`);
    const n = 40;
    const calls: Promise<number>[] = [];
    for (let i = 0; i < n; i++) {
      if (i === 10) leader.kill("SIGKILL");
      calls.push(pool.apply(square, [i], { timeoutMs: 90_000 }));
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const values = await withTimeout(Promise.all(calls), 100_000, "every result");
    assertEquals(values, Array.from({ length: n }, (_, i) => i * i));
    const next = await waitForLeader(nats, `TROUPE_${name}_TASKS`, { except: leader });
    assert(next.name !== leader.name);
    // Nothing stays in the work queue: each task was stored once, and taken once.
    assertEquals(await waitForEmpty(nats.servers, name), 0);
  },
);

/**
 * The tasks stream's message count once it reaches 0 (bounded: 30 s). Just
 * after a server of the cluster was killed, JetStream's API may time out or
 * say it is unavailable while a new leader is elected: such a read is made
 * again, and the last failure thrown if none succeeds in time.
 */
async function waitForEmpty(servers: string, name: string): Promise<number> {
  const { connect } = await import("@nats-io/transport-node");
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const nc = await connect({ servers: servers.split(",") });
  try {
    // No account-info request first: it is one more call that can time out mid-election.
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 2000 });
    const end = Date.now() + 30_000;
    let left = -1;
    let failure: unknown;
    while (Date.now() < end) {
      try {
        left = (await jsm.streams.info(`TROUPE_${name}_TASKS`)).state.messages;
        failure = undefined;
        if (left === 0) break;
      } catch (error) {
        failure = error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (failure !== undefined) throw failure;
    return left;
  } finally {
    await nc.close();
  }
}

natsTest(
  "a server with a password: callers and hosts log in; a wrong one is a clear error",
  async () => {
    await using nats = await startNats({ auth: { user: "troupe", pass: "s3cret" } });
    const error = await Cluster.connect({
      servers: nats.url,
      name: "auth",
      user: "troupe",
      pass: "wrong",
      connectTimeoutMs: 2000,
    }).catch((e) => e);
    assertInstanceOf(error, Error);
    assertStringIncludes(error.message, `cannot reach the NATS server at ${nats.url}`);
    assertStringIncludes(error.message.toLowerCase(), "authorization");
    await using host = startHostProcess(nats.url, "auth", ["--user", "troupe", "--pass", "s3cret"]);
    await host.ready;
    await using cluster = await Cluster.connect({
      servers: nats.url,
      name: "auth",
      user: "troupe",
      pass: "s3cret",
    });
    assertEquals(await cluster.pool().apply(square, [6]), 36);
  },
);

natsTest(
  "a task or a result over the server's max_payload: a clear error, nothing lost",
  async () => {
    await using nats = await startNats({ maxPayload: 4096 });
    await using cluster = await Cluster.connect({ servers: nats.url, name: "big" });
    const error = await cluster.pool().apply(square, ["x".repeat(10_000) as never]).catch((e) => e);
    assertInstanceOf(error, RangeError);
    assertStringIncludes(error.message, "above the server's max_payload of 4096");
    // A result the server would refuse: the caller gets why, at once, and the host goes on.
    await using host = startHostProcess(nats.url, "big", ["--processes", "1"]);
    await host.ready;
    const pool = cluster.pool();
    const tooLarge = await withTimeout(
      pool.apply(large, [10_000]).catch((e) => e),
      20_000,
      "the oversized result's error",
    );
    assertInstanceOf(tooLarge, RemoteError);
    assertEquals(tooLarge.remoteName, "TypeError");
    assertStringIncludes(tooLarge.message, "above the server's max_payload of 4096");
    assertEquals(await pool.apply(large, [100]), "x".repeat(100));
  },
);

natsTest("a cluster executor's futures: wait, asCompleted, cancel, shutdown", async () => {
  await using nats = await startNats();
  await using host = startHostProcess(nats.url, "exec", ["--processes", "2"]);
  await host.ready;
  await using cluster = await Cluster.connect({ servers: nats.url, name: "exec" });
  const executor = cluster.executor();
  const futures = [1, 2, 3].map((x) => executor.submit(square, x));
  assertInstanceOf(futures[0], Future);
  const { done, notDone } = await wait(futures, { timeoutMs: 20_000 });
  assertEquals([done.size, notDone.size], [3, 0]);
  assertEquals(await Promise.all(futures), [1, 4, 9]);
  const failing = executor.submit(fails, 5);
  assertInstanceOf(await failing.exception(20_000), RemoteError);
  const seen: string[] = [];
  for await (const c of asCompleted([executor.submit(nap, 200), executor.submit(nap, 10)])) {
    seen.push(c.status === "fulfilled" ? String(c.value) : "error");
  }
  assertEquals(seen, ["10", "200"]);
  const long = executor.submit(slowly, 1, 5000);
  assertEquals(long.cancel(), true);
  await assertRejects(() => long.result(), CancelledError);
  const values: number[] = [];
  for await (const v of executor.map(square, [4, 5])) values.push(v);
  assertEquals(values, [16, 25]);
  await executor.shutdown();
  assertThrows(() => executor.submit(square, 1), Error, "after shutdown()");
});

natsTest("an nkey login, and a TLS server with a private CA", async () => {
  const { nkeys } = await import("@nats-io/transport-node");
  const user = nkeys.createUser();
  const seed = new TextDecoder().decode(user.getSeed());
  {
    await using nats = await startNats({ nkey: user.getPublicKey() });
    await assertRejects(
      () => Cluster.connect({ servers: nats.url, name: "nk", connectTimeoutMs: 2000 }),
      Error,
      "cannot reach the NATS server",
    );
    await using cluster = await Cluster.connect({ servers: nats.url, name: "nk", nkeySeed: seed });
    assertEquals(await cluster.queue<number>("q").qsize(), 0);
  }
  // A CA and a certificate for 127.0.0.1, made here. The transport (Deno's node:tls) checks a
  // server reached by IP against the name "localhost", so the certificate names both.
  const dir = await Deno.makeTempDir({ prefix: "troupe-tls-" });
  try {
    const openssl = async (...args: string[]) => {
      const { code, stderr } = await new Deno.Command("openssl", {
        args,
        stdout: "null",
        stderr: "piped",
      })
        .output();
      if (code !== 0) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(stderr)}`);
    };
    await openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=troupe-test-ca",
      "-keyout",
      `${dir}/ca.key`,
      "-out",
      `${dir}/ca.pem`,
    );
    await openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      "/CN=127.0.0.1",
      "-keyout",
      `${dir}/server.key`,
      "-out",
      `${dir}/server.csr`,
    );
    await Deno.writeTextFile(`${dir}/san.ext`, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    await openssl(
      "x509",
      "-req",
      "-in",
      `${dir}/server.csr`,
      "-CA",
      `${dir}/ca.pem`,
      "-CAkey",
      `${dir}/ca.key`,
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      `${dir}/san.ext`,
      "-out",
      `${dir}/server.pem`,
    );
    await using nats = await startNats({
      tls: { certFile: `${dir}/server.pem`, keyFile: `${dir}/server.key` },
    });
    await using cluster = await Cluster.connect({
      servers: nats.url,
      name: "tls",
      tls: { caFile: `${dir}/ca.pem` },
    });
    const q = cluster.queue<string>("secure");
    await q.put("over TLS");
    assertEquals(await q.get({ timeoutMs: 5000 }), "over TLS");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
