// An object that lives in shared memory, for a process that shares no memory
// with it (a "spawn" child, an OS process): the sender serves the object's
// methods over a MessagePort, which the byte link relays, and the child gets
// an object of the same class whose async methods are requests on that port.
// The object stays where its memory is; every call is done there, by the
// sender, in the order the child made it. `channels/relay.ts` and
// `sync/relay.ts` say what each object's calls are.
//
// Requests (child → server): [id, op, args, timeoutMs], or [id, "cancel"];
// a notice, which is not answered, is [0, op, args].
// Answers (server → child): [id, ok, value, status]; when !ok, value is a
// `_RelayError`. `status` is what the object's server says of it after each
// call (a queue's size, a lock's state), for the child's sync getters.
// Across a byte link both go on the port's direct path (runtime/endpoint.ts):
// a request is in the pipe when the call returns.
import type { WireError } from "./protocol.ts";
import { _fromWireError, _toWireError } from "./errors.ts";
import { _beforeExit } from "./entry.ts";
import { _endings, _isAlive, _nextEnding } from "./liveness.ts";
import { _pairPorts, _receiveNow, _sendNow } from "./endpoint.ts";

/** A request from a relayed object's client. */
export type _RelayRequest = [id: number, op: string, args?: unknown[], timeoutMs?: number];
/** An answer from a relayed object's server. */
export type _RelayAnswer = [id: number, ok: boolean, value: unknown, status: unknown];
/** An error as it comes back: its wire form and its own plain fields (a `holderPid`). */
export type _RelayError = WireError & { fields?: Record<string, unknown> };

// ---- the sender's side: the server ------------------------------------------------------------

/** How a served call may wait: the child's time limit, and a signal that cancels it. */
export interface _RelayWait {
  timeoutMs: number | undefined;
  signal: AbortSignal;
}

/** One call a server does for its client. `args` come from the child: check them. */
export type _RelayOp = (args: unknown[], wait: _RelayWait) => unknown;

/** What a server serves. */
export interface _RelayServer {
  /** The calls, by name. */
  ops: Record<string, _RelayOp>;
  /**
   * The notices, by name: done as they come, in order with the calls, and
   * never answered. `args` come from the child: check them.
   */
  notices?: Record<string, (args: unknown[]) => void>;
  /**
   * The lane of each call that must wait for the one before it: calls of one
   * lane run one after another, in the order they came (a producer's puts).
   * A call with no lane starts when it arrives.
   */
  lanes?: Record<string, string>;
  /** What each answer carries besides the call's value. */
  status?: () => unknown;
  /**
   * The pid of the process served: when it ends, the calls it is waiting in
   * are aborted (it no longer waits for a lock it would then hold).
   */
  pid?: number;
  /** Whether the server holds something for its process (items lent to it): it is watched. */
  holding?: () => boolean;
  /** Called once the process served has ended, if `holding()` said so. */
  ended?: () => void;
}

// How often a server with waiting calls looks whether its process ended, at most.
const WATCH_MS = 1000;

function relayError(error: unknown): _RelayError {
  const wire: _RelayError = _toWireError(error);
  if (error instanceof Error) {
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(error)) {
      if (
        key !== "name" && key !== "message" &&
        (typeof value === "number" || typeof value === "string" || typeof value === "boolean")
      ) {
        fields[key] = value;
      }
    }
    if (Object.keys(fields).length > 0) wire.fields = fields;
  }
  return wire;
}

/**
 * Serves `server`'s calls, and returns the port to send to the process
 * served: each request is done here, and answered with its value or its
 * error. Bad requests are answered with an error, never trusted.
 */
