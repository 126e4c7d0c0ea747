import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  activeChildren,
  AsyncResult,
  cpuCount,
  Pool,
  ProcessPoolExecutor,
  RemoteError,
} from "../troupe.ts";
import { delay } from "@std/async";
import {
  add,
  asyncSquare,
  badInit,
  busy,
  chaosTask,
  countRun,
  exitOn,
  failAfter,
  failOn,
  greetOnPort,
  init,
  numberThenText,
  quickExitOn,
  readInit,
  same,
  sleepy,
  slowSquare,
  square,
  workerName,
} from "./fixtures/pool_tasks.ts";
import { liveWorkers, runScript, until, workerTest } from "./_helpers.ts";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

workerTest("map returns values in order; processes defaults to cpuCount()", async () => {
  await using pool = new Pool();
  assertEquals(pool.processes, cpuCount());
  assertEquals(await pool.map(square, range(100)), range(100).map((x) => x * x));
  assertEquals(await pool.map(square, []), []);
});

workerTest("map with an explicit chunksize gives the same values", async () => {
  await using pool = new Pool({ processes: 2 });
  assertEquals(await pool.map(square, range(37), { chunksize: 5 }), range(37).map((x) => x * x));
});

workerTest(
  "map reads an array before it returns: changing it afterwards changes no call",
  async () => {
    await using pool = new Pool({ processes: 2 });
    const numbers = range(1000);
    const texts = range(1000).map(String);
    const gotNumbers = pool.map(same, numbers);
    const gotTexts = pool.map(same, texts);
    numbers.fill(-1);
    texts.fill("changed");
    assertEquals(await gotNumbers, range(1000));
    assertEquals(await gotTexts, range(1000).map(String));
  },
);

workerTest(
  "map fails with its first failing chunk's error, once every chunk has settled",
  async () => {
    await using pool = new Pool({ processes: 2 });
    const started = performance.now();
    // The second chunk fails within a millisecond, the first after 200 ms.
    await assertRejects(
      () => pool.map(failAfter, [-200, -1, 5], { chunksize: 1 }),
      RemoteError,
      "bad item -200",
    );
    assert(performance.now() - started >= 190, "the call failed before its first chunk settled");
  },
);

workerTest("starmap spreads each item as arguments", async () => {
  await using pool = new Pool({ processes: 2 });
  assertEquals(await pool.starmap(add, [[1, 2], [3, 4]]), [3, 7]);
});

workerTest("apply and applyAsync (get, wait, ready, successful, callbacks)", async () => {
  await using pool = new Pool({ processes: 2 });
  assertEquals(await pool.apply(add, [2, 3]), 5);
  let seen: number | undefined;
  const result = pool.applyAsync(square, [9], { callback: (v) => seen = v });
  assertInstanceOf(result, AsyncResult);
  assertThrows(() => result.successful(), Error, "not ready");
  assertEquals(await result.get(5000), 81);
  assert(result.ready() && result.successful());
  assertEquals(seen, 81);
  let failure: unknown;
  const bad = pool.applyAsync(failOn, [3], { errorCallback: (e) => failure = e });
  await bad.wait();
  assert(bad.ready() && !bad.successful());
  await assertRejects(() => bad.get(), RemoteError, "bad item 3");
  assertInstanceOf(failure, RemoteError);
  const slow = pool.applyAsync(sleepy, [300]);
  await assertRejects(() => slow.get(10), DOMException, "not ready within 10 ms");
  assertEquals(await slow, "woke");
});

workerTest("mapAsync resolves with the mapped values", async () => {
  await using pool = new Pool({ processes: 2 });
  assertEquals(await pool.mapAsync(square, [1, 2, 3]).get(), [1, 4, 9]);
});

workerTest("imap yields in input order; imapUnordered as they finish", async () => {
  await using pool = new Pool({ processes: 2 });
  const ordered: number[] = [];
  for await (const y of pool.imap(slowSquare, range(10))) ordered.push(y);
  assertEquals(ordered, range(10).map((x) => x * x));
  // Chunks of 100 numbers travel packed in shared memory, with sync and async tasks alike.
  for (const task of [square, asyncSquare] as ((x: number) => number | Promise<number>)[]) {
    const values: number[] = [];
    for await (const y of pool.imap(task, range(250), { chunksize: 100 })) values.push(y);
    assertEquals(values, range(250).map((x) => x * x));
  }
  const unordered: number[] = [];
  for await (const y of pool.imapUnordered(slowSquare, range(10))) unordered.push(y);
  assertEquals(
    [...unordered].sort((a, b) => a - b),
    range(10).map((x) => x * x).sort((a, b) => a - b),
  );
});

