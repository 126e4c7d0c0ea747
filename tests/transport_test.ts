// The kernel over bytes alone: every protocol (processes, mail, exits, actor
// calls, a bounded mailbox, pools, manager proxies, travelling references)
// run with children reached as an OS process is, through a byte link that
// carries only codec-encoded bytes (runtime/endpoint.ts). What lives in
// shared memory is refused with an error that names it.
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import {
  Lock,
  LockHolderDiedError,
  Manager,
  Pool,
  Process,
  RemoteError,
  spawn,
} from "../troupe.ts";
import { _setTransport } from "../runtime/host.ts";
import { _ByteLink, _portStream } from "../runtime/endpoint.ts";
import type { WireError } from "../runtime/protocol.ts";
import { exits, throws, whoAmI } from "./fixtures/tasks.ts";
import { echoUntilStop, forgesEnding, Slow, startsTwo } from "./fixtures/transport_tasks.ts";
import { Counter, incThrough } from "./fixtures/actors.ts";
import { busy, exitOn, same, sleepy, square, workerName } from "./fixtures/pool_tasks.ts";
import { holdLockAndEnd, writeKey } from "./fixtures/manager_tasks.ts";
import { _isAlive } from "../runtime/liveness.ts";
import { deadline, delay } from "@std/async";
import { liveWorkers, workerTest } from "./_helpers.ts";

/** A test whose children (and theirs) are reached by bytes. */
function bytesTest(name: string, fn: () => Promise<void>): void {
  workerTest(`over bytes: ${name}`, async () => {
    const was = _setTransport("bytes");
    try {
      await fn();
    } finally {
      _setTransport(was);
    }
  });
}

// ---- processes -----------------------------------------------------------------

bytesTest("a process runs, reports its identity and exit code", async () => {
  const p = new Process({ target: whoAmI });
  p.start();
  const seen = await p.receive<{ name: string; pid: number; parent: { pid: number } }>();
  assertEquals(seen.name, p.name);
  assertEquals(seen.pid, p.pid);
  assertEquals(seen.parent.pid, Deno.pid);
  assertEquals(await p.join(), 0);
  const exiting = new Process({ target: exits, args: [3] });
  exiting.start();
  assertEquals(await exiting.join(), 3);
  assertEquals(liveWorkers(), 0);
});

bytesTest("a child's error arrives with its stack", async () => {
  const p = new Process({ target: throws, args: ["bad input"] });
  p.start();
  const error = await assertRejects(() => p.join(), RemoteError);
  assertEquals((error as RemoteError).cause instanceof Error, true);
  assertMatch(String((error as RemoteError).cause?.toString()), /TypeError: bad input/);
  assertMatch(((error as RemoteError).cause as Error).stack ?? "", /fixtures\/tasks\.ts/);
  assertEquals(p.exitCode, 1);
});

bytesTest(
  "mail goes both ways, in order, and nothing the child sent before it ended is lost",
  async () => {
    const p = new Process({ target: echoUntilStop });
    p.start();
    const sent = [1, "two", { three: [3] }, new Map([[4, 4]]), new Uint8Array([5])];
    for (const m of sent) p.send(m);
    p.send("stop");
    for (const m of sent) assertEquals(await p.receive(), { echo: m });
    assertEquals(await p.receive(), { count: sent.length });
    assertEquals(await p.join(), 0);
  },
);

bytesTest("nested children get pids of their own, unique across the run", async () => {
  const p = new Process({ target: startsTwo });
  p.start();
  const { me, children } = await p.receive<
    { me: number; children: { name: string; pid: number }[] }
  >();
  assertEquals(me, p.pid);
  assertEquals(children.map((c) => c.name), [`${p.name}:1`, `${p.name}:2`]);
  const pids = new Set([p.pid, ...children.map((c) => c.pid)]);
  assertEquals(pids.size, 3);
  const after = new Process({ target: whoAmI });
  after.start();
  assert(!pids.has((await after.receive<{ pid: number }>()).pid));
  await Promise.all([p.join(), after.join()]);
});

bytesTest("terminate() and kill() end a child reached by bytes", async () => {
  const p = new Process({ target: echoUntilStop });
  p.start();
  p.send("hi");
  assertEquals(await p.receive(), { echo: "hi" });
  p.kill();
  assertEquals(await p.join(), -9);
  assertEquals(liveWorkers(), 0);
});