export function _serveRelay(server: _RelayServer): MessagePort {
  const { port1: port, port2: peer } = new MessageChannel();
  _pairPorts(port, peer);
  const running = new Map<number, AbortController>();
  const lanes = new Map<string, Promise<unknown>>();
  const post = (answer: _RelayAnswer) => {
    if (!_sendNow(port, answer)) port.postMessage(answer);
  };
  const answer = (id: number, ok: boolean, value: unknown) => {
    const status = server.status?.();
    try {
      post([id, ok, value, status]);
    } catch (error) {
      // A value the link cannot carry: the caller gets the reason instead.
      post([id, false, relayError(error), status]);
    }
  };
  const held = () => server.holding?.() === true;
  let watching = false;
  const watch = (pid: number) => {
    if (watching) return;
    watching = true;
    void (async () => {
      while (running.size > 0 || held()) {
        const seen = _endings();
        if (!_isAlive(pid)) {
          const reason = new DOMException(`process ${pid} has ended`, "AbortError");
          for (const controller of running.values()) controller.abort(reason);
          if (held()) server.ended?.();
          break;
        }
        await _nextEnding(seen, WATCH_MS);
      }
      watching = false;
    })();
  };
  const run = (id: number, op: _RelayOp, args: unknown[], timeoutMs: number | undefined) => {
    const controller = new AbortController();
    running.set(id, controller);
    if (server.pid !== undefined) watch(server.pid);
    return Promise.resolve()
      .then(() => op(args, { timeoutMs, signal: controller.signal }))
      .then((value) => answer(id, true, value), (error) => answer(id, false, relayError(error)))
      .finally(() => {
        running.delete(id);
        if (server.pid !== undefined && held()) watch(server.pid);
      });
  };
  const receive = (data: unknown) => {
    const request = data as _RelayRequest;
    if (!Array.isArray(request) || !Number.isSafeInteger(request[0])) return;
    const [id, name, args, timeoutMs] = request;
    const a = Array.isArray(args) ? args : [];
    if (id === 0) {
      const notice = typeof name === "string" && server.notices !== undefined &&
          Object.hasOwn(server.notices, name)
        ? server.notices[name]
        : undefined;
      try {
        notice?.(a);
      } catch {
        // A notice the child got wrong: there is no one to tell but the child, which does not listen.
      }
      return;
    }
    if (name === "cancel") {
      running.get(id)?.abort(new DOMException("the call was aborted", "AbortError"));
      return;
    }
    const op = typeof name === "string" && Object.hasOwn(server.ops, name)
      ? server.ops[name]
      : undefined;
    if (op === undefined) {
      answer(id, false, relayError(new TypeError(`${String(name)} is not a relayed call`)));
      return;
    }
    const t = typeof timeoutMs === "number" ? timeoutMs : undefined;
    const lane = server.lanes !== undefined && Object.hasOwn(server.lanes, name)
      ? server.lanes[name]
      : undefined;
    if (lane === undefined) {
      void run(id, op, a, t);
      return;
    }
    lanes.set(lane, (lanes.get(lane) ?? Promise.resolve()).then(() => run(id, op, a, t)));
  };
  port.onmessage = (e: MessageEvent) => receive(e.data);
  _receiveNow(port, receive);
  return peer;
}

// ---- the child's side: the client -------------------------------------------------------------

/** How a relayed error is rebuilt as its own class, by its name. */
export type _Rebuilders = Record<
  string,
  (message: string, fields: Record<string, unknown>) => Error
>;

/**
 * `make`, run the first time its value is asked for. The classes a relayed
 * object becomes are made so: only a process that shares no memory with its
 * sender revives one, so a thread child does not make them as it starts.
 */
export function _once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

/** Rebuilders for classes whose constructor takes the message. */
export function _rebuildersOf(...classes: (new (message: string) => Error)[]): _Rebuilders {
  const out: _Rebuilders = {};
  for (const Class of classes) out[Class.name] = (message) => new Class(message);
  return out;
}

const COMMON = _rebuildersOf(TypeError, RangeError);

