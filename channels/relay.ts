// A Queue for a child that shares no memory with it (a "spawn" child, an OS
// process): the sender serves the queue over a MessagePort, which the byte
// link relays, and the child gets a Queue of the same class whose methods are
// requests on that port. The queue stays where its memory is; every put and
// get is done there, by the sender, in the order the child made them.
//
// Requests (child → server): [id, op, args, timeoutMs], or [id, "cancel"].
// Answers (server → child): [id, ok, value, size, closed, full].
import { type _Outbox, _registerReviver, _WIRE, type _WireForm } from "../runtime/wire.ts";
import type { WireError } from "../runtime/protocol.ts";
import { _fromWireError, _toWireError } from "../runtime/errors.ts";
import { ChannelClosedError, Empty, Full } from "./errors.ts";
import { _setQueueRelay, JoinableQueue, Queue, SimpleQueue } from "./queue.ts";
import { _beforeExit } from "../runtime/entry.ts";

const KIND_RELAY = "troupe.queue.relay";

type Flavour = "queue" | "joinable" | "simple";
type Op = "put" | "putMany" | "get" | "getMany" | "close" | "taskDone" | "join" | "cancel";
type Request = [id: number, op: Op, args?: unknown[], timeoutMs?: number];
type Answer = [
  id: number,
  ok: boolean,
  value: unknown,
  size: number,
  closed: boolean,
  full: boolean,
];

interface RelayState {
  port: MessagePort;
  flavour: Flavour;
  maxsize: number;
  name: string;
}

// ---- the sender's side: the server ------------------------------------------------------------

/** Serves `queue` on a new port and returns its wire form for a child reached by bytes. */
function relay(queue: Queue<unknown>, _path: string, _out: _Outbox): _WireForm {
  const { port1, port2 } = new MessageChannel();
  serve(queue, port1);
  const flavour: Flavour = queue instanceof JoinableQueue
    ? "joinable"
    : queue instanceof SimpleQueue
    ? "simple"
    : "queue";
  const state: RelayState = {
    port: port2,
    flavour,
    maxsize: queue.maxsize,
    name: queue.constructor.name,
  };
  return { kind: KIND_RELAY, module: import.meta.url, state, transfer: [port2] };
}

function serve(queue: Queue<unknown>, port: MessagePort): void {
  const running = new Map<number, AbortController>();
  // A producer's puts, and a consumer's gets, are done one after another, in order.
  let puts: Promise<unknown> = Promise.resolve();
  let gets: Promise<unknown> = Promise.resolve();
  const answer = (id: number, ok: boolean, value: unknown) => {
    const message: Answer = [id, ok, value, queue.qsize(), queue.closed, queue.full()];
    try {
      port.postMessage(message);
    } catch (error) {
      // An item the link cannot carry: the caller gets the reason instead.
      port.postMessage([id, false, _toWireError(error), queue.qsize(), queue.closed, queue.full()]);
    }
  };
  const run = (id: number, work: (signal: AbortSignal) => Promise<unknown> | unknown) => {
    const controller = new AbortController();
    running.set(id, controller);
    return Promise.resolve()
      .then(() => work(controller.signal))
      .then((value) => answer(id, true, value), (error) => answer(id, false, _toWireError(error)))
      .finally(() => running.delete(id));
  };
  port.onmessage = (e: MessageEvent) => {
    const request = e.data as Request;
    if (!Array.isArray(request) || typeof request[0] !== "number") return;
    const [id, op, args = [], timeoutMs] = request;
    const options = (signal: AbortSignal) => ({ timeoutMs, signal });
    switch (op) {
      case "cancel":
        running.get(id)?.abort(new DOMException("the call was aborted", "AbortError"));
        return;
      case "put":
        puts = puts.then(() => run(id, (s) => queue.put(args[0], options(s))));
        return;
      case "putMany":
        puts = puts.then(() => run(id, (s) => queue.putMany(args[0] as unknown[], options(s))));
        return;
      case "get":
        gets = gets.then(() => run(id, (s) => queue.get(options(s))));
        return;
      case "getMany":
        gets = gets.then(() => run(id, (s) => queue.getMany(args[0] as number, options(s))));
        return;
      case "taskDone":
        // After the gets made before it: the item it marks done was taken.
        gets = gets.then(() => run(id, () => (queue as JoinableQueue<unknown>).taskDone()));
        return;
      case "close":
        void run(id, () => queue.close());
        return;
      case "join":
        void run(id, (s) => (queue as JoinableQueue<unknown>).join(options(s)));
        return;
    }
  };
}

