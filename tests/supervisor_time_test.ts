// The supervisor's timing, to the millisecond: restart intensity over its
// period, backoff between restarts, and how long a stop waits for a child.
// FakeTime fakes the timers (and Date); the restart window is read from
// performance.now(), which FakeTime leaves alone, so tests that count restarts
// stub it to the fake clock.
import { assert, assertEquals, assertRejects } from "@std/assert";
import { stub } from "@std/testing/mock";
import { FakeTime } from "@std/testing/time";
import {
  type ChildSpec,
  EscalationError,
  spawn,
  Supervisor,
  type SupervisorEventMap,
} from "../troupe.ts";
import { Stoppable } from "./fixtures/actors.ts";
import { liveWorkers, workerTest } from "./_helpers.ts";

/** Fake time whose clock performance.now() reads too. */
function fakeClock(): FakeTime & Disposable {
  const time = new FakeTime(0);
  const now = stub(performance, "now", () => time.now);
  return Object.assign(time, {
    [Symbol.dispose]() {
      now.restore();
      time.restore();
    },
  });
}

/** Moves fake time on by `ms`, then lets what the timers set off run. */
async function advance(time: FakeTime, ms: number): Promise<void> {
  await time.tickAsync(ms);
  await time.runMicrotasks();
}

/** Waits in real time until `ready()` (a worker did something), checking every 2 ms. */
async function realUntil(time: FakeTime, ready: () => boolean, what: string): Promise<void> {
  for (let i = 0; !ready(); i++) {
    if (i === 5000) throw new Error(`timed out waiting until ${what}`);
    await time.delay(2);
  }
}

/**
 * A child that needs no worker: each incarnation is an empty supervisor, which
 * ends (normally) when stopped; a permanent child is restarted after any end.
 */
class FakeChild {
  readonly incarnations: Supervisor[] = [];
  constructor(readonly id: string) {}
  spec(): ChildSpec {
    return {
      id: this.id,
      start: () => {
        const incarnation = new Supervisor({ name: `${this.id}#${this.incarnations.length + 1}` });
        this.incarnations.push(incarnation);
        return incarnation;
      },
    };
  }
  /** Ends the running incarnation and lets the supervisor react. */
  async exit(time: FakeTime): Promise<void> {
    await this.incarnations.at(-1)!.stop();
    await time.runMicrotasks();
  }
}

type Events = { [K in keyof SupervisorEventMap]: SupervisorEventMap[K][] };

function watch(sup: Supervisor): Events {
  const events: Events = { start: [], exit: [], restart: [], escalate: [] };
  sup.on("start", (e) => events.start.push(e));
  sup.on("exit", (e) => events.exit.push(e));
  sup.on("restart", (e) => events.restart.push(e));
  sup.on("escalate", (e) => events.escalate.push(e));
  return events;
}

function stateOf(sup: Supervisor, id: string): string | undefined {
  return sup.whichChildren().find((c) => c.id === id)?.state;
}

Deno.test("intensity: the restart past intensity within periodMs escalates, to the ms", async () => {
  using time = fakeClock();
  const child = new FakeChild("c");
  const sup = new Supervisor({ intensity: 2, periodMs: 1000, children: [child.spec()] });
  const events = watch(sup);
  await sup.start();

  await child.exit(time); // t = 0: restart 1
  await advance(time, 500);
  await child.exit(time); // t = 500: restart 2
  assertEquals(sup.whichChildren()[0].restarts, 2);
  assertEquals(stateOf(sup, "c"), "running");
  assertEquals(events.escalate.length, 0);

  await advance(time, 499);
  await child.exit(time); // t = 999: the first restart is still within the period
  assertEquals(events.escalate.length, 1);
  assertEquals(events.restart.length, 2, "the third exit was not restarted");
  const error = await assertRejects(
    () => sup.done,
    EscalationError,
    "gave up after 3 restarts within 1000 ms",
  );
  assertEquals(error.childId, "c");
  assertEquals(child.incarnations.length, 3);
});

Deno.test("intensity: restarts periodMs apart leave the window and never escalate", async () => {
  using time = fakeClock();
  const child = new FakeChild("c");
  await using sup = new Supervisor({ intensity: 1, periodMs: 1000, children: [child.spec()] });
  const events = watch(sup);
  await sup.start();

  for (let i = 0; i < 5; i++) {
    if (i > 0) await advance(time, 1000);
    await child.exit(time); // t = 0, 1000, ..., 4000: the one before is exactly periodMs old
    assertEquals(stateOf(sup, "c"), "running", `restart at t = ${time.now}`);
  }
  assertEquals(sup.whichChildren()[0].restarts, 5);
  assertEquals(events.escalate.length, 0);

  await advance(time, 999);
  await child.exit(time); // t = 4999: the restart at 4000 still counts
  assertEquals(events.escalate.length, 1);
  await assertRejects(() => sup.done, EscalationError, "gave up after 2 restarts within 1000 ms");
});

