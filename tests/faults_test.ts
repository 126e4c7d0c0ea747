// Fault paths, tried as a hostile or careless child would: timeouts beyond a
// timer's range, endings the runtime did not set up, a parent too busy to
// read, a child that will not stop, shared memory written by hand.
import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { delay } from "@std/async";
import {
  Event,
  Lock,
  LockHolderDiedError,
  Pool,
  Process,
  ProcessPoolExecutor,
  Queue,
  spawn,
} from "../troupe.ts";
import { Counter } from "./fixtures/actors.ts";
import { leaveByOwnReference } from "./fixtures/own_exit.ts";
import {
  claimInChannel,
  dieInsideAPut,
  forgeLock,
  getWithLongTimeout,
  nap,
  receiveWithLongTimeout,
  sendThenWait,
  takeSyncForever,
} from "./fixtures/faults.ts";
import { runScript, until, workerTest } from "./_helpers.ts";
import { _decode } from "../runtime/codec.ts";

// ---- timeouts mean what they say ------------------------------------------

const LONG = [Infinity, 2 ** 31, 2 ** 40];

workerTest(
  "join() with Infinity or a timeout beyond a timer's range waits for the end",
  async () => {
    for (const timeoutMs of LONG) {
      const p = new Process({ target: nap, args: [150] });
      p.start();
      const t0 = performance.now();
      assertEquals(await p.join(timeoutMs), 0, `join(${timeoutMs})`);
      const ms = performance.now() - t0;
      if (ms < 100) throw new Error(`join(${timeoutMs}) resolved after ${ms.toFixed(0)} ms`);
    }
  },
);

workerTest(
  "Queue.get() with a long timeout waits for the item, in the parent and in a child",
  async () => {
    for (const timeoutMs of LONG) {
      const q = new Queue<string>();
      setTimeout(() => q.put("late"), 100);
      assertEquals(await q.get({ timeoutMs }), "late", `get({ timeoutMs: ${timeoutMs} })`);
      const p = new Process({ target: getWithLongTimeout, args: [q, timeoutMs] });
      p.start();
      await delay(100);
      await q.put("later");
      assertEquals(await p.receive({ timeoutMs }), "later");
      assertEquals(await p.join(), 0);
      q.close();
    }
  },
);

workerTest("receive() with a long timeout waits for the message, in a child", async () => {
  for (const timeoutMs of LONG) {
    const p = new Process({ target: receiveWithLongTimeout, args: [timeoutMs] });
    p.start();
    await delay(100);
    p.send("hello");
    assertEquals(await p.receive(), "hello");
    assertEquals(await p.join(), 0);
  }
});

workerTest(
  "a pool task with timeoutMs Infinity or beyond a timer's range is not cut short",
  async () => {
    await using pool = new Pool({ processes: 1 });
    for (const timeoutMs of LONG) {
      assertEquals(await pool.apply(nap, [150], { timeoutMs }), 150, `timeoutMs ${timeoutMs}`);
      const async = pool.applyAsync(nap, [10]);
      assertEquals(await async.get(timeoutMs), 10);
    }
  },
);

workerTest("a pool refuses a timeoutMs that is not a non-negative number", async () => {
  await using pool = new Pool({ processes: 1 });
  for (const timeoutMs of [-1, NaN, "5"]) {
    await assertRejects(
      () => pool.apply(nap, [1], { timeoutMs: timeoutMs as number }),
      RangeError,
      "timeoutMs must be a non-negative number",
    );
  }
});

workerTest("locks, events, actor calls and futures take Infinity and long timeouts", async () => {
  const lock = new Lock();
  const event = new Event();
  await using ref = await spawn(Counter);
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  for (const timeoutMs of LONG) {
    const guard = await lock.acquire({ timeoutMs });
    setTimeout(() => guard.release(), 100);
    const t0 = performance.now();
    (await lock.acquire({ timeoutMs })).release();
    if (performance.now() - t0 < 50) {
      throw new Error(`acquire({ timeoutMs: ${timeoutMs} }) did not wait`);
    }
    setTimeout(() => event.set(), 100);
    assertEquals(await event.wait({ timeoutMs }), true);
    event.clear();
    assertEquals(await ref.with({ timeoutMs }).call.slowInc(1, 100), await ref.call.get());
    assertEquals(await executor.submit(nap, 100).result(timeoutMs), 100);
  }
});

// ---- every ending is seen -------------------------------------------------

