// The "spawn" start method: children that are OS processes of their own.
// Each test reads /proc to see what the operating system says, not what
// Troupe believes.
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { delay } from "@std/async";
import {
  CancelledError,
  getContext,
  getStartMethod,
  JoinableQueue,
  Lock,
  Manager,
  Pool,
  Process,
  ProcessPoolExecutor,
  Queue,
  RemoteError,
  setStartMethod,
  spawn,
  Supervisor,
} from "../troupe.ts";
import { writeKey } from "./fixtures/manager_tasks.ts";
import {
  attacks,
  consumes,
  drains,
  echo,
  exitsWith,
  fails,
  forgesState,
  Grower,
  hog,
  killsItself,
  osPid,
  produces,
  spin,
  square,
  startsGrandchild,
  stopsItself,
  takes,
  takesOnRequest,
  triesSync,
  whoAmI,
  writesAtExit,
  writesGarbage,
} from "./fixtures/spawn_tasks.ts";
import { runScript, until, workerTest } from "./_helpers.ts";
import {
  _chunk,
  _ChunkReader,
  _resolutionFlags,
  _whole,
  _writeChunked,
} from "../runtime/os_process.ts";
import { _ownArgv } from "../runtime/permissions.ts";

/** Whether the OS has a live (not zombie) process `pid`. */
function osAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** The command name the OS has for `pid`. */
function osName(pid: number): string {
  return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
}

// ---- the process contract ------------------------------------------------------------------

workerTest("spawn: a child is an OS process, and its pid is its OS pid", async () => {
  const p = new Process({ target: whoAmI, startMethod: "spawn" });
  p.start();
  assert(osAlive(p.pid!), "the OS has the child's pid");
  // On Linux the pid is setpriv's for the instant before it executes deno (see docs/start-methods.md).
  await until(() => osName(p.pid!) === "deno", "the child's pid to be deno's", 5_000);
  assert(p.pid !== Deno.pid);
  const seen = await p.receive<{ pid: number; osPid: number; name: string; parentPid: number }>();
  assertEquals(seen, { pid: p.pid!, osPid: p.pid!, name: p.name, parentPid: Deno.pid });
  assertEquals(await p.join(), 0);
  assert(!osAlive(p.pid!), "gone once joined");
});

workerTest("spawn: mail goes both ways and the child ends when asked", async () => {
  await using p = new Process({ target: echo, startMethod: "spawn" });
  p.start();
  for (let i = 0; i < 50; i++) p.send(i);
  const got: number[] = [];
  for (let i = 0; i < 50; i++) got.push(await p.receive<number>());
  assertEquals(got, Array.from({ length: 50 }, (_, i) => i * 2));
  // Large messages cross in chunks and come back whole.
  const big = "x".repeat(300_000);
  p.send(big.length);
  assertEquals(await p.receive(), 600_000);
  p.send("stop");
  assertEquals(await p.join(), 0);
});

workerTest("spawn: kill() stops a child spinning in synchronous code, and it is gone", async () => {
  const p = new Process({ target: spin, startMethod: "spawn", permissions: "none" });
  p.start();
  assertEquals(await p.join(300), null);
  assert(osAlive(p.pid!));
  p.kill();
  assertEquals(await p.join(), -9);
  assertEquals(p.exitCode, -9);
  assert(!osAlive(p.pid!), "the OS process is gone when join() resolves");
});

workerTest("spawn: terminate() sends SIGTERM, and the exit code is -15", async () => {
  const p = new Process({ target: spin, startMethod: "spawn" });
  p.start();
  await delay(100);
  p.terminate();
  assertEquals(await p.join(), -15);
  assert(!osAlive(p.pid!));
});

