import {
  assert,
  assertEquals,
  assertLess,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { deadline, delay } from "@std/async";
import {
  Barrier,
  type DictProxy,
  Empty,
  Full,
  ListProxy,
  LockHolderDiedError,
  Manager,
  ManagerStoppedError,
  Pool,
  Process,
  RemoteError,
  spawn,
} from "../troupe.ts";
import {
  addAndSquare,
  awaitItem,
  countUnderLock,
  crashHolding,
  holdLockAndEnd,
  holdUntilTold,
  ownManager,
  produce,
  pushNested,
  racingDefaults,
  readMailedDict,
  stressChild,
  type StressEnd,
  Tallier,
  timerCallsInProxyCalls,
  updateBlock,
  writeKey,
} from "./fixtures/manager_tasks.ts";
import { _objectCount } from "../sync/manager.ts";
import { liveWorkers, workerTest } from "./_helpers.ts";

async function runAll(ps: Process[]): Promise<void> {
  ps.forEach((p) => p.start());
  for (const p of ps) await p.join();
  assertEquals(ps.map((p) => p.exitCode), ps.map(() => 0));
}

workerTest(
  "scenario 8: five processes write key_i = i into a dict the parent reads back",
  async () => {
    await using manager = await Manager.start();
    const shared = await manager.dict<string, number>();
    await runAll(
      Array.from({ length: 5 }, (_, i) => new Process({ target: writeKey, args: [shared, i] })),
    );
    assertEquals(await shared.toObject(), { key_0: 0, key_1: 1, key_2: 2, key_3: 3, key_4: 4 });
  },
);

workerTest("dict proxy methods behave like Python's dict", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<string, number>({ a: 1, b: 2 });
  assertEquals(await d.get("a"), 1);
  assertEquals(await d.get("zz"), undefined);
  assertEquals(await d.get("zz", 7), 7);
  await d.set("c", 3);
  assert(await d.has("c"));
  assertEquals(await d.size(), 3);
  assertEquals(await d.length(), 3);
  assertEquals(await d.keys(), ["a", "b", "c"]);
  assertEquals(await d.values(), [1, 2, 3]);
  assertEquals(await d.entries(), [["a", 1], ["b", 2], ["c", 3]]);
  assert(await d.delete("c"));
  assert(!(await d.delete("c")));
  await d.update({ b: 20, e: 5 });
  await d.update(new Map([["f", 6]]));
  await d.update([["g", 7]]);
  assertEquals(await d.setDefault("a", 100), 1);
  assertEquals(await d.setDefault("h", 8), 8);
  assertEquals(await d.pop("h"), 8);
  assertEquals(await d.pop("h", -1), -1);
  const missing = await assertRejects(() => d.pop("h"));
  assertEquals((missing as Error).name, "KeyError");
  assertStringIncludes((missing as Error).message, '"h"');
  assertEquals(await d.toMap(), new Map([["a", 1], ["b", 20], ["e", 5], ["f", 6], ["g", 7]]));
  await d.clear();
  assertEquals(await d.toObject(), {});
});

workerTest("dict keys are primitives; an object key is refused with a clear error", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<unknown, number>();
  await d.set(1, 1);
  await d.set(2n, 2);
  assertEquals(await d.get(1), 1);
  assertEquals(await d.get("1"), undefined);
  await assertRejects(() => d.set({ id: 1 }, 3), TypeError, "keys must be strings");
});

workerTest(
  "calls made together are each answered: values, undefined, errors and proxies",
  async () => {
    await using manager = await Manager.start();
    const d = await manager.dict<string, unknown>({ n: 1, text: "x".repeat(1000), zero: -0 });
    const l = await manager.list<number>([7]);
    await d.set("list", l);
    const [n, missing, text, zero, failed, nested, map] = await Promise.all([
      d.get("n"),
      d.get("missing"),
      d.get("text"),
      d.get("zero"),
      d.pop("missing").catch((e: Error) => e.name),
      d.get("list"),
      d.toMap(),
    ]);
    assertEquals(n, 1);
    assertEquals(missing, undefined);
    assertEquals((text as string).length, 1000);
    assert(Object.is(zero, -0));
    assertEquals(failed, "KeyError");
    assert(nested instanceof ListProxy);
    assertEquals(await nested.get(0), 7);
    assertEquals(map.size, 4);
  },
);

