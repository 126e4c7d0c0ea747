import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertLess,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  Condition,
  Event,
  Lock,
  LockHolderDiedError,
  Pool,
  Process,
  RawArray,
  RawValue,
  RemoteError,
  RLock,
  Semaphore,
  spawn,
  SynchronizedArray,
  Value,
} from "../troupe.ts";
import {
  acquireSyncReport,
  arrayFromMail,
  ArrayKeeper,
  barrierBroken,
  barrierParty,
  consume,
  couldLock,
  countArrayLocked,
  countArrayUnlocked,
  countLocked,
  countUnlocked,
  describeArray,
  doubleIfFree,
  eventWaiter,
  holdAndEnd,
  holdInChild,
  lockFromMail,
  produce,
  reenter,
  releaseForeign,
  semaphoreUser,
  writeShared,
} from "./fixtures/sync_tasks.ts";
import { workerTest } from "./_helpers.ts";

// deno-lint-ignore no-explicit-any
function start(target: (...args: any[]) => unknown, args: unknown[]): Process {
  const p = new Process({ target, args });
  p.start();
  return p;
}

async function joinAll(ps: Process[]): Promise<void> {
  for (const p of ps) assertEquals(await p.join(), 0);
}

/**
 * Runs `race` (four unlocked processes; it returns how many updates they
 * lost) until one run loses some, at most 10 times, and returns each run's
 * loss. A run where the four happen not to overlap cannot show the race; long
 * enough runs, and enough tries, keep a loaded 2-core machine overlapping them.
 */
async function lostUpdates(race: () => Promise<number>): Promise<number[]> {
  const lost: number[] = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    lost.push(await race());
    if (lost.at(-1)! > 0) break;
  }
  return lost;
}

/** Polls `check` every few ms until it holds (fails after `ms`). */
async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

// ---- Value and Lock under contention ----------------------------------------

for (const mode of ["sync", "async"] as const) {
  workerTest(
    `4 processes adding 1 100,000 times under a Value's lock (${mode}) end at 400,000`,
    async () => {
      const total = new Value("i32", 0);
      const gate = new Barrier(4);
      const ps = [1, 2, 3, 4].map(() => start(countLocked, [total, 100_000, gate, mode]));
      await joinAll(ps);
      assertEquals(total.value, 400_000);
      assert(!total.getLock().locked());
    },
  );
}

workerTest(
  "a plain Lock shared by blocking and async acquirers keeps the count exact",
  async () => {
    const total = new Value("i32", 0, { lock: new Lock() });
    const gate = new Barrier(4);
    const modes = ["sync", "async", "sync", "async"] as const;
    const ps = modes.map((mode) => start(countLocked, [total, 100_000, gate, mode]));
    await joinAll(ps);
    assertEquals(total.value, 400_000);
  },
);

workerTest("without the lock the same increments race and lose updates", async () => {
  const finals = (await lostUpdates(async () => {
    const total = new Value("i32", 0, { lock: false });
    const gate = new Barrier(4);
    await joinAll([1, 2, 3, 4].map(() => start(countUnlocked, [total, 500_000, gate])));
    return 2_000_000 - total.value;
  })).map((lost) => 2_000_000 - lost);
  assertLess(finals.at(-1)!, 2_000_000, `no lost update in ${finals.length} runs: ${finals}`);
});

// ---- a holder that dies ------------------------------------------------------

for (const how of ["return", "throw", "hang"] as const) {
  workerTest(
    `acquire() of a Lock whose holder ended (${how}) throws LockHolderDiedError`,
    async () => {
      const lock = new Lock();
      const held = new Event();
      const p = start(holdAndEnd, [lock, held, how]);
      assert(await held.wait({ timeoutMs: 10_000 }));
      if (how === "hang") p.terminate();
      await p.join().catch(() => {});
      const error = await assertRejects(() => lock.acquire(), LockHolderDiedError);
      assertEquals(error.holderPid, p.pid);
      assertStringIncludes(error.message, `process ${p.pid}`);
    },
  );
}