workerTest("spawn: an error arrives with the child's stack, and Deno.exit(n) is n", async () => {
  const p = new Process({ target: fails, args: ["bad input"], startMethod: "spawn" });
  p.start();
  const error = await assertRejects(() => p.join(), RemoteError);
  assertMatch(error.message, /RangeError.*bad input|bad input/);
  assertMatch(String((error.cause as Error).stack), /spawn_tasks\.ts/);
  assertEquals(p.exitCode, 1);
  const q = new Process({ target: exitsWith, args: [7], startMethod: "spawn" });
  q.start();
  assertEquals(await q.join(), 7);
});

workerTest("spawn: out of memory ends that child alone, named with its limit", async () => {
  const p = new Process({ target: hog, startMethod: "spawn", memoryLimitMb: 64 });
  p.start();
  const error = await assertRejects(() => p.join(), RemoteError);
  assertMatch(error.message, /out of memory/);
  assertMatch(error.message, /64 MB/);
  assertEquals((error.cause as Error).name, "MemoryError");
  assert(p.exitCode !== null && p.exitCode !== 0);
  assert(!osAlive(p.pid!));
  // The parent goes on.
  const q = new Process({ target: whoAmI, startMethod: "spawn" });
  q.start();
  await q.receive();
  assertEquals(await q.join(), 0);
});

// ---- the sandbox --------------------------------------------------------------------------

workerTest("spawn: a child with no permissions reaches nothing outside itself", async () => {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, "secret");
    const p = new Process({
      target: attacks,
      args: [Deno.pid, file],
      startMethod: "spawn",
      permissions: "none",
    });
    p.start();
    const tried = await p.receive<Record<string, string>>();
    await p.join();
    for (const name of ["read", "write", "env", "run", "net", "ffi", "sys"]) {
      assertEquals(tried[name], "NotCapable", `${name}: ${tried[name]}`);
    }
    assertEquals(tried["kill parent"], "NotCapable");
    assertEquals(tried["stop parent"], "NotCapable");
    assertEquals(await Deno.readTextFile(file), "secret");
    // What it did to its own copy of the run's state changed nothing here.
    const q = new Process({ target: whoAmI, startMethod: "spawn" });
    q.start();
    await q.receive();
    await q.join();
  } finally {
    await Deno.remove(file);
  }
});

workerTest("spawn: a child gets exactly the permissions asked", async () => {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, "secret");
    const p = new Process({
      target: attacks,
      args: [Deno.pid, file],
      startMethod: "spawn",
      permissions: { read: [file] },
    });
    p.start();
    const tried = await p.receive<Record<string, string>>();
    await p.join();
    assertEquals(tried.read, "allowed");
    assertEquals(tried.write, "NotCapable");
    assertEquals(tried.env, "NotCapable");
  } finally {
    await Deno.remove(file);
  }
});

workerTest("spawn: a child that kills itself ends alone", async () => {
  const p = new Process({ target: killsItself, startMethod: "spawn", permissions: "none" });
  p.start();
  assertEquals(await p.join(), -9);
  // This program is alive to say so, and goes on starting children.
  const q = new Process({ target: whoAmI, startMethod: "spawn" });
  q.start();
  await q.receive();
  assertEquals(await q.join(), 0);
});

workerTest(
  "spawn: a child that freezes itself freezes nothing else, and kill() still ends it",
  async () => {
    const p = new Process({ target: stopsItself, startMethod: "spawn", permissions: "none" });
    p.start();
    assertEquals(await p.receive(), "stopping");
    await until(
      () => /^\d+ \(.*\) T /.test(Deno.readTextFileSync(`/proc/${p.pid}/stat`)),
      "it stopped",
    );
    // The parent's event loop runs: timers fire, other children answer.
    await delay(20);
    const q = new Process({ target: whoAmI, startMethod: "spawn" });
    q.start();
    await q.receive();
    await q.join();
    p.kill();
    assertEquals(await p.join(), -9);
    assert(!osAlive(p.pid!));
  },
);