workerTest("list proxy methods behave like Python's list", async () => {
  await using manager = await Manager.start();
  const l = await manager.list<number>([1, 2, 3]);
  assertEquals(await l.get(0), 1);
  assertEquals(await l.get(-1), 3);
  const outOfRange = await assertRejects(() => l.get(3));
  assertEquals((outOfRange as Error).name, "IndexError");
  await l.set(-1, 30);
  assertEquals(await l.push(4, 5), 5);
  assertEquals(await l.pop(), 5);
  assertEquals(await l.pop(0), 1);
  await l.insert(0, 0);
  await l.insert(100, 99);
  await l.extend([7, 8]);
  assertEquals(await l.toArray(), [0, 2, 30, 4, 99, 7, 8]);
  assertEquals(await l.slice(1, 3), [2, 30]);
  assertEquals(await l.index(99), 4);
  await l.remove(99);
  assertEquals(await l.length(), 6);
  const notThere = await assertRejects(() => l.index(99));
  assertEquals((notThere as Error).name, "ValueError");
  await l.clear();
  const empty = await assertRejects(() => l.pop());
  assertEquals((empty as Error).name, "IndexError");
});

workerTest("list remove() and index() compare items by content", async () => {
  await using manager = await Manager.start();
  const l = await manager.list<{ id: number; tags: string[] }>();
  await l.push({ id: 1, tags: ["a"] }, { id: 2, tags: ["b"] });
  assertEquals(await l.index({ id: 2, tags: ["b"] }), 1);
  await l.remove({ id: 1, tags: ["a"] });
  assertEquals(await l.toArray(), [{ id: 2, tags: ["b"] }]);
});

workerTest("namespace fields and values with atomic add and compareAndSet", async () => {
  await using manager = await Manager.start();
  const ns = await manager.namespace<{ x: number; label: string }>({ x: 1 });
  await ns.set("label", "ok");
  assertEquals(await ns.get("x"), 1);
  assertEquals(await ns.toObject(), { x: 1, label: "ok" });
  const n = await manager.value(10);
  assertEquals(await n.add(5), 15);
  assert(await n.compareAndSet(15, 0));
  assert(!(await n.compareAndSet(15, 1)));
  assertEquals(await n.get(), 0);
  const big = await manager.value(1n);
  assertEquals(await big.add(2n), 3n);
  const text = await manager.value("a");
  await assertRejects(() => text.add(1 as never), TypeError, "adds a number to a number");
});

workerTest(
  "nested proxies: a list stored in a dict arrives in a child as a usable proxy",
  async () => {
    await using manager = await Manager.start();
    const d = await manager.dict<string, ListProxy<string>>();
    const l = await manager.list<string>(["parent"]);
    await d.set("log", l);
    const back = await d.get("log");
    assert(back instanceof ListProxy);
    await runAll(
      ["a", "b", "c"].map((tag) => new Process({ target: pushNested, args: [d, "log", tag] })),
    );
    assertEquals((await l.toArray()).sort(), ["a", "b", "c", "parent"]);
    assertEquals(await back.length(), 4);
  },
);

workerTest("a dict stored in a dict comes back as a dict proxy to the same object", async () => {
  await using manager = await Manager.start();
  const outer = await manager.dict<string, DictProxy<string, number>>();
  const inner = await manager.dict<string, number>();
  await outer.set("inner", inner);
  await (await outer.get("inner"))!.set("x", 1);
  assertEquals(await inner.get("x"), 1);
  // Inside a plain structure, too.
  const l = await manager.list<{ ref: DictProxy<string, number> }>();
  await l.push({ ref: inner });
  assertEquals(await (await l.get(0)).ref.get("x"), 1);
});

workerTest("proxies travel in pool tasks", async () => {
  await using manager = await Manager.start();
  const total = await manager.value(0);
  await using pool = new Pool({ processes: 2 });
  const squares = await pool.starmap(addAndSquare, [1, 2, 3, 4, 5, 6].map((x) => [total, x]));
  assertEquals(squares, [1, 4, 9, 16, 25, 36]);
  assertEquals(await total.get(), 21);
});