workerTest(
  "a child that leaves by its own reference to Deno.exit, process.exit or close is seen",
  async () => {
    for (const [how, code] of [["exit", 3], ["process.exit", 4], ["close", 0]] as const) {
      const p = new Process({ target: leaveByOwnReference, args: [how, code] });
      p.start();
      assertStrictEquals(await p.join(5000), code, how);
      assertEquals(p.isAlive(), false);
    }
  },
);

workerTest(
  "a lock held by a child that left by its own Deno.exit is reported as held by a dead process",
  async () => {
    const lock = new Lock();
    const p = new Process({ target: leaveByOwnReference, args: ["exit", 3, lock] });
    p.start();
    assertStrictEquals(await p.join(5000), 3);
    const error = await assertRejects(() => lock.acquire({ timeoutMs: 5000 }), LockHolderDiedError);
    assertEquals(error.holderPid, p.pid);
  },
);

// ---- what a child sent is the parent's --------------------------------------

/** Keeps this thread busy in synchronous code for `ms`. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Everything `p` still has for this side, until its mailbox closes. */
async function drain(p: Process): Promise<unknown[]> {
  const got: unknown[] = [];
  for (;;) {
    try {
      got.push(await p.receive({ timeoutMs: 5000 }));
    } catch (error) {
      if ((error as Error).name === "TimeoutError") throw error;
      return got;
    }
  }
}

workerTest("kill() of a child keeps what it sent while the parent was busy", async () => {
  for (const stop of ["kill", "terminate"] as const) {
    const sent = new Event();
    const p = new Process({ target: sendThenWait, args: [10, sent] });
    p.start();
    // The child sends while this thread is busy, so its messages wait undelivered.
    const until = performance.now() + 10_000;
    busy(300);
    while (!sent.isSet() && performance.now() < until) busy(10);
    p[stop]();
    assertEquals(p.exitCode, stop === "kill" ? -9 : -15);
    assertEquals(await drain(p), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], stop);
  }
});

workerTest(
  "children terminated right after they sent keep every message (200,000 in all)",
  async () => {
    const children = 4;
    const each = 50_000;
    const ps = Array.from({ length: children }, () => {
      const sent = new Event();
      const p = new Process({ target: sendThenWait, args: [each, sent] });
      p.start();
      return { p, sent };
    });
    let total = 0;
    for (const { p, sent } of ps) {
      await sent.wait({ timeoutMs: 30_000 });
      p.terminate();
      const got = await drain(p);
      assertEquals(got.length, each);
      assertEquals(got[each - 1], each - 1);
      total += got.length;
    }
    assertEquals(total, children * each);
  },
);

workerTest("once kill() returns, a child busy in getSync() takes nothing more", async () => {
  // Five times: the child is stopped at a random point of its loop, often
  // inside a take.
  for (let round = 0; round < 5; round++) {
    const q = new Queue<number>({ bufferBytes: 1 << 20 });
    for (let i = 0; i < 50_000; i++) q.putNowait(i);
    const taken = new Int32Array(new SharedArrayBuffer(4));
    const p = new Process({ target: takeSyncForever, args: [q, taken] });
    p.start();
    const until = performance.now() + 10_000;
    while (Atomics.load(taken, 0) < 1000 && performance.now() < until) await delay(1);
    p.kill();
    const left = q.qsize();
    const count = Atomics.load(taken, 0);
    await delay(50);
    assertEquals(q.qsize(), left, `round ${round}: items were taken after kill() returned`);
    assertEquals(Atomics.load(taken, 0) - count <= 1, true);
    assertEquals(left > 0, true);
    assertEquals(await q.get(), 50_000 - left, "the items stay for other consumers, in order");
    q.close();
  }
});

workerTest(
  "a child that claims to be inside a channel forever delays kill() by a bounded time",
  async () => {
    const ready = new Int32Array(new SharedArrayBuffer(4));
    const p = new Process({ target: claimInChannel, args: [ready] });
    p.start();
    await until(() => Atomics.load(ready, 0) === 1, "the child wrote its word");
    const t0 = performance.now();
    p.kill();
    const ms = performance.now() - t0;
    assertEquals(await p.join(), -9);
    assert(ms < 1000, `kill() took ${ms.toFixed(0)} ms`);
  },
);

// ---- the main thread never blocks without bound ---------------------------

/** Counts this thread's timer ticks while `fn` runs: a frozen event loop counts none. */
async function ticksDuring<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; ticks: number; ms: number }> {
  let ticks = 0;
  const id = setInterval(() => ticks++, 20);
  const t0 = performance.now();
  try {
    return { value: await fn(), ticks, ms: performance.now() - t0 };
  } finally {
    clearInterval(id);
  }
}