workerTest(
  "spawn: a child that forges the run's shared state changes only its own copy",
  async () => {
    const p = new Process({ target: forgesState, startMethod: "spawn", permissions: "none" });
    p.start();
    assert((await p.receive<number>()) > 0, "it found words to write");
    await p.join();
    // Pids stay unique, and new children and pools work.
    const ps = [1, 2, 3].map(() => new Process({ target: whoAmI, startMethod: "spawn" }));
    for (const q of ps) q.start();
    const seen = await Promise.all(ps.map((q) => q.receive<{ pid: number }>()));
    assertEquals(new Set(seen.map((s) => s.pid)).size, 3);
    for (const q of ps) await q.join();
    await using pool = new Pool({ processes: 1 });
    assertEquals(await pool.apply(square, [4]), 16);
  },
);

workerTest(
  "spawn pool: an idle worker exits by itself on close and terminate, gone by join(); a busy one is killed",
  async () => {
    const dir = Deno.makeTempDirSync();
    try {
      // close(): the worker's stdin ends, and it exits as a program does (its unload runs).
      const closed = new Pool({ processes: 1, startMethod: "spawn" });
      const pid = await closed.apply(writesAtExit, [`${dir}/closed`]);
      closed.close();
      await closed.join();
      assert(!osAlive(pid), "gone when join() resolves");
      assertEquals(Deno.readTextFileSync(`${dir}/closed`), `${pid}`);
      // terminate() (await using) of an idle worker: the same.
      let idlePid: number;
      {
        await using idle = new Pool({ processes: 1, startMethod: "spawn" });
        idlePid = await idle.apply(writesAtExit, [`${dir}/terminated`]);
      }
      assert(!osAlive(idlePid), "gone when the pool is disposed");
      assertEquals(Deno.readTextFileSync(`${dir}/terminated`), `${idlePid}`);
      // terminate() of a worker in the middle of a task: killed, so its unload never runs.
      const busy = new Pool({ processes: 1, startMethod: "spawn" });
      const busyPid = await busy.apply(writesAtExit, [`${dir}/busy`]);
      const spinning = busy.apply(spin, []).catch((e) => e);
      await delay(200);
      busy.terminate();
      await busy.join();
      assert(await spinning instanceof Error, "the running task fails");
      assert(!osAlive(busyPid), "killed, and gone");
      assertThrows(() => Deno.statSync(`${dir}/busy`), Deno.errors.NotFound);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

workerTest("spawn: a child that writes forged frames is ended, and a pool goes on", async () => {
  const p = new Process({ target: writesGarbage, startMethod: "spawn", permissions: "none" });
  p.start();
  const error = await assertRejects(() => p.join(), RemoteError);
  assertMatch(error.message, /could not be read/);
  assert(!osAlive(p.pid!));
  await using pool = new Pool({ processes: 1, startMethod: "spawn" });
  await assertRejects(() => pool.apply(writesGarbage, []), Error, "could not be read");
  assertEquals(await pool.apply(square, [5]), 25);
});

// ---- channels across the OS boundary -------------------------------------------------------

workerTest(
  "spawn: producers in OS processes and in a thread share one JoinableQueue, each item once, in order",
  async () => {
    const q = new JoinableQueue<[string, number]>();
    const n = 300;
    const producers = [
      new Process({ target: produces, args: [q, "spawn-a", 0, n], startMethod: "spawn" }),
      new Process({ target: produces, args: [q, "spawn-b", 0, n], startMethod: "spawn" }),
      new Process({ target: produces, args: [q, "thread", 0, n] }),
    ];
    const consumer = new Process({ target: consumes, args: [q, 3 * n], startMethod: "spawn" });
    for (const p of [...producers, consumer]) p.start();
    const got = await consumer.receive<[string, number][]>();
    for (const p of [...producers, consumer]) assertEquals(await p.join(), 0);
    // Every item once, and each producer's items in the order it put them.
    for (const tag of ["spawn-a", "spawn-b", "thread"]) {
      assertEquals(
        got.filter(([t]) => t === tag).map(([, i]) => i),
        Array.from({ length: n }, (_, i) => i),
      );
    }
    assertEquals(q.qsize(), 0);
    // The consumer marked each done: join() returns.
    await q.join({ timeoutMs: 5000 });
  },
);

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/**
 * Starts a spawn consumer of `q` (holding `n` items) and has it take items one
 * at a time until it holds some lent ahead; returns it and what it took.
 */
async function consumerHolding(q: Queue<number>, n: number) {
  const p = new Process({ target: takesOnRequest, args: [q], startMethod: "spawn" });
  p.start();
  const got: number[] = [];
  for (let i = 0; i < 200 && q.qsize() === n - got.length; i++) {
    p.send("take");
    got.push(await p.receive<number>());
  }
  // Lent ahead: out of the queue, and not yet the consumer's.
  assert(q.qsize() < n - got.length, `no items were lent ahead after ${got.length} gets`);
  assertEquals(got, range(0, got.length));
  return { p, got };
}

workerTest(
  "spawn: a consumer killed holding items lent ahead gives them back, in front, none lost or repeated",
  async () => {
    const n = 2000;
    const q = new Queue<number>();
    for (let i = 0; i < n; i++) q.putNowait(i);
    const { p, got } = await consumerHolding(q, n);
    p.send("spin");
    await delay(50);
    p.kill();
    assertEquals(await p.join(), -9);
    await until(() => q.qsize() === n - got.length, "the lent items back in the queue");
    assertEquals(await q.getMany(n), range(got.length, n));
  },
);

workerTest(
  "spawn: items lent to a consumer that stops taking them go back to the queue, in order",
  async () => {
    const n = 2000;
    const q = new Queue<number>();
    for (let i = 0; i < n; i++) q.putNowait(i);
    const { p, got } = await consumerHolding(q, n);
    p.send("idle");
    await until(() => q.qsize() === n - got.length, "the lent items back in the queue", 5000);
    assert(osAlive(p.pid!), "the consumer is still running");
    assertEquals(await q.getMany(n), range(got.length, n));
    p.kill();
    await p.join();
  },
);

workerTest("spawn: a consumer that returns holding items lent ahead gives them back", async () => {
  const n = 2000;
  const q = new Queue<number>({ codec: "f64" });
  for (let i = 0; i < n; i++) q.putNowait(i);
  const { p, got } = await consumerHolding(q, n);
  p.send("exit");
  assertEquals(await p.join(), 0);
  // Given back as it ended, before its link closed.
  assertEquals(q.qsize(), n - got.length);
  assertEquals(await q.getMany(n), range(got.length, n));
});

workerTest(
  "spawn: two spawn consumers and a thread consumer take every item of one Queue once",
  async () => {
    const n = 5000;
    const q = new Queue<number>();
    const consumers = [
      new Process({ target: drains, args: [q], startMethod: "spawn" }),
      new Process({ target: drains, args: [q], startMethod: "spawn" }),
      new Process({ target: drains, args: [q] }),
    ];
    for (const c of consumers) c.start();
    for (let i = 0; i < n; i++) {
      await q.put(i);
      if (i % 500 === 0) await delay(1);
    }
    q.close();
    const all = (await Promise.all(consumers.map((c) => c.receive<number[]>()))).flat();
    for (const c of consumers) assertEquals(await c.join(), 0);
    assertEquals(all.sort((a, b) => a - b), range(0, n));
  },
);

workerTest(
  "spawn: every put a spawn producer made is in the queue when it has exited",
  async () => {
    const n = 5000;
    const q = new Queue<[string, number]>();
    const p = new Process({ target: produces, args: [q, "p", 0, n], startMethod: "spawn" });
    p.start();
    assertEquals(await p.join(), 0);
    assertEquals(q.qsize(), n);
    assertEquals((await q.getMany(n)).map(([, i]) => i), range(0, n));
  },
);

workerTest(
  "spawn: a queue's sync methods are refused in a spawn child, with what to use instead",
  async () => {
    const q = new Queue<number>();
    const p = new Process({
      target: triesSync,
      args: [q],
      startMethod: "spawn",
      permissions: "none",
    });
    p.start();
    const said = await p.receive<string[]>();
    await p.join();
    for (const line of said.slice(0, 3)) assertMatch(line, /TypeError: .*shares no memory.*await/);
    assertEquals(said[3], "Empty");
  },
);

// ---- actors, supervisors, managers -----------------------------------------------------------

workerTest(
  "spawn: an actor in an OS process, restarted by its supervisor after running out of memory",
  async () => {
    await using sup = new Supervisor({
      children: [{
        id: "grower",
        start: () => spawn(Grower, { startMethod: "spawn", memoryLimitMb: 64 }),
      }],
    });
    await sup.start();
    const ref = sup.ref<Grower>("grower");
    const first = await ref.call.pid();
    assert(first !== Deno.pid && osAlive(first));
    const restarted = new Promise((resolve) => sup.on("restart", resolve));
    const error = await assertRejects(() => ref.call.grow());
    assertMatch(String(error), /out of memory|exited/);
    await restarted;
    const second = await ref.call.pid();
    assert(second !== first && osAlive(second));
    assertEquals(await ref.call.size(), 0);
  },
);

workerTest("spawn: a manager in an OS process serves its proxies", async () => {
  await using manager = await Manager.start({ startMethod: "spawn" });
  const d = await manager.dict<string, number>();
  await d.set("a", 1);
  assertEquals(await d.get("a"), 1);
  const p = new Process({ target: writeKey, args: [d, 2] });
  p.start();
  await p.join();
  assertEquals(await d.get("key_2"), 2);
});

// ---- no OS process outlives its parent ------------------------------------------------------

for (const how of ["sleeps", "spins in synchronous code"]) {
  workerTest(
    `spawn: a child whose parent is killed with SIGKILL exits, one that ${how}`,
    async () => {
      const parent = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("./fixtures/spawn_parent.ts", import.meta.url).pathname,
          ...(how === "sleeps" ? [] : ["spin"]),
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = parent.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!/child \d+/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      const pid = Number(/child (\d+)/.exec(text)![1]);
      assert(osAlive(pid));
      parent.kill("SIGKILL");
      await parent.status;
      await reader.cancel();
      try {
        await until(() => !osAlive(pid), `the orphaned child ${pid} exited`, 10_000);
      } finally {
        // A test that fails leaves no orphan spinning.
        if (osAlive(pid)) Deno.kill(pid, "SIGKILL");
      }
    },
  );
}

for (
  const [method, what] of [
    ["spawn", "a daemon grandchild ends with its spawn parent"],
    ["thread", "an OS grandchild ends with the thread that started it"],
  ] as const
) {
  workerTest(`spawn: ${what}`, async () => {
    const p = new Process({ target: startsGrandchild, args: [60_000], startMethod: method });
    p.start();
    const grandchild = await p.receive<number>();
    assert(osAlive(grandchild));
    p.kill();
    await p.join();
    await until(() => !osAlive(grandchild), "the grandchild exited", 10_000);
  });
}

workerTest("spawn: console output reaches the parent's terminal", async () => {
  const { code, out } = await runScript(
    new URL("./fixtures/spawn_parent.ts", import.meta.url),
    30_000,
    ["speak"],
  );
  assertEquals(code, 0, out);
  assertMatch(out, /out: hello/);
  assertMatch(out, /err: hello/);
});

workerTest("spawn: a program whose hung children were stopped ends by itself", async () => {
  const { code, out } = await runScript(
    new URL("./fixtures/spawn_exits.ts", import.meta.url),
    30_000,
  );
  assertEquals(code, 0, out);
  assertMatch(out, /process: -9/);
  assertMatch(out, /pool: TimeoutError/);
});

// ---- pools ---------------------------------------------------------------------------------

workerTest(
  "spawn pool: map runs in OS processes, and a task out of memory fails alone",
  async () => {
    await using pool = new Pool({ processes: 2, startMethod: "spawn", memoryLimitMb: 96 });
    assertEquals(await pool.map(square, [1, 2, 3, 4, 5]), [1, 4, 9, 16, 25]);
    const pids = new Set(await pool.map(osPid, Array.from({ length: 20 }, () => undefined)));
    for (const pid of pids) assert(pid !== Deno.pid && osAlive(pid));
    const error = await assertRejects(() => pool.apply(hog, []));
    assertMatch(String(error), /out of memory/);
    assertEquals(await pool.map(square, [6, 7]), [36, 49]);
  },
);

workerTest(
  "spawn pool: a task over its timeoutMs has its OS process killed and replaced",
  async () => {
    await using pool = new Pool({ processes: 1, startMethod: "spawn" });
    const before = await pool.apply(osPid, []);
    await assertRejects(() => pool.apply(spin, [], { timeoutMs: 300 }));
    await until(() => !osAlive(before), "the timed-out worker's OS process is gone", 10_000);
    const after = await pool.apply(osPid, []);
    assert(after !== before);
    assertEquals(await pool.apply(square, [9]), 81);
  },
);

workerTest(
  "spawn executor: an aborted running task has its OS process killed, and submit goes on",
  async () => {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1, startMethod: "spawn" });
    const before = await ex.submit(osPid);
    const controller = new AbortController();
    const running = ex.with({ signal: controller.signal }).submit(spin);
    await until(() => running.running(), "the task runs", 10_000);
    controller.abort();
    await assertRejects(() => running);
    await until(() => !osAlive(before), "the worker's OS process is gone", 10_000);
    assertEquals(await ex.submit(square, 12), 144);
  },
);

workerTest(
  "spawn executor: cancel() of a running call kills its worker's OS process and replaces it",
  async () => {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1, startMethod: "spawn" });
    const before = await ex.submit(osPid);
    const running = ex.submit(spin);
    await until(() => running.running(), "the task runs", 10_000);
    assertEquals(running.cancel(), true, "a running call on a spawn executor is cancelled");
    assert(running.cancelled() && running.done());
    await assertRejects(() => running, CancelledError);
    await until(() => !osAlive(before), "the worker's OS process is gone", 10_000);
    assertEquals(await ex.submit(square, 12), 144);
    assert(await ex.submit(osPid) !== before, "a new worker");
  },
);