workerTest("proxies travel to actors, in spawn args and in call args", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<string, number>();
  const other = await manager.dict<string, number>();
  await using tallier = await spawn(Tallier, { args: [d] });
  assertEquals(await tallier.call.tally("x"), 1);
  assertEquals(await tallier.call.tally("x"), 2);
  await tallier.call.tallyInto(other, "x");
  assertEquals(await d.get("x"), 3);
  assertEquals(await other.get("x"), 3);
  // And back: a proxy an actor returns works here.
  const returned = await tallier.call.source();
  await returned.set("y", 1);
  assertEquals(await d.get("y"), 1);
});

workerTest("a proxy sent in a message to a running process works there", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<string, number>({ x: 42 });
  const p = new Process({ target: readMailedDict });
  p.start();
  p.send(d);
  assertEquals(await p.receive(), 42);
  await p.join();
});

workerTest("4 processes counting under the manager lock lose no update", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<string, number>({ count: 0 });
  const lock = await manager.lock();
  const start = new Barrier(4);
  await runAll(
    Array.from(
      { length: 4 },
      () => new Process({ target: countUnderLock, args: [d, lock, 25, start] }),
    ),
  );
  assertEquals(await d.get("count"), 100);
  assert(!(await lock.locked()));
});

workerTest(
  "without the lock, the same read-modify-write loses updates (the race is real)",
  async () => {
    await using manager = await Manager.start();
    const d = await manager.dict<string, number>({ count: 0 });
    const start = new Barrier(4);
    await runAll(
      Array.from(
        { length: 4 },
        () => new Process({ target: countUnderLock, args: [d, null, 25, start] }),
      ),
    );
    assertLess(await d.get("count") as number, 100);
  },
);

workerTest("setDefault is atomic: racing processes all see the one value stored", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<string, string>();
  const seen = await manager.list<string>();
  const start = new Barrier(4);
  await runAll(
    ["p0", "p1", "p2", "p3"].map((me) =>
      new Process({ target: racingDefaults, args: [d, seen, me, 20, start] })
    ),
  );
  const final = await d.toObject();
  const views = await seen.toArray();
  assertEquals(views.length, 80);
  for (const view of views) {
    const [key, value] = view.split("=");
    assertEquals(value, final[key], `${key}: a process saw ${value}, the dict holds ${final[key]}`);
  }
});

workerTest("update is atomic: every key ends with the same writer's block", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<string, string>();
  const start = new Barrier(4);
  await runAll(
    ["p0", "p1", "p2", "p3"].map((me) =>
      new Process({ target: updateBlock, args: [d, me, 50, start] })
    ),
  );
  const values = new Set(await d.values());
  assertEquals(await d.size(), 50);
  assertEquals(values.size, 1, `mixed blocks: ${[...values].join(", ")}`);
});

workerTest("lock.acquire() times out and takes an abort signal", async () => {
  await using manager = await Manager.start();
  const lock = await manager.lock();
  const guard = await lock.acquire();
  const timedOut = await assertRejects(() => lock.acquire({ timeoutMs: 30 }));
  assertEquals((timedOut as Error).name, "TimeoutError");
  const controller = new AbortController();
  const waiting = lock.acquire({ signal: controller.signal });
  controller.abort(new Error("gave up"));
  await assertRejects(() => waiting, Error, "gave up");
  await guard.release();
  // The abandoned wait did not take the lock.
  await (await lock.acquire({ timeoutMs: 1000 })).release();
  await assertRejects(() => lock.release(), Error, "not held");
});

workerTest("a lock whose holder dies is reported to waiters, and release() frees it", async () => {
  await using manager = await Manager.start();
  const lock = await manager.lock();
  const holder = new Process({ target: holdLockAndEnd, args: [lock] });
  holder.start();
  assertEquals(await holder.receive(), "held");
  const waiting = lock.acquire();
  holder.terminate();
  await holder.join();
  const error = await assertRejects(() => waiting, LockHolderDiedError);
  assertEquals((error as LockHolderDiedError).holderPid, holder.pid);
  await lock.release();
  await (await lock.acquire({ timeoutMs: 1000 })).release();
});

