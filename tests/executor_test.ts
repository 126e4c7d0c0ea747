import {
  assert,
  assertEquals,
  assertFalse,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  asCompleted,
  CancelledError,
  Future,
  ProcessPoolExecutor,
  RemoteError,
  wait,
} from "../troupe.ts";
import {
  exitOn,
  failOn,
  record,
  recorded,
  sleepy,
  square,
  workerName,
} from "./fixtures/pool_tasks.ts";
import { liveWorkers, until, workerTest } from "./_helpers.ts";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

workerTest(
  "submit() returns a Future: a Promise that knows running, done and cancelled",
  async () => {
    await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
    const future = executor.submit(sleepy, 300);
    assertInstanceOf(future, Promise);
    assertInstanceOf(future, Future);
    assertFalse(future.done());
    assertFalse(future.cancelled());
    assertFalse(future.running(), "no worker has started it yet");
    await until(() => future.running(), "a worker runs it");
    assertEquals(await future, "woke");
    assert(future.done());
    assertFalse(future.running());
    assertFalse(future.cancelled());
    assertEquals(await future.exception(), undefined);
  },
);

workerTest("cancel() drops a queued call and refuses a running one, as in Python", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  const running = executor.submit(sleepy, 300);
  // Enough calls that the last ones are still queued in the parent.
  const queued = range(10).map((i) => executor.submit(record, `job ${i}`));
  await until(() => running.running(), "the first call runs");
  assertFalse(running.cancel(), "a running call cannot be cancelled");
  const last = queued[9];
  assert(last.cancel());
  assert(last.cancel(), "cancelling twice still says it is cancelled");
  assert(last.cancelled());
  assert(last.done());
  await assertRejects(() => last, CancelledError);
  await assertRejects(() => last.exception(), CancelledError);
  assertEquals(await running, "woke");
  await Promise.all(queued.slice(0, 9));
  const ran = await executor.submit(recorded);
  assertEquals(ran, range(9).map((i) => `job ${i}`), "the cancelled call never ran");
});

workerTest("a call aborted while it waits in a worker's queue never runs", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  const busy = executor.submit(sleepy, 80);
  const controller = new AbortController();
  const dropped = executor.with({ signal: controller.signal }).submit(record, "dropped");
  const kept = executor.submit(record, "kept");
  await new Promise((resolve) => setTimeout(resolve, 20));
  controller.abort(new Error("no longer needed"));
  await assertRejects(() => dropped, Error, "no longer needed");
  assertEquals(await busy, "woke");
  assertEquals(await kept, "kept");
  assertEquals(await executor.submit(recorded), ["kept"]);
});

workerTest("cancel() takes back a call waiting in a worker's queue: it never runs", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  await Promise.all(range(20).map((i) => executor.submit(record, `warm ${i}`))); // tiny: queued deep
  const first = executor.submit(sleepy, 300);
  const waiting = executor.submit(record, "waiting");
  await until(() => first.running(), "the first call runs");
  assertFalse(waiting.running());
  assert(waiting.cancel(), "a call no worker has started can be cancelled");
  await assertRejects(() => waiting, CancelledError);
  assertEquals(await first, "woke");
  const ran = await executor.submit(recorded);
  assertFalse(ran.includes("waiting"), "the cancelled call never ran");
});

workerTest("with({ timeoutMs }) stops a running call and replaces its worker", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  const before = await executor.submit(workerName);
  const error = await assertRejects(
    () => executor.with({ timeoutMs: 30 }).submit(sleepy, 5000),
    DOMException,
  );
  assertEquals(error.name, "TimeoutError");
  const after = await executor.submit(workerName);
  assert(before !== after, `a new worker replaced ${before}`);
});

workerTest(
  "a call that throws rejects its future with a RemoteError; a dead worker is replaced",
  async () => {
    await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
    const failing = executor.submit(failOn, 3);
    const error = await assertRejects(() => failing, RemoteError);
    assertEquals(error.remoteMessage, "bad item 3");
    assertEquals(await failing.exception(), error);
    const results = await Promise.allSettled(range(6).map((x) => executor.submit(exitOn, x)));
    assertEquals(results.map((r) => r.status), [
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
    ]);
    assertStringIncludes(
      String((results[3] as PromiseRejectedResult).reason.message),
      "died while running task 'exitOn' (exit code 7)",
    );
  },
);

