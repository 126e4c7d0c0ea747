// What a pool shows of itself: stats(), its events, and the progress of a map.
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertInstanceOf,
  assertThrows,
} from "@std/assert";
import {
  Pool,
  type PoolEventMap,
  ProcessPoolExecutor,
  type Progress,
  RemoteError,
  spawn,
  Supervisor,
} from "../troupe.ts";
import { _Histogram } from "../pool/stats.ts";
import { busy, exitOn, failOn, sleepy, square } from "./fixtures/pool_tasks.ts";
import { hog } from "./fixtures/spawn_tasks.ts";
import { Counter } from "./fixtures/actors.ts";
import { until, workerTest } from "./_helpers.ts";

Deno.test("the histogram's percentiles are within 3.2% of the samples'", () => {
  const h = new _Histogram();
  assertEquals(h.percentiles(), { count: 0, p50: 0, p90: 0, p99: 0, max: 0 });
  for (let ms = 1; ms <= 1000; ms++) h.record(ms);
  const p = h.percentiles();
  assertEquals(p.count, 1000);
  assertEquals(p.max, 1000);
  assertAlmostEquals(p.p50, 500, 500 * 0.032);
  assertAlmostEquals(p.p90, 900, 900 * 0.032);
  assertAlmostEquals(p.p99, 990, 990 * 0.032);
  // Weighted samples, sub-millisecond ones exact to the microsecond.
  const w = new _Histogram();
  w.record(0.003, 98);
  w.record(40, 2);
  assertEquals(w.percentiles().p50, 0.003);
  assertAlmostEquals(w.percentiles().p99, 40, 40 * 0.032);
  w.record(-1); // a clock step back counts as 0
  assertEquals(w.percentiles().count, 101);
});

workerTest("stats() counts every call of a map, and its workers with their pids", async () => {
  await using pool = new Pool({ processes: 2 });
  const fresh = pool.stats();
  assertEquals(
    [fresh.workers, fresh.queued, fresh.running, fresh.completed, fresh.failed],
    [[], 0, 0, 0, 0],
  );
  assertEquals(await pool.map(square, Array.from({ length: 1000 }, (_, i) => i)), [
    ...Array.from({ length: 1000 }, (_, i) => i * i),
  ]);
  const s = pool.stats();
  assertEquals([s.queued, s.running, s.completed, s.failed], [0, 0, 1000, 0]);
  assertEquals(s.runTimeMs.count, 1000);
  assertEquals(s.waitTimeMs.count, 1000);
  assert(s.runTimeMs.p50 <= s.runTimeMs.max && s.runTimeMs.max > 0);
  assertEquals(s.workers.length, 2);
  for (const w of s.workers) {
    assert(w.name.startsWith("PoolWorker-"));
    assert(!w.busy);
    assert(w.startedAt <= Date.now());
  }
  assertEquals(s.workers.reduce((sum, w) => sum + w.completed, 0), 1000);
  assertEquals(s.replaced, {
    died: 0,
    outOfMemory: 0,
    stopped: 0,
    maxTasksPerChild: 0,
    modules: 0,
  });
  assert(s.uptimeMs > 0);
});

workerTest("stats() shows calls queued and running, and busy workers", async () => {
  await using pool = new Pool({ processes: 1 });
  const calls = [pool.apply(sleepy, [300]), pool.apply(sleepy, [1]), pool.apply(sleepy, [1])];
  await until(() => pool.stats().workers.some((w) => w.busy), "the worker is busy");
  const s = pool.stats();
  assertEquals(s.queued + s.running, 3);
  assert(s.running >= 1);
  await Promise.all(calls);
  const after = pool.stats();
  assertEquals([after.queued, after.running, after.completed], [0, 0, 3]);
  // The two short calls waited behind the long one.
  assert(after.waitTimeMs.max >= 200, `waited ${after.waitTimeMs.max} ms`);
  assert(after.runTimeMs.max >= 250, `ran ${after.runTimeMs.max} ms`);
});

