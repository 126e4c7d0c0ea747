import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { delay } from "@std/async";
import {
  ActorExited,
  EscalationError,
  Process,
  RemoteError,
  spawn,
  Supervisor,
  type SupervisorEventMap,
} from "../troupe.ts";
import { Counter, FailsToStart, incOnRequest, Stoppable } from "./fixtures/actors.ts";
import { hangs, noop, throws } from "./fixtures/tasks.ts";
import {
  _affected,
  _backoffDelay,
  _recordRestart,
  _shouldRestart,
} from "../actors/_supervision.ts";
import { liveWorkers, workerTest } from "./_helpers.ts";

type Event = { [K in keyof SupervisorEventMap]: [K, SupervisorEventMap[K]] }[
  keyof SupervisorEventMap
];

/** Records every event of `sup` as a short string, e.g. "exit a shutdown". */
function record(sup: Supervisor): string[] {
  const log: string[] = [];
  const add = (event: Event) => {
    const [type, e] = event;
    if (type === "exit") log.push(`exit ${e.id}${e.shutdown ? " shutdown" : ""}`);
    else if (type === "escalate") log.push("escalate");
    else log.push(`${type} ${e.id}`);
  };
  sup.on("start", (e) => add(["start", e]));
  sup.on("exit", (e) => add(["exit", e]));
  sup.on("restart", (e) => add(["restart", e]));
  sup.on("escalate", (e) => add(["escalate", e]));
  return log;
}

/** Resolves with the next event of `type`. */
function next<K extends keyof SupervisorEventMap>(
  sup: Supervisor,
  type: K,
): Promise<SupervisorEventMap[K]> {
  return new Promise((resolve) => {
    const off = sup.on(type, (e) => {
      off();
      resolve(e);
    });
  });
}

const counter = (id: string, restart: "permanent" | "transient" | "temporary" = "permanent") => ({
  id,
  start: () => spawn(Counter),
  restart,
});

function pids(sup: Supervisor): Record<string, number | undefined> {
  return Object.fromEntries(sup.whichChildren().map((c) => [c.id, c.pid]));
}

workerTest("children start in order and stop in reverse order", async () => {
  const log = new Int32Array(new SharedArrayBuffer(16));
  const sup = new Supervisor({
    children: [1, 2, 3].map((mark) => ({
      id: `s${mark}`,
      start: () => spawn(Stoppable, { args: [log, mark] }),
    })),
  });
  const events = record(sup);
  await sup.start();
  assertEquals(events, ["start s1", "start s2", "start s3"]);
  await sup.stop();
  assertEquals([...log.subarray(1, 4)], [3, 2, 1]);
  assertEquals(events.slice(3), ["exit s3 shutdown", "exit s2 shutdown", "exit s1 shutdown"]);
  await sup.done;
  assertEquals(liveWorkers(), 0);
});

workerTest("one_for_one restarts only the crashed child, with fresh state", async () => {
  await using sup = new Supervisor({ children: [counter("a"), counter("b")] });
  await sup.start();
  const a = sup.ref<Counter>("a");
  const b = sup.ref<Counter>("b");
  await a.call.inc(5);
  await b.call.inc(7);
  const before = pids(sup);
  const events = record(sup);
  const restarted = next(sup, "start");
  const exited = next(sup, "exit");
  await a.tell.crashLater(0);
  const exit = await exited;
  assertEquals(exit.id, "a");
  assertEquals(exit.shutdown, false);
  assertMatch(exit.reason.description, /^died of an uncaught Error: crashed 0 ms/);
  assertEquals((await restarted).id, "a");
  assertEquals(events, ["exit a", "restart a", "start a"]);
  assertEquals(await a.call.get(), 0, "the new incarnation starts fresh");
  assertEquals(await b.call.get(), 7, "the sibling kept its state");
  assertNotEquals(pids(sup).a, before.a);
  assertEquals(pids(sup).b, before.b);
  assertEquals(sup.whichChildren().map((c) => [c.id, c.restarts]), [["a", 1], ["b", 0]]);
});

