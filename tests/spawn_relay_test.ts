// Objects that live in shared memory, used from "spawn" children (OS
// processes) through the relay of the process that sent them: the same
// guarantees as in a thread, mixed with threads on the same object.
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import {
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  ChannelClosedError,
  Condition,
  EOFError,
  Event,
  Lock,
  LockHolderDiedError,
  Pipe,
  Pool,
  Process,
  Queue,
  RawArray,
  RawValue,
  RLock,
  spawn,
  SynchronizedArray,
  Value,
} from "../troupe.ts";
import {
  boundsSemaphore,
  countsUnder,
  doubles,
  holdsAndHangs,
  LockedCounter,
  notifies,
  receivesAll,
  sendsAndHangs,
  sendsThenCloses,
  setsEvent,
  triesSyncForms,
  usesValues,
  waitsAtBarrier,
  waitsForNotify,
} from "./fixtures/relay_tasks.ts";
import { produces, takes } from "./fixtures/spawn_tasks.ts";
import { until, workerTest } from "./_helpers.ts";

const SPAWN = { startMethod: "spawn" } as const;

// ---- Pipe ends -------------------------------------------------------------------------------

workerTest(
  "relay: a Pipe end in a spawn child sends and receives, then reads EOFError",
  async () => {
    const [here, there] = Pipe<number, number>();
    const p = new Process({ target: doubles, args: [there], ...SPAWN });
    p.start();
    for (let i = 0; i < 20; i++) await here.send(i);
    const back: number[] = [];
    for (let i = 0; i < 20; i++) back.push(await here.recv({ timeoutMs: 20_000 }));
    assertEquals(back, Array.from({ length: 20 }, (_, i) => i * 2));
    here.close();
    assertEquals(await p.receive({ timeoutMs: 20_000 }), { n: 20, ended: "EOFError" });
    assertEquals(await p.join(), 0);
  },
);

workerTest(
  "relay: a spawn child's close() reaches the other end as EOFError after its items",
  async () => {
    const [here, there] = Pipe<number, number>();
    const p = new Process({ target: sendsThenCloses, args: [there, 5], ...SPAWN });
    p.start();
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push(await here.recv({ timeoutMs: 20_000 }));
    assertEquals(got, [0, 1, 2, 3, 4]);
    await assertRejects(() => here.recv({ timeoutMs: 20_000 }), EOFError);
    assertEquals(await p.join(), 0);
  },
);

workerTest("relay: a Pipe between a thread child and a spawn child", async () => {
  const [a, b] = Pipe<number>({ duplex: false });
  const reader = new Process({ target: receivesAll, args: [a], ...SPAWN });
  const writer = new Process({ target: sendsThenCloses, args: [b, 30] });
  reader.start();
  writer.start();
  const seen = await reader.receive<{ got: number[]; ended: string }>({ timeoutMs: 20_000 });
  assertEquals(seen, { got: Array.from({ length: 30 }, (_, i) => i), ended: "EOFError" });
  assertEquals(await writer.join(), 0);
  assertEquals(await reader.join(), 0);
});

workerTest(
  "relay: when a spawn child holding an end is killed, the other end reads EOFError",
  async () => {
    const [here, there] = Pipe<number, number>();
    const p = new Process({ target: sendsAndHangs, args: [there], ...SPAWN });
    p.start();
    assertEquals(await p.receive({ timeoutMs: 20_000 }), "sent");
    assertEquals(await here.recv({ timeoutMs: 5000 }), 1);
    p.kill();
    assertEquals(await p.join(), -9);
    const error = await assertRejects(() => here.recv({ timeoutMs: 10_000 }), EOFError);
    assert(error.message.includes("has ended"), error.message);
    await assertRejects(() => here.send(2), ChannelClosedError);
  },
);

// ---- locks -------------------------------------------------------------------------------------

workerTest("relay: a Lock excludes a thread child and a spawn child from one another", async () => {
  const lock = new Lock();
  const total = new Value("i32", 0, { lock: false });
  const n = 60;
  const ps = [
    new Process({ target: countsUnder, args: [lock, total, n], ...SPAWN }),
    new Process({ target: countsUnder, args: [lock, total, n] }),
  ];
  for (const p of ps) p.start();
  for (const p of ps) assertEquals(await p.join(), 0);
  // Each read and write had a turn between them: without exclusion, updates would be lost.
  assertEquals(total.value, 2 * n);
  assert(!lock.locked());
});

for (const [Kind, times] of [[Lock, 1], [RLock, 2]] as const) {
  workerTest(
    `relay: a spawn child killed holding ${
      Kind.name === "Lock" ? "a Lock" : "an RLock"
    } is reported as its dead holder, and release() frees it`,
    async () => {
      const lock = new Kind();
      const p = new Process({ target: holdsAndHangs, args: [lock, times], ...SPAWN });
      p.start();
      assertEquals(await p.receive({ timeoutMs: 20_000 }), "held");
      assert(lock.locked());
      await assertRejects(() => lock.acquire({ timeoutMs: 100 }), DOMException, "100 ms");
      p.kill();
      assertEquals(await p.join(), -9);
      const error = await assertRejects(
        () => lock.acquire({ timeoutMs: 10_000 }),
        LockHolderDiedError,
      );
      assert(error.holderPid > 0);
      lock.release();
      const guard = await lock.acquire({ timeoutMs: 1000 });
      guard.release();
      assert(!lock.locked());
    },
  );
}