// ---- bad input -----------------------------------------------------------------------------

Deno.test("spawn: bad start options are refused before anything starts", () => {
  assertThrows(
    () => new Process({ target: whoAmI, startMethod: "fork" as "spawn" }),
    TypeError,
    '"thread" or "spawn"',
  );
  for (const bad of [0, -1, 1.5, "64", NaN]) {
    assertThrows(
      () => new Process({ target: whoAmI, startMethod: "spawn", memoryLimitMb: bad as number }),
      TypeError,
      "memoryLimitMb must be a positive whole number",
    );
  }
  assertThrows(
    () => new Process({ target: whoAmI, memoryLimitMb: 64 }),
    TypeError,
    'needs startMethod: "spawn"',
  );
  assertThrows(
    () => new Pool({ startMethod: "process" as "spawn" }),
    TypeError,
    "start method",
  );
  assertThrows(() => setStartMethod("fork" as "spawn"), TypeError);
});

workerTest("spawn: getContext binds the start method, as Python's get_context", async () => {
  const ctx = getContext("spawn");
  assert(getContext("spawn") === ctx, "one context per method");
  assertEquals(ctx.getStartMethod(), "spawn");
  const p = new ctx.Process({ target: whoAmI });
  p.start();
  const seen = await p.receive<{ osPid: number }>();
  assertEquals(seen.osPid, p.pid);
  await p.join();
  // An option given to a call wins over the context's.
  const t = new ctx.Process({ target: whoAmI, startMethod: "thread" });
  t.start();
  const inThread = await t.receive<{ osPid: number }>();
  assertEquals(inThread.osPid, Deno.pid);
  await t.join();
  await using pool = new ctx.Pool({ processes: 1 });
  const pid = await pool.apply(osPid, []);
  assert(pid !== Deno.pid && osAlive(pid));
  const ref = await ctx.spawn(Grower);
  assert((await ref.call.pid()) !== Deno.pid);
  await ref.stop();
  assertThrows(() => getContext("fork" as "spawn"), TypeError, "start method");
});