workerTest("a failing call is counted and heard by taskFail with its error and pid", async () => {
  await using pool = new Pool({ processes: 1 });
  const failures: PoolEventMap["taskFail"][] = [];
  pool.on("taskFail", (event) => failures.push(event));
  const error = await pool.apply(failOn, [3]).catch((e) => e);
  assertInstanceOf(error, RemoteError);
  assertEquals(await pool.apply(failOn, [2]), 2);
  const s = pool.stats();
  assertEquals([s.completed, s.failed], [1, 1]);
  assertEquals(failures.length, 1);
  assertEquals(failures[0].task, "failOn");
  assertEquals(failures[0].error, error);
  assertEquals(failures[0].pid, s.workers[0].pid);
});

workerTest("workers replaced by maxTasksPerChild are counted, with their events", async () => {
  await using pool = new Pool({ processes: 1, maxTasksPerChild: 1 });
  const started: string[] = [];
  const exited: PoolEventMap["workerExit"][] = [];
  pool.on("workerStart", ({ name }) => started.push(name));
  const off = pool.on("workerExit", (event) => exited.push(event));
  for (let i = 0; i < 3; i++) assertEquals(await pool.apply(square, [i]), i * i);
  await until(() => exited.length >= 3, "the third worker ended");
  assertEquals(started.length, 3);
  assertEquals(new Set(started).size, 3);
  assertEquals(exited.map((e) => [e.reason, e.exitCode]), [
    ["maxTasksPerChild", 0],
    ["maxTasksPerChild", 0],
    ["maxTasksPerChild", 0],
  ]);
  assertEquals(pool.stats().replaced.maxTasksPerChild, 3);
  off();
  await pool.apply(square, [3]);
  await until(() => pool.stats().replaced.maxTasksPerChild === 4, "the fourth worker ended");
  assertEquals(exited.length, 3); // no longer listening
});

workerTest(
  "a worker that exits, and one stopped by a timeout, are replaced and counted",
  async () => {
    await using pool = new Pool({ processes: 1 });
    const exited: PoolEventMap["workerExit"][] = [];
    pool.on("workerExit", (event) => exited.push(event));
    await pool.apply(exitOn, [3]).catch(() => {});
    // The new worker up first, so that the timeout finds the task running, not queued.
    assertEquals(await pool.apply(square, [2]), 4);
    await pool.apply(busy, [0, 5000], { timeoutMs: 600 }).catch(() => {});
    assertEquals(await pool.apply(square, [4]), 16);
    assertEquals(exited.map((e) => [e.reason, e.exitCode]), [["died", 7], ["stopped", -15]]);
    const s = pool.stats();
    assertEquals([s.replaced.died, s.replaced.stopped, s.failed, s.completed], [1, 1, 2, 2]);
  },
);

workerTest("an idle pool's workers end with reason idle, which is not a replacement", async () => {
  await using pool = new Pool({ processes: 1, idleTimeoutMs: 30 });
  const reasons: string[] = [];
  pool.on("workerExit", ({ reason }) => reasons.push(reason));
  await pool.apply(square, [2]);
  await until(() => reasons.length === 1, "the idle worker ended");
  assertEquals(reasons, ["idle"]);
  assertEquals(pool.stats().workers, []);
  assertEquals(Object.values(pool.stats().replaced).reduce((a, b) => a + b), 0);
});

workerTest("on() names the events it knows and wants a function", () => {
  const pool = new Pool({ processes: 1 });
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => pool.on("workerDied" as any, () => {}),
    TypeError,
    'Pool.on() has no event "workerDied"; the events are "workerStart", "workerExit", "taskFail"',
  );
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => pool.on("taskFail", 3 as any),
    TypeError,
    "Pool.on() listener must be a function, got number",
  );
  pool.terminate();
});

workerTest("the executor has the same stats and events", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  const tasks: string[] = [];
  executor.on("taskFail", ({ task }) => tasks.push(task));
  assertEquals(await executor.submit(square, 3), 9);
  await executor.submit(failOn, 3).result().catch(() => {});
  const s = executor.stats();
  assertEquals([s.completed, s.failed, s.workers.length], [1, 1, 1]);
  assertEquals(tasks, ["failOn"]);
});