workerTest("imap is lazy: an endless input is pulled only as results are taken", async () => {
  await using pool = new Pool({ processes: 2 });
  let pulled = 0;
  function* naturals() {
    for (let i = 0;; i++) {
      pulled++;
      yield i;
    }
  }
  const taken: number[] = [];
  for await (const y of pool.imap(square, naturals())) {
    taken.push(y);
    if (taken.length === 20) break;
  }
  assertEquals(taken, range(20).map((x) => x * x));
  // At most max(4 × processes, 64) chunks are in flight ahead of the consumer.
  assert(pulled <= 20 + 64 + 1, `pulled ${pulled} items for 20 results`);
});

workerTest("imap takes async iterables", async () => {
  await using pool = new Pool({ processes: 2 });
  async function* items() {
    for (let i = 0; i < 5; i++) yield i;
  }
  const out: number[] = [];
  for await (const y of pool.imap(square, items(), { chunksize: 2 })) out.push(y);
  assertEquals(out, [0, 1, 4, 9, 16]);
});

workerTest(
  "a task that throws rejects its own call with a RemoteError; the worker stays",
  async () => {
    await using pool = new Pool({ processes: 1 });
    const first = await pool.apply(workerName, []);
    const error = await assertRejects(() => pool.apply(failOn, [3]), RemoteError);
    assertEquals(error.remoteName, "RangeError");
    assertEquals(error.remoteMessage, "bad item 3");
    assertEquals(await pool.apply(workerName, []), first, "the same worker serves the next call");
  },
);

workerTest(
  "a worker that dies mid-task is replaced; its task fails saying how; the others complete",
  async () => {
    await using pool = new Pool({ processes: 2 });
    const results = await Promise.allSettled(range(8).map((x) => pool.apply(exitOn, [x])));
    const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    assertEquals(failed.length, 1);
    assertStringIncludes(
      String(failed[0].reason.message),
      "died while running task 'exitOn' (exit code 7)",
    );
    assertEquals(
      results.map((r) => r.status === "fulfilled" ? r.value : "x"),
      [0, 1, 2, "x", 4, 5, 6, 7],
    );
    assertEquals(await pool.apply(square, [4]), 16);
  },
);

workerTest(
  "calls queued in a worker behind one that kills it move to a new worker and complete",
  async () => {
    await using pool = new Pool({ processes: 1 });
    // Tiny tasks: the engine learns to queue many in the worker at once.
    await Promise.all(range(500).map((x) => pool.apply(quickExitOn, [x])));
    const inputs = [...range(50), -1, ...range(50)];
    const results = await Promise.allSettled(inputs.map((x) => pool.apply(quickExitOn, [x])));
    const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    assertEquals(failed.length, 1);
    assertStringIncludes(String(failed[0].reason.message), "(exit code 9)");
    assertEquals(
      results.map((r) => r.status === "fulfilled" ? r.value : "x"),
      inputs.map((x) => x === -1 ? "x" : x),
    );
  },
);

workerTest(
  "map over many numbers returns every value exactly, whatever the tasks return",
  async () => {
    await using pool = new Pool({ processes: 2 });
    const special = [-0, NaN, Infinity, -Infinity, 0.1 + 0.2, Number.MAX_VALUE, Number.MIN_VALUE];
    const numbers = [...special, ...range(500).map((x) => x * 1.5 - 100)];
    const back = await pool.map(same, numbers, { chunksize: 200 });
    assertEquals(back.length, numbers.length);
    assert(numbers.every((x, i) => Object.is(back[i], x)), "same numbers, -0 and NaN included");
    const mixed = await pool.map(numberThenText, range(300), { chunksize: 150 });
    assertEquals(mixed, range(300).map((x) => x < 100 ? x : `#${x}`));
    const withText = [...range(100), "text", ...range(100)];
    assertEquals(await pool.map(same, withText, { chunksize: 201 }), withText);
  },
);