workerTest("map() yields values in input order, in chunks", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
  // Chunks of 100 numbers travel packed in shared memory.
  for (const chunksize of [1, 3, 100]) {
    const values: number[] = [];
    for await (const y of executor.map(square, range(250), { chunksize })) values.push(y);
    assertEquals(values, range(250).map((x) => x * x), `chunksize ${chunksize}`);
  }
});

workerTest("map() with buffersize pulls an endless input lazily", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
  let pulled = 0;
  function* naturals() {
    for (let i = 0;; i++) {
      pulled++;
      yield i;
    }
  }
  const values: number[] = [];
  for await (const y of executor.map(square, naturals(), { buffersize: 4 })) {
    values.push(y);
    if (values.length === 10) break;
  }
  assertEquals(values, range(10).map((x) => x * x));
  assert(pulled <= 10 + 4 + 1, `pulled ${pulled}`);
});

workerTest("map() timeoutMs fails when a value is late and cancels the rest", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  await executor.submit(sleepy, 1); // started: the 200 ms below are the calls', not a cold start's
  const values: string[] = [];
  const error = await assertRejects(async () => {
    for await (const v of executor.map(sleepy, [10, 600, 10, 10], { timeoutMs: 200 })) {
      values.push(v);
    }
  }, DOMException);
  assertEquals(error.name, "TimeoutError");
  assertEquals(values, ["woke"]);
});

workerTest("asCompleted() yields futures as they finish", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
  const slow = executor.submit(sleepy, 200);
  const fast = executor.submit(square, 5);
  const failing = executor.submit(failOn, 3);
  const order: unknown[] = [];
  for await (const done of asCompleted<unknown>([slow, fast, failing])) {
    assert(done.future.done());
    order.push(done.status === "fulfilled" ? done.value : done.index);
  }
  assertEquals(order.slice(0, 2).sort(), [2, 25], "the quick ones first (failing is index 2)");
  assertEquals(order[2], "woke");
});

workerTest("asCompleted() timeoutMs throws when futures are still running", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  const slow = executor.submit(sleepy, 200);
  const error = await assertRejects(async () => {
    for await (const _ of asCompleted([slow], { timeoutMs: 30 })) { /* none */ }
  }, DOMException);
  assertStringIncludes(error.message, "1 of the futures were not done within 30 ms");
  slow.catch(() => {});
});

workerTest("wait() honours returnWhen and timeoutMs", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
  const slow = executor.submit(sleepy, 300);
  const quick = executor.submit(square, 2);
  const first = await wait<unknown>([slow, quick], { returnWhen: "FIRST_COMPLETED" });
  assertEquals([...first.done], [quick]);
  assertEquals([...first.notDone], [slow]);

  const failing = executor.submit(failOn, 3);
  failing.catch(() => {});
  const firstError = await wait<unknown>([slow, failing], { returnWhen: "FIRST_EXCEPTION" });
  assert(firstError.done.has(failing) && firstError.notDone.has(slow));

  const timedOut = await wait<unknown>([slow], { timeoutMs: 10 });
  assertEquals(timedOut.done.size, 0);

  const all = await wait<unknown>([slow, quick, failing]);
  assertEquals(all.done.size, 3);
  assertEquals(all.notDone.size, 0);
  assertThrows(
    () => wait([quick], { returnWhen: "SOMETIMES" as "ALL_COMPLETED" }),
    TypeError,
    "'returnWhen' must be",
  );
});

workerTest(
  "shutdown({ cancelFutures }) cancels queued calls; later submits are refused",
  async () => {
    const executor = new ProcessPoolExecutor({ maxWorkers: 1 });
    const running = executor.submit(sleepy, 200);
    const queued = range(20).map((i) => executor.submit(square, i));
    await until(() => running.running(), "the first call runs");
    await executor.shutdown({ cancelFutures: true });
    assertEquals(await running, "woke");
    const cancelled = queued.filter((f) => f.cancelled());
    assert(cancelled.length > 0, "the calls still queued in the parent were cancelled");
    for (const f of queued) {
      if (!f.cancelled()) assertEquals(await f, queued.indexOf(f) ** 2);
    }
    assertThrows(() => executor.submit(square, 1), Error, "after shutdown()");
    assertEquals(liveWorkers(), 0);
  },
);