workerTest(
  "a call in flight when the child crashed fails; calls after wait for the restart",
  async () => {
    await using sup = new Supervisor({ children: [counter("c")] });
    await sup.start();
    const c = sup.ref<Counter>("c");
    await c.call.inc(3);
    const oldName = c.name;
    const inFlight = c.call.hang();
    await delay(5);
    c.terminate();
    const error = await assertRejects(() => inFlight, ActorExited);
    assertEquals(
      error.message,
      `${oldName} (pid ${error.pid}) was terminated before answering hang()`,
    );
    // Made while the child restarts: waits for the new incarnation.
    assertEquals(await c.with({ timeoutMs: 5000 }).call.inc(1), 1);
    assertNotEquals(c.name, oldName);
  },
);

workerTest(
  "a call through a ref times out if the restart takes longer than its timeoutMs",
  async () => {
    await using sup = new Supervisor({
      intensity: 5,
      backoff: { minMs: 300, maxMs: 300 },
      children: [counter("c")],
    });
    await sup.start();
    const c = sup.ref<Counter>("c");
    const restarting = next(sup, "restart");
    c.terminate();
    await restarting;
    const error = await assertRejects(() => c.with({ timeoutMs: 20 }).call.get());
    assertEquals((error as DOMException).name, "TimeoutError");
    assertStringIncludes((error as Error).message, "was not running again within 20 ms");
    assertEquals(await c.call.get(), 0);
  },
);

workerTest("one_for_all restarts every child, stopping the others in reverse order", async () => {
  await using sup = new Supervisor({
    strategy: "one_for_all",
    children: [counter("a"), counter("b"), counter("c")],
  });
  await sup.start();
  const before = pids(sup);
  const events = record(sup);
  const lastStart = new Promise<void>((resolve) =>
    sup.on("start", (e) => e.id === "c" && resolve())
  );
  sup.ref<Counter>("b").kill();
  await lastStart;
  assertEquals(events, [
    "exit b",
    "exit c shutdown",
    "exit a shutdown",
    "restart a",
    "restart b",
    "restart c",
    "start a",
    "start b",
    "start c",
  ]);
  const after = pids(sup);
  for (const id of ["a", "b", "c"]) assertNotEquals(after[id], before[id]);
});

workerTest("one_for_all leaves a sibling that was terminated on purpose stopped", async () => {
  await using sup = new Supervisor({
    strategy: "one_for_all",
    children: [counter("a"), counter("b"), counter("c")],
  });
  await sup.start();
  await sup.terminateChild("c");
  const restartedB = new Promise<void>((resolve) =>
    sup.on("start", (e) => e.id === "b" && resolve())
  );
  sup.ref<Counter>("a").terminate();
  await restartedB;
  await delay(20);
  assertEquals(sup.whichChildren().map((c) => [c.id, c.state]), [
    ["a", "running"],
    ["b", "running"],
    ["c", "stopped"],
  ]);
});

workerTest("rest_for_one restarts the crashed child and those started after it", async () => {
  await using sup = new Supervisor({
    strategy: "rest_for_one",
    children: [counter("a"), counter("b"), counter("c")],
  });
  await sup.start();
  const before = pids(sup);
  const events = record(sup);
  const lastStart = new Promise<void>((resolve) =>
    sup.on("start", (e) => e.id === "c" && resolve())
  );
  sup.ref<Counter>("b").terminate();
  await lastStart;
  assertEquals(events, [
    "exit b",
    "exit c shutdown",
    "restart b",
    "restart c",
    "start b",
    "start c",
  ]);
  const after = pids(sup);
  assertEquals(after.a, before.a);
  assertNotEquals(after.b, before.b);
  assertNotEquals(after.c, before.c);
});

workerTest("a temporary child is not restarted, and its spec is deleted", async () => {
  await using sup = new Supervisor({ children: [counter("t", "temporary"), counter("p")] });
  await sup.start();
  const exited = next(sup, "exit");
  sup.ref<Counter>("t").terminate();
  await exited;
  await delay(30);
  assertEquals(sup.whichChildren().map((c) => c.id), ["p"]);
  await assertRejects(() => sup.ref<Counter>("t").call.get(), ActorExited, "child 't'");
});

