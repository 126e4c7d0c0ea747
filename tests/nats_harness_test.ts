// The nats-server harness: real servers start ready, serve JetStream and KV,
// fail over when a stream leader dies, and none outlives its test.
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { connect } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import {
  leaderOf,
  liveNatsServers,
  metaLeaderOf,
  natsTest,
  startNats,
  startNatsCluster,
  waitForLeader,
} from "./_nats.ts";

/** Whether process `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

natsTest("startNats() serves a JetStream publish, a consume and a KV put/get", async () => {
  await using server = await startNats();
  assertEquals(server.url, `nats://127.0.0.1:${server.port}`);
  const nc = await connect({ servers: server.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: "TASKS",
      subjects: ["tasks.>"],
      retention: RetentionPolicy.Workqueue,
    });
    const js = jetstream(nc);
    const first = await js.publish("tasks.a", "hello", { msgID: "task:1" });
    const again = await js.publish("tasks.a", "hello", { msgID: "task:1" });
    assertEquals([first.seq, first.duplicate, again.duplicate], [1, false, true]);

    await jsm.consumers.add("TASKS", { durable_name: "workers", ack_policy: AckPolicy.Explicit });
    const consumer = await js.consumers.get("TASKS", "workers");
    const message = await consumer.next({ expires: 5_000 });
    assertEquals(message?.string(), "hello");
    assert(await message!.ackAck());

    const kv = await new Kvm(nc).create("config");
    const revision = await kv.put("answer", "42");
    const entry = await kv.get("answer");
    assertEquals([entry?.string(), entry?.revision], ["42", revision]);
  } finally {
    await nc.close();
  }
});

natsTest("stop() ends the server and removes its store", async () => {
  const server = await startNats();
  const { pid, storeDir } = server;
  assert(await exists(storeDir));
  await server.stop();
  assertEquals(liveNatsServers(), 0);
  assert(!(await exists(storeDir)));
  assert(!alive(pid));
});

natsTest("restart() after kill() comes back on the same port with the same store", async () => {
  await using server = await startNats({ maxPayload: 2 * 1024 * 1024 });
  const before = { url: server.url, pid: server.pid };
  let nc = await connect({ servers: server.url });
  assertEquals(nc.info?.max_payload, 2 * 1024 * 1024);
  const kv = await new Kvm(nc).create("state");
  await kv.put("k", "kept");
  await nc.close();

  server.kill();
  await server.restart();
  assertEquals(server.url, before.url);
  assertNotEquals(server.pid, before.pid);
  nc = await connect({ servers: server.url });
  try {
    assertEquals((await (await new Kvm(nc).open("state")).get("k"))?.string(), "kept");
  } finally {
    await nc.close();
  }
});

natsTest("a failed start reports the server's stderr", async () => {
  const error = await assertRejects(() => startNats({ maxPayload: 128 * 1024 * 1024 }));
  assert(String(error).includes("max_payload"), String(error));
  assertEquals(liveNatsServers(), 0);
});

const leaks = new URL("./fixtures/nats_leaks.ts", import.meta.url).pathname;

/**
 * Runs the leaks fixture with `deno test` (no `mode`) or `deno run … mode`;
 * with `mode` "sigint", sends SIGINT once the fixture's server is up. Gives
 * the exit code, the output and the server the fixture printed.
 */
async function runLeaks(
  mode?: "sigint" | "sigterm" | "exit",
): Promise<{ code: number; out: string; pid: number; storeDir: string }> {
  const args = mode === undefined
    ? ["test", "-A", "--no-check", leaks]
    : ["run", "-A", "--no-check", leaks, mode];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const stderr = new Response(child.stderr).text();
  let out = "";
  let signalled = false;
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    out += decoder.decode(chunk, { stream: true });
    if ((mode === "sigint" || mode === "sigterm") && !signalled && /server \d+ \S+\n/.test(out)) {
      signalled = true;
      child.kill(mode === "sigint" ? "SIGINT" : "SIGTERM");
    }
  }
  const { code } = await child.status;
  clearTimeout(timer);
  out += await stderr;
  const [, pid, storeDir] = out.match(/server (\d+) (\S+)/) ?? [];
  return { code, out, pid: Number(pid), storeDir };
}

for (const mode of [undefined, "sigint", "sigterm", "exit"] as const) {
  const how = {
    undefined: "natsTest fails a test that leaves a server running,",
    sigint: "SIGINT to the test process",
    sigterm: "SIGTERM to the test process",
    exit: "Deno.exit() in the test process",
  }[String(mode) as "undefined" | "sigint" | "sigterm" | "exit"];
  natsTest(`${how} kills the server and removes its store`, async () => {
    const { code, out, pid, storeDir } = await runLeaks(mode);
    assert(pid > 0, out);
    if (mode === undefined) {
      assertNotEquals(code, 0, out);
      assertStringIncludes(out, "the test's own failure");
      assertStringIncludes(out, `left 1 nats-server(s) running (n0 pid ${pid})`);
    } else {
      assertEquals(code, { sigint: 130, sigterm: 143, exit: 0 }[mode], out);
    }
    // An orphan is reaped by init, maybe a moment after its parent exits.
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert(!alive(pid), `nats-server ${pid} still running`);
    assert(!(await exists(storeDir)), `${storeDir} still exists`);
  });
}

/** Retries `fn` every 250 ms while it throws, at most `attempts` times. */
async function retry<T>(fn: () => Promise<T>, attempts: number): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

natsTest(
  "a 3-replica stream elects a new leader when its leader is SIGKILLed, and publishes resume",
  async () => {
    const t0 = performance.now();
    await using cluster = await startNatsCluster(3);
    const ready = performance.now() - t0;
    assertEquals(cluster.servers, cluster.urls.join(","));
    assert(await metaLeaderOf(cluster) !== undefined);

    const nc = await connect({ servers: cluster.urls });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "REPL", subjects: ["repl.>"], num_replicas: 3 });
      const js = jetstream(nc);
      await js.publish("repl.x", "before", { msgID: "m:1" });

      const leader = await waitForLeader(cluster, "REPL");
      const killedAt = performance.now();
      leader.kill("SIGKILL");
      const next = await waitForLeader(cluster, "REPL", { except: leader });
      const elected = performance.now() - killedAt;
      assertNotEquals(next.name, leader.name);

      // The client may still be on the dead node; same msgID makes retries safe.
      const ack = await retry(
        () => js.publish("repl.x", "after", { msgID: "m:2", timeout: 2_000 }),
        40,
      );
      const resumed = performance.now() - killedAt;
      assertEquals(ack.duplicate, false);

      const restartedAt = performance.now();
      await leader.start();
      const restarted = performance.now() - restartedAt;
      assert(leader.running);
      assertEquals(await leaderOf(cluster, "REPL").then((node) => node?.name), next.name);
      console.log(
        `cluster ready ${ready.toFixed(0)} ms; new stream leader ${
          elected.toFixed(0)
        } ms after SIGKILL; publish (seq ${ack.seq}) ok ${
          resumed.toFixed(0)
        } ms after; ${leader.name} current again ${restarted.toFixed(0)} ms after its start`,
      );
    } finally {
      await nc.close();
    }
  },
);
