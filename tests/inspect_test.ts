// console.log() and Deno.inspect() show each public object's class and the
// state a user cares about, read without waiting and without side effects.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import {
  Barrier,
  BoundedSemaphore,
  Condition,
  currentProcess,
  Event,
  JoinableQueue,
  Lock,
  Manager,
  Pipe,
  Pool,
  Process,
  ProcessPoolExecutor,
  Queue,
  RawValue,
  RLock,
  Semaphore,
  SimpleQueue,
  spawn,
  Supervisor,
  SynchronizedArray,
  Value,
} from "../troupe.ts";
import { Counter } from "./fixtures/actors.ts";
import { sleepy, square } from "./fixtures/pool_tasks.ts";
import { noop } from "./fixtures/tasks.ts";
import { workerTest } from "./_helpers.ts";

// On one line: Deno breaks a long object over several.
const show = (value: unknown): string => Deno.inspect(value).replace(/\s+/g, " ");
const PID = "10\\d{8}"; // a thread's pid: 1,000,000,000 plus its number in the run

workerTest("Pool prints its size, its state, its workers and its calls", async () => {
  await using pool = new Pool({ processes: 2 });
  const line = (state: string, workers: number, pending: number, completed: number) =>
    `Pool { processes: 2, state: "${state}", workers: ${workers}, pending: ${pending}, ` +
    `completed: ${completed}, failed: 0 }`;
  assertEquals(show(pool), line("running", 0, 0, 0));
  const call = pool.apply(sleepy, [50]);
  assertEquals(show(pool), line("running", 0, 1, 0));
  await call;
  assertEquals(show(pool), line("running", 1, 0, 1));
  pool.close();
  assertEquals(show(pool), line("closed", 1, 0, 1));
  pool.terminate();
  await pool.join();
  assertEquals(show(pool), line("terminated", 0, 0, 1));
});

workerTest("AsyncResult prints whether the call has finished", async () => {
  await using pool = new Pool({ processes: 1 });
  const result = pool.applyAsync(square, [3]);
  assertEquals(show(result), 'AsyncResult { state: "pending" }');
  await result.wait(10_000);
  assertEquals(show(result), 'AsyncResult { state: "fulfilled" }');
});

workerTest(
  "ProcessPoolExecutor prints its size, its state, its workers and its calls",
  async () => {
    const executor = new ProcessPoolExecutor({ maxWorkers: 2 });
    const line = (state: string, workers: number, pending: number, completed: number) =>
      `ProcessPoolExecutor { maxWorkers: 2, state: "${state}", workers: ${workers}, ` +
      `pending: ${pending}, completed: ${completed}, failed: 0 }`;
    assertEquals(show(executor), line("running", 0, 0, 0));
    const future = executor.submit(sleepy, 50);
    assertEquals(show(executor), line("running", 0, 1, 0));
    await future;
    await executor.shutdown();
    assertEquals(show(executor), line("shutdown", 0, 0, 1));
  },
);

workerTest("Process prints its name, pid, state and exit code as it runs and ends", async () => {
  const p = new Process({ target: noop, name: "Printer", daemon: true });
  assertEquals(
    show(p),
    'Process { name: "Printer", pid: undefined, state: "initial", exitCode: null, daemon: true }',
  );
  p.start();
  assertMatch(
    show(p),
    new RegExp(
      `^Process \\{ name: "Printer", pid: ${PID}, state: "started", exitCode: null, daemon: true \\}$`,
    ),
  );
  assertEquals(await p.join(10_000), 0);
  assertMatch(
    show(p),
    new RegExp(`^Process \\{ name: "Printer", pid: ${PID}, state: "stopped", exitCode: 0,`),
  );
});

workerTest("a terminated Process prints exit code -15", async () => {
  await using p = new Process({ target: noop });
  p.start();
  p.terminate();
  assertMatch(
    show(p),
    /^Process \{ name: "Process-[\d:]+", pid: \d+, state: "stopped", exitCode: -15 \}$/,
  );
});

Deno.test("the main process prints as a started process with Deno's pid", () => {
  assertEquals(
    show(currentProcess()),
    `Process { name: "MainProcess", pid: ${Deno.pid}, state: "started", exitCode: null }`,
  );
});