workerTest("timeoutMs fails a running call and replaces its worker", async () => {
  await using pool = new Pool({ processes: 1 });
  const error = await assertRejects(
    () => pool.apply(sleepy, [5000], { timeoutMs: 50 }),
    DOMException,
  );
  assertEquals(error.name, "TimeoutError");
  assertEquals(await pool.apply(square, [3]), 9);
});

workerTest("an aborted signal drops a queued call", async () => {
  await using pool = new Pool({ processes: 1 });
  const busy = pool.apply(sleepy, [100]);
  const controller = new AbortController();
  const queued = pool.apply(square, [2], { signal: controller.signal });
  controller.abort(new Error("not needed"));
  await assertRejects(() => queued, Error, "not needed");
  assertEquals(await busy, "woke");
});

workerTest("initializer runs once per worker before its tasks", async () => {
  await using pool = new Pool({ processes: 2, initializer: init, initArgs: ["ready"] });
  assertEquals(await pool.map(readInit, range(4)), ["ready", "ready", "ready", "ready"]);
});

workerTest(
  "an initializer that throws fails the pool's calls with that error instead of looping",
  async () => {
    await using pool = new Pool({ processes: 2, initializer: badInit });
    await assertRejects(
      () => pool.apply(square, [2]),
      RemoteError,
      "initializer failed: cannot initialize",
    );
    await assertRejects(() => pool.map(square, [1, 2, 3]), RemoteError, "cannot initialize");
  },
);

workerTest("maxTasksPerChild replaces workers after that many tasks", async () => {
  await using pool = new Pool({ processes: 1, maxTasksPerChild: 2 });
  const names = [];
  for (let i = 0; i < 6; i++) names.push(await pool.apply(workerName, []));
  assertEquals(new Set(names).size, 3);
});

workerTest("close() then join() finishes the queued work and ends every worker", async () => {
  const pool = new Pool({ processes: 2 });
  const pending = pool.map(slowSquare, range(6));
  pool.close();
  await assertRejects(() => pool.apply(square, [1]), Error, "Pool is closed");
  await pool.join();
  assertEquals(await pending, range(6).map((x) => x * x));
  assertEquals(liveWorkers(), 0);
});

workerTest("terminate() fails pending calls and ends every worker", async () => {
  const pool = new Pool({ processes: 1 });
  const pending = pool.apply(sleepy, [5000]);
  pool.terminate();
  await assertRejects(() => pending, Error, "terminated");
  await pool.join();
  assertEquals(liveWorkers(), 0);
});

workerTest("bad input gets clear errors", async () => {
  assertThrows(
    () => new Pool({ processes: 0 }),
    RangeError,
    "'processes' must be a positive integer",
  );
  await using pool = new Pool({ processes: 1 });
  function local(x: number) {
    return x;
  }
  await assertRejects(
    () => pool.apply(local, [1]),
    TypeError,
    "Pool task function 'local' was not declared",
  );
  await assertRejects(
    () => pool.apply(square, [(() => 1) as never]),
    TypeError,
    "args[0] is a function",
  );
  await assertRejects(() => pool.map(square, [1], { chunksize: 0 }), RangeError, "'chunksize'");
  await assertRejects(
    () => pool.apply(square, 3 as never),
    TypeError,
    "args must be an array of arguments, got number",
  );
  await assertRejects(
    () => pool.starmap(add, [[1, 2], 3 as never]),
    TypeError,
    "item 1 must be an array of arguments",
  );
  await assertRejects(
    async () => {
      for await (const _ of pool.imap(square, 42 as never)) { /* none */ }
    },
    TypeError,
    "expected an iterable or async iterable, got number",
  );
  await assertRejects(() => pool.join(), Error, "close() or terminate() first");
});

// ---- jobs held by a worker: taken back, moved, never run twice ---------------

workerTest("tiny tasks queued behind a long one move to an idle worker", async () => {
  await using pool = new Pool({ processes: 2 });
  await pool.map(square, range(20)); // both workers up, tiny jobs measured
  const long = pool.apply(busy, [-1, 3000]);
  const tiny = range(400).map((i) => pool.apply(busy, [i, 0.05]));
  let longDone = false;
  void long.then(() => longDone = true);
  assertEquals(await Promise.all(tiny), range(400));
  assert(!longDone, "every tiny task finished while the long one still ran");
  assertEquals(await long, -1);
});