workerTest("a waiter blocked in acquireSync() learns when the holder is terminated", async () => {
  const lock = new RLock();
  const held = new Event();
  const holder = start(holdAndEnd, [lock, held, "hang"]);
  assert(await held.wait({ timeoutMs: 10_000 }));
  const waiter = start(acquireSyncReport, [lock]);
  await new Promise((resolve) => setTimeout(resolve, 100)); // let it block
  holder.terminate();
  const report = await waiter.receive<{ name: string; holderPid: number }>({ timeoutMs: 10_000 });
  assertEquals(report.name, "LockHolderDiedError");
  assertEquals(report.holderPid, holder.pid);
  await waiter.join();
});

workerTest(
  "a lock held by a grandchild is reported once the child in between is terminated",
  async () => {
    // Deno ends a worker's workers with it, without a word to anyone: liveness follows ancestry.
    const lock = new Lock();
    const held = new Event();
    const middle = start(holdInChild, [lock, held]);
    const holderPid = await middle.receive<number>({ timeoutMs: 10_000 });
    assert(await held.wait({ timeoutMs: 10_000 }));
    middle.terminate();
    const error = await assertRejects(() => lock.acquire(), LockHolderDiedError);
    assertEquals(error.holderPid, holderPid);
  },
);

workerTest("release() frees a lock whose holder died, and it can be taken again", async () => {
  const lock = new RLock();
  const held = new Event();
  const p = start(holdAndEnd, [lock, held, "return"]);
  await p.join();
  await assertRejects(() => lock.acquire(), LockHolderDiedError);
  lock.release();
  using _ = await lock.acquire({ timeoutMs: 1000 });
  assert(lock.locked());
});

// ---- timeouts and signals ----------------------------------------------------

workerTest(
  "acquire({ timeoutMs }) of a lock held by another process rejects with TimeoutError",
  async () => {
    const lock = new Lock();
    const held = new Event();
    const p = start(holdAndEnd, [lock, held, "hang"]);
    try {
      assert(await held.wait({ timeoutMs: 10_000 }));
      const error = await assertRejects(() => lock.acquire({ timeoutMs: 50 }), DOMException);
      assertEquals(error.name, "TimeoutError");
      assert(lock.locked(), "the holder still holds it");
    } finally {
      p.terminate();
    }
  },
);

workerTest("acquireSync({ timeoutMs }) in a worker throws TimeoutError", async () => {
  const lock = new Lock();
  await lock.acquire();
  const p = start(acquireSyncReport, [lock, 50]);
  const report = await p.receive<{ name: string }>({ timeoutMs: 10_000 });
  assertEquals(report.name, "TimeoutError");
  await p.join();
  lock.release();
});

workerTest("an aborted acquire() rejects with the signal's reason", async () => {
  const lock = new Lock();
  using _ = await lock.acquire();
  const controller = new AbortController();
  const pending = lock.acquire({ signal: controller.signal });
  controller.abort(new Error("gave up"));
  const error = await assertRejects(() => pending, Error);
  assertEquals(error.message, "gave up");
  await assertRejects(() => lock.acquire({ signal: controller.signal }), Error, "gave up");
});

workerTest(
  "a waiter that gave up does not swallow the wake-up meant for the next one",
  async () => {
    // A Semaphore wait has no periodic re-check, so nothing but the wake-up can end it.
    const sem = new Semaphore(0);
    const controller = new AbortController();
    const abandoned = sem.acquire({ signal: controller.signal }).catch((e) => e);
    const next = sem.acquire();
    controller.abort();
    await abandoned;
    sem.release();
    // A wake-up takes microseconds; a lost one would leave `next` waiting for good.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise((resolve) => timer = setTimeout(() => resolve("stuck"), 2000));
    assertEquals(await Promise.race([next.then(() => "acquired"), stuck]), "acquired");
    clearTimeout(timer);
    assertEquals(sem.value, 0);
  },
);

// ---- RLock and BoundedSemaphore ----------------------------------------------

workerTest(
  "an RLock can be re-entered by its holder and frees after as many releases",
  async () => {
    const lock = new RLock();
    const p = start(reenter, [lock]);
    assertEquals(await p.receive(), [true, false]);
    await p.join();
    {
      using _a = await lock.acquire();
      using _b = await lock.acquire();
      assert(lock.locked());
    }
    assert(!lock.locked());
  },
);