function rebuild(error: _RelayError, rebuilders: _Rebuilders): Error {
  if (error.name === "TimeoutError" || error.name === "AbortError") {
    return new DOMException(error.message, error.name);
  }
  const make = Object.hasOwn(rebuilders, error.name)
    ? rebuilders[error.name]
    : Object.hasOwn(COMMON, error.name)
    ? COMMON[error.name]
    : undefined;
  return make ? make(error.message, error.fields ?? {}) : _fromWireError(error);
}

/** A call's wait options, as the relayed object's async methods take them. */
export interface _RelayCallWait {
  timeoutMs?: number;
  signal?: AbortSignal;
}

// The calls made without a promise to wait on (taskDone(), release(),
// set()) that have not been answered: a process that ends waits for them,
// a while at most, since they must reach the object. A call that waits
// (get(), acquire()) and that nobody awaited is not waited for: it could
// wait for good.
// Calls made while it waits (a batch of puts sent when an answer came) are
// waited for too. Before that, each object's `flush` sends what it holds back.
const unanswered = new Set<Promise<unknown>>();
const flushes = new Set<() => void>();
const EXIT_WAIT_MS = 5000;
_beforeExit(() => {
  for (const flush of flushes) flush();
  if (unanswered.size === 0) return undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let late = false;
  const bound = new Promise<void>((resolve) =>
    timer = setTimeout(() => {
      late = true;
      resolve();
    }, EXIT_WAIT_MS)
  );
  const all = async () => {
    while (unanswered.size > 0 && !late) {
      await Promise.race([Promise.allSettled([...unanswered]), bound]);
      for (const flush of flushes) flush();
    }
  };
  return all().then(() => clearTimeout(timer));
});

/**
 * Has `flush` run as the process ends, before its calls are waited for:
 * an object sends then what it holds back (puts it batched, items it was
 * lent). Returns a function that undoes it.
 */
export function _flushAtExit(flush: () => void): () => void {
  flushes.add(flush);
  return () => flushes.delete(flush);
}

/** The requests of one relayed object, and the status its last answer carried. */
export class _RelayClient {
  readonly #port: MessagePort;
  readonly #pending = new Map<number, PromiseWithResolvers<unknown>>();
  readonly #rebuilders: _Rebuilders;
  #next = 1;
  #failed: Error | undefined;