workerTest("a queue carries items from a producer process, in order", async () => {
  await using manager = await Manager.start();
  const q = await manager.queue<number | null>({ maxsize: 3 });
  const p = new Process({ target: produce, args: [q, 20] });
  p.start();
  const got: number[] = [];
  for (let item = await q.get(); item !== null; item = await q.get()) got.push(item);
  await p.join();
  assertEquals(got, Array.from({ length: 20 }, (_, i) => i));
  await assertRejects(() => q.get({ block: false }), Empty, "queue.get(): the queue is empty");
  const timedOut = await assertRejects(() => q.get({ timeoutMs: 20 }));
  assertEquals((timedOut as Error).name, "TimeoutError");
  for (let i = 0; i < 3; i++) await q.put(i);
  assert(await q.full());
  await assertRejects(() => q.put(9, { block: false }), Full, "the queue is full (maxsize 3)");
});

workerTest(
  "calls run in the order they were made, whether they go by shared memory or by port",
  async () => {
    await using a = await Manager.start();
    await using b = await Manager.start();
    const log = await a.list<unknown>();
    const other = await b.list<number>([1]);
    // A proxy of another manager carries a port, so its call goes by port; the
    // plain calls around it go through the connection's pipe. Each call in its
    // own tick, so each travels in its own message.
    const calls: Promise<unknown>[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 20; i++) {
      calls.push(log.push(i));
      await null;
      calls.push(log.push(other));
      await null;
      expected.push("number", "proxy");
    }
    await Promise.all(calls);
    const kinds = (await log.toArray()).map((x) => typeof x === "number" ? "number" : "proxy");
    assertEquals(kinds, expected);
  },
);

workerTest("a call the port cannot send fails alone; the calls after it are served", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<string, unknown>();
  const { port1, port2 } = new MessageChannel();
  await d.set("port", port1); // transferred: port1 is gone from here
  await assertRejects(() => d.set("again", port1), TypeError, "could not be sent");
  await deadline(d.set("n", 7), 5000);
  assertEquals(await deadline(d.get("n"), 5000), 7);
  port2.close();
});

workerTest("a call after shutdown() fails with an error naming the manager", async () => {
  const manager = await Manager.start({ name: "Inventory" });
  const d = await manager.dict<string, number>();
  await manager.shutdown();
  assert(!manager.isAlive());
  const error = await assertRejects(() => d.get("a"), ManagerStoppedError);
  assertStringIncludes(error.message, "Inventory was shut down");
  assertStringIncludes(error.message, "dict.get()");
  assertEquals(error.manager, "Inventory");
  // Nor can its proxies be sent any more.
  const p = new Process({ target: writeKey, args: [d, 1] });
  assertStringIncludes(
    (() => {
      try {
        p.start();
        return "started";
      } catch (e) {
        return (e as Error).message;
      }
    })(),
    "Inventory, which was shut down",
  );
});

workerTest("terminating the manager fails the calls waiting on it, in every process", async () => {
  const manager = await Manager.start({ name: "Doomed" });
  const q = await manager.queue<string>();
  const child = new Process({ target: awaitItem, args: [q] });
  child.start();
  assertEquals(await child.receive(), "waiting");
  const waiting = q.get();
  await delay(20);
  manager.terminate();
  const error = await assertRejects(() => waiting, ManagerStoppedError);
  assertStringIncludes(error.message, "Doomed");
  const report = await child.receive<string>();
  assertStringIncludes(report, "ManagerStoppedError");
  assertStringIncludes(report, "Doomed has ended");
  await child.join();
});

workerTest("shutdown() fails the calls other processes are waiting on", async () => {
  const manager = await Manager.start({ name: "Closing" });
  const q = await manager.queue<string>();
  const child = new Process({ target: awaitItem, args: [q] });
  child.start();
  assertEquals(await child.receive(), "waiting");
  await delay(20);
  await manager.shutdown();
  const report = await child.receive<string>();
  assertStringIncludes(report, "ManagerStoppedError");
  assertStringIncludes(report, "Closing was shut down");
  await child.join();
});