workerTest("all-number map chunks queued behind a long call move to an idle worker", async () => {
  await using pool = new Pool({ processes: 2 });
  await pool.map(square, range(20)); // both workers up, tiny jobs measured
  const long = pool.apply(busy, [-1, 2000]);
  let longDone = false;
  void long.then(() => longDone = true);
  // Chunks of 64 numbers travel packed in shared memory; half are queued behind the long call.
  const values = await pool.map(square, range(6400), { chunksize: 64 });
  assertEquals(values, range(6400).map((x) => x * x));
  assert(!longDone, "the map finished while the long call still ran");
  assertEquals(await long, -1);
});

workerTest(
  "answers of tiny calls do not wait for a long call of a task that was long before",
  async () => {
    await using pool = new Pool({ processes: 1 });
    await pool.apply(busy, [-1, 60]); // the task was long once...
    for (let i = 0; i < 20; i++) await pool.apply(busy, [i, 0.02]); // ...and is tiny on average
    const started = performance.now();
    const resolvedAt = (p: Promise<number>) => p.then(() => performance.now() - started);
    const tiny = range(5).map((i) => resolvedAt(pool.apply(busy, [i, 0.02])));
    const long = resolvedAt(pool.apply(busy, [-2, 400]));
    const longAt = await long;
    for (const at of await Promise.all(tiny)) {
      assert(
        at < longAt - 200,
        `a tiny call answered at ${at.toFixed(0)} ms, the long one at ${longAt.toFixed(0)} ms`,
      );
    }
  },
);

workerTest("a call whose ports moved into a worker that died fails, saying why", async () => {
  await using pool = new Pool({ processes: 1 });
  await pool.map(square, range(20)); // tiny jobs measured: the worker takes several at once
  const { port1, port2 } = new MessageChannel();
  const dies = pool.apply(exitOn, [3]); // the worker exits before it starts the next call
  const error = await assertRejects(() => pool.apply(greetOnPort, [port2]));
  assertStringIncludes(String(error), "before it started task 'greetOnPort'");
  assertStringIncludes(String(error), "cannot run on another worker");
  await assertRejects(() => dies);
  assertEquals(await pool.apply(square, [3]), 9, "the replacement worker serves the rest");
  port1.close();
});

workerTest("mixed long and short tasks on busy workers each run exactly once", async () => {
  await using pool = new Pool({ processes: 2 });
  const n = 300;
  const runs = new Int32Array(new SharedArrayBuffer(n * 4));
  // Every 50th task is long: the ones queued behind it are taken back and moved.
  const results = await Promise.all(
    range(n).map((i) => pool.apply(countRun, [runs, i, i % 50 === 7 ? 120 : 0.02])),
  );
  assertEquals(results, range(n));
  assertEquals(Array.from(runs), range(n).map(() => 1), "no task ran twice or was lost");
});

workerTest("jobs and answers too big for the shared-memory link go by port", async () => {
  await using pool = new Pool({ processes: 1 });
  const big = "x".repeat(400_000); // more than the link's ring
  assertEquals(await pool.apply(same, [big]), big);
  assertEquals(await pool.apply(same, [{ small: 1 }]), { small: 1 });
  const many = range(2000).map((i) => ({ i, text: `item ${i}` }));
  assertEquals(await pool.map(same, many, { chunksize: 1000 }), many);
});

workerTest("under cancels, timeouts, crashes and stealing, no call runs twice", async () => {
  await using pool = new Pool({ processes: 2 });
  const n = 400;
  const runs = new Int32Array(new SharedArrayBuffer(n * 4));
  // A fixed pseudo-random mix, so a failure can be replayed.
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const controllers: AbortController[] = [];
  const calls = range(n).map((i) => {
    const r = rand();
    const ms = r < 0.05 ? 40 + rand() * 60 : rand() * 0.2;
    const die = r > 0.985;
    const controller = new AbortController();
    controllers.push(controller);
    const timeoutMs = rand() < 0.05 ? 5 + rand() * 20 : undefined;
    return pool.apply(chaosTask, [runs, i, ms, rand() < 0.3, die], {
      signal: controller.signal,
      timeoutMs,
    });
  });
  // Abort some calls while they queue, run or wait in a worker.
  for (let i = 0; i < n; i += 7) {
    setTimeout(() => controllers[i].abort(new Error("aborted")), rand() * 50);
  }
  const results = await Promise.allSettled(calls);
  for (let i = 0; i < n; i++) {
    const r = results[i];
    assert(runs[i] <= 1, `call ${i} ran ${runs[i]} times`);
    if (r.status === "fulfilled") {
      assertEquals(r.value, i);
      assertEquals(runs[i], 1, `call ${i} resolved without running`);
    }
  }
  const done = results.filter((r) => r.status === "fulfilled").length;
  assert(done > n / 2, `most calls should succeed, ${done} of ${n} did`);
});