  /**
   * @param port The port the server listens on.
   * @param rebuilders The errors its calls throw, rebuilt as their own classes.
   * @param onStatus Called with the status of each answer.
   */
  constructor(port: MessagePort, rebuilders: _Rebuilders, onStatus?: (status: unknown) => void) {
    this.#port = port;
    this.#rebuilders = rebuilders;
    const receive = (data: unknown) => {
      const [id, ok, value, status] = data as _RelayAnswer;
      onStatus?.(status);
      const call = this.#pending.get(id);
      if (!call) return;
      this.#pending.delete(id);
      if (ok) call.resolve(value);
      else call.reject(rebuild(value as _RelayError, this.#rebuilders));
      // Nothing waits: the port does not keep this process alive.
      if (this.#pending.size === 0) unref(port);
    };
    port.onmessage = (e: MessageEvent) => receive(e.data);
    _receiveNow(port, receive);
    unref(port);
  }

  // A request goes straight into the link when the port came across one: in
  // the pipe before this returns, and a task sooner than a post.
  #post(request: _RelayRequest): void {
    if (!_sendNow(this.#port, request)) this.#port.postMessage(request);
  }

  /** Makes call `op`; it waits as `wait` says, and `wait.signal` cancels it there. */
  call(op: string, args: unknown[], wait: _RelayCallWait = {}): Promise<unknown> {
    wait.signal?.throwIfAborted();
    const id = this.#next++;
    const call = Promise.withResolvers<unknown>();
    this.#pending.set(id, call);
    ref(this.#port);
    this.#post([id, op, args, wait.timeoutMs]);
    const signal = wait.signal;
    if (signal) {
      const onAbort = () => this.#post([id, "cancel"]);
      signal.addEventListener("abort", onAbort, { once: true });
      void call.promise.finally(() => signal.removeEventListener("abort", onAbort)).catch(() => {});
    }
    return call.promise;
  }

  /**
   * Sends notice `op`: done by the server in order with the calls, never
   * answered. Across a byte link it is in the pipe when this returns.
   */
  notify(op: string, args: unknown[]): void {
    this.#post([0, op, args]);
  }

  /** A call whose caller does not wait for it: the process's end does. */
  send(op: string, args: unknown[] = []): Promise<unknown> {
    return this.callAwaitedAtExit(op, args);
  }

  /**
   * Makes call `op` as {@linkcode call} does; should the process end before
   * the answer comes, its end waits for it (a while at most), and the
   * objects' flushes run again after it: what the answer brought (items lent
   * ahead, say) goes back.
   */
  callAwaitedAtExit(op: string, args: unknown[], wait: _RelayCallWait = {}): Promise<unknown> {
    const call = this.call(op, args, wait);
    const settled = call.then(() => {}, () => {});
    unanswered.add(settled);
    void settled.then(() => unanswered.delete(settled));
    return call;
  }

  // Calls sent ahead that later calls wait for (see `ahead`).
  readonly #ahead = new Set<Promise<unknown>>();

  /**
   * A call made from a method that returns before its answer (a `release()`,
   * a `set()`): it is sent in order, and if it fails, the next
   * {@linkcode _RelayClient.checked} call throws its error instead of being
   * made. With `awaited` (the default) that next call waits for its answer
   * first, so it always learns of the failure; without it (a put sent ahead
   * into an unbounded queue, which may wait for room), only once it came.
   */
  ahead(op: string, args: unknown[] = [], awaited = true): Promise<unknown> {
    const call = this.send(op, args);
    const settled = call.then(() => {}, (error) => {
      this.#failed ??= error;
    });
    if (awaited) {
      this.#ahead.add(settled);
      void settled.then(() => this.#ahead.delete(settled));
    }
    return call;
  }

  /** Throws, once, the error a call sent ahead got. */
  throwFailed(): void {
    const failed = this.#failed;
    if (failed === undefined) return;
    this.#failed = undefined;
    const rebuilt = new (failed.constructor as new (message: string) => Error)(
      `a call sent ahead failed: ${failed.message}`,
    );
    throw Object.assign(rebuilt, { cause: failed });
  }

  /** {@linkcode _RelayClient.call}, unless a call sent ahead failed: then that error. */
  checked(op: string, args: unknown[], wait?: _RelayCallWait): Promise<unknown> {
    const go = () => {
      this.throwFailed();
      return this.call(op, args, wait);
    };
    if (this.#ahead.size > 0) return Promise.allSettled([...this.#ahead]).then(go);
    try {
      return go();
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

// Deno's MessagePort keeps the event loop alive while it listens; one with no call waiting must not.
function unref(port: MessagePort): void {
  (port as unknown as { unref?: () => void }).unref?.();
}
function ref(port: MessagePort): void {
  (port as unknown as { ref?: () => void }).ref?.();
}

/**
 * The error a relayed object's sync method throws in a process that shares
 * no memory with it.
 *
 * @param call The method, such as `"Lock.acquireSync()"`.
 * @param use What to call instead, such as `"await acquire()"`.
 */
export function _relayUnavailable(call: string, use: string): TypeError {
  return new TypeError(
    `${call} is not available in a process that shares no memory with the object ` +
      `(a "spawn" child): it lives in its creator's memory, which this process reaches ` +
      `only by messages. Use the async form (${use})`,
  );
}

/** The error a relayed object throws when it is passed on. */
export function _relayNotPassable(path: string, name: string): TypeError {
  return new TypeError(
    `${path} is a ${name} this process got from its parent across an OS boundary; it cannot ` +
      `be passed on. Pass the parent's ${name} to each process that needs it`,
  );
}