workerTest("a transient child that exits normally is not restarted", async () => {
  await using sup = new Supervisor({ children: [counter("t", "transient")] });
  await sup.start();
  const t = sup.ref<Counter>("t");
  const exited = next(sup, "exit");
  assertEquals(await t.call.stopAfter(), "stopping");
  assert((await exited).reason.normal);
  await delay(30);
  assertEquals(sup.whichChildren()[0].state, "stopped");
  assertEquals(sup.whichChildren()[0].restarts, 0);
  await assertRejects(() => t.call.get(), ActorExited, "is stopped");
});

workerTest("a transient child that crashes is restarted", async () => {
  await using sup = new Supervisor({ children: [counter("t", "transient")] });
  await sup.start();
  const started = next(sup, "start");
  await sup.ref<Counter>("t").call.exit(2).catch(() => {});
  await started;
  assertEquals(sup.whichChildren()[0].restarts, 1);
});

workerTest("a permanent child is restarted even after a normal exit", async () => {
  await using sup = new Supervisor({ children: [counter("p")] });
  await sup.start();
  const started = next(sup, "start");
  await sup.ref<Counter>("p").call.stopAfter();
  await started;
  assertEquals(await sup.ref<Counter>("p").call.inc(1), 1);
});

workerTest(
  "a crash loop escalates: children stop in reverse order and the supervisor fails",
  async () => {
    const log = new Int32Array(new SharedArrayBuffer(16));
    const sup = new Supervisor({
      intensity: 1,
      periodMs: 5000,
      children: [
        { id: "first", start: () => spawn(Stoppable, { args: [log, 1] }) },
        counter("crashy"),
        { id: "last", start: () => spawn(Stoppable, { args: [log, 3] }) },
      ],
    });
    const events = record(sup);
    await sup.start();
    const crashy = sup.ref<Counter>("crashy");
    const restarted = next(sup, "restart");
    crashy.terminate();
    await restarted;
    await crashy.call.crashLater(0);
    const error = await assertRejects(() => sup.done, EscalationError);
    assertEquals(error.childId, "crashy");
    assertMatch(error.message, /gave up after 2 restarts within 5000 ms/);
    assertStringIncludes(error.message, "child 'crashy' died of an uncaught Error");
    assertEquals(events.slice(3), [
      "exit crashy",
      "restart crashy",
      "start crashy",
      "exit crashy",
      "escalate",
      "exit last shutdown",
      "exit first shutdown",
    ]);
    assertEquals([...log.subarray(1, 3)], [3, 1]);
    await assertRejects(() => crashy.call.get(), ActorExited, "gave up");
    assertEquals(liveWorkers(), 0);
  },
);

workerTest("intensity 0 escalates at the first crash", async () => {
  const sup = new Supervisor({ intensity: 0, children: [counter("c")] });
  await sup.start();
  const escalated = next(sup, "escalate");
  sup.ref<Counter>("c").terminate();
  assertInstanceOf((await escalated).error, EscalationError);
  await assertRejects(() => sup.done, EscalationError, "gave up after 1 restart within");
});

workerTest('shutdownMs "brutal" terminates at once, without asking', async () => {
  const log = new Int32Array(new SharedArrayBuffer(16));
  await using sup = new Supervisor({
    children: [{
      id: "b",
      start: () => spawn(Stoppable, { args: [log, 1] }),
      shutdownMs: "brutal",
    }],
  });
  await sup.start();
  const exited = next(sup, "exit");
  await sup.terminateChild("b");
  assertEquals((await exited).reason.code, -9);
  assertEquals(log[0], 0, "onStop did not run");
});