Deno.test("spawn: bare shared memory is refused before the child starts", () => {
  for (const value of [new SharedArrayBuffer(8)]) {
    const p = new Process({ target: takes, args: [value], startMethod: "spawn" });
    const error = assertThrows(() => p.start(), TypeError);
    assertMatch(error.message, /shares no memory|cannot/);
    assertEquals(p.pid, undefined, "no process was started");
  }
  assertThrows(
    () => new Pool({ startMethod: "spawn", initializer: takes, initArgs: [new Lock()] }),
    TypeError,
    "initArgs cannot be sent",
  );
});

workerTest("spawn pool: a Lock in a task's arguments is refused, naming what to use", async () => {
  // As Python's RuntimeError: a lock is shared with a process by inheritance, not in a pool task.
  await using pool = new Pool({ processes: 1, startMethod: "spawn" });
  const error = await assertRejects(() => pool.apply(takes, [new Lock()]), TypeError);
  assertMatch(error.message, /is a Lock/);
  assertMatch(error.message, /use a Manager's/);
  assertEquals(pool.stats().workers.length, 0, "no worker was started for it");
  assertEquals(await pool.apply(square, [3]), 9, "the pool goes on");
});

Deno.test("setStartMethod after the first child needs force, as in Python", async () => {
  const troupe = new URL("../troupe.ts", import.meta.url).href;
  const code = `import { Process, setStartMethod, task } from "${troupe}";
    new Process({ target: task(import.meta, function idle() {}) });
    try { setStartMethod("spawn"); console.log("set"); } catch (e) { console.log(e.message); }
    setStartMethod("spawn", { force: true });
    console.log("forced");`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", ..._resolutionFlags(_ownArgv() ?? []), code],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assertMatch(text, /already set to "thread" \(by setStartMethod\(\), or by the first child/);
  assertMatch(text, /forced/);
});

Deno.test("spawn: setStartMethod is set once, as in Python", () => {
  const was = getStartMethod();
  try {
    setStartMethod("spawn", { force: true });
    assertEquals(getStartMethod(), "spawn");
    assertThrows(() => setStartMethod("thread"), Error, "already set");
  } finally {
    setStartMethod(was, { force: true });
  }
});

/** Runs fixtures/spawn_lacking.ts with only `flags`, asking a spawn child for `permissions`. */
async function askAs(flags: string[], permissions: unknown): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...flags,
      new URL("./fixtures/spawn_lacking.ts", import.meta.url).pathname,
      JSON.stringify(permissions),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return dec.decode(out.stdout) + dec.decode(out.stderr);
}

