// Fault paths, tried as a hostile or careless child would: timeouts beyond a
// timer's range, endings the runtime did not set up, a parent too busy to
// read, a child that will not stop, shared memory written by hand.
import { assertEquals, assertRejects } from "@std/assert";
import { delay } from "@std/async";
import { Event, Lock, Pool, Process, ProcessPoolExecutor, Queue, spawn } from "../troupe.ts";
import { Counter } from "./fixtures/actors.ts";
import { getWithLongTimeout, nap, receiveWithLongTimeout } from "./fixtures/faults.ts";
import { workerTest } from "./_helpers.ts";

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