Deno.test("backoff: each restart waits exactly its delay, doubling from minMs to maxMs", async () => {
  using time = fakeClock();
  const child = new FakeChild("c");
  await using sup = new Supervisor({
    intensity: 10,
    periodMs: 60_000,
    backoff: { minMs: 100, maxMs: 1000 },
    children: [child.spec()],
  });
  const events = watch(sup);
  await sup.start();

  const expected = [100, 200, 400, 800, 1000];
  for (const [i, delayMs] of expected.entries()) {
    await child.exit(time);
    assertEquals(events.restart.at(-1), { id: "c", restarts: i + 1, delayMs });
    await advance(time, delayMs - 1);
    assertEquals(events.start.length, i + 1, `not restarted 1 ms before its ${delayMs} ms`);
    assertEquals(stateOf(sup, "c"), "restarting");
    await advance(time, 1);
    assertEquals(events.start.length, i + 2, `restarted after ${delayMs} ms`);
    assertEquals(stateOf(sup, "c"), "running");
  }
  assertEquals(child.incarnations.length, expected.length + 1);
});

Deno.test("backoff: restarts that left the period no longer lengthen the delay", async () => {
  using time = fakeClock();
  const child = new FakeChild("c");
  await using sup = new Supervisor({
    intensity: 10,
    periodMs: 10_000,
    backoff: { minMs: 100, maxMs: 10_000 },
    children: [child.spec()],
  });
  const events = watch(sup);
  await sup.start();

  await child.exit(time); // t = 0
  await advance(time, 9_999);
  await child.exit(time); // t = 9999: the restart at 0 is within the period
  await advance(time, 10_000);
  await child.exit(time); // t = 19999: the one at 9999 is exactly periodMs old
  assertEquals(events.restart.map((e) => e.delayMs), [100, 200, 100]);
  await advance(time, 99);
  assertEquals(stateOf(sup, "c"), "restarting");
  await advance(time, 1);
  assertEquals(stateOf(sup, "c"), "running");
  assertEquals(events.start.length, 4);
});

Deno.test("backoff: jitter spreads each delay by the drawn fraction of it", async () => {
  using time = fakeClock();
  const draws = [0.75, 0, 0];
  using _random = stub(Math, "random", () => draws.shift() ?? 0.5);
  const child = new FakeChild("c");
  await using sup = new Supervisor({
    intensity: 10,
    backoff: { minMs: 100, maxMs: 300, jitter: 0.5 },
    children: [child.spec()],
  });
  const events = watch(sup);
  await sup.start();

  // 100 ms spread by +25% (0.75 drawn), 200 ms by -50% (0 drawn), then 400 ms
  // capped at 300 before it is spread by -50%.
  for (const [i, delayMs] of [125, 100, 150].entries()) {
    await child.exit(time);
    assertEquals(events.restart.at(-1)?.delayMs, delayMs);
    await advance(time, delayMs - 1);
    assertEquals(events.start.length, i + 1);
    await advance(time, 1);
    assertEquals(events.start.length, i + 2);
  }
});

Deno.test("backoff: stop() during the delay cancels the restart and does not wait", async () => {
  using time = fakeClock();
  const child = new FakeChild("c");
  const sup = new Supervisor({
    backoff: { minMs: 5000, maxMs: 5000 },
    children: [child.spec()],
  });
  const events = watch(sup);
  await sup.start();

  await child.exit(time);
  assertEquals(events.restart.length, 1);
  await advance(time, 1000);
  let stopped = false;
  const stopping = sup.stop().then(() => stopped = true);
  await time.runMicrotasks();
  assert(stopped, "stop() resolved with no more time passing");
  await stopping;
  await sup.done;
  await advance(time, 10_000);
  assertEquals(events.start.length, 1, "the child was not started again");
  assertEquals(child.incarnations.length, 1);
  assertEquals(stateOf(sup, "c"), "stopped");
});

workerTest(
  "shutdown: a child that ignores the stop is terminated exactly at shutdownMs",
  async () => {
    const log = new Int32Array(new SharedArrayBuffer(16));
    const sup = new Supervisor({
      children: [{
        id: "slow",
        start: () => spawn(Stoppable, { args: [log, 1, 60_000] }),
        shutdownMs: 1000,
      }],
    });
    await sup.start();
    using time = new FakeTime(0);
    const events = watch(sup);
    let done = false;
    const terminating = sup.terminateChild("slow").then(() => done = true);
    await realUntil(time, () => log[0] >= 1, "onStop runs");

    await advance(time, 999);
    assert(!done, "terminateChild() still waits 1 ms before shutdownMs");
    assertEquals(events.exit.length, 0);
    assertEquals(liveWorkers(), 1);

    await advance(time, 1);
    assert(done, "terminateChild() resolved at shutdownMs");
    await terminating;
    assertEquals(events.exit.length, 1);
    const [exit] = events.exit;
    assertEquals(exit.shutdown, true);
    assertEquals(exit.reason.code, -15);
    assertEquals(exit.reason.description, "did not stop within 1000 ms and was terminated");
    assertEquals(liveWorkers(), 0);
    assertEquals(stateOf(sup, "slow"), "stopped");
    await sup.stop();
  },
);