Deno.test("spawn: a permission the parent lacks is refused before the child starts", async () => {
  const read = `--allow-read`;
  const run = `--allow-run=${Deno.execPath()}`;
  assertMatch(await askAs([read, run], { net: true }), /PermissionError: .*net.*not have/);
  assertMatch(await askAs([read, run], "none"), /started, exit 0/);
  // Without the right to run deno, no spawn.
  assertMatch(await askAs([read], "none"), /PermissionError: .*--allow-run/);
  // "inherit" gives the child what the parent has: here, reading and running deno.
  assertMatch(await askAs([read, run], "inherit"), /started, exit 0/);
});

// ---- the chunked stream ----------------------------------------------------------------------

/** Feeds `bytes` to a reader in pieces of `step` bytes; returns the frames and the text it read. */
function readAll(bytes: Uint8Array, step: number, whole = false) {
  const frames: number[][] = [];
  let text = "";
  const dec = new TextDecoder();
  const reader = new _ChunkReader((f) => frames.push([...f]), (t) => {
    text += dec.decode(t, { stream: true });
  }, whole);
  for (let at = 0; at < bytes.length; at += step) reader.push(bytes.slice(at, at + step));
  reader.end();
  return { frames, text };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("spawn link: frames cross in chunks whatever the reads, with text between them", () => {
  const big = Uint8Array.from({ length: 10_000 }, (_, i) => i % 251);
  const small = new Uint8Array([1, 2, 3]);
  const enc = new TextEncoder();
  const [c1, c2, c3] = _chunk(big);
  const stream = concat(
    enc.encode("before "),
    c1,
    enc.encode("between "),
    c2,
    c3,
    ..._chunk(small),
    enc.encode("after \u00ff"),
  );
  for (const step of [1, 7, 4096, 100_000]) {
    const { frames, text } = readAll(stream, step);
    assertEquals(frames.length, 2, `step ${step}`);
    assertEquals(frames[0], [...big]);
    assertEquals(frames[1], [...small]);
    assertEquals(text, "before between after \u00ff");
  }
});

Deno.test("spawn link: frames written together go in whole chunks, no write past PIPE_BUF", () => {
  const sizes = [1, 3, 4088, 4089, 9000, 0, 2, 20_000, 5];
  const frames = sizes.map((n, k) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + k) % 256));
  const writes: Uint8Array[] = [];
  _writeChunked(frames, new Uint8Array(4096), (bytes) => writes.push(bytes.slice()));
  assert(writes.every((w) => w.length <= 4096), "a write longer than PIPE_BUF");
  // Small frames share a write: fewer writes than chunks.
  assert(writes.length < frames.reduce((n, f) => n + Math.max(1, Math.ceil(f.length / 4088)), 0));
  // Other output between two writes is text, and every frame comes back as it was.
  const stream = concat(...writes.flatMap((w) => [w, new TextEncoder().encode("|")]));
  for (const step of [1, 4096, 1 << 20]) {
    const { frames: read, text } = readAll(stream, step);
    assertEquals(read, frames.map((f) => [...f]), `step ${step}`);
    assertEquals(text, "|".repeat(writes.length));
  }
});