_setQueueRelay(relay);

// ---- the child's side: a Queue whose methods are requests -------------------------------------

// The errors a queue throws, rebuilt as their own classes so that `instanceof` holds.
const ERRORS: Record<string, new (message: string) => Error> = {
  Full,
  Empty,
  ChannelClosedError,
  TypeError,
};

function rebuild(error: WireError): Error {
  if (error.name === "TimeoutError" || error.name === "AbortError") {
    return new DOMException(error.message, error.name);
  }
  const Class = ERRORS[error.name];
  return Class ? new Class(error.message) : _fromWireError(error);
}

interface WaitArgs {
  timeoutMs?: number;
  signal?: AbortSignal;
}

// The calls made without a promise to wait on (taskDone(), close()) that
// have not been answered: a process that ends waits for them, a while at most,
// since a taskDone() must reach the queue. A get() or put() nobody awaited is
// not waited for: it could wait for good.
const unanswered = new Set<Promise<unknown>>();
const EXIT_WAIT_MS = 5000;
_beforeExit(() => {
  if (unanswered.size === 0) return undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<void>((resolve) => timer = setTimeout(resolve, EXIT_WAIT_MS));
  return Promise.race([Promise.allSettled([...unanswered]), bound]).then(() => clearTimeout(timer));
});

/** The requests of one relayed queue, and what the last answer said of it. */
class Client {
  readonly #port: MessagePort;
  readonly #pending = new Map<number, PromiseWithResolvers<unknown>>();
  #next = 1;
  size = 0;
  closed = false;
  full = false;

