// Queues and Pipe ends for a child that shares no memory with them (a
// "spawn" child, an OS process), served by the sender (runtime/relay.ts):
// the child gets a Queue of the same class, or a Connection, whose methods
// are requests done on the real one, in the order the child made them.
import {
  type _Outbox,
  _registerRelay,
  _registerReviver,
  _WIRE,
  type _WireForm,
} from "../runtime/wire.ts";
import {
  _flushAtExit,
  _once,
  _rebuildersOf,
  _RelayClient,
  _relayNotPassable,
  _relayUnavailable,
  _serveRelay,
} from "../runtime/relay.ts";
import { ChannelClosedError, Empty, EOFError, Full } from "./errors.ts";
import { _putBack, JoinableQueue, Queue, SimpleQueue } from "./queue.ts";
import { _buildRelayedEnd, _servedEnd, Connection } from "./pipe.ts";
import type { WaitOptions } from "./queue.ts";
import { _timeoutOf } from "../runtime/ring.ts";

const KIND_QUEUE = "troupe.queue.relay";
const KIND_CONNECTION = "troupe.Connection.relay";

// The errors a queue or a pipe throws, rebuilt as their own classes so that `instanceof` holds.
const REBUILDERS = _rebuildersOf(Full, Empty, ChannelClosedError, EOFError);

type Flavour = "queue" | "joinable" | "simple";

interface QueueState {
  port: MessagePort;
  flavour: Flavour;
  maxsize: number;
  name: string;
}

// ---- queues: the sender's side ----------------------------------------------------------------

// Most items a process may be lent at once (see "lend" below).
const LEND_MAX = 1024;

function relayQueue(object: object, _path: string, out: _Outbox): _WireForm {
  const queue = object as Queue<unknown>;
  const joinable = () => queue as JoinableQueue<unknown>;
  // Items lent to the process: taken from the queue, sent to it, and not yet
  // handed to its application, by sequence number. Should the process end
  // holding them, they go back in front of the queue, as if never taken.
  const lent = new Map<number, unknown>();
  let nextSeq = 1;
  const giveBack = (seqs: readonly number[]) => {
    const items: unknown[] = [];
    for (const seq of seqs) {
      if (!lent.has(seq)) continue;
      items.push(lent.get(seq));
      lent.delete(seq);
    }
    void _putBack(queue, items);
  };
  const port = _serveRelay({
    ops: {
      put: (args, wait) => queue.put(args[0], wait),
      // Puts sent ahead in one message: each as if alone, in order; the first failure is the answer.
      putAhead: async (args, wait) => {
        let failure: { error: unknown } | undefined;
        for (const item of asArray(args[0], "putAhead")) {
          try {
            await queue.put(item, wait);
          } catch (error) {
            failure ??= { error };
          }
        }
        if (failure) throw failure.error;
      },
      putMany: (args, wait) => queue.putMany(asArray(args[0], "putMany"), wait),
      get: (_args, wait) => queue.get(wait),
      getMany: (args, wait) => queue.getMany(args[0] as number, wait),
      // Up to `max` items at once, lent: the process takes each as its application asks.
      lend: async (args, wait) => {
        const max = args[0];
        if (!Number.isInteger(max) || (max as number) < 1 || (max as number) > LEND_MAX) {
          throw new RangeError(`lend takes 1 to ${LEND_MAX} items, not ${String(max)}`);
        }
        const items = await queue.getMany(max as number, wait);
        const first = nextSeq;
        nextSeq += items.length;
        for (let i = 0; i < items.length; i++) lent.set(first + i, items[i]);
        return [first, items];
      },
      taskDone: () => joinable().taskDone(),
      close: () => queue.close(),
      join: (_args, wait) => joinable().join(wait),
    },
    notices: {
      // The application took these lent items: they are its own now.
      took: (args) => {
        for (const seq of args) lent.delete(seq as number);
      },
      // The process gives back lent items its application did not ask for.
      giveBack: (args) => giveBack(args as number[]),
    },
    // A producer's puts, and a consumer's gets, are done one after another, in order;
    // a taskDone() after the gets made before it: the item it marks done was taken.
    lanes: {
      put: "puts",
      putAhead: "puts",
      putMany: "puts",
      get: "gets",
      getMany: "gets",
      lend: "gets",
      taskDone: "gets",
    },
    status: () => [queue.qsize(), queue.closed, queue.full()],
    // A get the child no longer waits for must not take an item.
    pid: out.to,
    holding: () => lent.size > 0,
    ended: () => giveBack([...lent.keys()]),
  });
  const flavour: Flavour = queue instanceof JoinableQueue
    ? "joinable"
    : queue instanceof SimpleQueue
    ? "simple"
    : "queue";
  const state: QueueState = {
    port,
    flavour,
    maxsize: queue.maxsize,
    name: queue.constructor.name,
  };
  return { kind: KIND_QUEUE, module: import.meta.url, state, transfer: [port] };
}