bytesTest(
  "what lives in shared memory is relayed to a process; a Lock is refused in a pool's task",
  async () => {
    // A Lock passed to a process crosses, served from here (sync/relay.ts)...
    const lock = new Lock();
    const p = new Process({ target: same, args: [lock] });
    p.start();
    assertEquals(await p.join(), 0);
    // ...but not in a pool task's arguments: the task may run in any worker.
    await using pool = new Pool({ processes: 1 });
    const error = await assertRejects(() => pool.apply(same, [lock]), TypeError);
    assertMatch(error.message, /args\[0\] is a Lock/);
    assertMatch(error.message, /use a Manager's \(manager\.lock\(\)/);
    const shared = new Process({ target: same, args: [new Int32Array(new SharedArrayBuffer(8))] });
    const refused = assertThrows(() => shared.start(), TypeError);
    assertMatch(refused.message, /at spec\.args\[0\]/);
    assertMatch(refused.message, /Send a copy/);
  },
);

// ---- actors ----------------------------------------------------------------------

bytesTest("actor calls, tells and errors", async () => {
  await using counter = await spawn(Counter);
  assertEquals(await counter.call.inc(2), 2);
  await counter.tell.inc(3);
  assertEquals(await counter.call.get(), 5);
  assertEquals(
    await Promise.all(Array.from({ length: 100 }, (_, i) => counter.call.echo(i))),
    Array.from({ length: 100 }, (_, i) => i),
  );
  const error = await assertRejects(() => counter.call.fail("no"), RemoteError);
  assertMatch(((error as RemoteError).cause as Error).stack ?? "", /fixtures\/actors\.ts/);
  // A port crosses once, as with structured clone.
  const { port1, port2 } = new MessageChannel();
  await counter.call.echo(port1);
  await assertRejects(() => counter.call.echo(port1), TypeError, "could not be sent");
  assertEquals(await counter.call.get(), 5);
  port2.close();
});

bytesTest("a bounded mailbox makes senders wait for room, in order", async () => {
  await using slow = await spawn(Slow, { mailbox: { capacity: 2 } });
  const calls = Array.from({ length: 8 }, (_, i) => slow.call.take(i, 5));
  assertEquals(await Promise.all(calls), [0, 1, 2, 3, 4, 5, 6, 7]);
  assertEquals(await slow.call.order(), [0, 1, 2, 3, 4, 5, 6, 7]);
  // Full: a send that may not wait fails at once.
  const busy = [slow.call.take(0, 100), slow.call.take(1, 1), slow.call.take(2, 1)];
  await assertRejects(() => slow.with({ wait: false }).call.take(9, 1), Error, "mailbox");
  await Promise.all(busy);
});

bytesTest("an actor reference travels to a process and is called from there", async () => {
  await using counter = await spawn(Counter);
  const p = new Process({ target: incThrough, args: [counter, 3] });
  p.start();
  assertEquals(await p.receive(), [1, 2, 3]);
  assertEquals(await p.join(), 0);
  assertEquals(await counter.call.get(), 3);
});

// ---- pools -----------------------------------------------------------------------

bytesTest("a pool maps, applies, and answers numbers in bulk", async () => {
  await using pool = new Pool({ processes: 2 });
  const xs = Array.from({ length: 500 }, (_, i) => i);
  assertEquals(await pool.map(square, xs), xs.map((x) => x * x));
  assertEquals(await pool.map(square, xs, { chunksize: 7 }), xs.map((x) => x * x));
  assertEquals(await pool.apply(same, [{ a: [1, 2], b: "x" }]), { a: [1, 2], b: "x" });
  const big = "y".repeat(400_000);
  assertEquals(await pool.apply(same, [big]), big);
});

bytesTest("a worker that dies mid-task fails that task alone; the queued ones move", async () => {
  await using pool = new Pool({ processes: 1 });
  const results = await Promise.allSettled([1, 2, 3, 4, 5].map((x) => pool.apply(exitOn, [x])));
  assertEquals(results.map((r) => r.status), [
    "fulfilled",
    "fulfilled",
    "rejected",
    "fulfilled",
    "fulfilled",
  ]);
  const reason = String((results[2] as PromiseRejectedResult).reason);
  assertMatch(reason, /died while running task 'exitOn' \(exit code 7\)/);
});

bytesTest("timeouts and cancels settle every call, and the pool keeps serving", async () => {
  await using pool = new Pool({ processes: 2 });
  const controller = new AbortController();
  const calls = Array.from({ length: 40 }, (_, i) =>
    pool.apply(same, [i], {
      timeoutMs: i % 5 === 0 ? 1 : undefined,
      signal: i % 7 === 0 ? controller.signal : undefined,
    }));
  controller.abort(new Error("aborted"));
  const results = await Promise.allSettled(calls);
  results.forEach((r, i) => {
    if (r.status === "fulfilled") assertEquals(r.value, i);
  });
  assertEquals(await pool.apply(square, [9]), 81);
});

bytesTest("jobs queued behind a long async one move to an idle worker", async () => {
  await using pool = new Pool({ processes: 2 });
  await pool.map(square, Array.from({ length: 20 }, (_, i) => i)); // both up, tiny jobs measured
  const long = pool.apply(sleepy, [1500]);
  let longDone = false;
  void long.then(() => longDone = true);
  const tiny = Array.from({ length: 200 }, (_, i) => pool.apply(same, [i]));
  assertEquals(await Promise.all(tiny), Array.from({ length: 200 }, (_, i) => i));
  assert(!longDone, "every tiny job waited for the long one");
  assertEquals(await long, "woke");
});

bytesTest("a timed-out job ends its worker only when it runs", async () => {
  await using pool = new Pool({ processes: 1 });
  const first = await pool.apply(workerName, []);
  // Queued behind a sleeping job: given back by the worker, which keeps serving.
  const sleeping = pool.apply(sleepy, [300]);
  await assertRejects(() => pool.apply(same, [1], { timeoutMs: 20 }), Error, "within 20 ms");
  assertEquals(await sleeping, "woke");
  assertEquals(await pool.apply(workerName, []), first);
  // Running, in synchronous code: only ending the worker stops it.
  await assertRejects(() => pool.apply(busy, [1, 2000], { timeoutMs: 50 }), Error, "within 50 ms");
  const next = await pool.apply(workerName, []);
  assert(next !== first, `${next} replaced ${first}`);
});

// ---- managers ----------------------------------------------------------------------

bytesTest("a manager dict, and a proxy passed to processes", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<string, number>({ a: 1 });
  await d.set("b", 2);
  const children = [0, 1, 2].map((i) => new Process({ target: writeKey, args: [d, i] }));
  for (const c of children) c.start();
  for (const c of children) assertEquals(await c.join(), 0);
  assertEquals(await d.toObject(), { a: 1, b: 2, key_0: 0, key_1: 1, key_2: 2 });
});