// ---- Event, Barrier, Semaphore, Condition --------------------------------------------------------

workerTest("relay: an Event set in a spawn child wakes the parent", async () => {
  const event = new Event();
  const p = new Process({ target: setsEvent, args: [event], ...SPAWN });
  p.start();
  assert(!event.isSet());
  p.send("go");
  assert(await event.wait({ timeoutMs: 20_000 }));
  assertEquals(await p.join(), 0);
});

workerTest("relay: a Barrier with a thread party and a spawn party releases both", async () => {
  const barrier = new Barrier(2);
  const ps = [
    new Process({ target: waitsAtBarrier, args: [barrier], ...SPAWN }),
    new Process({ target: waitsAtBarrier, args: [barrier] }),
  ];
  for (const p of ps) p.start();
  const indexes = await Promise.all(ps.map((p) => p.receive<number>({ timeoutMs: 20_000 })));
  assertEquals(indexes.sort(), [0, 1]);
  for (const p of ps) assertEquals(await p.join(), 0);
  assertEquals(barrier.nWaiting, 0);
});

workerTest("relay: a spawn party killed while it waits breaks the Barrier", async () => {
  const barrier = new Barrier(2);
  const p = new Process({ target: waitsAtBarrier, args: [barrier], ...SPAWN });
  p.start();
  await until(() => barrier.nWaiting === 1, "the child waits at the barrier", 20_000);
  p.kill();
  assertEquals(await p.join(), -9);
  await until(() => barrier.broken, "the barrier is broken", 10_000);
  await assertRejects(() => barrier.wait({ timeoutMs: 5000 }), BrokenBarrierError);
});

workerTest("relay: a BoundedSemaphore keeps its bound for a spawn child", async () => {
  const sem = new BoundedSemaphore(1);
  const p = new Process({ target: boundsSemaphore, args: [sem], ...SPAWN });
  p.start();
  assertEquals(await p.receive({ timeoutMs: 20_000 }), "acquired");
  assertEquals(sem.value, 0);
  assert(!sem.tryAcquire(), "the child holds the only slot");
  p.send("go");
  const said = await p.receive<string[]>({ timeoutMs: 20_000 });
  assertEquals(said[0], "value 0");
  assertMatch(said[1], /^TimeoutError: /);
  assertMatch(said[2], /^Error: a call sent ahead failed: .*more times than acquire\(\)/);
  assertEquals(await p.join(), 0);
  assertEquals(sem.value, 1);
});

workerTest("relay: a Condition notified by the parent wakes a spawn child's wait", async () => {
  const cond = new Condition();
  const p = new Process({ target: waitsForNotify, args: [cond], ...SPAWN });
  p.start();
  assertEquals(await p.receive({ timeoutMs: 20_000 }), "waiting");
  {
    // Free only once the child waits: its wait released the lock.
    using _ = await cond.acquire({ timeoutMs: 20_000 });
    cond.notify();
  }
  assertEquals(await p.receive({ timeoutMs: 20_000 }), true);
  assertEquals(await p.join(), 0);
  using _ = await cond.acquire({ timeoutMs: 1000 });
});

workerTest(
  "relay: a Condition notified in a spawn child wakes a waiter in the parent",
  async () => {
    const cond = new Condition(new Lock());
    const p = new Process({ target: notifies, args: [cond], ...SPAWN });
    p.start();
    using _ = await cond.acquire({ timeoutMs: 20_000 });
    const woken = cond.wait({ timeoutMs: 20_000 });
    p.send("go");
    assert(await woken);
    assertEquals(await p.join(), 0);
  },
);

// ---- Value, RawValue, SynchronizedArray ----------------------------------------------------------

workerTest(
  "relay: a spawn child reads and writes a Value, a RawValue and a SynchronizedArray",
  async () => {
    const v = new Value("i32", 5);
    const raw = new RawValue("f64", 1.5);
    const xs = new SynchronizedArray("i32", [1, 2, 3]);
    const p = new Process({ target: usesValues, args: [v, raw, xs], ...SPAWN });
    p.start();
    const said = await p.receive<unknown[]>({ timeoutMs: 20_000 });
    assertEquals(await p.join(), 0);
    assertEquals(said.slice(0, 5), [5, 1.5, [1, 2, 3], 3, 30]);
    assertMatch(said[5] as string, /^TypeError: Value value must be a number/);
    assertMatch(said[6] as string, /^RangeError: SynchronizedArray index 7 is out of range/);
    assertMatch(said[7] as string, /^TypeError: Value\.value is not available .*await load\(\)/);
    assertMatch(said[8] as string, /^TypeError: SynchronizedArray\.array is not available/);
    assertEquals(v.value, 50);
    assertEquals(raw.value, 2.5);
    assertEquals(xs.toArray(), [1, 2, 30]);
    assert(!v.getLock().locked());
  },
);