function asArray(value: unknown, op: string): unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`${op} takes an array of items`);
  return value;
}

_registerRelay("troupe.Queue", relayQueue);

// ---- queues: the child's side -----------------------------------------------------------------

/** What the last answer said of the queue. */
interface QueueStatus {
  size: number;
  closed: boolean;
  full: boolean;
}

// Puts to an unbounded queue need no answer to go on, as a Python Queue's
// feeder thread: they are sent in order and answered later. While two
// messages of puts are unanswered, further puts wait in a batch that goes
// as one message when an answer comes (or when it holds BATCH_MAX); at most
// PUT_WINDOW puts are unanswered, and then put() waits. One that fails makes
// the next call fail.
const PUT_WINDOW = 1024;
const BATCH_MAX = 256;
const PUTS_IN_FLIGHT = 2;

// A consumer is lent as many items as its application takes in about
// HOLD_MS (1 at first, at most LEND_MAX, at most twice the last), so that
// one which takes them slowly holds few; what it was lent and has not taken
// for GIVE_BACK_MS goes back to the queue.
const HOLD_MS = 5;
const GIVE_BACK_MS = 20;

function remoteQueue<C extends new (...args: never[]) => Queue<unknown>>(Base: C, name: string) {
  const unavailable = (method: string) =>
    _relayUnavailable(`${name}.${method}`, "await put(), await get()");
  const Remote = class extends (Base as unknown as new (options: { bufferBytes: number }) => Queue<
    unknown
  >) {
    #client: _RelayClient;
    #status: QueueStatus = { size: 0, closed: false, full: false };
    #maxsize: number;
    // Puts: the batch not yet sent, the messages and the items unanswered, and who waits for room.
    #batch: unknown[] = [];
    #putsInFlight = 0;
    #unanswered = 0;
    #roomWaiters: (() => void)[] = [];
    // Gets: items lent and not yet taken (from #head on), their numbers, and the lending's pace.
    #lent: unknown[] = [];
    #seqs: number[] = [];
    #head = 0;
    #window = 1;
    #lentAt = 0;
    #lentCount = 0;
    #takenAtLent = 0;
    // A lending asked for ahead of the application (see #lendAhead).
    #ahead: Promise<void> | undefined;
    // Items handed to the application, ever: the idle watch sees whether it still takes them.
    #taken = 0;
    #idle: ReturnType<typeof setTimeout> | undefined;
    #unarm: (() => void) | undefined;

    constructor(state: QueueState) {
      // A token queue of its own: every method below goes to the real one.
      super({ bufferBytes: 64 });
      this.#client = new _RelayClient(state.port, REBUILDERS, (status) => {
        const [size, closed, full] = status as [number, boolean, boolean];
        this.#status = { size, closed: closed || this.#status.closed, full };
      });
      this.#maxsize = state.maxsize;
    }
    override get maxsize(): number {
      return this.#maxsize;
    }
    override get closed(): boolean {
      return this.#status.closed;
    }
    /** How many items the queue held at the last answer, with those lent here (approximate). */
    override qsize(): number {
      return this.#status.size + this.#lent.length - this.#head;
    }
    override empty(): boolean {
      return this.qsize() === 0;
    }
    override full(): boolean {
      return this.#status.full;
    }

    // While this object holds puts not sent or items lent, the process's normal end sends them.
    #arm(): void {
      this.#unarm ??= _flushAtExit(() => {
        this.#flushPuts();
        this.#giveBack();
      });
    }
    #settle(): void {
      if (this.#unarm === undefined || this.#batch.length > 0 || this.#head < this.#lent.length) {
        return;
      }
      this.#unarm();
      this.#unarm = undefined;
    }

    override async put(item: unknown, options: WaitOptions = {}): Promise<void> {
      if (this.#status.closed) {
        throw new ChannelClosedError(`${name} is closed: put() takes no more items`);
      }
      this.#client.throwFailed();
      // Into an unbounded queue a put cannot wait: it goes ahead, in order.
      if (this.#maxsize === 0 && options.signal === undefined && options.timeoutMs === undefined) {
        while (this.#unanswered >= PUT_WINDOW) {
          await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
        }
        this.#unanswered++;
        this.#batch.push(item);
        this.#arm();
        if (this.#putsInFlight < PUTS_IN_FLIGHT || this.#batch.length >= BATCH_MAX) {
          this.#flushPuts();
        }
        return;
      }
      this.#flushPuts();
      await this.#client.call("put", [item], options);
    }

    // Sends the batched puts as one message.
    #flushPuts(): void {
      const items = this.#batch;
      if (items.length === 0) return;
      this.#batch = [];
      this.#putsInFlight++;
      const answered = () => {
        this.#putsInFlight--;
        this.#unanswered -= items.length;
        if (this.#batch.length > 0 && this.#putsInFlight < PUTS_IN_FLIGHT) this.#flushPuts();
        const waiters = this.#roomWaiters;
        this.#roomWaiters = [];
        for (const wake of waiters) wake();
      };
      this.#client.ahead("putAhead", [items], false).then(answered, answered);
      this.#settle();
    }

    override async putMany(items: Iterable<unknown>, options: WaitOptions = {}): Promise<void> {
      const list = [...items];
      this.#flushPuts();
      await this.#client.call("putMany", [list], options);
    }

    override async get(options: WaitOptions = {}): Promise<unknown> {
      _timeoutOf(options.timeoutMs, name, "get()");
      options.signal?.throwIfAborted();
      if (this.#head < this.#lent.length) return this.#take();
      // Items asked for ahead come within a round trip, as a lending below would.
      if (this.#ahead !== undefined) {
        await this.#ahead;
        if (this.#head < this.#lent.length) return this.#take();
      }
      this.#flushPuts();
      this.#pace();
      const [first, items] = await this.#client.checked("lend", [this.#window], options) as [
        number,
        unknown[],
      ];
      this.#add(first, items);
      return this.#take();
    }

    // Keeps items lent, oldest last.
    #add(first: number, items: unknown[]): void {
      this.#lentAt = performance.now();
      this.#lentCount = items.length;
      this.#takenAtLent = this.#taken;
      for (let i = 0; i < items.length; i++) {
        this.#lent.push(items[i]);
        this.#seqs.push(first + i);
      }
    }

    // Sets how many items the next lending asks for, from how fast the last were taken.
    #pace(): void {
      if (this.#lentCount === 0) return;
      const ms = Math.max(performance.now() - this.#lentAt, 0.001);
      const fit = Math.floor(((this.#taken - this.#takenAtLent) / ms) * HOLD_MS);
      const most = this.#lentCount === this.#window ? this.#window * 2 : this.#window;
      this.#window = Math.max(1, Math.min(fit, most, LEND_MAX));
    }

    // Half of a full lending taken: the next is asked for now, if the queue has items at once,
    // so that a consumer which keeps taking does not wait a round trip for each lending.
    #lendAhead(): void {
      this.#pace();
      const done = () => this.#ahead = undefined;
      // Answered at once (it does not wait for items); a process that ends first gives them back.
      this.#ahead = this.#client.callAwaitedAtExit("lend", [this.#window], { timeoutMs: 0 }).then(
        (answer) => {
          done();
          const [first, items] = answer as [number, unknown[]];
          this.#add(first, items);
          this.#arm();
          if (this.#idle === undefined) this.#watchIdle(this.#taken);
        },
        done,
      );
    }

    // Hands the oldest lent item to the application: the queue learns it before this returns.
    #take(): unknown {
      const i = this.#head++;
      const item = this.#lent[i];
      this.#client.notify("took", [this.#seqs[i]]);
      this.#drained();
      return item;
    }

    #drained(): void {
      this.#taken++;
      if (this.#head === this.#lent.length) {
        this.#lent = [];
        this.#seqs = [];
        this.#head = 0;
        this.#settle();
      } else {
        this.#arm();
        if (this.#idle === undefined) this.#watchIdle(this.#taken);
        const left = this.#lent.length - this.#head;
        if (
          this.#ahead === undefined && this.#lentCount === this.#window && left <= this.#window >> 1
        ) this.#lendAhead();
      }
    }

    // Gives back what is lent once the application stops taking it.
    #watchIdle(seen: number): void {
      this.#idle = setTimeout(() => {
        this.#idle = undefined;
        if (this.#head === this.#lent.length) return;
        if (this.#taken !== seen) return this.#watchIdle(this.#taken);
        this.#giveBack();
      }, GIVE_BACK_MS);
      Deno.unrefTimer(this.#idle);
    }

    #giveBack(): void {
      // A lending asked ahead and unanswered: given back with it, so the items go back in the
      // order they were lent.
      if (this.#ahead !== undefined) return void this.#ahead.then(() => this.#giveBack());
      if (this.#head === this.#lent.length) return;
      this.#client.notify("giveBack", this.#seqs.slice(this.#head));
      this.#lent = [];
      this.#seqs = [];
      this.#head = 0;
      this.#window = 1;
      this.#lentCount = 0;
      this.#settle();
    }

    override async getMany(max = 1024, options: WaitOptions = {}): Promise<unknown[]> {
      if (!Number.isInteger(max) || max < 1) {
        throw new RangeError(`${name}.getMany() max must be a positive integer, got ${max}`);
      }
      _timeoutOf(options.timeoutMs, name, "getMany()");
      options.signal?.throwIfAborted();
      if (this.#head < this.#lent.length) {
        const end = Math.min(this.#lent.length, this.#head + max);
        const items = this.#lent.slice(this.#head, end);
        this.#client.notify("took", this.#seqs.slice(this.#head, end));
        this.#head = end;
        this.#drained();
        return items;
      }
      this.#flushPuts();
      return await this.#client.call("getMany", [max], options) as unknown[];
    }
    override close(): void {
      this.#flushPuts();
      this.#status.closed = true;
      this.#client.send("close");
    }
    override async *[Symbol.asyncIterator](): AsyncGenerator<unknown, void, undefined> {
      for (;;) {
        let item: unknown;
        try {
          item = await this.get();
        } catch (error) {
          if (error instanceof ChannelClosedError) return;
          throw error;
        }
        yield item;
      }
    }
    taskDone(): void {
      if (!(this instanceof JoinableQueue)) throw new TypeError(`${name} has no taskDone()`);
      this.#flushPuts();
      this.#client.send("taskDone");
    }
    async join(options: WaitOptions = {}): Promise<void> {
      if (!(this instanceof JoinableQueue)) throw new TypeError(`${name} has no join()`);
      this.#flushPuts();
      await this.#client.call("join", [], options);
    }
    override [_WIRE](path: string): never {
      throw _relayNotPassable(path, name);
    }
    override putNowait(): never {
      throw unavailable("putNowait()");
    }
    override putSync(): never {
      throw unavailable("putSync()");
    }
    override getNowait(): never {
      throw unavailable("getNowait()");
    }
    override getSync(): never {
      throw unavailable("getSync()");
    }
    override withSchema(): never {
      throw unavailable("withSchema()");
    }
  };
  Object.defineProperty(Remote, "name", { value: name });
  return Remote as unknown as new (state: QueueState) => Queue<unknown>;
}

const queueClasses = _once((): Record<Flavour, new (state: QueueState) => Queue<unknown>> => ({
  queue: remoteQueue(Queue, "Queue"),
  joinable: remoteQueue(JoinableQueue, "JoinableQueue"),
  simple: remoteQueue(SimpleQueue, "SimpleQueue"),
}));

_registerReviver(KIND_QUEUE, (state) => {
  const s = state as QueueState;
  const Class = queueClasses()[s.flavour];
  if (Class === undefined) {
    throw new TypeError(`a relayed ${String(s.flavour)} is not one this process knows`);
  }
  return new Class(s);
});

// ---- Pipe ends --------------------------------------------------------------------------------

interface ConnectionState {
  port: MessagePort;
  readable: boolean;
  writable: boolean;
}

function relayConnection(object: object, path: string, out: _Outbox): _WireForm {
  if (out.to === undefined) {
    throw new TypeError(
      `${path} is a Connection, which cannot be sent to a process it cannot name`,
    );
  }
  // The end this relay uses holds it for the child: when the child ends, the other end learns it.
  const end = _servedEnd(object as Connection<unknown, unknown>, out.to);
  const port = _serveRelay({
    ops: {
      send: (args, wait) => end.send(args[0], wait),
      recv: (_args, wait) => end.recv(wait),
      poll: (args) => end.poll(args[0] as number),
      close: () => end.close(),
    },
    lanes: { send: "send", recv: "recv", poll: "recv" },
    status: () => end.closed,
    pid: out.to,
  });
  const state: ConnectionState = { port, readable: end.readable, writable: end.writable };
  return { kind: KIND_CONNECTION, module: import.meta.url, state, transfer: [port] };
}

_registerRelay("troupe.Connection", relayConnection);

/** A Pipe end in a process that shares no memory with it: each call is done by its sender. */
const remoteConnection = () =>
  class RemoteConnection extends Connection<unknown, unknown> {
    #client: _RelayClient;
    #closed = false;
    #readable: boolean;
    #writable: boolean;

    constructor(state: ConnectionState) {
      _buildRelayedEnd();
      super();
      this.#readable = state.readable;
      this.#writable = state.writable;
      this.#client = new _RelayClient(state.port, REBUILDERS, (closed) => {
        if (closed === true) this.#closed = true;
      });
    }
    override get closed(): boolean {
      return this.#closed;
    }
    override get readable(): boolean {
      return this.#readable;
    }
    override get writable(): boolean {
      return this.#writable;
    }
    override async send(item: unknown, options: WaitOptions = {}): Promise<void> {
      await this.#client.checked("send", [item], options);
    }
    override recv(options: WaitOptions = {}): Promise<unknown> {
      return this.#client.checked("recv", [], options);
    }
    override async poll(timeoutMs = 0): Promise<boolean> {
      return await this.#client.checked("poll", [timeoutMs]) as boolean;
    }
    override close(): void {
      if (this.#closed) return;
      this.#closed = true;
      this.#client.send("close");
    }
    override sendSync(): never {
      throw _relayUnavailable("Connection.sendSync()", "await send()");
    }
    override recvSync(): never {
      throw _relayUnavailable("Connection.recvSync()", "await recv()");
    }
    override withSchema(): never {
      throw _relayUnavailable("Connection.withSchema()", "check items before await send()");
    }
    override [_WIRE](path: string): never {
      throw _relayNotPassable(path, "Connection");
    }
  };
const connectionClass = _once(() => {
  const Class = remoteConnection();
  Object.defineProperty(Class, "name", { value: "Connection" });
  return Class;
});

_registerReviver(KIND_CONNECTION, (state) => new (connectionClass())(state as ConnectionState));
