import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  ChannelClosedError,
  type Connection,
  Empty,
  EOFError,
  Full,
  JoinableQueue,
  Lock,
  Pipe,
  Pool,
  Process,
  Queue,
  SimpleQueue,
  type StandardSchemaV1,
} from "../troupe.ts";
import {
  collectAll,
  countItems,
  doubleSync,
  echoSync,
  echoUpper,
  getSyncTimeout,
  handleJobs,
  holdUntilTold,
  keepQueue,
  nested,
  produce,
  produceForever,
  produceRange,
  produceThenThrow,
  putChecked,
  putFromMail,
  recvOnWriter,
  recvSyncUntilEnd,
  report,
  sameQueueTwice,
  sendNumbers,
  sendOnClosedEnd,
  sendThenCrash,
  sendWhenTold,
  squareInto,
  timerCallsInWaits,
  waitForItem,
} from "./fixtures/channel_tasks.ts";
import { workerTest } from "./_helpers.ts";
import { _putBack } from "../channels/queue.ts";

// A Standard Schema validator written by hand (zod, valibot... look the same to a channel).
function schema<T>(check: (v: unknown) => string | undefined, async = false): StandardSchemaV1<T> {
  const validate = (value: unknown): StandardSchemaV1.Result<T> => {
    const problem = check(value);
    return problem ? { issues: [{ message: problem, path: ["id"] }] } : { value: value as T };
  };
  return {
    "~standard": {
      version: 1,
      vendor: "test",
      validate: async ? (v) => Promise.resolve(validate(v)) : validate,
    },
  };
}
const hasNumericId = schema<{ id: number }>((v) =>
  typeof (v as { id?: unknown })?.id === "number" ? undefined : "Expected number"
);

// ---- one thread: the queue's own rules ------------------------------------

workerTest("a queue hands items out in the order they were put", async () => {
  const q = new Queue<number>();
  for (let i = 0; i < 100; i++) await q.put(i);
  const out: number[] = [];
  for (let i = 0; i < 100; i++) out.push(await q.get());
  assertEquals(out, Array.from({ length: 100 }, (_, i) => i));
  q.close();
});

workerTest("items keep what structured clone keeps", async () => {
  const items: unknown[] = [
    0,
    -0,
    2 ** 40,
    1.5,
    NaN,
    "ascii",
    "ünïcödé ✓",
    "\ud800 a lone surrogate, kept as it is",
    "x".repeat(10_000),
    true,
    null,
    undefined,
    12345678901234567890n,
    { nested: { list: [1, "two", [3]] }, missing: undefined },
    new Date(1234),
    new Map<unknown, unknown>([["k", { v: 1 }]]),
    new Set([1, 2]),
    new Uint8Array([1, 2, 3]),
    new Float64Array([0.5]),
    new Int16Array([1, -2, 3, -4]).subarray(1, 3),
    new BigInt64Array([-5n]),
    new Uint8Array([9, 8, 7]).buffer,
    new DataView(new Uint8Array([1, 2]).buffer),
    new Set([new Map([[1, new Set(["deep"])]])]),
    Object(7),
    Object("boxed"),
    /re/gi,
    [],
    {},
  ];
  const q = new Queue<unknown>();
  for (const item of items) await q.put(item);
  for (const item of items) assertEquals(await q.get(), item);
  q.close();
});

workerTest(
  "errors travel as structured clone carries them: type, message, stack, cause",
  async () => {
    const q = new Queue<Error>();
    const cause = new RangeError("inner");
    const sent = [
      new TypeError("outer", { cause }),
      Object.assign(new Error("custom"), { name: "MyError" }),
    ];
    for (const e of sent) await q.put(e);
    const outer = await q.get();
    assertInstanceOf(outer, TypeError);
    assertEquals(outer.message, "outer");
    assertEquals(outer.stack, sent[0].stack);
    assertInstanceOf(outer.cause, RangeError);
    assertEquals((outer.cause as Error).message, "inner");
    const custom = await q.get();
    assertEquals([custom.name, custom.message], ["Error", "custom"], "other names arrive as Error");
    q.close();
  },
);

workerTest(
  "shared memory in an item is refused: a channel would copy it, not share it",
  async () => {
    const q = new Queue<unknown>();
    const shared = new SharedArrayBuffer(8);
    await assertRejects(() => q.put({ buf: shared }), TypeError, "item.buf is shared memory");
    await assertRejects(
      () => q.put([new Int32Array(shared)]),
      TypeError,
      "item[0] is shared memory",
    );
    assertEquals(q.qsize(), 0);
    q.close();
  },
);

