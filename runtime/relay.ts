// An object that lives in shared memory, for a process that shares no memory
// with it (a "spawn" child, an OS process): the sender serves the object's
// methods over a MessagePort, which the byte link relays, and the child gets
// an object of the same class whose async methods are requests on that port.
// The object stays where its memory is; every call is done there, by the
// sender, in the order the child made it. `channels/relay.ts` and
// `sync/relay.ts` say what each object's calls are.
//
// Requests (child → server): [id, op, args, timeoutMs], or [id, "cancel"].
// Answers (server → child): [id, ok, value, status]; when !ok, value is a
// `_RelayError`. `status` is what the object's server says of it after each
// call (a queue's size, a lock's state), for the child's sync getters.
import type { WireError } from "./protocol.ts";
import { _fromWireError, _toWireError } from "./errors.ts";
import { _beforeExit } from "./entry.ts";
import { _endings, _isAlive, _nextEnding } from "./liveness.ts";

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
 * Serves `server`'s calls on `port`: each request is done here, and answered
 * with its value or its error. Bad requests are answered with an error, never
 * trusted.
 */
export function _serveRelay(port: MessagePort, server: _RelayServer): void {
  const running = new Map<number, AbortController>();
  const lanes = new Map<string, Promise<unknown>>();
  const answer = (id: number, ok: boolean, value: unknown) => {
    const status = server.status?.();
    try {
      port.postMessage([id, ok, value, status] satisfies _RelayAnswer);
    } catch (error) {
      // A value the link cannot carry: the caller gets the reason instead.
      port.postMessage([id, false, relayError(error), status] satisfies _RelayAnswer);
    }
  };
  let watching = false;
  const watch = (pid: number) => {
    if (watching) return;
    watching = true;
    void (async () => {
      while (running.size > 0) {
        const seen = _endings();
        if (!_isAlive(pid)) {
          const reason = new DOMException(`process ${pid} has ended`, "AbortError");
          for (const controller of running.values()) controller.abort(reason);
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
      .finally(() => running.delete(id));
  };
  port.onmessage = (e: MessageEvent) => {
    const request = e.data as _RelayRequest;
    if (!Array.isArray(request) || !Number.isSafeInteger(request[0])) return;
    const [id, name, args, timeoutMs] = request;
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
    const a = Array.isArray(args) ? args : [];
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
const unanswered = new Set<Promise<unknown>>();
const EXIT_WAIT_MS = 5000;
_beforeExit(() => {
  if (unanswered.size === 0) return undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<void>((resolve) => timer = setTimeout(resolve, EXIT_WAIT_MS));
  return Promise.race([Promise.allSettled([...unanswered]), bound]).then(() => clearTimeout(timer));
});

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
    port.onmessage = (e: MessageEvent) => {
      const [id, ok, value, status] = e.data as _RelayAnswer;
      onStatus?.(status);
      const call = this.#pending.get(id);
      if (!call) return;
      this.#pending.delete(id);
      if (ok) call.resolve(value);
      else call.reject(rebuild(value as _RelayError, this.#rebuilders));
      // Nothing waits: the port does not keep this process alive.
      if (this.#pending.size === 0) unref(port);
    };
    unref(port);
  }

  /** Makes call `op`; it waits as `wait` says, and `wait.signal` cancels it there. */
  call(op: string, args: unknown[], wait: _RelayCallWait = {}): Promise<unknown> {
    wait.signal?.throwIfAborted();
    const id = this.#next++;
    const call = Promise.withResolvers<unknown>();
    this.#pending.set(id, call);
    ref(this.#port);
    this.#port.postMessage([id, op, args, wait.timeoutMs] satisfies _RelayRequest);
    const signal = wait.signal;
    if (signal) {
      const onAbort = () => this.#port.postMessage([id, "cancel"] satisfies _RelayRequest);
      signal.addEventListener("abort", onAbort, { once: true });
      void call.promise.finally(() => signal.removeEventListener("abort", onAbort)).catch(() => {});
    }
    return call.promise;
  }

  /** A call whose caller does not wait for it: the process's end does. */
  send(op: string, args: unknown[] = []): Promise<unknown> {
    const call = this.call(op, args);
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