workerTest(
  "a manager that ends with the process that started it fails calls, not hangs",
  async () => {
    const child = new Process({ target: ownManager });
    child.start();
    const d = await child.receive<DictProxy<string, number>>();
    assertEquals(await d.get("a"), 1);
    child.terminate();
    await child.join();
    const error = await assertRejects(() => d.get("a"), ManagerStoppedError);
    assertStringIncludes(error.message, "ChildManager");
  },
);

workerTest("await using shuts the manager down and leaves no worker", async () => {
  let d: DictProxy<string, number>;
  {
    await using manager = await Manager.start();
    d = await manager.dict<string, number>();
    await d.set("a", 1);
    assertEquals(liveWorkers(), 1);
  }
  assertEquals(liveWorkers(), 0);
  await assertRejects(() => d.get("a"), ManagerStoppedError);
});

workerTest("a manager with permissions 'none' serves proxies in other processes", async () => {
  await using manager = await Manager.start({ permissions: "none" });
  const d = await manager.dict<string, number>();
  // The writers have no permissions either: a proxy needs none.
  await runAll(
    [0, 1].map((i) => new Process({ target: writeKey, args: [d, i], permissions: "none" })),
  );
  assertEquals(await d.toObject(), { key_0: 0, key_1: 1 });
});

workerTest("bad arguments get clear errors", async () => {
  await assertRejects(() => Manager.start(null as never), TypeError, "options must be an object");
  await using manager = await Manager.start();
  await assertRejects(() => manager.queue({ maxsize: -1 }), RangeError, "maxsize");
  await assertRejects(() => manager.dict(5 as never), TypeError, "manager.dict() initial");
  const l = await manager.list<number>();
  await assertRejects(() => l.get(1.5), TypeError, "integer index");
  const d = await manager.dict<string, unknown>();
  await assertRejects(() => d.set("f", () => 1), TypeError, "cannot be sent");
  const lock = await manager.lock();
  await assertRejects(() => lock.acquire({ timeoutMs: -1 }), RangeError, "timeoutMs");
});

workerTest("an error in a child's use of a proxy reaches the parent as a RemoteError", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<string, ListProxy<string>>();
  const p = new Process({ target: pushNested, args: [d, "missing", "x"] });
  p.start();
  await assertRejects(() => p.join(), RemoteError, "no list under missing");
});

// ---- lifetimes ------------------------------------------------------------------

/** Waits until `manager` holds `count` objects; fails with the last count after `timeoutMs`. */
async function untilCount(manager: Manager, count: number, timeoutMs = 5000): Promise<void> {
  const end = performance.now() + timeoutMs;
  let now = await _objectCount(manager);
  while (now !== count) {
    if (performance.now() > end) {
      throw new Error(
        `${manager.name} still holds ${now} objects after ${timeoutMs} ms, not ${count}`,
      );
    }
    await delay(10);
    now = await _objectCount(manager);
  }
}

workerTest("an object is freed when its only proxy is disposed", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<string, number>({ a: 1 });
  const l = await manager.list<number>();
  assertEquals(await _objectCount(manager), 2);
  d[Symbol.dispose]();
  d[Symbol.dispose](); // a second time does nothing
  assertEquals(await _objectCount(manager), 1);
  {
    using _scratch = await manager.queue<number>();
    assertEquals(await _objectCount(manager), 2);
  }
  assertEquals(await _objectCount(manager), 1);
  await l.push(1);
});

workerTest("a released proxy rejects calls, naming itself, and cannot be sent", async () => {
  await using manager = await Manager.start({ name: "Inventory" });
  const d = await manager.dict<string, number>();
  d[Symbol.dispose]();
  const error = await assertRejects(() => d.get("a"));
  assertStringIncludes(
    (error as Error).message,
    "dict.get(): this DictProxy (object 1 of Inventory)",
  );
  assertStringIncludes((error as Error).message, "was released");
  const holder = await manager.dict<string, unknown>();
  await assertRejects(() => holder.set("d", d), TypeError, "was released; it cannot travel");
  assertThrows(
    () => new Process({ target: writeKey, args: [d, 1] }).start(),
    TypeError,
    "released",
  );
});