workerTest("an item a channel cannot carry is refused at put, naming where it is", async () => {
  const q = new Queue<unknown>();
  class Point {
    x = 1;
  }
  await assertRejects(
    () => q.put({ a: [new Point()] }),
    TypeError,
    "item.a[0] is an instance of Point",
  );
  await assertRejects(() => q.put({ f: () => 1 }), TypeError, "item.f is a function");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  await assertRejects(() => q.put(cyclic), RangeError, "circular");
  await assertRejects(() => q.put({ inner: q }), TypeError, "cannot travel inside a channel item");
  assertEquals(q.qsize(), 0);
  q.close();
});

workerTest("object keys and strings of every length and alphabet round-trip", async () => {
  const q = new Queue<unknown>();
  const items = [
    { ab: 1, ba: 2, a: 3, abcdef: 4, abcdefg: 5, "ключ": 6, "": 7 },
    { ba: 1, ab: 2 },
    ["a".repeat(63), "b".repeat(64), "c".repeat(300), "é".repeat(300), "😀 mixed ascii"],
  ];
  for (const item of items) await q.put(item);
  for (const item of items) assertEquals(await q.get(), item);
  q.close();
});

workerTest("Map and Set entries obey the same rules as the rest of an item", async () => {
  const q = new Queue<unknown>();
  class Point {}
  await assertRejects(
    () => q.put({ m: new Map([["k", new Point()]]) }),
    TypeError,
    "item.m<value 0> is an instance of Point",
  );
  await assertRejects(() => q.put(new Set([() => 1])), TypeError, "item<item 0> is a function");
  assertEquals(q.qsize(), 0);
  q.close();
});

workerTest("maxsize: full() and putNowait() throwing Full", () => {
  const q = new Queue<number>({ maxsize: 2 });
  assertEquals(q.maxsize, 2);
  q.putNowait(1);
  assert(!q.full());
  q.putNowait(2);
  assert(q.full());
  assertEquals(q.qsize(), 2);
  const error = assertThrows(() => q.putNowait(3), Full, "maxsize 2");
  assertInstanceOf(error, Full);
  q.close();
});

workerTest("put() waits while full and throws Full after timeoutMs", async () => {
  const q = new Queue<number>({ maxsize: 1 });
  await q.put(1);
  await assertRejects(() => q.put(2, { timeoutMs: 30 }), Full, "stayed full for 30 ms");
  assertEquals(q.qsize(), 1);
  q.close();
});

workerTest("put() that waits goes through once a get() makes room", async () => {
  const q = new Queue<string>({ maxsize: 1 });
  await q.put("first");
  const waiting = q.put("second");
  assertEquals(await q.get(), "first");
  await waiting;
  assertEquals(await q.get(), "second");
  q.close();
});

workerTest("get() throws Empty after timeoutMs; getNowait() at once", async () => {
  const q = new Queue<number>();
  assert(q.empty());
  assertThrows(() => q.getNowait(), Empty);
  await assertRejects(() => q.get({ timeoutMs: 30 }), Empty, "stayed empty for 30 ms");
  q.close();
});

workerTest("get() stops with the signal's reason when aborted", async () => {
  const q = new Queue<number>();
  const controller = new AbortController();
  const pending = q.get({ signal: controller.signal });
  controller.abort(new Error("no longer needed"));
  await assertRejects(() => pending, Error, "no longer needed");
  const aborted = AbortSignal.abort(new Error("already aborted"));
  await assertRejects(() => q.put(1, { signal: aborted }), Error, "already aborted");
  q.close();
});

workerTest("bad timeouts are refused naming the option", async () => {
  const q = new Queue<number>();
  await assertRejects(() => q.get({ timeoutMs: -1 }), RangeError, "get() timeoutMs");
  assertThrows(() => new Queue({ maxsize: -1 }), RangeError, "'maxsize'");
  assertThrows(() => new Queue({ bufferBytes: 1.5 }), RangeError, "'bufferBytes'");
  q.close();
});

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