workerTest("startChild, terminateChild, restartChild, deleteChild and whichChildren", async () => {
  await using sup = new Supervisor({ children: [counter("a")] });
  await sup.start();
  await sup.startChild(counter("b"));
  await assertRejects(() => sup.startChild(counter("b")), Error, "already has a child with id 'b'");
  assertEquals(
    sup.whichChildren().map(({ id, state, kind }) => [id, state, kind]),
    [["a", "running", "actor"], ["b", "running", "actor"]],
  );
  await sup.ref<Counter>("b").call.inc(4);
  await assertRejects(() => sup.deleteChild("b"), Error, "terminateChild() it before deleting it");
  await sup.terminateChild("b");
  assertEquals(sup.whichChildren()[1].state, "stopped");
  await assertRejects(() => sup.ref<Counter>("b").call.get(), ActorExited, "is stopped");
  await sup.restartChild("b");
  assertEquals(await sup.ref<Counter>("b").call.get(), 0);
  await assertRejects(() => sup.restartChild("b"), Error, "is running; terminate it first");
  await sup.terminateChild("b");
  await sup.deleteChild("b");
  assertEquals(sup.whichChildren().map((c) => c.id), ["a"]);
  await assertRejects(() => sup.terminateChild("zzz"), Error, "has no child with id 'zzz'");
});

workerTest("a nested supervisor's escalation reaches its parent", async () => {
  const inner = () => new Supervisor({ name: "inner", intensity: 0, children: [counter("leaf")] });
  let innerSup: Supervisor | undefined;
  const outer = new Supervisor({
    name: "outer",
    intensity: 0,
    children: [counter("sibling"), {
      id: "inner",
      start: () => innerSup = inner(),
    }],
  });
  const events = record(outer);
  await outer.start();
  assertEquals(outer.whichChildren()[1].kind, "supervisor");
  innerSup!.ref<Counter>("leaf").terminate();
  const error = await assertRejects(() => outer.done, EscalationError);
  assertEquals(error.supervisorName, "outer");
  assertEquals(error.childId, "inner");
  assertStringIncludes(error.message, "inner gave up after 1 restart");
  assertEquals(events.slice(2), ["exit inner", "escalate", "exit sibling shutdown"]);
  assertEquals(liveWorkers(), 0);
});

workerTest("a nested supervisor that escalates is restarted by its parent", async () => {
  let inner: Supervisor | undefined;
  const outer = new Supervisor({
    intensity: 2,
    children: [{
      id: "inner",
      start: () => inner = new Supervisor({ intensity: 0, children: [counter("leaf")] }),
    }],
  });
  await outer.start();
  const first = inner!;
  const exited = next(outer, "exit");
  const restarted = next(outer, "start");
  first.ref<Counter>("leaf").terminate();
  const exit = await exited;
  assertInstanceOf(exit.reason.error, EscalationError);
  assertEquals(exit.reason.normal, false);
  await restarted;
  assert(inner !== first, "a new inner supervisor");
  assertEquals(await inner!.ref<Counter>("leaf").call.inc(2), 2);
  await outer.stop();
  assertEquals(liveWorkers(), 0);
});

workerTest("Process children are supervised too", async () => {
  await using sup = new Supervisor({
    children: [
      { id: "worker", start: () => new Process({ target: hangs }) },
      { id: "once", start: () => new Process({ target: noop }), restart: "transient" },
    ],
  });
  const exits: string[] = [];
  sup.on("exit", (e) => exits.push(`${e.id}:${e.reason.code}`));
  const exited = next(sup, "exit");
  await sup.start();
  await exited;
  await delay(20);
  assertEquals(exits, ["once:0"], "a transient process that returns is not restarted");
  assertEquals(sup.whichChildren().map((c) => [c.id, c.state, c.kind]), [
    ["worker", "running", "process"],
    ["once", "stopped", null],
  ]);
  await assertRejects(
    () => sup.ref<Counter>("worker").call.get(),
    TypeError,
    "is a process, not an actor",
  );
});

workerTest("a Process child that throws is restarted", async () => {
  let starts = 0;
  await using sup = new Supervisor({
    intensity: 3,
    children: [{
      id: "p",
      start: () => {
        starts++;
        // Explicit: inferring the arguments from a union of targets depends on the order in which
        // the type checker met the two types, which changes with what else it checks.
        return new Process<[string]>({ target: starts === 1 ? throws : hangs, args: ["boom"] });
      },
    }],
  });
  const exited = next(sup, "exit");
  const restarted = next(sup, "restart");
  await sup.start();
  const exit = await exited;
  assertInstanceOf(exit.reason.error, RemoteError);
  assertStringIncludes(exit.reason.description, "TypeError: boom");
  await restarted;
  await delay(20);
  assertEquals(sup.whichChildren()[0].state, "running");
});