workerTest(
  "a lock word forged by a live child that names itself fails get() naming it, in bounded time",
  async () => {
    const q = new Queue<string>();
    await q.put("kept");
    const done = new Event();
    const p = new Process({ target: forgeLock, args: [q, true, done] });
    p.start();
    await done.wait({ timeoutMs: 5000 });
    const t0 = performance.now();
    const error = await assertRejects(() => q.get({ timeoutMs: 1000 }), Error, `pid ${p.pid}`);
    assert(performance.now() - t0 < 5000, "get() took too long");
    assert(error.message.includes("written the channel's shared memory directly"), error.message);
    // The event loop goes on afterwards.
    const { ticks } = await ticksDuring(() => delay(200));
    assert(ticks >= 3, `${ticks} ticks in 200 ms`);
    p.kill();
  },
);

workerTest("a lock word forged by a child with no holder recorded is taken over", async () => {
  const q = new Queue<string>();
  await q.put("kept");
  const done = new Event();
  const p = new Process({ target: forgeLock, args: [q, false, done] });
  p.start();
  await done.wait({ timeoutMs: 5000 });
  const { value, ms } = await ticksDuring(() => q.get({ timeoutMs: 5000 }));
  assertEquals(value, "kept");
  assert(ms < 5000, `get() took ${ms} ms`);
  p.kill();
  q.close();
});

workerTest(
  "a child that died holding a ring's lock: the lock is recovered and the items kept",
  async () => {
    const q = new Queue<string>();
    await q.put("kept");
    const p = new Process({ target: dieInsideAPut, args: [q, false] });
    p.start();
    assertEquals(await p.join(5000), 0);
    const { value, ticks, ms } = await ticksDuring(() => q.get({ timeoutMs: 1000 }));
    assertEquals(value, "kept");
    assert(ms < 1000, `get() took ${ms} ms`);
    assert(ticks >= 0);
    await q.put("after");
    assertEquals(await q.get(), "after");
    q.close();
  },
);

workerTest(
  "a child that died in the middle of a put leaves a queue that says so, naming it",
  async () => {
    const q = new Queue<string>();
    await q.put("kept");
    const p = new Process({ target: dieInsideAPut, args: [q, true] });
    p.start();
    assertEquals(await p.join(5000), 0);
    await assertRejects(() => q.get({ timeoutMs: 1000 }), Error, `half-written by pid ${p.pid}`);
    await assertRejects(() => q.put("more"), Error, `half-written by pid ${p.pid}`);
  },
);

Deno.test("channel bytes written by hand decode to a clear error, never a huge allocation", () => {
  const counts = [8, 9, 12, 13].map((tag) => new Uint8Array([tag, 0xff, 0xff, 0xff, 0x7f]));
  const truncated = new Uint8Array([4, 1]); // an int with 1 of its 4 bytes
  const deep = new Uint8Array(5 * 100_000).map((_, i) => (i % 5 === 0 ? 8 : i % 5 === 1 ? 1 : 0));
  for (const bytes of [...counts, truncated, deep, new Uint8Array([99])]) {
    assertThrows(() => _decode(bytes), Error, "corrupt channel item");
  }
});

// ---- no silent hangs for the classic mistakes --------------------------------

Deno.test("a module that starts processes or pools at its top level fails, naming import.meta.main", async () => {
  for (const file of ["process_join", "process_start", "pool_map"]) {
    const { code, out } = await runScript(
      new URL(`./fixtures/unguarded/${file}.ts`, import.meta.url),
      30_000,
    );
    assert(code !== null, `${file} did not end within 30 s:\n${out}`);
    assertStringIncludes(out, "if (import.meta.main)", file);
  }
});

// ---- names --------------------------------------------------------------------

workerTest("thread pids can never be taken for OS pids", async () => {
  const p = new Process({ target: nap, args: [1] });
  p.start();
  await using ref = await spawn(Counter);
  const pids = [p.pid!, ref.pid!];
  await p.join();
  for (const pid of pids) {
    // Above Linux's largest pid_max (2^22), and no OS process has it.
    assert(pid > 2 ** 22, `pid ${pid}`);
    assert(pid <= 2 ** 31 - 1, `pid ${pid} does not fit an Int32`);
    assertThrows(() => Deno.statSync(`/proc/${pid}`));
  }
});