// ---- idle workers, bounds ----------------------------------------------------

workerTest(
  "a pool idle for idleTimeoutMs ends its workers; the next call starts them again",
  async () => {
    await using pool = new Pool({ processes: 2, idleTimeoutMs: 100 });
    assertEquals(await pool.map(square, [1, 2, 3, 4]), [1, 4, 9, 16]);
    assert(liveWorkers() > 0);
    await until(() => liveWorkers() === 0, "the idle workers ended");
    assertEquals(await pool.map(square, [5, 6]), [25, 36]);
  },
);

workerTest("a pool that keeps getting calls keeps its workers", async () => {
  await using pool = new Pool({ processes: 1, idleTimeoutMs: 2000 });
  const names = new Set<string>();
  for (let i = 0; i < 10; i++) {
    names.add(await pool.apply(workerName, []));
    await delay(20);
  }
  assertEquals(names.size, 1);
});

Deno.test("a program that never closes its pool or executor ends once they are idle", async () => {
  const script = new URL("./fixtures/unclosed/pool.ts", import.meta.url);
  const ended = await runScript(script, 30_000);
  assertEquals(ended.code, 0, ended.out);
  assertStringIncludes(ended.out, "map 1,4,9");
  assertStringIncludes(ended.out, "submit 16");
  // With idleTimeoutMs: Infinity the workers stay, and so does the program.
  const kept = await runScript(script, 4_000, ["Infinity"]);
  assertEquals(kept.code, null, kept.out);
  assertStringIncludes(kept.out, "submit 16");
});

workerTest("a pool larger than max(256, 4 × cpuCount()) is refused, naming the limit", () => {
  const most = Math.max(256, 4 * cpuCount());
  const error = assertThrows(() => new Pool({ processes: 10_000 }), RangeError);
  assertStringIncludes(error.message, `'processes' is 10000, above the limit of ${most} workers`);
  assertThrows(
    () => new ProcessPoolExecutor({ maxWorkers: most + 1 }),
    RangeError,
    "'maxWorkers'",
  );
  new Pool({ processes: most }).terminate(); // at the limit: accepted (workers start on use)
  assertThrows(() => new Pool({ idleTimeoutMs: -1 }), RangeError, "idleTimeoutMs");
});

workerTest("activeChildren() lists a pool's workers as daemon processes", async () => {
  const pool = new Pool({ processes: 2 });
  assertEquals(await pool.map(square, [1, 2, 3, 4], { chunksize: 1 }), [1, 4, 9, 16]);
  const workers = activeChildren();
  assertEquals(workers.length, 2);
  for (const w of workers) {
    assertMatch(w.name, /^PoolWorker-\d+$/);
    assert(w.isAlive() && w.daemon && w.exitCode === null);
    assert(w.pid! >= 1_000_000_000);
  }
  assertThrows(() => workers[0].send("hi"), Error, "pool's worker");
  workers[0].terminate();
  assertEquals(await workers[0].join(), -15);
  assertEquals(activeChildren().length, 1);
  assertEquals(await pool.map(square, [5, 6, 7], { chunksize: 1 }), [25, 36, 49]);
  pool.terminate();
  await pool.join();
  assertEquals(activeChildren(), []);
  assertEquals(workers.map((w) => w.exitCode), [-15, -15]);
});

workerTest("killing a pool's worker mid-call fails that call; the pool replaces it", async () => {
  await using pool = new Pool({ processes: 1 });
  const worker = await pool.apply(workerName, []);
  const long = pool.apply(sleepy, [10_000]);
  await delay(100);
  const [listed] = activeChildren();
  assertEquals(listed.name, worker);
  listed.kill();
  const error = await assertRejects(() => long, Error, "died while running task 'sleepy'");
  assertStringIncludes(error.message, "exit code -9");
  assertEquals(await listed.join(), -9);
  assertEquals(await pool.apply(square, [9]), 81);
  assert(activeChildren()[0].name !== worker);
});