workerTest("shutdown({ wait: false }) returns at once; the calls still finish", async () => {
  const executor = new ProcessPoolExecutor({ maxWorkers: 2 });
  const futures = range(4).map(() => executor.submit(sleepy, 30));
  await executor.shutdown({ wait: false });
  assert(futures.some((f) => !f.done()));
  assertEquals(await Promise.all(futures), ["woke", "woke", "woke", "woke"]);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assertEquals(liveWorkers(), 0);
});

workerTest("await using shuts the executor down and waits, as Python's with", async () => {
  let future: Future<string>;
  {
    await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
    future = executor.submit(sleepy, 30);
  }
  assert(future.done());
  assertEquals(liveWorkers(), 0);
});

workerTest(
  "addDoneCallback runs once done; an error it throws is reported, not swallowed",
  async () => {
    await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
    const reported: unknown[] = [];
    const onError = (e: ErrorEvent) => {
      e.preventDefault();
      reported.push(e.error);
    };
    globalThis.addEventListener("error", onError);
    try {
      const future = executor.submit(square, 3);
      const seen: number[] = [];
      future.addDoneCallback(() => {
        throw new Error("callback bug");
      });
      await future;
      future.addDoneCallback(async (f) => seen.push(await f));
      await new Promise((resolve) => setTimeout(resolve, 0));
      assertEquals(seen, [9]);
      assertEquals((reported[0] as Error).message, "callback bug");
    } finally {
      globalThis.removeEventListener("error", onError);
    }
  },
);

workerTest("bad input gets clear errors", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  assertThrows(() => new ProcessPoolExecutor({ maxWorkers: 0 }), RangeError, "'maxWorkers'");
  assertThrows(
    () => executor.submit((x: number) => x, 1),
    Error,
    "task()",
  );
  await assertRejects(
    async () => {
      for await (const _ of executor.map(square, [1], { chunksize: 0 })) { /* none */ }
    },
    RangeError,
    "'chunksize'",
  );
  await assertRejects(
    () => executor.submit(square, (() => 1) as unknown as number),
    TypeError,
    "args[0] is a function",
  );
});

Deno.test("new Future(): an executor of one's own settles it, as Python's Future()", async () => {
  const done: string[] = [];
  const ok = new Future<number>();
  ok.addDoneCallback(() => done.push("ok"));
  assert(!ok.done() && !ok.running());
  assert(ok.setRunningOrNotifyCancel());
  assert(ok.running());
  assertEquals(ok.cancel(), false, "a running future cannot be cancelled");
  ok.setResult(42);
  assertEquals(await ok, 42);
  assertEquals(await ok.result(100), 42);
  assertEquals(done, ["ok"]);
  assertThrows(() => ok.setResult(1), Error, "already done");

  const bad = new Future<number>();
  bad.setException(new RangeError("no"));
  assertEquals(((await bad.exception()) as Error).message, "no");
  await assertRejects(() => bad.result(), RangeError, "no");

  const dropped = new Future<number>();
  dropped.addDoneCallback((f) => done.push(f.cancelled() ? "cancelled" : "?"));
  assertEquals(dropped.cancel(), true);
  assertEquals(dropped.setRunningOrNotifyCancel(), false);
  await assertRejects(() => dropped.result(), CancelledError);
  assertEquals(done, ["ok", "cancelled"]);
  assertThrows(() => dropped.setResult(1), Error, "already cancelled");

  // wait() and asCompleted() take them as their own.
  const later = new Future<number>();
  setTimeout(() => later.setResult(7), 20);
  const { done: finished, notDone } = await wait([ok, later], { timeoutMs: 5000 });
  assertEquals([finished.size, notDone.size], [2, 0]);
  const order: unknown[] = [];
  for await (const c of asCompleted([ok, bad])) order.push(c.status);
  assertEquals(order.sort(), ["fulfilled", "rejected"]);
});

workerTest("an executor's futures cannot be settled by hand", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  const future = executor.submit(square, 3);
  assertThrows(() => future.setResult(1), Error, "belongs to an executor");
  assertEquals(await future, 9);
});
