import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { delay } from "@std/async";
import { _isAlive } from "../runtime/liveness.ts";
import {
  activeChildren,
  cpuCount,
  currentProcess,
  parentProcess,
  Process,
  RemoteError,
} from "../troupe.ts";
import {
  closesItself,
  collect,
  echoUpper,
  exits,
  fib,
  Greeter,
  hangs,
  noop,
  NotDeclared,
  parentOfTwo,
  rejects,
  sendArgs,
  sendsFromMicrotask,
  throws,
  throwsLater,
  tick,
  timeoutsWithoutTimers,
  whoAmI,
  WithCallback,
  workerTimers,
} from "./fixtures/tasks.ts";
import { liveWorkers, workerTest } from "./_helpers.ts";

workerTest("a target that returns ends with exitCode 0", async () => {
  const p = new Process({ target: noop });
  assertEquals(p.exitCode, null);
  p.start();
  assertEquals(await p.join(), 0);
  assertEquals(p.exitCode, 0);
  assertEquals(p.error, null);
});

workerTest("pid is undefined before start() and unique per process", async () => {
  const ps = [1, 2, 3].map(() => new Process({ target: noop }));
  assertEquals(ps.map((p) => p.pid), [undefined, undefined, undefined]);
  ps.forEach((p) => p.start());
  const pids = ps.map((p) => p.pid!);
  assertEquals(new Set([...pids, Deno.pid]).size, 4);
  for (const p of ps) await p.join();
});

workerTest("isAlive() is true while running and false after join()", async () => {
  const p = new Process({ target: hangs });
  assert(!p.isAlive(), "not alive before start()");
  p.start();
  assert(p.isAlive());
  p.terminate();
  await p.join();
  assert(!p.isAlive());
});

workerTest("names are Process-N and can be given", () => {
  const a = new Process({ target: noop });
  const b = new Process({ target: noop, name: "custom" });
  assertMatch(a.name, /^Process-\d+$/);
  assertEquals(b.name, "custom");
  const n = Number(a.name.slice("Process-".length));
  assertEquals(new Process({ target: noop }).name, `Process-${n + 2}`);
});

workerTest("start() twice is an error", async () => {
  const p = new Process({ target: noop });
  p.start();
  assertThrows(() => p.start(), Error, "already started");
  await p.join();
});

workerTest("join() before start() is an error", async () => {
  await assertRejects(() => new Process({ target: noop }).join(), Error, "before it is started");
});

workerTest("the child sees its own name and pid and its parent's", async () => {
  const p = new Process({ target: whoAmI, name: "inspector" });
  p.start();
  const seen = await p.receive<Record<string, unknown>>();
  await p.join();
  assertEquals(seen, {
    name: "inspector",
    pid: p.pid,
    alive: true,
    parent: { name: "MainProcess", pid: Deno.pid },
    isMain: false,
  });
});

workerTest("currentProcess() is MainProcess in the main thread; parentProcess() is null", () => {
  assertEquals(currentProcess().name, "MainProcess");
  assertEquals(currentProcess().pid, Deno.pid);
  assert(currentProcess().isAlive());
  assertEquals(parentProcess(), null);
  assertThrows(() => currentProcess().start(), Error, "main process");
});

workerTest("activeChildren() lists running children only", async () => {
  const p = new Process({ target: hangs });
  p.start();
  assertEquals(activeChildren(), [p]);
  p.terminate();
  await p.join();
  assertEquals(activeChildren(), []);
});

workerTest("cpuCount() is the number of logical cores", () => {
  assertEquals(cpuCount(), navigator.hardwareConcurrency);
  assertGreater(cpuCount(), 0);
});

workerTest("a subclass's run() sees its own fields in the child", async () => {
  const p = new Greeter("hi", 2);
  p.start();
  assertEquals(await p.receive(), { lines: ["hi #1", "hi #2"], name: "greeter", same: true });
  assertEquals(await p.join(), 0);
});