workerTest("release() of an RLock by a process that does not hold it is an error", async () => {
  const lock = new RLock();
  using _ = await lock.acquire();
  const p = start(releaseForeign, [lock]);
  const error = await assertRejects(() => p.join(), RemoteError);
  assertStringIncludes(error.message, "only its holder may release an RLock");
  assert(lock.locked(), "the holder still holds it");
});

workerTest("release() of a lock that is not held is an error", () => {
  assertThrows(() => new Lock().release(), Error, "not held");
  assertThrows(() => new RLock().release(), Error, "not held");
});

workerTest("a BoundedSemaphore released more often than acquired throws", async () => {
  const sem = new BoundedSemaphore(2);
  await sem.acquire();
  sem.release();
  assertThrows(() => sem.release(), Error, "more times than acquire()");
  assertEquals(sem.value, 2);
  const plain = new Semaphore(2);
  plain.release();
  assertEquals(plain.value, 3, "a plain Semaphore may grow");
});

workerTest("a Semaphore(2) lets at most 2 of 5 processes in at once", async () => {
  const sem = new Semaphore(2);
  const counters = RawArray("i32", 2);
  const ps = [1, 2, 3, 4, 5].map(() => start(semaphoreUser, [sem, counters, 30]));
  await joinAll(ps);
  assertEquals(counters[1], 2);
  assertEquals(sem.value, 2);
});

workerTest("Semaphore.acquire({ timeoutMs }) at 0 rejects with TimeoutError", async () => {
  const sem = new Semaphore(0);
  const error = await assertRejects(() => sem.acquire({ timeoutMs: 20 }), DOMException);
  assertEquals(error.name, "TimeoutError");
  assert(!sem.tryAcquire());
});

// ---- Barrier -----------------------------------------------------------------

for (const mode of ["sync", "async"] as const) {
  workerTest(`a Barrier of 5 releases all 5 together, with indexes 0..4 (${mode})`, async () => {
    const barrier = new Barrier(5);
    const arrived = RawArray("i32", 1);
    const seen = RawArray("i32", 5);
    const ps = [0, 1, 2, 3, 4].map((i) =>
      start(barrierParty, [barrier, arrived, seen, i, i * 20, mode])
    );
    const indexes = await Promise.all(ps.map((p) => p.receive<number>({ timeoutMs: 10_000 })));
    await joinAll(ps);
    assertEquals([...seen], [5, 5, 5, 5, 5], "no party was released before all 5 arrived");
    assertEquals(indexes.sort(), [0, 1, 2, 3, 4]);
    assertEquals(barrier.nWaiting, 0);
  });
}

workerTest("a Barrier can be used again once it has released", async () => {
  const barrier = new Barrier(2);
  for (let round = 0; round < 3; round++) {
    const indexes = await Promise.all([barrier.wait(), barrier.wait()]);
    assertEquals(indexes.sort(), [0, 1]);
  }
});

workerTest(
  "abort() breaks a Barrier: its waiters and later waits throw BrokenBarrierError",
  async () => {
    const barrier = new Barrier(3);
    const waiting = RawArray("i32", 1);
    const ps = [1, 2].map(() => start(barrierBroken, [barrier, waiting]));
    await until(() => waiting[0] === 2 && barrier.nWaiting === 2, "both wait");
    barrier.abort();
    for (const p of ps) assertEquals(await p.receive({ timeoutMs: 10_000 }), "BrokenBarrierError");
    await joinAll(ps);
    assert(barrier.broken);
    await assertRejects(() => barrier.wait(), BrokenBarrierError);
    barrier.reset();
    assert(!barrier.broken);
  },
);

workerTest("a Barrier wait that times out breaks the barrier for the others", async () => {
  const barrier = new Barrier(3);
  const waiting = RawArray("i32", 1);
  const p = start(barrierBroken, [barrier, waiting]);
  await until(() => barrier.nWaiting === 1, "the worker waits");
  await assertRejects(() => barrier.wait({ timeoutMs: 30 }), BrokenBarrierError, "timed out");
  assertEquals(await p.receive({ timeoutMs: 10_000 }), "BrokenBarrierError");
  await joinAll([p]);
});