Deno.test("spawn link: a frame in one piece is read only where it may come", () => {
  const frame = Uint8Array.from({ length: 70_000 }, (_, i) => i % 13);
  for (const step of [3, 5000, 1 << 20]) {
    const { frames } = readAll(concat(_whole(frame), _whole(new Uint8Array([9]))), step, true);
    assertEquals(frames.map((f) => f.length), [70_000, 1]);
    assertEquals(frames[0], [...frame]);
  }
  // From a child's stderr, a header claiming a frame in one piece is not one.
  const { frames } = readAll(_whole(new Uint8Array([1, 2])), 100, false);
  assertEquals(frames.length, 0);
});

Deno.test("spawn link: bytes that look like a chunk header but are not pass as text", () => {
  const bad = new Uint8Array([0xff, 0xfe, 0x54, 0x52, 3, 0, 0, 0x00, 0x41, 0x42, 0x43]);
  const { frames, text } = readAll(concat(bad, ..._chunk(new Uint8Array([7]))), 4);
  assertEquals(frames, [[7]]);
  assert(text.endsWith("ABC"));
});

Deno.test("spawn: a child resolves modules with its parent's flags, not its parent's script's", () => {
  assertEquals(
    _resolutionFlags([
      "deno",
      "test",
      "-A",
      "--config",
      "offline/deno.json",
      "--no-lock",
      "--import-map=im.json",
      "tests/a_test.ts",
      "--config",
      "not-deno's.json",
    ]),
    ["--config", "offline/deno.json", "--no-lock", "--import-map=im.json"],
  );
  assertEquals(_resolutionFlags(["deno", "main.ts", "--config", "x.json"]), []);
  assertEquals(_resolutionFlags(["deno", "run", "--cached-only", "-c", "d.json", "m.ts"]), [
    "--cached-only",
    "-c",
    "d.json",
  ]);
});