workerTest("an undeclared subclass fails at start() and says how to declare it", () => {
  const error = assertThrows(
    () => new NotDeclared().start(),
    TypeError,
    "was not declared with task()",
  );
  assertStringIncludes(error.message, "task(import.meta, NotDeclared)");
  assertEquals(liveWorkers(), 0);
});

workerTest("an undeclared target fails at start() and says how to declare it", () => {
  function local() {}
  const error = assertThrows(
    () => new Process({ target: local }).start(),
    TypeError,
    "function 'local'",
  );
  assertStringIncludes(error.message, "const local = task(import.meta, function local(");
});

workerTest("a process with nothing to run is refused", () => {
  assertThrows(() => new Process().start(), TypeError, "nothing to run");
});

workerTest("mailbox: send() reaches receive() in the child and back", async () => {
  const p = new Process({ target: echoUpper });
  p.start();
  p.send("hello");
  assertEquals(await p.receive(), "HELLO");
  await p.join();
});

workerTest("mailbox: for await over mailbox() sees messages in order", async () => {
  const p = new Process({ target: collect });
  p.start();
  for (let i = 0; i < 100; i++) p.send(i);
  p.send("stop");
  assertEquals(await p.receive(), Array.from({ length: 100 }, (_, i) => i));
  await p.join();
});

workerTest("receive() times out with a TimeoutError", async () => {
  const p = new Process({ target: hangs });
  p.start();
  const error = await assertRejects(() => p.receive({ timeoutMs: 20 }), DOMException);
  assertEquals(error.name, "TimeoutError");
  p.terminate();
  await p.join();
});

workerTest("send() to a process that ended is an error", async () => {
  const p = new Process({ target: noop });
  assertThrows(() => p.send(1), Error, "not started");
  p.start();
  await p.join();
  assertThrows(() => p.send(1), Error, "no longer running");
});

workerTest("arguments are structured-cloned", async () => {
  const args = [1, "two", { three: [3] }, new Map([["four", 4]]), new Date(5), new Uint8Array([6])];
  const p = new Process({ target: sendArgs, args });
  p.start();
  assertEquals(await p.receive(), args);
  await p.join();
});

workerTest("a function argument fails at start() naming its position and type", () => {
  const p = new Process({ target: sendArgs, args: [1, () => 2] });
  assertThrows(() => p.start(), TypeError, "args[1] is a function");
  assertEquals(p.pid, undefined);
  assertEquals(liveWorkers(), 0);
});

workerTest("a symbol argument fails at start() naming its position", () => {
  assertThrows(
    () => new Process({ target: sendArgs, args: [Symbol("s")] }).start(),
    TypeError,
    "args[0] is a symbol s",
  );
});

workerTest("a class instance argument fails at start() naming its class", () => {
  class Account {
    #balance = 10;
    get balance() {
      return this.#balance;
    }
  }
  const error = assertThrows(
    () => new Process({ target: sendArgs, args: ["x", { nested: [new Account()] }] }).start(),
    TypeError,
    "args[1].nested[0] is an instance of Account",
  );
  assertStringIncludes(error.message, "private fields");
});

workerTest("a subclass field that cannot be sent fails at start() naming the field", () => {
  assertThrows(() => new WithCallback().start(), TypeError, "field 'onDone' is a function");
});

workerTest("a target that throws: join() rejects with a RemoteError, exitCode 1", async () => {
  const p = new Process({ target: throws, args: ["bad input"], name: "thrower" });
  p.start();
  const error = await assertRejects(() => p.join(), RemoteError);
  assertEquals(error.processName, "thrower");
  assertEquals(error.pid, p.pid);
  assertEquals(error.remoteName, "TypeError");
  assertEquals(error.remoteMessage, "bad input");
  assertEquals(error.message, "TypeError in thrower: bad input");
  assertStringIncludes(error.remoteStack ?? "", "fixtures/tasks.ts");
  assertEquals(p.exitCode, 1);
  assertEquals(p.error, error);
});

