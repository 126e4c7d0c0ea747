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
  _once,
  _rebuildersOf,
  _RelayClient,
  _relayNotPassable,
  _relayUnavailable,
  _serveRelay,
} from "../runtime/relay.ts";
import { ChannelClosedError, Empty, EOFError, Full } from "./errors.ts";
import { JoinableQueue, Queue, SimpleQueue } from "./queue.ts";
import { _buildRelayedEnd, _servedEnd, Connection } from "./pipe.ts";
import type { WaitOptions } from "./queue.ts";

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

function relayQueue(object: object, _path: string, out: _Outbox): _WireForm {
  const queue = object as Queue<unknown>;
  const { port1, port2 } = new MessageChannel();
  const joinable = () => queue as JoinableQueue<unknown>;
  _serveRelay(port1, {
    ops: {
      put: (args, wait) => queue.put(args[0], wait),
      putMany: (args, wait) => queue.putMany(args[0] as unknown[], wait),
      get: (_args, wait) => queue.get(wait),
      getMany: (args, wait) => queue.getMany(args[0] as number, wait),
      taskDone: () => joinable().taskDone(),
      close: () => queue.close(),
      join: (_args, wait) => joinable().join(wait),
    },
    // A producer's puts, and a consumer's gets, are done one after another, in order;
    // a taskDone() after the gets made before it: the item it marks done was taken.
    lanes: { put: "puts", putMany: "puts", get: "gets", getMany: "gets", taskDone: "gets" },
    status: () => [queue.qsize(), queue.closed, queue.full()],
    // A get the child no longer waits for must not take an item.
    pid: out.to,
  });
  const flavour: Flavour = queue instanceof JoinableQueue
    ? "joinable"
    : queue instanceof SimpleQueue
    ? "simple"
    : "queue";
  const state: QueueState = {
    port: port2,
    flavour,
    maxsize: queue.maxsize,
    name: queue.constructor.name,
  };
  return { kind: KIND_QUEUE, module: import.meta.url, state, transfer: [port2] };
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
// feeder thread: they are sent in order and answered later, at most
// PUT_WINDOW at a time. One that fails makes the next call fail.
const PUT_WINDOW = 256;

function remoteQueue<C extends new (...args: never[]) => Queue<unknown>>(Base: C, name: string) {
  const unavailable = (method: string) =>
    _relayUnavailable(`${name}.${method}`, "await put(), await get()");
  const Remote = class extends (Base as unknown as new (options: { bufferBytes: number }) => Queue<
    unknown
  >) {
    #client: _RelayClient;
    #status: QueueStatus = { size: 0, closed: false, full: false };
    #maxsize: number;
    readonly #puts: Promise<unknown>[] = [];

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
    /** How many items the queue held at the last answer (as Python's, approximate). */
    override qsize(): number {
      return this.#status.size;
    }
    override empty(): boolean {
      return this.#status.size === 0;
    }
    override full(): boolean {
      return this.#status.full;
    }
    override async put(item: unknown, options: WaitOptions = {}): Promise<void> {
      if (this.#status.closed) {
        throw new ChannelClosedError(`${name} is closed: put() takes no more items`);
      }
      this.#client.throwFailed();
      // Into an unbounded queue a put cannot wait: it goes ahead, in order.
      if (this.#maxsize === 0 && options.signal === undefined && options.timeoutMs === undefined) {
        while (this.#puts.length >= PUT_WINDOW) await this.#puts[0].catch(() => {});
        const call = this.#client.ahead("put", [item], false);
        this.#puts.push(call);
        const done = () => this.#puts.splice(this.#puts.indexOf(call), 1);
        call.then(done, done);
        return;
      }
      await this.#client.call("put", [item], options);
    }
    override async putMany(items: Iterable<unknown>, options: WaitOptions = {}): Promise<void> {
      await this.#client.call("putMany", [[...items]], options);
    }
    override get(options: WaitOptions = {}): Promise<unknown> {
      return this.#client.checked("get", [], options);
    }
    override async getMany(max = 1024, options: WaitOptions = {}): Promise<unknown[]> {
      if (!Number.isInteger(max) || max < 1) {
        throw new RangeError(`${name}.getMany() max must be a positive integer, got ${max}`);
      }
      return await this.#client.call("getMany", [max], options) as unknown[];
    }
    override close(): void {
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
      this.#client.send("taskDone");
    }
    async join(options: WaitOptions = {}): Promise<void> {
      if (!(this instanceof JoinableQueue)) throw new TypeError(`${name} has no join()`);
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
  const { port1, port2 } = new MessageChannel();
  _serveRelay(port1, {
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
  const state: ConnectionState = { port: port2, readable: end.readable, writable: end.writable };
  return { kind: KIND_CONNECTION, module: import.meta.url, state, transfer: [port2] };
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