workerTest("items put back go in front, in order, also across the ring's end", async () => {
  for (const codec of ["structured", "f64", "i32"] as const) {
    // 64 data bytes: 8 small records or 8 f64 slots; the puts and takes move the oldest to the end.
    const q = new Queue<number>({ bufferBytes: 64, codec, maxsize: 4 });
    for (let round = 0; round < 6; round++) {
      await q.putMany([round * 10, round * 10 + 1]);
      const taken = await q.getMany(2);
      await q.put(round * 10 + 2);
      await _putBack(q as Queue<unknown>, taken);
      // Past maxsize too: the items were in the queue.
      await _putBack(q as Queue<unknown>, []);
      assertEquals(await q.getMany(8), [round * 10, round * 10 + 1, round * 10 + 2], codec);
    }
    // A full buffer: the items wait for room, then go in front.
    const full = new Queue<number>({ bufferBytes: 64, codec });
    let k = 1;
    while (!full.full()) full.putNowait(k++);
    const [one] = await full.getMany(1);
    full.putNowait(k);
    let back = false;
    const putting = _putBack(full as Queue<unknown>, [one]).then(() => back = true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assertEquals(back, false, codec);
    assertEquals(await full.get(), 2);
    await putting;
    assertEquals(await full.getMany(64), [1, ...range(3, k + 1)], codec);
  }
});

workerTest("an item bigger than the buffer is refused, naming bufferBytes", async () => {
  const q = new Queue<string>({ bufferBytes: 1024 });
  await assertRejects(() => q.put("x".repeat(2000)), RangeError, "'bufferBytes'");
  assertEquals(q.qsize(), 0);
  q.close();
});

workerTest("a full byte buffer makes put() wait, not drop", async () => {
  const q = new Queue<string>({ bufferBytes: 256 });
  const item = "y".repeat(50);
  let put = 0;
  while (!q.full()) {
    try {
      q.putNowait(item);
      put++;
    } catch (error) {
      assertInstanceOf(error, Full);
      assertStringIncludes((error as Error).message, "'bufferBytes'");
      break;
    }
  }
  const late = q.put("late");
  for (let i = 0; i < put; i++) assertEquals(await q.get(), item);
  await late;
  assertEquals(await q.get(), "late");
  q.close();
});

workerTest("close(): puts fail, gets drain then fail, for await ends", async () => {
  const q = new Queue<number>();
  await q.put(1);
  await q.put(2);
  q.close();
  assert(q.closed);
  await assertRejects(() => q.put(3), ChannelClosedError, "closed Queue");
  assertThrows(() => q.putNowait(3), ChannelClosedError);
  const seen: number[] = [];
  for await (const item of q) seen.push(item);
  assertEquals(seen, [1, 2]);
  await assertRejects(() => q.get(), ChannelClosedError, "no items left");
});

workerTest("close() wakes a get() that waits", async () => {
  const q = new Queue<number>();
  const waiting = q.get();
  q.close();
  await assertRejects(() => waiting, ChannelClosedError);
});

workerTest("getSync() and putSync() are refused on the main thread", () => {
  const q = new Queue<number>();
  assertThrows(() => q.getSync(), Error, "main thread must not");
  assertThrows(() => q.putSync(1), Error, "main thread must not");
  q.close();
});

workerTest(
  "schema: a bad item is refused with the validator's message and nothing is put",
  async () => {
    const q = new Queue<{ id: number }>({ schema: hasNumericId });
    await q.put({ id: 1 });
    await assertRejects(
      () => q.put({ id: "x" } as unknown as { id: number }),
      TypeError,
      "refused by the schema: id: Expected number",
    );
    assertThrows(() => q.putNowait({} as { id: number }), TypeError, "Expected number");
    assertEquals(q.qsize(), 1);
    q.close();
  },
);

workerTest(
  "schema: an async validator works with put() and is refused by putNowait()",
  async () => {
    const q = new Queue<{ id: number }>({
      schema: schema<{ id: number }>(
        (v) => typeof (v as { id?: unknown }).id === "number" ? undefined : "bad",
        true,
      ),
    });
    await q.put({ id: 1 });
    await assertRejects(() => q.put({ id: "1" } as unknown as { id: number }), TypeError, "bad");
    assertThrows(() => q.putNowait({ id: 2 }), TypeError, "validates asynchronously");
    assertEquals(q.qsize(), 1);
    q.close();
  },
);

workerTest("schema: a non-validator is refused", () => {
  assertThrows(
    () => new Queue({ schema: {} as StandardSchemaV1<number> }),
    TypeError,
    "Standard Schema",
  );
});

workerTest("withSchema() gives a checked view of the same queue", async () => {
  const q = new Queue<{ id: number }>();
  const checked = q.withSchema(hasNumericId);
  await assertRejects(() => checked.put({} as { id: number }), TypeError, "Expected number");
  await checked.put({ id: 7 });
  assertEquals(await q.get(), { id: 7 });
  q.close();
  assert(checked.closed);
});

workerTest("numeric codecs carry numbers in bulk and refuse anything else", async () => {
  const q = new Queue<number>({ codec: "f64" });
  const values = Array.from({ length: 10_000 }, (_, i) => i + 0.5);
  await q.putMany(values);
  assertEquals(q.qsize(), 10_000);
  const out: number[] = [];
  while (out.length < values.length) out.push(...await q.getMany(4096));
  assertEquals(out, values);
  await assertRejects(() => q.put("1" as unknown as number), TypeError, 'codec "f64"');
  const ints = new Queue<number>({ codec: "i32" });
  await assertRejects(() => ints.put(1.5), TypeError, "32-bit integers");
  await ints.put(-3);
  assertEquals(await ints.get(), -3);
  q.close();
  ints.close();
});

workerTest(
  "JoinableQueue: taskDone() more times than items is an error; join() waits",
  async () => {
    const q = new JoinableQueue<number>();
    await q.join({ timeoutMs: 10 });
    await q.put(1);
    await q.put(2);
    const joined = q.join();
    let done = false;
    joined.then(() => done = true);
    await q.get();
    q.taskDone();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert(!done, "join() waits for every item");
    await q.get();
    q.taskDone();
    await joined;
    assertThrows(() => q.taskDone(), Error, "more times than items were put");
    q.close();
  },
);

workerTest("JoinableQueue: join() times out with a TimeoutError", async () => {
  const q = new JoinableQueue<number>();
  await q.put(1);
  const error = await assertRejects(() => q.join({ timeoutMs: 20 }), DOMException);
  assertEquals(error.name, "TimeoutError");
  q.close();
});

workerTest("SimpleQueue has no item limit", async () => {
  const q = new SimpleQueue<number>();
  assertEquals(q.maxsize, 0);
  for (let i = 0; i < 1000; i++) q.putNowait(i);
  assertEquals(await q.get(), 0);
  q.close();
});

// ---- one thread: pipes ---------------------------------------------------------

workerTest("a duplex pipe carries items both ways", async () => {
  const [a, b] = Pipe<string, number>();
  await a.send("ping");
  assertEquals(await b.recv(), "ping");
  await b.send(1);
  assertEquals(await a.recv(), 1);
  a.close();
  b.close();
});

workerTest("recv() after the other end closed drains, then throws EOFError", async () => {
  const [a, b] = Pipe<number>();
  await a.send(1);
  a.close();
  assert(await b.poll());
  assertEquals(await b.recv(), 1);
  assert(await b.poll(), "poll() is true when recv() would throw EOFError at once");
  await assertRejects(() => b.recv(), EOFError, "other end was closed");
  await assertRejects(() => b.send(2), ChannelClosedError, "other end of the pipe was closed");
  b.close();
});

workerTest("a connection after its own close() is a clear error", async () => {
  const [a, b] = Pipe<number>();
  a.close();
  assert(a.closed);
  await assertRejects(() => a.send(1), ChannelClosedError, "was closed");
  await assertRejects(() => a.recv(), ChannelClosedError, "was closed");
  b.close();
});

workerTest("a one-way pipe refuses the wrong direction", async () => {
  const [reader, writer] = Pipe<number>({ duplex: false });
  assert(reader.readable && !reader.writable);
  assert(writer.writable && !writer.readable);
  await assertRejects(
    () => (reader as unknown as Connection<number, number>).send(1),
    TypeError,
    "receiving end of a one-way pipe",
  );
  await assertRejects(
    () => (writer as unknown as Connection<number, number>).recv(),
    TypeError,
    "sending end of a one-way pipe",
  );
  await writer.send(5);
  assertEquals(await reader.recv(), 5);
  reader.close();
  writer.close();
});

workerTest("poll() waits up to timeoutMs and says whether something came", async () => {
  const [a, b] = Pipe<number>();
  assertEquals(await b.poll(), false);
  assertEquals(await b.poll(20), false);
  setTimeout(() => a.send(1), 10);
  assertEquals(await b.poll(2000), true);
  assertEquals(await b.recv(), 1);
  a.close();
  b.close();
});

workerTest("recv() times out with a TimeoutError", async () => {
  const [a, b] = Pipe<number>();
  const error = await assertRejects(() => b.recv({ timeoutMs: 20 }), DOMException);
  assertEquals(error.name, "TimeoutError");
  a.close();
  b.close();
});

workerTest("pipe schemas check each direction at the sender", async () => {
  const [a, b] = Pipe<{ id: number }, string>({
    schema: hasNumericId,
    replySchema: schema<string>((v) => typeof v === "string" ? undefined : "Expected string"),
  });
  await assertRejects(() => a.send({} as { id: number }), TypeError, "Expected number");
  await assertRejects(() => b.send(1 as unknown as string), TypeError, "Expected string");
  assertEquals(await b.poll(), false);
  assertEquals(await a.poll(), false);
  a.close();
  b.close();
});

workerTest("new Connection() is refused: ends come from Pipe()", async () => {
  const { Connection } = await import("../troupe.ts");
  assertThrows(() => new Connection(), TypeError, "comes from Pipe()");
});

// ---- across workers --------------------------------------------------------

workerTest("a producer process and a consumer process share a queue", async () => {
  const q = new Queue<{ p: number; i: number }>();
  const producer = new Process({ target: produce, args: [q, 0, 500] });
  const consumer = new Process({ target: collectAll, args: [q] });
  consumer.start();
  producer.start();
  assertEquals(await producer.join(), 0);
  q.close();
  const seen = await consumer.receive<{ p: number; i: number }[]>();
  await consumer.join();
  assertEquals(seen.map((x) => x.i), Array.from({ length: 500 }, (_, i) => i));
});

workerTest("items from each producer arrive in the order it put them", async () => {
  const q = new Queue<{ p: number; i: number }>({ maxsize: 16 });
  const producers = [0, 1, 2].map((p) => new Process({ target: produce, args: [q, p, 2000] }));
  producers.forEach((p) => p.start());
  const last = [-1, -1, -1];
  for (let n = 0; n < 6000; n++) {
    const { p, i } = await q.get();
    assertEquals(i, last[p] + 1, `producer ${p} out of order`);
    last[p] = i;
  }
  for (const p of producers) await p.join();
  q.close();
});

workerTest("1,000,000 items through 3 producers and 3 consumers arrive exactly once", async () => {
  const total = 1_000_000;
  const q = new Queue<number>({ maxsize: 10_000 });
  const counts = new Int32Array(new SharedArrayBuffer(total * 4));
  const share = Math.ceil(total / 3);
  const producers = [0, 1, 2].map((k) =>
    new Process({
      target: produceRange,
      args: [q, k * share, Math.min(share, total - k * share)],
    })
  );
  const consumers = [0, 1, 2].map(() => new Process({ target: countItems, args: [q, counts] }));
  [...consumers, ...producers].forEach((p) => p.start());
  for (const p of producers) assertEquals(await p.join(), 0);
  q.close();
  for (const p of consumers) assertEquals(await p.join(), 0);
  let missing = 0;
  let doubled = 0;
  for (let i = 0; i < total; i++) {
    if (counts[i] === 0) missing++;
    else if (counts[i] > 1) doubled++;
  }
  assertEquals({ missing, doubled }, { missing: 0, doubled: 0 });
});

workerTest("items put by a producer that then crashes are still delivered", async () => {
  const q = new Queue<number>();
  const producer = new Process({ target: produceThenThrow, args: [q, 100] });
  producer.start();
  await assertRejects(() => producer.join(), Error, "producer crashed");
  const out: number[] = [];
  while (!q.empty()) out.push(q.getNowait());
  assertEquals(out, Array.from({ length: 100 }, (_, i) => i));
  q.close();
});

workerTest("a producer terminated mid-stream leaves every item it put whole", async () => {
  const q = new Queue<number>();
  const producer = new Process({ target: produceForever, args: [q] });
  producer.start();
  assertEquals(await producer.receive(), "twenty");
  producer.terminate();
  await producer.join();
  const out: number[] = [];
  while (!q.empty()) out.push(q.getNowait());
  assertGreater(out.length, 20);
  assertEquals(out, Array.from({ length: out.length }, (_, i) => i));
  await q.put(-1);
  assertEquals(await q.get(), -1, "the queue still works");
  q.close();
});

workerTest("a consumer terminated while waiting does not swallow the next item", async () => {
  const q = new Queue<number>();
  const victim = new Process({ target: waitForItem, args: [q] });
  victim.start();
  assertEquals(await victim.receive(), "waiting");
  await new Promise((resolve) => setTimeout(resolve, 20)); // let it reach its wait
  victim.terminate();
  await victim.join();
  const survivor = new Process({ target: waitForItem, args: [q] });
  survivor.start();
  assertEquals(await survivor.receive(), "waiting");
  const producer = new Process({ target: produceRange, args: [q, 41, 1] });
  producer.start();
  await producer.join();
  assertEquals(await survivor.receive({ timeoutMs: 5000 }), 41);
  await survivor.join();
  q.close();
});

workerTest("a process with no permissions uses a queue and a pipe it was given", async () => {
  const q = new Queue<{ p: number; i: number }>();
  const producer = new Process({ target: produce, args: [q, 7, 3], permissions: "none" });
  producer.start();
  assertEquals(await producer.join(), 0);
  assertEquals([q.getNowait(), q.getNowait(), q.getNowait()].map((x) => x.i), [0, 1, 2]);
  q.close();
  const [mine, theirs] = Pipe<string>();
  const echo = new Process({ target: echoUpper, args: [theirs], permissions: "none" });
  echo.start();
  await mine.send("quiet");
  assertEquals(await mine.recv(), "QUIET");
  mine.close();
  assertEquals(await echo.join(), 0);
});

workerTest("queues nested in objects and arrays in args arrive usable", async () => {
  const a = new Queue<string>();
  const b = new Queue<string>();
  const p = new Process({ target: nested, args: [{ deep: { q: a }, list: [b] }] });
  p.start();
  assertEquals(await p.join(), 0);
  assertEquals(await a.get(), "from deep");
  assertEquals(await b.get(), "from list");
  a.close();
  b.close();
});

workerTest("a queue sent in mail to a running process arrives usable", async () => {
  const q = new Queue<string>();
  const p = new Process({ target: putFromMail });
  p.start();
  p.send({ queue: q, items: ["x", "y"] });
  assertEquals(await p.join(), 0);
  assertEquals([await q.get(), await q.get()], ["x", "y"]);
  q.close();
});

workerTest("a queue in pool task arguments arrives usable", async () => {
  const q = new Queue<number>();
  await using pool = new Pool({ processes: 2 });
  const done = await pool.starmap(squareInto, [[2, q], [3, q], [4, q]]);
  assertEquals(done, [2, 3, 4]);
  const squares = [await q.get(), await q.get(), await q.get()].sort((x, y) => x - y);
  assertEquals(squares, [4, 9, 16]);
  q.close();
});

workerTest("a received queue has no schema until withSchema() gives it one", async () => {
  const q = new Queue<number>({ schema: hasNumericId as unknown as StandardSchemaV1<number> });
  const p = new Process({ target: putChecked, args: [q] });
  p.start();
  assertStringIncludes(await p.receive<string>(), "refused by the schema: not even");
  await p.join();
  assertEquals([q.qsize(), await q.get()], [1, 2]);
  q.close();
});

workerTest("a queue in a pool's initArgs arrives usable in every worker", async () => {
  const q = new Queue<string>();
  await using pool = new Pool({ processes: 2, initializer: keepQueue, initArgs: [q] });
  await pool.map(report, [1, 2, 3, 4], { chunksize: 1 });
  const got = [await q.get(), await q.get(), await q.get(), await q.get()].sort();
  assertEquals(got, ["item 1", "item 2", "item 3", "item 4"]);
  q.close();
});

workerTest("passing a closed queue or connection to a process is a clear error", () => {
  const q = new Queue<number>();
  q.close();
  assertThrows(
    () => new Process({ target: collectAll, args: [q] }).start(),
    ChannelClosedError,
    "args[0] is a closed Queue",
  );
  const [a, b] = Pipe<string>();
  a.close();
  assertThrows(
    () => new Process({ target: echoUpper, args: [a] }).start(),
    ChannelClosedError,
    "closed Connection",
  );
  b.close();
});

workerTest("getSync()/putSync() block inside a worker", async () => {
  const input = new Queue<number>();
  const output = new Queue<number>();
  const p = new Process({ target: doubleSync, args: [input, output, 3] });
  p.start();
  for (const n of [1, 2, 3]) await input.put(n);
  assertEquals([await output.get(), await output.get(), await output.get()], [2, 4, 6]);
  assertEquals(await p.join(), 0);
  input.close();
  output.close();
});

workerTest("getSync() in a worker throws Empty after timeoutMs", async () => {
  const q = new Queue<number>();
  const p = new Process({ target: getSyncTimeout, args: [q] });
  p.start();
  assertEquals(await p.receive(), "Empty");
  await p.join();
  q.close();
});

workerTest("JoinableQueue: join() in the parent waits for taskDone() in a child", async () => {
  const q = new JoinableQueue<number>();
  const done = new Int32Array(new SharedArrayBuffer(4));
  const p = new Process({ target: handleJobs, args: [q, 5, done] });
  p.start();
  for (let i = 0; i < 5; i++) await q.put(i);
  await q.join({ timeoutMs: 10_000 });
  assertEquals(Atomics.load(done, 0), 5);
  await p.join();
  q.close();
});

workerTest("two processes talk over a duplex pipe; closing ends the other side", async () => {
  const [mine, theirs] = Pipe<string>();
  const p = new Process({ target: echoUpper, args: [theirs] });
  p.start();
  for (const word of ["one", "two", "three"]) {
    await mine.send(word);
    assertEquals(await mine.recv(), word.toUpperCase());
  }
  mine.close();
  assertEquals(await p.join(), 0);
  theirs.close();
});

workerTest("recvSync()/sendSync() in a worker, and EOFError when the parent closes", async () => {
  const [mine, theirs] = Pipe<number>();
  const p = new Process({ target: echoSync, args: [theirs] });
  p.start();
  let n = 0;
  for (let i = 0; i < 100; i++) {
    await mine.send(n);
    n = await mine.recv();
  }
  assertEquals(n, 100);
  mine.close();
  assertEquals(await p.join(), 0);
});

workerTest("close() closes an end for every process holding it, and says so", async () => {
  const [mine, theirs] = Pipe<string>();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const p = new Process({ target: sendOnClosedEnd, args: [theirs, flag] });
  p.start();
  assertEquals(await p.receive(), "started");
  theirs.close(); // Python's habit of closing the child's end in the parent does not carry over
  Atomics.store(flag, 0, 1);
  assertEquals(
    await p.receive(),
    "ChannelClosedError: Connection.send() on a connection that was closed in another process " +
      "(close() closes an end for every holder)",
  );
  await p.join();
  await assertRejects(() => mine.recv(), EOFError);
  mine.close();
});

workerTest("a one-way pipe from a child: recv until EOFError", async () => {
  const [reader, writer] = Pipe<number>({ duplex: false });
  const p = new Process({ target: sendNumbers, args: [writer, 50] });
  p.start();
  const out: number[] = [];
  for (;;) {
    try {
      out.push(await reader.recv());
    } catch (error) {
      assertInstanceOf(error, EOFError);
      break;
    }
  }
  assertEquals(out, Array.from({ length: 50 }, (_, i) => i));
  await p.join();
  reader.close();
});

workerTest("a one-way pipe's sending end refuses recv() in the child too", async () => {
  const [reader, writer] = Pipe<number>({ duplex: false });
  const p = new Process({ target: recvOnWriter, args: [writer] });
  p.start();
  assertStringIncludes(
    await p.receive<string>(),
    "TypeError: Connection.recv() on the sending end",
  );
  await p.join();
  reader.close();
  writer.close();
});

// ---- a pipe end whose every holder ended ------------------------------------

workerTest(
  "recv() gets what a crashed child sent, then EOFError instead of waiting forever",
  async () => {
    const [reader, writer] = Pipe<number>({ duplex: false });
    const child = new Process({ target: sendThenCrash, args: [writer, 3] });
    child.start();
    const got = [await reader.recv(), await reader.recv(), await reader.recv()];
    assertEquals(got, [0, 1, 2]);
    const error = await assertRejects(() => reader.recv({ timeoutMs: 10_000 }), EOFError);
    assertStringIncludes(error.message, "every process that held the other end has ended");
    assertStringIncludes(error.message, `pid ${child.pid}`);
    await assertRejects(() => child.join(), Error, "crashed after sending");
    assert(await reader.poll(), "poll() says recv() would not wait");
    reader.close();
  },
);

workerTest(
  "a recv() already waiting when the holder is terminated ends with EOFError",
  async () => {
    const [mine, theirs] = Pipe<number>();
    const child = new Process({ target: holdUntilTold, args: [theirs] });
    child.start();
    assertEquals(await child.receive(), "holding");
    const waiting = mine.recv({ timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    child.terminate();
    await assertRejects(() => waiting, EOFError);
    assertEquals(await child.join(), -15);
    mine.close();
  },
);

workerTest("an end two children hold stays open while one of them lives", async () => {
  const [mine, theirs] = Pipe<number>();
  const first = new Process({ target: holdUntilTold, args: [theirs] });
  const second = new Process({ target: sendWhenTold, args: [theirs, 42] });
  first.start();
  second.start();
  assertEquals(await first.receive(), "holding");
  assertEquals(await second.receive(), "holding");
  first.terminate();
  await first.join();
  // The first holder ended; the second still holds the end, so no EOF yet.
  assertEquals(await mine.poll(200), false);
  second.send("go");
  assertEquals(await mine.recv({ timeoutMs: 10_000 }), 42);
  await second.join();
  await assertRejects(() => mine.recv({ timeoutMs: 10_000 }), EOFError);
  mine.close();
});

workerTest("the creator holds an end it gave away once it uses it", async () => {
  const [mine, theirs] = Pipe<number>();
  const child = new Process({ target: holdUntilTold, args: [theirs] });
  child.start();
  assertEquals(await child.receive(), "holding");
  await theirs.send(7); // the parent uses the child's end too: it holds it now
  child.terminate();
  await child.join();
  assertEquals(await mine.recv(), 7);
  await assertRejects(() => mine.recv({ timeoutMs: 100 }), DOMException, "within 100 ms");
  mine.close();
  theirs.close();
});

workerTest(
  "send() to an end whose every holder ended fails instead of filling the pipe",
  async () => {
    const [mine, theirs] = Pipe<number>({ bufferBytes: 64 });
    const child = new Process({ target: holdUntilTold, args: [theirs] });
    child.start();
    assertEquals(await child.receive(), "holding");
    await mine.send(1);
    child.kill();
    await child.join();
    const error = await assertRejects(() => mine.send(2), ChannelClosedError);
    assertStringIncludes(error.message, "nothing would read this");
    mine.close();
  },
);

workerTest("a full send() waiting when the reader ends fails with ChannelClosedError", async () => {
  const [mine, theirs] = Pipe<number>({ bufferBytes: 64 });
  const child = new Process({ target: holdUntilTold, args: [theirs] });
  child.start();
  assertEquals(await child.receive(), "holding");
  for (let i = 0; i < 100; i++) {
    // Fill the buffer: a send that cannot go through waits.
    const sent = await Promise.race([
      mine.send(i).then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 50)),
    ]);
    if (!sent) break;
  }
  const waiting = mine.send(-1, { timeoutMs: 10_000 });
  child.terminate();
  await child.join();
  await assertRejects(() => waiting, ChannelClosedError);
  mine.close();
});

workerTest("recvSync() in a worker ends with EOFError when the writer's process ends", async () => {
  const [reader, writer] = Pipe<number>({ duplex: false });
  const consumer = new Process({ target: recvSyncUntilEnd, args: [reader] });
  const producer = new Process({ target: sendThenCrash, args: [writer, 2] });
  consumer.start();
  producer.start();
  await assertRejects(() => producer.join(), Error, "crashed after sending");
  assertEquals(await consumer.receive(), { got: [0, 1], error: "EOFError" });
  assertEquals(await consumer.join(), 0);
});

workerTest(
  "a wait with no timeout touches no timer (a worker's first timer call costs milliseconds)",
  async () => {
    const q = new Queue<number>();
    const real = { setTimeout, clearTimeout };
    let calls = 0;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      calls++;
      return real.setTimeout(...args);
    }) as typeof setTimeout;
    globalThis.clearTimeout = ((id?: number) => {
      calls++;
      real.clearTimeout(id);
    }) as typeof clearTimeout;
    try {
      const got = q.get(); // waits: the queue is empty
      await Promise.resolve();
      await q.put(7);
      assertEquals(await got, 7);
    } finally {
      Object.assign(globalThis, real);
    }
    assertEquals(calls, 0, "timer functions called by a wait that has no timeout");
    q.close();
  },
);