workerTest("a target whose promise rejects ends with exitCode 1", async () => {
  const p = new Process({ target: rejects, args: ["no"] });
  p.start();
  const error = await assertRejects(() => p.join(), RemoteError, "RangeError");
  assertEquals(error.remoteMessage, "no");
  assertEquals(p.exitCode, 1);
});

workerTest("Deno.exit(3) in the child gives exitCode 3", async () => {
  const p = new Process({ target: exits, args: [3] });
  p.start();
  assertEquals(await p.join(), 3);
  assertEquals(p.error, null);
});

workerTest("self.close() in the child gives exitCode 0", async () => {
  const p = new Process({ target: closesItself });
  p.start();
  assertEquals(await p.join(), 0);
});

workerTest(
  "microtasks the target queued before it returned run before the process exits",
  async () => {
    const p = new Process({ target: sendsFromMicrotask });
    p.start();
    assertEquals(await p.join(), 0);
    assertEquals(await p.receive(), "from a microtask");
  },
);

workerTest("an error thrown from a timer after the target returned is reported", async () => {
  const p = new Process({ target: throwsLater });
  p.start();
  await assertRejects(() => p.join(), RemoteError, "thrown from a timer");
  assertEquals(p.exitCode, 1);
});

workerTest(
  "a target that never returns: join(timeout) gives null, terminate() gives -15",
  async () => {
    const p = new Process({ target: hangs });
    p.start();
    assertEquals(await p.join(50), null);
    assert(p.isAlive());
    p.terminate();
    assertEquals(await p.join(), -15);
    assertEquals(p.exitCode, -15);
  },
);

workerTest("kill() stops a child mid-work with exitCode -9", async () => {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const p = new Process({ target: tick, args: [counter] });
  p.start();
  while (Atomics.load(counter, 0) < 3) await delay(5);
  p.kill();
  assertEquals(await p.join(), -9);
  const after = Atomics.load(counter, 0);
  await delay(50);
  assertEquals(Atomics.load(counter, 0), after, "the child stopped working");
});

workerTest("terminate() on a process that ended does not change its exitCode", async () => {
  const p = new Process({ target: noop });
  p.start();
  await p.join();
  p.terminate();
  assertEquals(p.exitCode, 0);
});

workerTest("exitCode and isAlive() see an end that came while this thread was busy", async () => {
  const p = new Process({ target: exits, args: [3] });
  p.start();
  // No turn of the event loop here, so no message could tell this thread.
  const deadline = Date.now() + 10_000;
  while (p.isAlive() && Date.now() < deadline) { /* busy */ }
  assertEquals(p.isAlive(), false);
  assertEquals(p.exitCode, 3);
  assertEquals(await p.join(), 3);
});

workerTest("terminate() after an unseen end keeps the child's own exit code", async () => {
  const p = new Process({ target: exits, args: [3] });
  p.start();
  // The child marks itself ended, then reports its code; this thread stays busy meanwhile.
  const deadline = Date.now() + 10_000;
  while (_isAlive(p.pid!) && Date.now() < deadline) { /* busy */ }
  const settle = Date.now() + 20;
  while (Date.now() < settle) { /* busy */ }
  p.terminate();
  assertEquals(p.exitCode, 3);
  assertEquals(await p.join(), 3);
});

workerTest("a message sent just before the end arrives before join() resolves", async () => {
  const p = new Process({ target: sendArgs, args: ["last words"] });
  p.start();
  assertEquals(await p.join(), 0);
  assertEquals(await p.receive(), ["last words"]);
});

workerTest("a module that fails to load ends the process with exitCode 1", async () => {
  const { brokenTarget } = await import("./fixtures/broken_on_import.ts");
  const p = new Process({ target: brokenTarget });
  p.start();
  await assertRejects(() => p.join(), RemoteError, "fails in workers");
  assertEquals(p.exitCode, 1);
});