workerTest(
  "ActorRef prints the actor's name, pid, whether it is alive and its exit code",
  async () => {
    await using counter = await spawn(Counter, { name: "Counter-inspect" });
    assertMatch(
      show(counter),
      new RegExp(
        `^ActorRef \\{ name: "Counter-inspect", pid: ${PID}, alive: true, exitCode: null \\}$`,
      ),
    );
    await counter.stop({ timeoutMs: 5000 });
    assertMatch(
      show(counter),
      /^ActorRef \{ name: "Counter-inspect", pid: \d+, alive: false, exitCode: 0 \}$/,
    );
  },
);

workerTest("Supervisor prints its name, strategy, state and each child's state", async () => {
  const sup = new Supervisor({
    name: "Tree",
    strategy: "one_for_all",
    children: [{ id: "counter", start: () => spawn(Counter) }],
  });
  const line = (state: string, child: string) =>
    `Supervisor { name: "Tree", strategy: "one_for_all", state: "${state}", children: { counter: "${child}" } }`;
  assertEquals(show(sup), line("new", "stopped"));
  await sup.start();
  assertEquals(show(sup), line("running", "running"));
  await sup.stop();
  assertEquals(show(sup), line("stopped", "stopped"));
});

Deno.test("Queue prints its size, maxsize and whether it is closed", async () => {
  const q = new Queue<number>({ maxsize: 10 });
  assertEquals(show(q), "Queue { size: 0, maxsize: 10, closed: false }");
  await q.put(1);
  q.putNowait(2);
  assertEquals(show(q), "Queue { size: 2, maxsize: 10, closed: false }");
  await q.get();
  q.close();
  assertEquals(show(q), "Queue { size: 1, maxsize: 10, closed: true }");
});

Deno.test("SimpleQueue prints its size; JoinableQueue also its unfinished items", async () => {
  const simple = new SimpleQueue<string>();
  await simple.put("a");
  assertEquals(show(simple), "SimpleQueue { size: 1, closed: false }");
  const joinable = new JoinableQueue<string>();
  await joinable.put("a");
  await joinable.put("b");
  await joinable.get();
  assertEquals(
    show(joinable),
    "JoinableQueue { size: 1, maxsize: 0, unfinished: 2, closed: false }",
  );
  joinable.taskDone();
  assertEquals(
    show(joinable),
    "JoinableQueue { size: 1, maxsize: 0, unfinished: 1, closed: false }",
  );
  simple.close();
  joinable.close();
});

Deno.test("a Pipe's ends print which way they go, what waits to be read, and closing", async () => {
  const [left, right] = Pipe<number>();
  await left.send(1);
  await left.send(2);
  assertEquals(
    show(right),
    "Connection { readable: true, writable: true, unread: 2, closed: false }",
  );
  assertEquals(
    show(left),
    "Connection { readable: true, writable: true, unread: 0, closed: false }",
  );
  await right.recv();
  right.close();
  assertEquals(
    show(right),
    "Connection { readable: true, writable: true, unread: 1, closed: true }",
  );
  left.close();
  const [reader, writer] = Pipe<number>({ duplex: false });
  assertEquals(
    show(reader),
    "Connection { readable: true, writable: false, unread: 0, closed: false }",
  );
  assertEquals(show(writer), "Connection { readable: false, writable: true, closed: false }");
  reader.close();
  writer.close();
});

workerTest("Manager prints its name, pid and whether it runs", async () => {
  const manager = await Manager.start({ name: "Inventory" });
  assertMatch(
    show(manager),
    new RegExp(`^Manager \\{ name: "Inventory", pid: ${PID}, alive: true \\}$`),
  );
  await manager.shutdown({ timeoutMs: 5000 });
  assertMatch(show(manager), /^Manager \{ name: "Inventory", pid: \d+, alive: false \}$/);
});