// ---- what a spawn child may not do ---------------------------------------------------------------

workerTest(
  "relay: sync forms and bad inputs in a spawn child throw errors that say what to use",
  async () => {
    const lock = new Lock();
    const [end, there] = Pipe<number, number>();
    const cond = new Condition();
    const objects = [
      lock,
      new RLock(),
      new BoundedSemaphore(1),
      new Event(),
      cond,
      new Barrier(2),
    ] as const;
    // The parent holds the lock, so that the child's waits for it time out or are aborted.
    await lock.acquire();
    const p = new Process({ target: triesSyncForms, args: [...objects, there], ...SPAWN });
    p.start();
    const said = await p.receive<Record<string, string>>({ timeoutMs: 30_000 });
    assertEquals(await p.join(), 0);
    lock.release();
    end.close();
    for (
      const [call, use] of [
        ["Lock.acquireSync", "await acquire()"],
        ["Lock.tryAcquire", "await acquire({ timeoutMs: 0 })"],
        ["RLock.acquireSync", "await acquire()"],
        ["BoundedSemaphore.acquireSync", "await acquire()"],
        ["Event.waitSync", "await wait()"],
        ["Condition.waitSync", "await wait()"],
        ["Barrier.waitSync", "await wait()"],
        ["Connection.recvSync", "await recv()"],
        ["Connection.sendSync", "await send()"],
      ]
    ) {
      assertMatch(said[call], /^TypeError: .*shares no memory/, call);
      assert(said[call].includes(use), `${call}: ${said[call]}`);
    }
    assertMatch(said["pass on"], /^TypeError: .*cannot be passed on/);
    assertMatch(said["timeoutMs -1"], /^RangeError: Lock\.acquire\(\) timeoutMs/);
    assertMatch(
      said["signal not a signal"],
      /^TypeError: Lock\.acquire\(\) signal must be an AbortSignal/,
    );
    assertMatch(said["aborted acquire"], /^AbortError: /);
    assertMatch(said["acquire timeout"], /^TimeoutError: /);
    assertMatch(
      said["notify without the lock"],
      /^Error: a call sent ahead failed: .*needs the condition's lock/,
    );
    assertMatch(said["notify n"], /^RangeError: Condition\.notify\(\) n must be 0 or more/);
    assertMatch(said["RLock.release not held"], /^Error: a call sent ahead failed: .*not held/);
    assertMatch(said["Barrier timeout"], /^BrokenBarrierError: .*timed out/);
    assertMatch(said["poll timeoutMs"], /^RangeError: .*poll\(\) timeoutMs/);
    // The child's aborted and timed-out acquires left the lock free once the parent let go.
    assert(!lock.locked());
  },
);

Deno.test("relay: what cannot be served to a spawn child is refused before it starts", () => {
  for (const value of [new SharedArrayBuffer(8), RawArray("i32", 2)]) {
    const p = new Process({ target: takes, args: [value], ...SPAWN });
    const error = assertThrows(() => p.start(), TypeError);
    assertMatch(error.message, /shares no memory|cannot/);
    assertEquals(p.pid, undefined, "no process was started");
  }
});

// ---- in pool tasks and actor calls -----------------------------------------------------------

workerTest(
  "relay: a Queue in a spawn pool's task arguments is served to whichever worker runs it",
  async () => {
    const q = new Queue<[string, number]>();
    await using pool = new Pool({ processes: 2, ...SPAWN });
    await Promise.all([
      pool.apply(produces, [q, "a", 0, 20]),
      pool.apply(produces, [q, "b", 0, 20]),
    ]);
    // As from a Python child, a put sent ahead may land after the call returned: get waits for it.
    const got: [string, number][] = [];
    for (let i = 0; i < 40; i++) got.push(await q.get({ timeoutMs: 10_000 }));
    assertEquals(q.qsize(), 0);
    for (const tag of ["a", "b"]) {
      // FIFO per producer.
      assertEquals(
        got.filter(([t]) => t === tag).map(([, i]) => i),
        Array.from({ length: 20 }, (_, i) => i),
      );
    }
  },
);

workerTest(
  "relay: a spawn actor gets a Lock when made and a Value and a Queue in its calls",
  async () => {
    const lock = new Lock();
    const total = new Value("i32", 0);
    await using a = await spawn(LockedCounter, { args: [lock], ...SPAWN });
    // The thread here and the actor take turns under one lock.
    const mine = (async () => {
      for (let i = 0; i < 30; i++) {
        using _ = await lock.acquire();
        total.value = total.value + 1;
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    })();
    assertEquals(await a.call.add(total, 30), 30);
    await mine;
    assertEquals(total.value, 60);
    const q = new Queue<number>();
    await a.call.putAll(q, 5);
    const items: number[] = [];
    for (let i = 0; i < 5; i++) items.push(await q.get({ timeoutMs: 10_000 }));
    assertEquals(items, [0, 1, 2, 3, 4]);
  },
);