workerTest(
  "reset() of a Barrier with a waiter makes the waiter throw BrokenBarrierError",
  async () => {
    const barrier = new Barrier(2);
    const waiting = RawArray("i32", 1);
    const p = start(barrierBroken, [barrier, waiting]);
    await until(() => barrier.nWaiting === 1, "the worker waits");
    barrier.reset();
    assertEquals(await p.receive({ timeoutMs: 10_000 }), "BrokenBarrierError");
    await joinAll([p]);
    const indexes = await Promise.all([barrier.wait(), barrier.wait()]);
    assertEquals(indexes.sort(), [0, 1], "usable after reset()");
  },
);

// ---- Event -------------------------------------------------------------------

workerTest("Event.set() wakes every waiting process (sync and async waiters)", async () => {
  const event = new Event();
  const counters = RawArray("i32", 2); // [waiting, woke]
  const ps = (["sync", "async", "sync", "async"] as const).map((mode) =>
    start(eventWaiter, [event, counters, mode])
  );
  await until(() => counters[0] === 4, "all four wait");
  await new Promise((resolve) => setTimeout(resolve, 50)); // into their waits
  assertEquals(counters[1], 0, "none woke before set()");
  event.set();
  await joinAll(ps);
  assertEquals(counters[1], 4);
  assert(await event.wait({ timeoutMs: 0 }), "a set event returns at once");
});

workerTest("Event.wait({ timeoutMs }) resolves false when nobody sets it", async () => {
  const event = new Event();
  assertEquals(await event.wait({ timeoutMs: 20 }), false);
  event.set();
  event.clear();
  assertEquals(event.isSet(), false);
});

// ---- Condition ---------------------------------------------------------------

workerTest(
  "a Condition producer/consumer hands over 5,000 items through a 3-slot ring",
  async () => {
    const cond = new Condition();
    const ring = RawArray("i32", 2 + 3);
    const n = 5_000;
    const consumer = start(consume, [cond, ring, n]);
    const producer = start(produce, [cond, ring, n]);
    assertEquals(await consumer.receive({ timeoutMs: 30_000 }), (n * (n + 1)) / 2);
    await joinAll([producer, consumer]);
    assertEquals(ring[0], 0);
  },
);

workerTest(
  "Condition.wait() without the lock is an error, and a timed-out wait returns false",
  async () => {
    const cond = new Condition(new Lock());
    await assertRejects(() => cond.wait(), Error, "acquire it first");
    assertThrows(() => cond.notify(), Error, "acquire it first");
    using _ = await cond.acquire();
    assertEquals(await cond.wait({ timeoutMs: 20 }), false);
    assert(await cond.waitFor(() => true), "a true predicate returns at once");
  },
);

// ---- main-thread refusals ----------------------------------------------------

workerTest("blocking *Sync variants are refused on the main thread", () => {
  const cases: [string, () => unknown][] = [
    ["Lock.acquireSync()", () => new Lock().acquireSync()],
    ["RLock.acquireSync()", () => new RLock().acquireSync()],
    ["Semaphore.acquireSync()", () => new Semaphore(1).acquireSync()],
    ["Event.waitSync()", () => new Event().waitSync()],
    ["Condition.waitSync()", () => new Condition().waitSync()],
    ["Barrier.waitSync()", () => new Barrier(2).waitSync()],
  ];
  for (const [what, call] of cases) {
    const error = assertThrows(call, Error);
    assertStringIncludes(error.message, `${what} blocks its thread`);
    assertStringIncludes(error.message, "main thread");
  }
});

// ---- values and arrays -------------------------------------------------------

workerTest("RawValue, Value and RawArray written by a child are seen by the parent", async () => {
  const f = new RawValue("d", 0);
  const big = new Value("i64", 21n);
  const xs = RawArray("f64", [1, 2, 3]);
  await joinAll([start(writeShared, [f, big, xs])]);
  assertEquals(f.value, 2.5);
  assertEquals(big.value, 42n);
  assertEquals([...xs], [10, 20, 30]);
  assertEquals(f.type, "f64");
});

workerTest("bad types and values are refused with what to pass instead", () => {
  // deno-lint-ignore no-explicit-any
  const anyType = "x" as any;
  assertThrows(() => new Value(anyType, 0), TypeError, "must be one of i8, u8");
  assertThrows(() => RawArray("i32", -1), RangeError, "non-negative integer");
  // deno-lint-ignore no-explicit-any
  assertThrows(() => RawArray("i32", {} as any), TypeError, "needs a length or the initial values");
  // deno-lint-ignore no-explicit-any
  assertThrows(() => new RawValue("i64", 1.5 as any), TypeError, "bigint");
  assertThrows(() => new Value("i32", 0, { lock: false }).getLock(), Error, "lock: false");
  assertThrows(() => new Barrier(0), RangeError, "parties");
  assertThrows(() => new Semaphore(-1), RangeError, "Semaphore value");
  assertInstanceOf(RawArray("B", 4), Uint8Array);
});