workerTest(
  "a child's children are named Process-N:M; daemons die with it, others are joined",
  async () => {
    const counter = new Int32Array(new SharedArrayBuffer(8));
    const p = new Process({ target: parentOfTwo, args: [counter] });
    p.start();
    const report = await p.receive<{ names: string[]; active: number }>();
    const n = p.name.slice("Process-".length);
    assertEquals(report, { names: [`Process-${n}:1`, `Process-${n}:2`], active: 2 });
    assertEquals(await p.join(), 0);
    assertEquals(Atomics.load(counter, 1), 20, "the non-daemon grandchild ran to completion");
    const daemonTicks = Atomics.load(counter, 0);
    await delay(60);
    assertEquals(Atomics.load(counter, 0), daemonTicks, "the daemon grandchild was terminated");
  },
);

workerTest("await using terminates a daemon process at the end of its scope", async () => {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  let outside: Process;
  {
    await using p = new Process({ target: tick, args: [counter], daemon: true });
    outside = p;
    p.start();
    while (Atomics.load(counter, 0) === 0) await delay(5);
  }
  assertEquals(outside.exitCode, -15);
  assertEquals(liveWorkers(), 0);
});

workerTest("parallel processes take about one unit, sequential ones about N", async () => {
  const n = 31;
  const measure = async () => {
    const t0 = performance.now();
    for (let i = 0; i < 2; i++) {
      const p = new Process({ target: fib, args: [n] });
      p.start();
      await p.join();
    }
    const sequential = performance.now() - t0;
    const t1 = performance.now();
    const ps = [0, 1].map(() => new Process({ target: fib, args: [n] }));
    ps.forEach((p) => p.start());
    for (const p of ps) await p.join();
    return { sequential, parallel: performance.now() - t1 };
  };
  // Generous: this machine is shared, and a busy neighbour can take a core
  // for a while, so up to three tries. Two at once should not take twice as long.
  const tries: string[] = [];
  for (let i = 0; i < 3; i++) {
    const { sequential, parallel } = await measure();
    if (parallel < sequential * 0.95) return;
    tries.push(`parallel ${parallel.toFixed(0)} ms vs sequential ${sequential.toFixed(0)} ms`);
  }
  assert(false, tries.join("; "));
});

workerTest("options are validated with clear errors", () => {
  assertThrows(() => new Process({ target: 3 as unknown as () => void }), TypeError, "got number");
  assertThrows(
    () => new Process({ target: noop, args: "x" as unknown as [] }),
    TypeError,
    "args must be an array",
  );
  assertThrows(
    () => new Process({ target: noop, permissions: { netwrk: true } as never }),
    TypeError,
    "permissions.netwrk is not a permission",
  );
});

workerTest("join() with a negative timeout is refused", async () => {
  const p = new Process({ target: noop });
  p.start();
  await assertRejects(() => p.join(-1), RangeError, "non-negative");
  await p.join();
});

workerTest("pids are unique across nested processes too", async () => {
  const p = new Process({ target: whoAmI });
  p.start();
  const { pid } = await p.receive<{ pid: number }>();
  await p.join();
  assertNotEquals(pid, Deno.pid);
  assertInstanceOf(p, Process);
});

workerTest("a child's receive() and join() timeouts work without timer calls", async () => {
  const p = new Process({ target: timeoutsWithoutTimers });
  p.start();
  const [outcomes, calls] = await p.receive<[unknown[], number]>();
  assertEquals(outcomes, ["TimeoutError", true, null, -15]);
  assertEquals(calls, 0, "timer calls made by the timeouts in the worker");
  assertEquals(await p.join(), 0);
});

workerTest("the runtime's worker timers fire, cancel, and reuse their cells", async () => {
  const p = new Process({ target: workerTimers });
  p.start();
  assertEquals(await p.receive(), { fired: ["sync", "0", "20"], waitedEnough: true, count: 200 });
  assertEquals(await p.join(), 0);
});