workerTest(
  "a manager's proxies print their manager and object id, and ask the manager nothing",
  async () => {
    const manager = await Manager.start({ name: "Stock" });
    const proxies = {
      DictProxy: await manager.dict({ a: 1 }),
      ListProxy: await manager.list([1]),
      NamespaceProxy: await manager.namespace({ x: 1 }),
      ValueProxy: await manager.value(1),
      LockProxy: await manager.lock(),
      QueueProxy: await manager.queue(),
    };
    for (const [name, proxy] of Object.entries(proxies)) {
      assertMatch(show(proxy), new RegExp(`^${name} \\{ manager: "Stock", id: \\d+ \\}$`));
    }
    proxies.ListProxy[Symbol.dispose]();
    assertMatch(
      show(proxies.ListProxy),
      /^ListProxy \{ manager: "Stock", id: \d+, released: true \}$/,
    );
    // With the manager gone, a remote call could not answer: printing still works.
    manager.terminate();
    assertMatch(show(proxies.DictProxy), /^DictProxy \{ manager: "Stock", id: \d+ \}$/);
  },
);

Deno.test("Lock prints whether it is held and by which pid; RLock also how many times", async () => {
  const lock = new Lock();
  assertEquals(show(lock), "Lock { locked: false }");
  await lock.acquire();
  assertEquals(show(lock), `Lock { locked: true, holder: ${Deno.pid} }`);
  lock.release();
  assertEquals(show(lock), "Lock { locked: false }");
  const rlock = new RLock();
  await rlock.acquire();
  await rlock.acquire();
  assertEquals(show(rlock), `RLock { locked: true, holder: ${Deno.pid}, count: 2 }`);
  rlock.release();
  rlock.release();
  assertEquals(show(rlock), "RLock { locked: false }");
});

Deno.test("Semaphore prints its value; BoundedSemaphore also its bound", async () => {
  const sem = new Semaphore(2);
  await sem.acquire();
  assertEquals(show(sem), "Semaphore { value: 1 }");
  const bounded = new BoundedSemaphore(3);
  await bounded.acquire();
  assertEquals(show(bounded), "BoundedSemaphore { value: 2, max: 3 }");
  bounded.release();
  assertEquals(show(bounded), "BoundedSemaphore { value: 3, max: 3 }");
});

Deno.test("Event prints whether it is set", () => {
  const event = new Event();
  assertEquals(show(event), "Event { set: false }");
  event.set();
  assertEquals(show(event), "Event { set: true }");
});

Deno.test("Condition prints its lock", async () => {
  const cond = new Condition(new Lock());
  assertEquals(show(cond), "Condition { lock: Lock { locked: false } }");
  await cond.acquire();
  assertEquals(show(cond), `Condition { lock: Lock { locked: true, holder: ${Deno.pid} } }`);
  cond.release();
  assertEquals(show(new Condition()), "Condition { lock: RLock { locked: false } }");
});

Deno.test("Barrier prints its parties, how many wait and whether it is broken", async () => {
  const barrier = new Barrier(2);
  assertEquals(show(barrier), "Barrier { parties: 2, nWaiting: 0, broken: false }");
  const waiting = barrier.wait({ timeoutMs: 10_000 }).catch((error) => error);
  assertEquals(show(barrier), "Barrier { parties: 2, nWaiting: 1, broken: false }");
  barrier.abort();
  await waiting;
  assertEquals(show(barrier), "Barrier { parties: 2, nWaiting: 0, broken: true }");
});

Deno.test("Value, RawValue and SynchronizedArray print their type and contents", () => {
  const value = new Value("i32", 5);
  assertEquals(show(value), 'Value { type: "i32", value: 5 }');
  value.value = 6;
  assertEquals(show(value), 'Value { type: "i32", value: 6 }');
  assertEquals(show(new RawValue("d", 1.5)), 'RawValue { type: "f64", value: 1.5 }');
  const array = new SynchronizedArray("i32", [1, 2, 3]);
  array.set(0, 9);
  assertEquals(show(array), 'SynchronizedArray { type: "i32", array: Int32Array(3) [ 9, 2, 3 ] }');
});

Deno.test("the printed state follows Deno's options: colors and nesting", () => {
  const q = new Queue<number>({ maxsize: 3 });
  assertStringIncludes(Deno.inspect(q, { colors: true }), "maxsize: \x1b[33m3\x1b[39m");
  assertEquals(
    show({ jobs: [q] }),
    "{ jobs: [ Queue { size: 0, maxsize: 3, closed: false } ] }",
  );
  q.close();
});

Deno.test("a class's prototype prints as its bare name instead of throwing", () => {
  for (const proto of [Pool.prototype, Queue.prototype, Lock.prototype, Process.prototype]) {
    const text = show(proto);
    assert(/^\w+ \{\}$/.test(text), text);
  }
});