workerTest("a Lock in a pool task's arguments is the same lock in the worker", async () => {
  await using pool = new Pool({ processes: 1 });
  const lock = new Lock();
  assert(lock.tryAcquire());
  assertEquals(await pool.apply(couldLock, [lock]), false, "the parent holds it");
  lock.release();
  assertEquals(await pool.apply(couldLock, [lock]), true);
});

workerTest("a Lock sent by mail is the same lock in the child", async () => {
  const lock = new Lock();
  const p = start(lockFromMail, []);
  p.send(lock);
  assertEquals(await p.receive({ timeoutMs: 10_000 }), "held");
  assert(!lock.tryAcquire(), "the child holds it");
  p.send("done");
  await joinAll([p]);
  assert(lock.tryAcquire(), "released when the child's scope ended");
});

// ---- SynchronizedArray -------------------------------------------------------

workerTest(
  "4 processes adding 1 to each element 1,000 times under a SynchronizedArray's lock end at 4,000",
  async () => {
    const hist = new SynchronizedArray("i32", 8);
    const gate = new Barrier(4);
    const modes = ["sync", "async", "sync", "async"] as const;
    const ps = modes.map((mode) => start(countArrayLocked, [hist, 1000, gate, mode]));
    await joinAll(ps);
    assertEquals(hist.toArray(), Array(8).fill(4000));
    assert(!hist.getLock().locked());
  },
);

workerTest("without a SynchronizedArray's lock the same increments race", async () => {
  const lost = await lostUpdates(async () => {
    const hist = new SynchronizedArray("i32", 2, { lock: false });
    const gate = new Barrier(4);
    await joinAll([1, 2, 3, 4].map(() => start(countArrayUnlocked, [hist, 250_000, gate])));
    return 2 * 1_000_000 - hist.array[0] - hist.array[1];
  });
  assert(lost.at(-1)! > 0, `no lost update in ${lost.length} runs`);
});

workerTest("a SynchronizedArray takes a length or initial values, and types or typecodes", () => {
  const zeros = new SynchronizedArray("i", 3);
  assertInstanceOf(zeros.array, Int32Array);
  assertInstanceOf(zeros.array.buffer as unknown, SharedArrayBuffer);
  assertEquals([zeros.type, zeros.length, zeros.toArray()], ["i32", 3, [0, 0, 0]]);

  const xs = new SynchronizedArray("d", [0.5, 1.5]);
  assertInstanceOf(xs.array, Float64Array);
  assertEquals([xs.type, [...xs]], ["f64", [0.5, 1.5]]);
  xs.set(1, 2.25);
  assertEquals([xs.get(1), xs.array[1]], [2.25, 2.25]);

  const big = new SynchronizedArray("q", new Set([1n, 2n])); // any iterable
  assertInstanceOf(big.array, BigInt64Array);
  assertEquals(big.toArray(), [1n, 2n]);
  big.set(0, 1n << 40n);
  assertEquals(big.get(0), 1099511627776n);

  assertInstanceOf(new SynchronizedArray("B", 4).array, Uint8Array);
  assertInstanceOf(new SynchronizedArray("u64", 1).array, BigUint64Array);
  assertEquals(new SynchronizedArray("f32", 0).toArray(), []);
  const copy = xs.toArray();
  copy[0] = 99;
  assertEquals(xs.get(0), 0.5, "toArray() is a copy");
});