bytesTest("a manager in another domain sees a lock holder die", async () => {
  await using manager = await Manager.start();
  const lock = await manager.lock();
  const holder = new Process({ target: holdLockAndEnd, args: [lock] });
  holder.start();
  assertEquals(await holder.receive(), "held");
  const waiting = lock.acquire();
  holder.terminate();
  await holder.join();
  const error = await assertRejects(() => deadline(waiting, 10_000), LockHolderDiedError);
  assertEquals((error as LockHolderDiedError).holderPid, holder.pid);
  await lock.release();
  await (await lock.acquire({ timeoutMs: 1000 })).release();
});

bytesTest("a child cannot make its parent believe another process ended", async () => {
  const victim = new Process({ target: echoUntilStop });
  victim.start();
  const liar = new Process({ target: forgesEnding, args: [victim.pid!] });
  liar.start();
  assertEquals(await liar.receive(), "sent");
  assertEquals(await liar.join(), 0);
  await delay(20);
  assert(_isAlive(victim.pid!), "the victim still counts as alive");
  assert(!_isAlive(liar.pid!));
  victim.send("stop");
  await victim.join();
  assert(!_isAlive(victim.pid!));
});

// ---- the byte link itself ------------------------------------------------------------

Deno.test("a byte link reports bytes it cannot read and port numbers it never gave, and goes on", async () => {
  const { port1, port2 } = new MessageChannel();
  const errors: WireError[] = [];
  const got: unknown[] = [];
  const link = new _ByteLink(_portStream(port1), "the peer", true, {
    message: (m) => got.push(m),
    error: (e) => errors.push(e),
  });
  const send = (bytes: Uint8Array) => port2.postMessage(bytes);
  send(new Uint8Array([255, 1, 2, 3])); // not a frame
  send(new Uint8Array([8, 2, 0, 0, 0])); // cut short
  // A frame for sub-channel 0 whose payload is a port numbered like this side's own (odd).
  send(new Uint8Array([8, 2, 0, 0, 0, 4, 0, 0, 0, 0, 21, 1, 0, 0, 0]));
  // And a well-formed one, from a peer link.
  const peer = new _ByteLink(_portStream(port2), "the parent", false, {
    message: () => {},
    error: () => {},
  });
  peer.send({ t: "hello", n: 1 });
  const deadline = performance.now() + 5000;
  while (got.length === 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assertEquals(got, [{ t: "hello", n: 1 }]);
  assertEquals(errors.length, 3, JSON.stringify(errors));
  for (const e of errors) assertMatch(e.message, /a message from the peer /);
  assertThrows(
    () => link.send({ buffer: new SharedArrayBuffer(4) }),
    TypeError,
    "the message to the peer (at buffer) is shared memory",
  );
  link.close();
  peer.close();
});