  constructor(port: MessagePort) {
    this.#port = port;
    port.onmessage = (e: MessageEvent) => {
      const [id, ok, value, size, closed, full] = e.data as Answer;
      this.size = size;
      this.closed = closed;
      this.full = full;
      const call = this.#pending.get(id);
      if (!call) return;
      this.#pending.delete(id);
      if (ok) call.resolve(value);
      else call.reject(rebuild(value as WireError));
      // Nothing waits: the port does not keep this process alive.
      if (this.#pending.size === 0) unref(port);
    };
    unref(port);
  }

  call(op: Op, args: unknown[], wait: WaitArgs = {}): Promise<unknown> {
    wait.signal?.throwIfAborted();
    const id = this.#next++;
    const call = Promise.withResolvers<unknown>();
    this.#pending.set(id, call);
    ref(this.#port);
    this.#port.postMessage([id, op, args, wait.timeoutMs] satisfies Request);
    const signal = wait.signal;
    if (signal) {
      const onAbort = () => this.#port.postMessage([id, "cancel"] satisfies Request);
      signal.addEventListener("abort", onAbort, { once: true });
      void call.promise.finally(() => signal.removeEventListener("abort", onAbort)).catch(() => {});
    }
    return call.promise;
  }

  /** A call whose caller does not wait for it (taskDone(), close()): the process's end does. */
  send(op: Op, args: unknown[] = []): Promise<unknown> {
    const call = this.call(op, args);
    const settled = call.then(() => {}, () => {});
    unanswered.add(settled);
    void settled.then(() => unanswered.delete(settled));
    return call;
  }

  // Puts to an unbounded queue need no answer to go on, as a Python Queue's
  // feeder thread: they are sent in order and answered later, at most
  // PUT_WINDOW at a time. One that fails makes the next call fail.
  readonly #puts: Promise<unknown>[] = [];
  #failed: Error | undefined;

  /** Throws, once, the error a put sent ahead got. */
  throwFailed(): void {
    const failed = this.#failed;
    if (failed === undefined) return;
    this.#failed = undefined;
    throw new (failed.constructor as new (message: string) => Error)(
      `a put() sent ahead failed: ${failed.message}`,
    );
  }

  async putAhead(item: unknown): Promise<void> {
    this.throwFailed();
    while (this.#puts.length >= PUT_WINDOW) await this.#puts[0].catch(() => {});
    const call = this.send("put", [item]);
    this.#puts.push(call);
    call.then(
      () => this.#puts.splice(this.#puts.indexOf(call), 1),
      (error) => {
        this.#puts.splice(this.#puts.indexOf(call), 1);
        this.#failed ??= error;
      },
    );
  }
}

const PUT_WINDOW = 256;

// Deno's MessagePort keeps the event loop alive while it listens; one with no call waiting must not.
function unref(port: MessagePort): void {
  (port as unknown as { unref?: () => void }).unref?.();
}
function ref(port: MessagePort): void {
  (port as unknown as { ref?: () => void }).ref?.();
}

function remote<C extends new (...args: never[]) => Queue<unknown>>(Base: C, name: string) {
  const unavailable = (method: string) =>
    new TypeError(
      `${name}.${method} is not available in a process that shares no memory with the queue ` +
        `(a "spawn" child): its items live in its creator's memory. Use the async form ` +
        `(await put(), await get())`,
    );
  const Remote = class extends (Base as unknown as new (options: { bufferBytes: number }) => Queue<
    unknown
  >) {
    #client: Client;
    #maxsize: number;

    constructor(state: RelayState) {
      // A token queue of its own: every method below goes to the real one.
      super({ bufferBytes: 64 });
      this.#client = new Client(state.port);
      this.#maxsize = state.maxsize;
    }
    override get maxsize(): number {
      return this.#maxsize;
    }
    override get closed(): boolean {
      return this.#client.closed;
    }
    /** How many items the queue held at the last answer (as Python's, approximate). */
    override qsize(): number {
      return this.#client.size;
    }
    override empty(): boolean {
      return this.#client.size === 0;
    }
    override full(): boolean {
      return this.#client.full;
    }
    override async put(item: unknown, options: WaitArgs = {}): Promise<void> {
      if (this.#client.closed) {
        throw new ChannelClosedError(`${name} is closed: put() takes no more items`);
      }
      // Into an unbounded queue a put cannot wait: it goes ahead, in order.
      if (this.#maxsize === 0 && options.signal === undefined && options.timeoutMs === undefined) {
        return await this.#client.putAhead(item);
      }
      this.#client.throwFailed();
      await this.#client.call("put", [item], options);
    }
    override async putMany(items: Iterable<unknown>, options: WaitArgs = {}): Promise<void> {
      await this.#client.call("putMany", [[...items]], options);
    }
    override get(options: WaitArgs = {}): Promise<unknown> {
      this.#client.throwFailed();
      return this.#client.call("get", [], options);
    }
    override async getMany(max = 1024, options: WaitArgs = {}): Promise<unknown[]> {
      if (!Number.isInteger(max) || max < 1) {
        throw new RangeError(`${name}.getMany() max must be a positive integer, got ${max}`);
      }
      return await this.#client.call("getMany", [max], options) as unknown[];
    }
    override close(): void {
      this.#client.closed = true;
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
    async join(options: WaitArgs = {}): Promise<void> {
      if (!(this instanceof JoinableQueue)) throw new TypeError(`${name} has no join()`);
      await this.#client.call("join", [], options);
    }
    override [_WIRE](path: string): never {
      throw new TypeError(
        `${path} is a ${name} this process got from its parent across an OS boundary; it cannot ` +
          `be passed on. Pass the parent's queue to each process that needs it`,
      );
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
  return Remote as unknown as new (state: RelayState) => Queue<unknown>;
}

const RemoteQueue = remote(Queue, "Queue");
const RemoteJoinableQueue = remote(JoinableQueue, "JoinableQueue");
const RemoteSimpleQueue = remote(SimpleQueue, "SimpleQueue");

_registerReviver(KIND_RELAY, (state) => {
  const s = state as RelayState;
  const Class = s.flavour === "joinable"
    ? RemoteJoinableQueue
    : s.flavour === "simple"
    ? RemoteSimpleQueue
    : RemoteQueue;
  return new Class(s);
});