workerTest("shutdown: shutdownMs Infinity waits as long as the child takes", async () => {
  const log = new Int32Array(new SharedArrayBuffer(16));
  const sup = new Supervisor({
    children: [{
      id: "slow",
      start: () => spawn(Stoppable, { args: [log, 1, 60_000] }),
      shutdownMs: Infinity,
    }],
  });
  await sup.start();
  using time = new FakeTime(0);
  let done = false;
  const terminating = sup.terminateChild("slow").then(() => done = true);
  await realUntil(time, () => log[0] >= 1, "onStop runs");
  await advance(time, 1e9);
  assert(!done, "still waiting after 1e9 ms");
  assertEquals(liveWorkers(), 1);
  sup.ref<Stoppable>("slow").terminate();
  await terminating;
  assertEquals(liveWorkers(), 0);
  await sup.stop();
});

workerTest("shutdown: stop() stops children in turn, each within its own shutdownMs", async () => {
  const log = new Int32Array(new SharedArrayBuffer(16));
  const sup = new Supervisor({
    children: [
      { id: "a", start: () => spawn(Stoppable, { args: [log, 1, 60_000] }), shutdownMs: 300 },
      { id: "b", start: () => spawn(Stoppable, { args: [log, 2, 60_000] }), shutdownMs: 700 },
    ],
  });
  await sup.start();
  using time = new FakeTime(0);
  const events = watch(sup);
  let stopped = false;
  const stopping = sup.stop().then(() => stopped = true);
  const asked = () => [...log.subarray(1, 1 + log[0])];

  await realUntil(time, () => log[0] >= 1, "b's onStop runs");
  await advance(time, 699);
  assertEquals(events.exit.length, 0);
  assertEquals(asked(), [2], "a is not asked before b is gone");
  await advance(time, 1);
  assertEquals(events.exit.map((e) => [e.id, e.reason.code]), [["b", -15]]);

  await realUntil(time, () => log[0] >= 2, "a's onStop runs");
  await advance(time, 299);
  assert(!stopped);
  assertEquals(events.exit.length, 1);
  await advance(time, 1);
  assert(stopped, "stop() resolved 700 + 300 ms after it began");
  await stopping;
  assertEquals(time.now, 1000);
  assertEquals(events.exit.map((e) => [e.id, e.reason.code]), [["b", -15], ["a", -15]]);
  assertEquals(asked(), [2, 1]);
  assertEquals(liveWorkers(), 0);
});

workerTest(
  "shutdown: a supervisor child is killed, with its children, at its shutdownMs",
  async () => {
    const log = new Int32Array(new SharedArrayBuffer(16));
    let inner: Supervisor | undefined;
    const outer = new Supervisor({
      children: [{
        id: "inner",
        start: () =>
          inner = new Supervisor({
            children: [{
              id: "leaf",
              start: () => spawn(Stoppable, { args: [log, 1, 60_000] }),
              shutdownMs: 5000,
            }],
          }),
        shutdownMs: 500,
      }],
    });
    await outer.start();
    using time = new FakeTime(0);
    const outerEvents = watch(outer);
    const innerEvents = watch(inner!);
    let innerDone = false;
    inner!.done.then(() => innerDone = true);
    let done = false;
    const terminating = outer.terminateChild("inner").then(() => done = true);
    await realUntil(time, () => log[0] >= 1, "the leaf's onStop runs");

    await advance(time, 499);
    assert(!done && !innerDone);
    assertEquals(liveWorkers(), 1, "the leaf still runs (its own shutdownMs is 5000)");
    await advance(time, 1);
    assert(innerDone, "the inner supervisor ended at 500 ms");
    assert(done, "terminateChild() resolved at 500 ms");
    await terminating;
    assertEquals(liveWorkers(), 0);
    assertEquals(innerEvents.exit.map((e) => [e.id, e.reason.code]), [["leaf", -9]]);
    // Killed at its limit, as an actor would be: not a clean stop.
    assertEquals(outerEvents.exit.map((e) => [e.id, e.reason.code, e.reason.description]), [
      ["inner", -15, "did not stop within 500 ms and was terminated"],
    ]);
    assertEquals(stateOf(outer, "inner"), "stopped");
    await outer.stop();
  },
);
