import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { delay } from "@std/async";
import { Actor, ActorExited, MailboxFull, Process, RemoteError, spawn } from "../troupe.ts";
import {
  Counter,
  FailsToStart,
  Gate,
  incThrough,
  NotDeclaredActor,
  Relay,
  Stoppable,
  TallyKeeper,
} from "./fixtures/actors.ts";
import { Tally } from "./fixtures/wired.ts";
import { liveWorkers, workerTest } from "./_helpers.ts";

/** Waits (bounded) until `cond()` holds. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await delay(5);
  if (!cond()) throw new Error(`timed out waiting until ${what}`);
}

workerTest("call returns the method's value and the actor keeps its state", async () => {
  await using counter = await spawn(Counter, { args: [10] });
  const a: number = await counter.call.inc(2);
  assertEquals(a, 12);
  assertEquals(await counter.call.inc(3), 15);
  assertEquals(await counter.call.get(), 15);
});

workerTest("calls are handled one at a time, in arrival order, even async ones", async () => {
  await using counter = await spawn(Counter);
  // Each slowInc reads n, waits, then writes: interleaving would lose an increment.
  const results = await Promise.all([
    counter.call.slowInc(1, 20),
    counter.call.slowInc(10, 5),
    counter.call.inc(100),
  ]);
  assertEquals(results, [1, 11, 111]);
});

workerTest("a thousand calls in flight all resolve, in order", async () => {
  await using counter = await spawn(Counter);
  const calls = Array.from({ length: 1000 }, () => counter.call.inc(1));
  assertEquals(await Promise.all(calls), Array.from({ length: 1000 }, (_, i) => i + 1));
});

workerTest(
  "a method that throws rejects that call with a RemoteError; the actor goes on",
  async () => {
    await using counter = await spawn(Counter, { name: "thrower" });
    await counter.call.inc(5);
    const error = await assertRejects(() => counter.call.fail("bad input"), RemoteError);
    assertEquals(error.remoteName, "RangeError");
    assertEquals(error.remoteMessage, "bad input");
    assertEquals(error.processName, "thrower");
    assertEquals(await counter.call.get(), 5);
  },
);

workerTest("tell sends without a reply, in order with calls", async () => {
  await using counter = await spawn(Counter);
  await counter.tell.inc(4);
  counter.tell.inc(6);
  assertEquals(await counter.call.get(), 10);
});

workerTest("a told method that throws ends the actor, like an OTP cast", async () => {
  const counter = await spawn(Counter);
  await counter.tell.fail("in a tell");
  const error = await assertRejects(() => counter.call.get(), ActorExited);
  assertStringIncludes(error.message, "died of an uncaught RangeError: in a tell");
  assertEquals(counter.exitCode, 1);
  assertInstanceOf(error.cause, RemoteError);
});

workerTest("actors are named ClassName-N unless named, and see their name inside", async () => {
  await using a = await spawn(Counter);
  await using b = await spawn(Counter, { name: "tally" });
  assertMatch(a.name, /^Counter-\d+$/);
  assertEquals(await a.call.whoAmI(), a.name);
  assertEquals(await b.call.whoAmI(), "tally");
  assert(typeof a.pid === "number" && a.pid !== b.pid);
});

workerTest("spawn() refuses an undeclared class and a non-actor, saying what to do", async () => {
  const e1 = await assertRejects(() => spawn(NotDeclaredActor), TypeError);
  assertStringIncludes(e1.message, "task(import.meta, NotDeclaredActor)");
  const e2 = await assertRejects(
    // @ts-expect-error: not an Actor subclass
    () => spawn(class Plain {}),
    TypeError,
  );
  assertStringIncludes(e2.message, "subclass of Actor");
  await assertRejects(
    () => spawn(Counter, { mailbox: { capacity: 0 } }),
    RangeError,
    "mailbox.capacity",
  );
  assertEquals(liveWorkers(), 0);
});

workerTest("spawn() rejects with onStart()'s error and leaves no worker", async () => {
  const error = await assertRejects(() => spawn(FailsToStart), RemoteError);
  assertEquals(error.remoteMessage, "onStart refused");
  assertEquals(liveWorkers(), 0);
});

workerTest("arguments that cannot be sent fail the call, naming them", async () => {
  await using counter = await spawn(Counter);
  const error = await assertRejects(
    // @ts-expect-error: inc takes a number
    () => counter.call.inc(() => 1),
    TypeError,
  );
  assertStringIncludes(error.message, ".inc() args[0]");
  assertEquals(await counter.call.inc(1), 1);
});

workerTest("a return value that cannot be sent fails that call only", async () => {
  await using counter = await spawn(Counter);
  const error = await assertRejects(() => counter.call.returnsFunction(), RemoteError);
  assertStringIncludes(error.message, "returnsFunction()");
  assertEquals(await counter.call.inc(1), 1);
});

workerTest("a call to a method the actor does not have is rejected", async () => {
  await using counter = await spawn(Counter);
  // deno-lint-ignore no-explicit-any
  const untyped = counter.call as any;
  await assertRejects(() => untyped.nope(), RemoteError, "Counter has no method 'nope'");
  await assertRejects(() => untyped.onStop(), RemoteError, "belongs to Actor itself");
  assertEquals(await counter.call.inc(1), 1);
});

workerTest(
  "an uncaught error outside a method fails the call in flight, naming the actor",
  async () => {
    const counter = await spawn(Counter, { name: "crasher" });
    await counter.call.crashLater(20);
    const inFlight = counter.call.hang();
    const queued = counter.call.get();
    const error = await assertRejects(() => inFlight, ActorExited);
    assertMatch(
      error.message,
      /^crasher \(pid \d+\) died of an uncaught Error: crashed 20 ms after crashLater\(\) before answering hang\(\)$/,
    );
    await assertRejects(() => queued, ActorExited, "before answering get()");
    await assertRejects(() => counter.call.get(), ActorExited, "cannot call get(): crasher");
    assertEquals(counter.exitCode, 1);
    assert(!counter.isAlive());
  },
);

workerTest("Deno.exit(n) in a method fails that call with the exit code", async () => {
  const counter = await spawn(Counter);
  await assertRejects(() => counter.call.exit(3), ActorExited, "exited with code 3");
  assertEquals(counter.exitCode, 3);
});

workerTest("terminate() and kill() fail the calls in flight and queued", async () => {
  const a = await spawn(Counter);
  const b = await spawn(Counter);
  const calls = [a.call.hang(), a.call.get()];
  const other = b.call.hang();
  await delay(10);
  a.terminate();
  b.kill();
  for (const call of calls) await assertRejects(() => call, ActorExited, "was terminated");
  await assertRejects(() => other, ActorExited, "was killed");
  assertEquals([a.exitCode, b.exitCode], [-15, -9]);
});

workerTest("stop() handles the calls sent before it, runs onStop(), and exits with 0", async () => {
  const log = new Int32Array(new SharedArrayBuffer(16));
  const actor = await spawn(Stoppable, { args: [log, 7] });
  const before = actor.call.ping();
  await actor.stop();
  assertEquals(await before, 7);
  assertEquals([log[0], log[1]], [1, 7]);
  assertEquals(actor.exitCode, 0);
  await assertRejects(() => actor.call.ping(), ActorExited, "exited normally");
});

workerTest("stop({ timeoutMs }) terminates an actor that does not stop in time", async () => {
  const counter = await spawn(Counter);
  const stuck = counter.call.hang();
  await counter.stop({ timeoutMs: 50 });
  assertEquals(counter.exitCode, -15);
  await assertRejects(() => stuck, ActorExited, "did not stop within 50 ms");
});

workerTest("this.stop() inside a method answers that call, then exits normally", async () => {
  const counter = await spawn(Counter);
  const after = counter.call.get();
  assertEquals(await counter.call.stopAfter(), "stopping");
  await after;
  await until(() => !counter.isAlive(), "the actor ended");
  assertEquals(counter.exitCode, 0);
});

workerTest("a full mailbox fails a send with wait: false at once with MailboxFull", async () => {
  const gate = new Int32Array(new SharedArrayBuffer(8));
  await using actor = await spawn(Gate, { args: [gate], mailbox: { capacity: 2 } });
  const busy = actor.call.enter();
  await until(() => Atomics.load(gate, 0) === 1, "the actor is busy");
  await actor.tell.note(1);
  await actor.tell.note(2);
  const error = await assertRejects(
    () => actor.with({ wait: false }).tell.note(3),
    MailboxFull,
  );
  assertStringIncludes(error.message, "capacity 2");
  Atomics.store(gate, 1, 1);
  assertEquals(await busy, "through");
  assertEquals(await actor.call.notes(), [1, 2]);
});

workerTest("a send to a full mailbox waits for room, in order", async () => {
  const gate = new Int32Array(new SharedArrayBuffer(8));
  await using actor = await spawn(Gate, { args: [gate], mailbox: { capacity: 1 } });
  const busy = actor.call.enter();
  await until(() => Atomics.load(gate, 0) === 1, "the actor is busy");
  await actor.tell.note(1);
  let posted = 0;
  const waiting = [actor.tell.note(2), actor.tell.note(3)].map((p) => p.then(() => posted++));
  await delay(30);
  assertEquals(posted, 0, "no room while the actor is busy");
  Atomics.store(gate, 1, 1);
  await Promise.all(waiting);
  assertEquals(await busy, "through");
  assertEquals(await actor.call.notes(), [1, 2, 3]);
});

workerTest("timeoutMs bounds the wait for room in a full mailbox", async () => {
  const gate = new Int32Array(new SharedArrayBuffer(8));
  await using actor = await spawn(Gate, { args: [gate], mailbox: { capacity: 1 } });
  const busy = actor.call.enter();
  await until(() => Atomics.load(gate, 0) === 1, "the actor is busy");
  await actor.tell.note(1);
  const error = await assertRejects(() => actor.with({ timeoutMs: 30 }).call.notes());
  assertEquals((error as DOMException).name, "TimeoutError");
  assertStringIncludes((error as Error).message, "found no room in its mailbox");
  Atomics.store(gate, 1, 1);
  await busy;
  assertEquals(await actor.call.notes(), [1]);
});

workerTest("timeoutMs bounds the wait for a reply; the actor goes on", async () => {
  await using counter = await spawn(Counter);
  const error = await assertRejects(() => counter.with({ timeoutMs: 20 }).call.slowInc(1, 200));
  assertEquals((error as DOMException).name, "TimeoutError");
  assertStringIncludes((error as Error).message, "got no reply within 20 ms");
  assertEquals(await counter.call.get(), 1);
});

workerTest("an aborted signal rejects the call with its reason", async () => {
  await using counter = await spawn(Counter);
  const controller = new AbortController();
  const call = counter.with({ signal: controller.signal }).call.slowInc(1, 100);
  controller.abort(new Error("caller gave up"));
  await assertRejects(() => call, Error, "caller gave up");
  await assertRejects(
    () => counter.with({ signal: AbortSignal.abort(new Error("already")) }).call.get(),
    Error,
    "already",
  );
});

workerTest("a call the port cannot send fails alone; the calls after it are served", async () => {
  await using counter = await spawn(Counter);
  const { port1, port2 } = new MessageChannel();
  await counter.call.echo(port1); // transferred: port1 is gone from here
  await assertRejects(() => counter.call.echo(port1), TypeError, "could not be sent");
  assertEquals(await counter.with({ timeoutMs: 5000 }).call.echo(7), 7);
  port2.close();
});

workerTest("an actor with permissions 'none' serves calls", async () => {
  await using counter = await spawn(Counter, { permissions: "none" });
  assertEquals(await counter.call.inc(2), 2);
});

workerTest("await using stops the actor", async () => {
  let name = "";
  {
    await using counter = await spawn(Counter);
    name = counter.name;
    await counter.call.inc(1);
  }
  assert(name.startsWith("Counter-"));
  assertEquals(liveWorkers(), 0);
});

workerTest("references are typed from the class", async () => {
  await using counter = await spawn(Counter);
  const n: number = await counter.call.slowInc(1, 1);
  assertEquals(n, 1);
  // @ts-expect-error: Actor's own methods are not callable by message
  assertEquals(typeof counter.call.onStart, "function");
  // Types are the guard here (never called: the runtime does not check argument types).
  // @ts-expect-error: wrong argument type
  const wrong = () => counter.call.inc("x");
  assertEquals(typeof wrong, "function");
  assert(Actor.prototype.stop !== undefined);
});

workerTest("Troupe objects travel in spawn args, call args and return values", async () => {
  const own = new Tally();
  const other = new Tally();
  await using keeper = await spawn(TallyKeeper, { args: [own] });
  assertEquals(await keeper.call.addToOwn(2), [true, 2]);
  assertEquals(await keeper.call.addTo(other, 5), 5);
  const back = await keeper.call.own();
  assertInstanceOf(back, Tally);
  back.add(1);
  assertEquals([own.value, other.value], [3, 5]);
});

workerTest("an actor reference sent to a Process is called from there", async () => {
  await using counter = await spawn(Counter, { args: [100] });
  const p = new Process({ target: incThrough, args: [counter, 3] });
  p.start();
  assertEquals(await p.receive(), [101, 102, 103]);
  assertEquals(await p.join(), 0);
  assertEquals(await counter.call.get(), 103);
});

workerTest("an actor reference sent to another actor is called from there, in order", async () => {
  await using counter = await spawn(Counter);
  await using relay = await spawn(Relay, { args: [counter] });
  assertEquals(await relay.call.relayInc(2), 2);
  assertEquals(await relay.call.relayTell(3), 5);
  assertEquals(await relay.call.targetName(), counter.name);
});

workerTest(
  "a reference that comes back to the thread that holds the actor is local again",
  async () => {
    const counter = await spawn(Counter);
    await using relay = await spawn(Relay, { args: [counter] });
    const back = await relay.call.give();
    assertEquals(await back.call.inc(1), 1);
    back.terminate(); // allowed: this thread spawned the actor
    assertEquals(counter.exitCode, -15);
  },
);

workerTest("a travelled reference fails its calls once the actor has ended", async () => {
  const counter = await spawn(Counter, { name: "target" });
  await using relay = await spawn(Relay, { args: [counter] });
  await relay.call.relayInc(1);
  counter.terminate();
  const error = await assertRejects(() => relay.call.relayInc(1), RemoteError);
  assertEquals(error.remoteName, "ActorExited");
  assertStringIncludes(error.remoteMessage, "target");
  assertStringIncludes(error.remoteMessage, "was terminated");
});

workerTest("a travelled reference cannot end the actor", async () => {
  await using counter = await spawn(Counter);
  await using relay = await spawn(Relay, { args: [counter] });
  await assertRejects(
    () => relay.call.tryStop(),
    RemoteError,
    "only the thread that spawned it (or its supervisor) can end an actor",
  );
  assertEquals(await counter.call.inc(1), 1);
});

workerTest("a reference to an ended actor cannot be sent", async () => {
  const counter = await spawn(Counter);
  counter.terminate();
  await assertRejects(
    () => spawn(Relay, { args: [counter] }),
    TypeError,
    "only a reference to a running actor can be sent",
  );
});

workerTest("a send waiting for room in a full mailbox fails when the actor ends", async () => {
  const gate = new Int32Array(new SharedArrayBuffer(8));
  const actor = await spawn(Gate, { args: [gate], mailbox: { capacity: 1 } });
  const busy = actor.call.enter();
  await until(() => Atomics.load(gate, 0) === 1, "the actor is busy");
  await actor.tell.note(1);
  const waiting = actor.tell.note(2);
  actor.terminate();
  await assertRejects(() => waiting, ActorExited, "cannot call note()");
  await assertRejects(() => busy, ActorExited, "was terminated before answering enter()");
});

workerTest("arguments and values arrive exactly, alone or batched", async () => {
  await using counter = await spawn(Counter);
  const values: unknown[] = [
    0,
    -0,
    NaN,
    Infinity,
    1.5,
    null,
    undefined,
    "",
    "x".repeat(1000),
    "\ud800 lone surrogate",
    true,
    [1, undefined, "a"],
    { a: [1, { b: null }] },
    new Map([[1, 2]]),
    123n,
  ];
  for (const value of values) assertEquals(await counter.call.echo(value), value);
  assert(Object.is(await counter.call.echo(-0), -0));
  assertEquals(await Promise.all(values.map((v) => counter.call.echo(v))), values);
  assertEquals(await counter.call.nothing(), undefined);
  assertEquals(await Promise.all([counter.call.nothing(), counter.call.echo(null)]), [
    undefined,
    null,
  ]);
});