workerTest(
  "a proxy sent to a child keeps its object while the child holds it, after the creator let go",
  async () => {
    await using manager = await Manager.start();
    const d = await manager.dict<string, number>();
    const child = new Process({ target: holdUntilTold, args: [d] });
    child.start();
    assertEquals(await child.receive(), "holding");
    d[Symbol.dispose]();
    assertEquals(await _objectCount(manager), 1);
    child.send("go");
    assertEquals(await child.receive(), "done"); // it wrote to the dict again
    await child.join();
    assertEquals(child.exitCode, 0);
    await untilCount(manager, 0);
  },
);

workerTest("a child that crashes holding a proxy gives its references back", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<string, number>();
  const child = new Process({ target: crashHolding, args: [d] });
  child.start();
  assertEquals(await child.receive(), "holding");
  d[Symbol.dispose]();
  assertEquals(await _objectCount(manager), 1);
  child.send("crash");
  await assertRejects(() => child.join(), RemoteError, "crashed on purpose");
  await untilCount(manager, 0);
});

workerTest("a proxy sent to a process that ends before it arrives is given back", async () => {
  await using manager = await Manager.start();
  const inArgs = await manager.dict<string, number>();
  const mailed = await manager.dict<string, number>();
  // Terminated while its worker still starts: it never revives its args or its mail.
  const child = new Process({ target: writeKey, args: [inArgs, 1] });
  child.start();
  child.send(mailed);
  child.terminate();
  inArgs[Symbol.dispose]();
  mailed[Symbol.dispose]();
  await child.join();
  await untilCount(manager, 0);
  // A message that cannot be sent takes nothing on its way.
  const more = await manager.dict<string, number>();
  assertThrows(() => child.send(more), Error, "no longer running");
  more[Symbol.dispose]();
  assertEquals(await _objectCount(manager), 0);
});

workerTest(
  "proxies that went through pool tasks and actors are freed once all let go",
  async () => {
    await using manager = await Manager.start();
    const total = await manager.value(0);
    const d = await manager.dict<string, number>();
    const other = await manager.dict<string, number>();
    {
      await using pool = new Pool({ processes: 2 });
      await pool.starmap(addAndSquare, [1, 2, 3].map((x) => [total, x]));
      await using tallier = await spawn(Tallier, { args: [d] });
      await tallier.call.tallyInto(other, "x");
      using returned = await tallier.call.source();
      total[Symbol.dispose]();
      d[Symbol.dispose]();
      other[Symbol.dispose]();
      // The actor's reference, and the one it returned, keep the dict.
      assertEquals(await tallier.call.tally("x"), 2);
      assertEquals(await returned.get("x"), 2);
    }
    await untilCount(manager, 0);
  },
);

workerTest(
  "garbage-collected proxies give their references back (main thread and worker)",
  async () => {
    const script = new URL("./fixtures/manager_gc.ts", import.meta.url).pathname;
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--v8-flags=--expose-gc", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    assertEquals(code, 0, out);
    // 50 dicts nobody kept, then one only a (still running) worker had held.
    assertEquals(JSON.parse(out), {
      created: 51,
      mainCollected: 1,
      workerCollected: 1,
      childAlive: true,
      kept: 1,
    });
  },
);

workerTest(
  "a proxy stored in another object is held by it until removed, overwritten or freed with it",
  async () => {
    await using manager = await Manager.start();
    const d = await manager.dict<string, unknown>();
    {
      using l = await manager.list<number>([1]);
      await d.set("list", l);
      await d.set("same list", l);
    }
    assertEquals(await _objectCount(manager), 2); // the dict holds the list
    // Overwritten once: the other entry still holds it.
    await d.set("list", "replaced");
    assertEquals(await _objectCount(manager), 2);
    // Popped: the proxy that comes back holds it now.
    const popped = await d.pop("same list") as ListProxy<number>;
    assertEquals(await _objectCount(manager), 2);
    assertEquals(await popped.get(0), 1);
    popped[Symbol.dispose]();
    assertEquals(await _objectCount(manager), 1);
    // Nested two deep, in a queue item: freed with its container.
    {
      using q = await manager.queue<unknown>();
      using inner = await manager.value(5);
      using outer = await manager.list<unknown>([{ inner }]);
      await q.put([outer]);
    }
    assertEquals(await _objectCount(manager), 1);
    // Freeing the dict frees what it held.
    {
      using ns = await manager.namespace({ x: 1 });
      await d.set("ns", ns);
    }
    d[Symbol.dispose]();
    assertEquals(await _objectCount(manager), 0);
  },
);