workerTest("a worker's waits, with and without a timeout, make no timer calls", async () => {
  const q = new Queue<number>();
  const lock = new Lock();
  const [mine, theirs] = Pipe<number>();
  const guard = await lock.acquire(); // the child's acquire() has to wait
  const p = new Process({ target: timerCallsInWaits, args: [q, lock, theirs] });
  p.start();
  assertEquals(await p.receive(), "waiting");
  await new Promise((resolve) => setTimeout(resolve, 20));
  await q.put(5);
  await new Promise((resolve) => setTimeout(resolve, 20));
  guard.release();
  await new Promise((resolve) => setTimeout(resolve, 20));
  await mine.send(6);
  assertEquals(await p.receive(), [5, 6]);
  assertEquals(await p.receive(), 0, "timer calls made by the waits in the worker");
  assertEquals(await p.join(), 0);
  q.close();
});

workerTest("a queue passed twice arrives as one queue, both ways", async () => {
  const q = new Queue<number>();
  const p = new Process({ target: sameQueueTwice, args: [q, q, { q }] });
  p.start();
  assertEquals(await p.receive(), true, "args[0], args[1] and args[2].q are one object");
  assertEquals(await q.get(), 1);
  const [back, { again }] = await p.receive<[Queue<number>, { again: Queue<number> }]>();
  assert(back === again, "the two copies in the mail are one object");
  assertInstanceOf(back, Queue);
  await back.put(2);
  assertEquals(await q.get(), 2);
  assertEquals(await p.join(), 0);
  q.close();
});