workerTest("map and starmap report progress per chunk, up to the total", async () => {
  await using pool = new Pool({ processes: 2 });
  const seen: Progress[] = [];
  const items = Array.from({ length: 100 }, (_, i) => i);
  await pool.map(square, items, { chunksize: 10, onProgress: (p) => seen.push(p) });
  assertEquals(seen.length, 10);
  assertEquals(seen.map((p) => p.done), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  assert(seen.every((p) => p.total === 100));
  const pairs: Progress[] = [];
  await pool.starmap(busy, [[1, 0], [2, 0], [3, 0]], { onProgress: (p) => pairs.push(p) });
  assertEquals(pairs.at(-1), { done: 3, total: 3 });
});

workerTest(
  "imap knows the total of an array only; imapUnordered reports as values come",
  async () => {
    await using pool = new Pool({ processes: 2 });
    const fromArray: Progress[] = [];
    for await (const _ of pool.imap(square, [1, 2, 3], { onProgress: (p) => fromArray.push(p) }));
    assertEquals(fromArray.at(-1), { done: 3, total: 3 });
    function* lazy() {
      for (let i = 0; i < 5; i++) yield i;
    }
    const fromLazy: Progress[] = [];
    const values: number[] = [];
    for await (
      const v of pool.imapUnordered(square, lazy(), { onProgress: (p) => fromLazy.push(p) })
    ) {
      values.push(v);
    }
    assertEquals(values.sort((a, b) => a - b), [0, 1, 4, 9, 16]);
    assertEquals(fromLazy.map((p) => p.done), [1, 2, 3, 4, 5]);
    assert(fromLazy.every((p) => p.total === undefined));
  },
);

workerTest("a bad onProgress is refused, and one that throws does not fail the map", async () => {
  await using pool = new Pool({ processes: 1 });
  const error = await pool.map(square, [1], { onProgress: 5 as never }).catch((e) => e);
  assertInstanceOf(error, TypeError);
  assertEquals(error.message, "onProgress must be a function, got number");
  const reported: unknown[] = [];
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    reported.push(e.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    const values = await pool.map(square, [1, 2], {
      chunksize: 1,
      onProgress: () => {
        throw new Error("drawing failed");
      },
    });
    assertEquals(values, [1, 4]);
  } finally {
    globalThis.removeEventListener("error", onError);
  }
  assertEquals(reported.map((e) => (e as Error).message), ["drawing failed", "drawing failed"]);
});

workerTest("stats() read during a map add up: each call is queued, running or done", async () => {
  await using pool = new Pool({ processes: 2 });
  const n = 2000;
  const sums: number[] = [];
  let behind = 0;
  await pool.map(square, Array.from({ length: n }, (_, i) => i), {
    chunksize: 50,
    onProgress: ({ done }) => {
      const s = pool.stats();
      sums.push(s.queued + s.running + s.completed);
      if (s.completed < done) behind++;
    },
  });
  assertEquals(sums.length, n / 50);
  assert(sums.every((sum) => sum === n), `sums: ${sums}`);
  assertEquals(behind, 0);
});

workerTest("a spawn pool counts a worker out of memory apart from one that died", async () => {
  await using pool = new Pool({ processes: 1, startMethod: "spawn", memoryLimitMb: 64 });
  const exits: PoolEventMap["workerExit"][] = [];
  pool.on("workerExit", (event) => exits.push(event));
  await pool.apply(hog, []).catch(() => {});
  assertEquals(await pool.apply(square, [5]), 25);
  assertEquals(exits.map((e) => e.reason), ["outOfMemory"]);
  assertEquals(exits[0].error?.cause && (exits[0].error.cause as Error).name, "MemoryError");
  const s = pool.stats();
  assertEquals([s.replaced.outOfMemory, s.replaced.died, s.failed, s.completed], [1, 0, 1, 1]);
  // A spawn worker's pid is its OS pid.
  const pid = s.workers[0].pid;
  assert(pid < 1_000_000_000 && Deno.statSync(`/proc/${pid}`).isDirectory);
});

workerTest("whichChildren() gives each running child's pid and uptime", async () => {
  const sup = new Supervisor({
    children: [{ id: "counter", start: () => spawn(Counter) }],
  });
  await sup.start();
  try {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const [child] = sup.whichChildren();
    assert(typeof child.pid === "number");
    assert(child.uptimeMs !== undefined && child.uptimeMs >= 15, `uptime ${child.uptimeMs}`);
  } finally {
    await sup.stop();
  }
  assertEquals(sup.whichChildren()[0].uptimeMs, undefined);
});