workerTest(
  "start() fails naming the child that could not start; earlier ones are stopped",
  async () => {
    const sup = new Supervisor({
      children: [counter("ok"), { id: "bad", start: () => spawn(FailsToStart) }, counter("never")],
    });
    const events = record(sup);
    const error = await assertRejects(() => sup.start(), Error, "could not start child 'bad'");
    assertStringIncludes(error.message, "onStart refused");
    assertEquals(events, ["start ok", "exit ok shutdown"]);
    await assertRejects(() => sup.done, Error, "could not start child 'bad'");
    assertEquals(liveWorkers(), 0);
  },
);

workerTest("bad options are refused with what to fix", () => {
  // @ts-expect-error: not a strategy
  assertThrows(() => new Supervisor({ strategy: "all" }), TypeError, "one_for_one");
  assertThrows(() => new Supervisor({ intensity: -1 }), RangeError, "intensity");
  assertThrows(() => new Supervisor({ periodMs: 0 }), RangeError, "periodMs");
  assertThrows(
    // @ts-expect-error: start must be a function
    () => new Supervisor({ children: [{ id: "x", start: 1 }] }),
    TypeError,
    "children[0].start",
  );
  assertThrows(
    () => new Supervisor({ children: [counter("x"), counter("x")] }),
    Error,
    "already has a child with id 'x'",
  );
  assertThrows(
    () => new Supervisor({ backoff: { minMs: 10, maxMs: 5 } }),
    RangeError,
    "backoff.maxMs",
  );
});

workerTest("a supervisor's reference sent to a worker follows restarts", async () => {
  const sup = new Supervisor({ children: [counter("c")] });
  await sup.start();
  const p = new Process({ target: incOnRequest, args: [sup.ref<Counter>("c")] });
  p.start();
  p.send("inc");
  assertEquals(await p.receive(), 1);
  p.send("inc");
  assertEquals(await p.receive(), 2);
  const restarted = next(sup, "start");
  sup.ref<Counter>("c").terminate();
  await restarted;
  p.send("inc");
  assertEquals(await p.receive(), 1, "the new incarnation, fresh");
  await sup.stop();
  p.send("inc");
  assertMatch(
    await p.receive<string>(),
    /^ActorExited: cannot call inc\(\): child 'c' of Supervisor-\d+ is gone: .* was stopped$/,
  );
  p.send("stop");
  assertEquals(await p.join(), 0);
});

workerTest("the restart decisions are plain functions of the child records", () => {
  assertEquals(_affected("one_for_one", 4, 2), [2]);
  assertEquals(_affected("one_for_all", 4, 2), [0, 1, 2, 3]);
  assertEquals(_affected("rest_for_one", 4, 1), [1, 2, 3]);
  const crash = { code: 1, error: null, normal: false, description: "crashed" };
  const normal = { code: 0, error: null, normal: true, description: "exited normally" };
  assertEquals(
    [_shouldRestart("permanent", normal), _shouldRestart("transient", normal)],
    [true, false],
  );
  assertEquals(
    [_shouldRestart("transient", crash), _shouldRestart("temporary", crash)],
    [true, false],
  );
  assertEquals(_recordRestart([0, 900], 1000, 2, 500), { times: [900, 1000], exceeded: false });
  assertEquals(_recordRestart([600, 900], 1000, 2, 500).exceeded, true);
  const jittered = [0, 0.5, 0.999].map((r) =>
    _backoffDelay({ minMs: 100, maxMs: 1000, jitter: 0.2 }, 2, r)
  );
  assertEquals(jittered[1], 200);
  assert(jittered[0] >= 160 && jittered[2] <= 240 && jittered[0] < jittered[2]);
  assertEquals(_backoffDelay({ minMs: 100, maxMs: 300 }, 5, 0.5), 300);
});