workerTest(
  "stress: sends, disposes and crashes leave no object behind, and no call finds one freed",
  async () => {
    await using manager = await Manager.start();
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const ends: StressEnd[] = ["return", "throw", "exit", "wait"];
    for (let round = 0; round < 6; round++) {
      const d = await manager.dict<string, unknown>();
      const l = await manager.list<string>();
      const children: { p: Process; me: string; end: StressEnd; killAfterMs: number | null }[] = [];
      for (let i = 0; i < 4; i++) {
        const me = `r${round}c${i}`;
        const end = ends[Math.floor(random() * ends.length)];
        const p = new Process({ target: stressChild, args: [d, l, me, end] });
        p.start();
        const mailed = await manager.list<string>();
        p.send(mailed);
        mailed[Symbol.dispose](); // while it is on its way
        // Some are terminated at a random moment: before their proxies arrive, or while in use.
        const killAfterMs = random() < 0.3 ? Math.floor(random() * 30) : null;
        children.push({ p, me, end, killAfterMs });
      }
      const letGoEarly = random() < 0.5;
      if (letGoEarly) {
        d[Symbol.dispose]();
        l[Symbol.dispose]();
      }
      await Promise.all(children.map(async ({ p, me, end, killAfterMs }) => {
        if (killAfterMs !== null) {
          await delay(killAfterMs);
          p.terminate();
          await p.join().catch(() => {}); // it may have crashed first
        } else {
          const back = await p.receive<ListProxy<string>>({ timeoutMs: 10_000 });
          assertEquals(await back.toArray(), [me]); // the list mailed to it
          back[Symbol.dispose]();
          if (end === "wait") p.terminate();
          const joined = await p.join().then(() => "ok", (e: Error) => e.message);
          const expected = { return: 0, throw: 1, exit: 3, wait: -15 }[end];
          assertEquals(p.exitCode, expected, `${p.name} (${end}): ${joined}`);
          if (end === "throw") assertStringIncludes(joined, "crashed on purpose");
        }
        // What a terminated child sent before it ended is revived here: let go of it too.
        for (;;) {
          const left = await p.receive<ListProxy<string>>({ timeoutMs: 0 }).catch(() => null);
          if (left === null) break;
          left[Symbol.dispose]();
        }
      }));
      if (!letGoEarly) {
        const finished = children.filter((c) => c.killAfterMs === null).map((c) => c.me);
        for (const me of finished) assert((await l.toArray()).includes(me), me);
        d[Symbol.dispose]();
        l[Symbol.dispose]();
      }
    }
    await untilCount(manager, 0, 10_000);
  },
);

workerTest("a proxy stored twice in one value comes back as one proxy, counted once", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<string, { a: ListProxy<number>; b: ListProxy<number> }>();
  const l = await manager.list<number>([1]);
  await d.set("pair", { a: l, b: l });
  const pair = await d.get("pair");
  assert(pair !== undefined);
  assert(pair.a instanceof ListProxy);
  assert(pair.a === pair.b, "both places hold the same proxy");
  assertEquals(await pair.b.toArray(), [1]);
  l[Symbol.dispose]();
  pair.a[Symbol.dispose]();
  await d.delete("pair");
  assertEquals(await _objectCount(manager), 1, "the list went with its last reference");
});

workerTest(
  "a worker's proxy calls make no timer calls (its first would cost milliseconds)",
  async () => {
    await using manager = await Manager.start();
    const d = await manager.dict<string, number>();
    const p = new Process({ target: timerCallsInProxyCalls, args: [d] });
    p.start();
    assertEquals(await p.receive(), 0);
    assertEquals(await p.join(), 0);
    assertEquals(await d.get("a"), 1);
  },
);