workerTest("a SynchronizedArray refuses bad input, naming what and where", () => {
  // deno-lint-ignore no-explicit-any
  const bad = (x: unknown) => x as any;
  assertThrows(() => new SynchronizedArray(bad("x"), 2), TypeError, "must be one of i8, u8");
  assertThrows(() => new SynchronizedArray("i32", -1), RangeError, "non-negative integer, got -1");
  assertThrows(() => new SynchronizedArray("i32", 1.5), RangeError, "non-negative integer");
  for (const notValues of [null, "12", {}, 3n]) {
    assertThrows(
      () => new SynchronizedArray("i32", bad(notValues)),
      TypeError,
      "needs a length or the initial values",
    );
  }
  assertThrows(() => new SynchronizedArray("i32", bad([1, "2"])), TypeError, "values[1]");
  assertThrows(() => new SynchronizedArray("i64", bad([1n, 1.5])), TypeError, "values[1]");
  assertThrows(() => new SynchronizedArray("i32", 2, bad(1)), TypeError, "options must be");
  assertThrows(
    () => new SynchronizedArray("i32", 2, { lock: bad("yes") }),
    TypeError,
    "lock must be true, false, a Lock or an RLock",
  );

  const xs = new SynchronizedArray("i32", 10);
  for (const index of [-11, 10, 1.5]) {
    assertThrows(() => xs.get(index), RangeError, `index ${index} is out of range for length 10`);
    assertThrows(() => xs.set(index, 1), RangeError, `index ${index} is out of range`);
  }
  assertThrows(() => xs.set(3, bad("1")), TypeError, "at index 3 must be a number");
  const big = new SynchronizedArray("u64", 2);
  assertThrows(() => big.set(1, bad(0.5)), TypeError, "bigint");
  assertEquals(xs.toArray(), Array(10).fill(0), "nothing was written");
  xs.set(-1, 7); // counts from the end, as in Python
  assertEquals([xs.get(9), xs.get(-1), xs.array[9]], [7, 7, 7]);
});

workerTest("{ lock: false } makes a SynchronizedArray without a lock, here and there", async () => {
  const xs = new SynchronizedArray("u8", [1, 2, 3], { lock: false });
  assertThrows(() => xs.getLock(), Error, "SynchronizedArray was made with { lock: false }");
  await using pool = new Pool({ processes: 1 });
  const seen = await pool.apply(describeArray, [xs]);
  assertStringIncludes(seen.lock, "{ lock: false }");
  assertEquals([seen.type, seen.length, seen.values], ["u8", 3, [1, 2, 3]]);
});

workerTest(
  "a SynchronizedArray's lock travels with it: an RLock, or the Lock it was given",
  async () => {
    await using pool = new Pool({ processes: 1 });
    const own = new SynchronizedArray("u8", 0);
    assertInstanceOf(own.getLock(), RLock);
    assertEquals((await pool.apply(describeArray, [own])).lock, "RLock");
    const lock = new Lock();
    const shared = new SynchronizedArray("u8", [5], { lock });
    assertEquals(shared.getLock(), lock);
    assertEquals(await pool.apply(describeArray, [shared]), {
      type: "u8",
      length: 1,
      values: [5],
      lock: "Lock",
    });
  },
);

workerTest("a SynchronizedArray in pool task args shares its memory and its lock", async () => {
  await using pool = new Pool({ processes: 1 });
  const xs = new SynchronizedArray("i64", [1n, 2n, 3n]);
  {
    using _ = await xs.getLock().acquire();
    assertEquals(await pool.apply(doubleIfFree, [xs]), false, "the parent holds the lock");
  }
  assertEquals(await pool.apply(doubleIfFree, [xs]), true);
  assertEquals(xs.toArray(), [2n, 4n, 6n]);
});

workerTest("a SynchronizedArray sent by mail is the same array and lock in the child", async () => {
  const xs = new SynchronizedArray("f64", 2);
  const p = start(arrayFromMail, []);
  p.send(xs);
  assertEquals(await p.receive({ timeoutMs: 10_000 }), "held");
  assertEquals(xs.get(0), 7);
  assert(!xs.getLock().tryAcquire(), "the child holds it");
  p.send("done");
  await joinAll([p]);
  assert(xs.getLock().tryAcquire(), "released when the child's scope ended");
  xs.getLock().release();
});

workerTest("a SynchronizedArray passed in actor calls is the same array", async () => {
  await using keeper = await spawn(ArrayKeeper);
  const xs = new SynchronizedArray("i32", [10, 20]);
  assertEquals(await keeper.call.add(xs, 1, 5), [10, 25]);
  assertEquals(await keeper.call.add(xs, 0, 1), [11, 25]);
  assertEquals(xs.toArray(), [11, 25]);
});
