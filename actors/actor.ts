/**
 * Actors: a stateful object in its own permissioned worker, called by method
 * with types taken from its class. `Actor`, `spawn()` and `ActorRef`.
 *
 * @module
 */
import {
  _outbox,
  _prepare,
  _registerReviver,
  _reviveLoading,
  _WIRE,
  type _WireForm,
} from "../runtime/wire.ts";
import { _nextIdentity, _nextPid, _refuseWhileImporting } from "../runtime/context.ts";
import { _ActorHandle, type _SendOptions, _wireExit } from "./_actor_handle.ts";
import { Actor } from "./_actor_runtime.ts";

export { Actor };
import { ActorExited, type ExitReason } from "./errors.ts";
import { _remoteToWire, _toWireError, RemoteError } from "../runtime/errors.ts";
import { _checkTimeout, _describe, _inspectable, _post } from "../runtime/util.ts";
import {
  _assertApplicable,
  _normalizePermissions,
  type Permissions,
} from "../runtime/permissions.ts";
import { _startOptions, type StartMethod } from "../runtime/start.ts";
import { _reachedByBytes } from "../runtime/host.ts";
import {
  type ActorError,
  type ActorSpec,
  type FromBridge,
  type PackedCalls,
  type ToBridge,
  unpackCalls,
} from "../runtime/protocol.ts";
import { _requireTaskRef } from "../runtime/task.ts";
import { _Replies } from "../runtime/rpc.ts";

/** A class that {@linkcode spawn} can start: a subclass of {@linkcode Actor}. */
// deno-lint-ignore no-explicit-any
export type ActorClass = new (...args: any[]) => Actor;

/** The names of an actor's methods that callers may invoke (not those of `Actor` itself). */
export type ActorMethodName<T> = {
  [K in keyof T]: K extends keyof Actor | symbol ? never
    : T[K] extends (...args: never[]) => unknown ? K
    : never;
}[keyof T];

/** `ref.call`: each method of the actor, returning a Promise of its (awaited) value. */
export type Calls<T> = {
  readonly [K in ActorMethodName<T>]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/** `ref.tell`: each method of the actor, resolving once the message is in its mailbox. */
export type Tells<T> = {
  readonly [K in ActorMethodName<T>]: T[K] extends (...args: infer A) => unknown
    ? (...args: A) => Promise<void>
    : never;
};

/** Options for the calls made through {@linkcode ActorRef.with}. */
export interface ActorCallOptions {
  /**
   * Give up after this many milliseconds with a `TimeoutError`: waiting for
   * room in a full mailbox, for a supervised actor's restart, and for the reply.
   * The actor still handles a call it already received.
   * @default {undefined} (no limit)
   */
  timeoutMs?: number;
  /** Give up when this signal aborts, with its reason. */
  signal?: AbortSignal;
  /**
   * When the mailbox is full: wait for room (`true`), or fail at once with
   * `MailboxFull` (`false`).
   * @default {true}
   */
  wait?: boolean;
}

/** The mailbox of an actor. */
export interface MailboxOptions {
  /**
   * How many messages may wait in the mailbox (not counting the one being
   * handled). A send to a full mailbox waits for room, or fails with
   * `MailboxFull` when sent with `wait: false`.
   * @default {Infinity}
   */
  capacity?: number;
}

/**
 * Options for {@linkcode spawn}.
 *
 * @typeParam A The actor class's constructor parameters.
 */
export interface SpawnOptions<A extends unknown[] = unknown[]> {
  /** Constructor arguments, structured-cloned into the actor's worker. @default {[]} */
  args?: A;
  /** The actor's name. @default {"ClassName-N"} */
  name?: string;
  /** What the actor may do. @default {"inherit"} */
  permissions?: Permissions;
  /** The mailbox's bound. @default {{ capacity: Infinity }} */
  mailbox?: MailboxOptions;
  /**
   * How the actor's process starts: `"thread"` (a Deno Worker) or `"spawn"`
   * (an OS process of its own; a supervisor restarts it when it runs out of
   * memory, as after any crash). @default {getStartMethod()}
   */
  startMethod?: StartMethod;
  /** The actor's heap limit in MB; spawn only (see `ProcessOptions.memoryLimitMb`). */
  memoryLimitMb?: number;
}

/** Where a reference finds the actor: one incarnation, or a supervisor's current one. */
export interface _RefSource {
  /** The incarnation to send to now, or `undefined` when the caller must wait for one. */
  current(): _ActorHandle | undefined;
  /** Waits for an incarnation to send `method` to; rejects when none will come. */
  next(
    method: string,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
  ): Promise<_ActorHandle>;
  /** What to call the actor in errors when no incarnation is at hand. */
  readonly label: string;
  /** The one incarnation of a reference from `spawn()`; `undefined` for a supervisor's. */
  readonly fixed?: _ActorHandle;
  /** Calls `listener` once no call through this source can succeed any more; returns its remover. */
  onGone(listener: (exit: ExitReason) => void): () => void;
  /** For a reference that travelled here: the keys of the bridges it came through. */
  readonly via?: string[];
}

interface RefState {
  source: _RefSource;
  options: _SendOptions | undefined;
}

const refs = new WeakMap<ActorRef, RefState>();

function refState(ref: ActorRef): RefState {
  const s = refs.get(ref);
  if (!s) throw new TypeError("ActorRef objects come from spawn() or Supervisor.ref()");
  return s;
}

/**
 * A typed reference to an actor, from {@linkcode spawn} or a supervisor's
 * `ref()`. `ref.call.method(...args)` sends a call and resolves with the
 * method's value; `ref.tell.method(...args)` sends without waiting for a reply
 * (it resolves once the message is posted; an error thrown by a told method
 * ends the actor, as an OTP cast that crashes). `ref.with({ timeoutMs, signal,
 * wait })` gives the same reference with call options.
 *
 * A call to an actor that dies fails with `ActorExited`, naming the actor,
 * how it died and the method; nothing waits forever.
 *
 * A reference can be sent to other workers (in `args`, calls and return
 * values); there, calls go through a bridge in the thread that holds the
 * actor. Only that thread (or the actor's supervisor) can stop the actor.
 *
 * @typeParam T The actor class.
 *
 * @example
 * ```ts
 * import { Actor, spawn, task } from "@troupe/troupe";
 *
 * export class Greeter extends Actor {
 *   constructor(private greeting: string) {
 *     super();
 *   }
 *   async greet(who: string): Promise<string> {
 *     await new Promise((resolve) => setTimeout(resolve, 1));
 *     return `${this.greeting}, ${who}`;
 *   }
 * }
 * task(import.meta, Greeter);
 *
 * if (import.meta.main) {
 *   const greeter = await spawn(Greeter, { args: ["hello"] });
 *   const text: string = await greeter.with({ timeoutMs: 1000 }).call.greet("world");
 *   console.assert(text === "hello, world");
 *   await greeter.stop();
 * }
 * ```
 */
export class ActorRef<T = Actor> {
  /** Calls a method and resolves with its value (or rejects with its error as a `RemoteError`). */
  declare readonly call: Calls<T>;
  /** Sends to a method without waiting for its value; resolves once it is posted. */
  declare readonly tell: Tells<T>;

  private constructor() {
    throw new TypeError("ActorRef objects come from spawn() or Supervisor.ref()");
  }

  /** The actor's name (for a supervisor's reference, its current incarnation's). */
  get name(): string {
    const s = refState(this);
    return s.source.current()?.name ?? s.source.label;
  }

  /** The pid of the actor's worker; `undefined` while a supervised actor restarts. */
  get pid(): number | undefined {
    return refState(this).source.current()?.pid;
  }

  /** Whether the actor is running (for a supervisor's reference: an incarnation is). */
  isAlive(): boolean {
    return refState(this).source.current()?.alive ?? false;
  }

  /**
   * How the actor ended, or `null` while it runs (or while a supervised actor
   * restarts).
   */
  get exitCode(): number | null {
    return refState(this).source.current()?.exit?.code ?? null;
  }

  /**
   * The same reference, with options for every call and tell made through it.
   *
   * @param options `timeoutMs`, `signal` and `wait`.
   * @returns A reference to the same actor.
   */
  with(options: ActorCallOptions): ActorRef<T> {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`ActorRef.with() options must be an object, got ${_describe(options)}`);
    }
    _checkTimeout(options.timeoutMs, "timeoutMs");
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw new TypeError(`signal must be an AbortSignal, got ${_describe(options.signal)}`);
    }
    if (options.wait !== undefined && typeof options.wait !== "boolean") {
      throw new TypeError(`wait must be a boolean, got ${_describe(options.wait)}`);
    }
    const s = refState(this);
    return _makeRef<T>(s.source, { ...s.options, ...options });
  }

  /**
   * Asks the actor to stop once it has handled the calls already sent (it runs
   * `onStop()` and exits with code 0), and terminates it when `timeoutMs`
   * passes first. Resolves once it has ended. A supervised actor is restarted
   * if its restart type says so.
   *
   * @param options `timeoutMs`: how long to wait before terminating. @default {undefined} (no limit)
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    const limit = _checkTimeout(options.timeoutMs, "stop() timeoutMs");
    await owned(this, "stop")?.stop(limit);
  }

  /** Ends the actor at once (exit code -15); calls in flight fail with `ActorExited`. */
  terminate(): void {
    owned(this, "terminate")?.terminate(-15);
  }

  /** Ends the actor at once (exit code -9); calls in flight fail with `ActorExited`. */
  kill(): void {
    owned(this, "kill")?.terminate(-9);
  }

  /**
   * Stops the actor (waiting at most 5 s for it, then terminating it). A
   * reference received from another thread only lets go of the actor.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    const handle = refState(this).source.current();
    if (handle && !handle.owner) return handle.release();
    await this.stop({ timeoutMs: 5000 });
  }
}

// console.log(ref): ActorRef { name: "Counter-1", pid: 1000000002, alive: true, exitCode: null }
_inspectable(ActorRef, (ref) => ({
  name: ref.name,
  pid: ref.pid,
  alive: ref.isAlive(),
  exitCode: ref.exitCode,
}));

// Sends the reference to another worker: it becomes a port to a bridge in this
// thread. Installed outside the class body, so the wire hook stays out of the
// public API.
Object.defineProperty(ActorRef.prototype, _WIRE, {
  value: function wire(this: ActorRef, path: string): _WireForm {
    const { source } = refState(this);
    if (source.fixed && !source.fixed.alive) {
      throw new TypeError(
        `${path} is a reference to ${source.label}, which ${source.fixed.exit!.description}; ` +
          "only a reference to a running actor can be sent",
      );
    }
    const key = crypto.randomUUID();
    const port = openBridge(key, source);
    // A supervisor's reference outlives incarnations: it travels under the child's label.
    const state: WireRef = {
      keys: [...source.via ?? [], key],
      name: source.fixed?.name ?? source.label,
      pid: source.fixed?.pid,
      port,
    };
    return { kind: "troupe.ActorRef", module: import.meta.url, state, transfer: [port] };
  },
});

/** The incarnation to stop, which must be this thread's own. */
function owned(ref: ActorRef, what: string): _ActorHandle | undefined {
  const handle = refState(ref).source.current();
  if (handle && !handle.owner) {
    throw new Error(
      `cannot ${what} ${handle.name} through a reference received from another thread: ` +
        "only the thread that spawned it (or its supervisor) can end an actor",
    );
  }
  return handle;
}

// ---- references that travel ------------------------------------------------

/**
 * A reference as it travels: the port to its bridge, and the keys of the
 * bridges it came through, to find it back in a thread it passed.
 */
interface WireRef {
  keys: string[];
  name: string;
  pid: number | undefined;
  port: MessagePort;
}

// Bridges this thread opened, by key: a reference that comes back is local again.
const bridges = new Map<string, { source: _RefSource; close(): void }>();

/**
 * Serves calls that arrive on a port through `source`, in arrival order, and
 * posts the answers back. Closes when the actor is gone for good or the
 * holder lets go.
 */
function openBridge(key: string, source: _RefSource): MessagePort {
  const { port1, port2 } = new MessageChannel();
  let open = true;
  let reviving: Promise<unknown> = Promise.resolve();
  let unwatch = () => {};
  const close = () => {
    if (!open) return;
    open = false;
    unwatch();
    bridges.delete(key);
    port1.close();
  };
  // The answers that settle in one turn go back together.
  const replies = new _Replies();
  const post = (message: FromBridge, transfer: Transferable[]) => {
    if (open) _post(port1, message, transfer);
  };
  bridges.set(key, { source, close });
  unwatch = source.onGone((exit) => {
    if (!open) return;
    replies.flush(post); // the answers before it
    port1.postMessage({ t: "gone", exit: _wireExit(exit) } satisfies FromBridge);
    close();
  });
  const answer = (id: number, value: unknown, error: unknown) => {
    if (!open) return;
    if (replies.empty) queueMicrotask(() => replies.flush(post));
    if (error === undefined) {
      const out = _outbox();
      try {
        value = _prepare(value, "a value", out);
        return replies.value(id, value, out.transfer, out.wired);
      } catch (e) {
        error = e;
      }
    }
    const failure: ActorError = { id, error: _toWireError(error) };
    if (error instanceof ActorExited) failure.exit = _wireExit(error.reason);
    else if (error instanceof RemoteError) {
      failure.error = _remoteToWire(error);
    } else failure.local = true;
    replies.error(failure);
  };
  const serve = (calls: PackedCalls) => {
    for (const { id, method, args, trace } of unpackCalls(calls)) {
      const handle = source.current();
      const sent = handle
        ? handle.send(method, args, id !== 0, undefined, trace)
        : sendLater(source, method, args, id !== 0, undefined);
      // A failed tell has nobody to tell; the holder learns of an ended actor from "gone".
      if (id === 0) sent.catch(() => {});
      else sent.then((v) => answer(id, v, undefined), (e) => answer(id, undefined, e));
    }
  };
  port1.onmessage = (e: MessageEvent<ToBridge>) => {
    const data = e.data;
    const message = typeof data === "string" ? JSON.parse(data) as PackedCalls : data;
    if (Array.isArray(message)) {
      reviving = reviving.then(() => serve(message));
    } else if (message.t === "calls") {
      const calls = message.calls;
      reviving = reviving.then(() => _reviveLoading(calls)).then(
        () => serve(calls),
        (error) => {
          for (const { id } of unpackCalls(calls)) if (id !== 0) answer(id, undefined, error);
        },
      );
    } else if (message.t === "release") close();
  };
  return port2;
}

_registerReviver("troupe.ActorRef", (state) => {
  const { keys, name, pid, port } = state as WireRef;
  const home = keys.map((key) => bridges.get(key)).find((bridge) => bridge !== undefined);
  if (home) {
    // Back in a thread it passed (maybe the one that holds the actor): use the reference there.
    port.postMessage({ t: "release" } satisfies ToBridge);
    port.close();
    return _makeRef(home.source);
  }
  const handle = new _ActorHandle({ name, pid, port });
  return _makeRef({ ...fixed(handle), via: keys });
});

/** The incarnation behind a reference from `spawn()`, or `undefined` for any other value. */
export function _refHandle(value: unknown): _ActorHandle | undefined {
  return value instanceof ActorRef ? refs.get(value)?.source.fixed : undefined;
}

/** Makes a reference over `source`; the one way `ActorRef`s are made. */
export function _makeRef<T>(source: _RefSource, options?: _SendOptions): ActorRef<T> {
  const ref = Object.create(ActorRef.prototype) as ActorRef<T>;
  refs.set(ref as ActorRef, { source, options });
  Object.defineProperty(ref, "call", { value: methods(source, options, true) });
  Object.defineProperty(ref, "tell", { value: methods(source, options, false) });
  return ref;
}

function methods(
  source: _RefSource,
  options: _SendOptions | undefined,
  wantReply: boolean,
): never {
  const cache = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const make = (method: string) => (...args: unknown[]): Promise<unknown> => {
    const handle = source.current();
    if (handle) return handle.send(method, args, wantReply, options);
    return sendLater(source, method, args, wantReply, options);
  };
  return new Proxy(Object.create(null), {
    get(_, method) {
      // Not a thenable, and no symbol methods.
      if (typeof method !== "string" || method === "then") return undefined;
      let fn = cache.get(method);
      if (!fn) cache.set(method, fn = make(method));
      return fn;
    },
  }) as never;
}

// A supervised actor between incarnations: wait for the next, within the call's limits.
async function sendLater(
  source: _RefSource,
  method: string,
  args: unknown[],
  wantReply: boolean,
  options: _SendOptions | undefined,
): Promise<unknown> {
  const started = performance.now();
  const handle = await source.next(method, options?.signal, options?.timeoutMs);
  let rest = options;
  if (options?.timeoutMs !== undefined) {
    rest = {
      ...options,
      timeoutMs: Math.max(0, options.timeoutMs - (performance.now() - started)),
    };
  }
  return handle.send(method, args, wantReply, rest);
}

/** A source that is always the one incarnation `spawn()` started. */
function fixed(handle: _ActorHandle): _RefSource {
  return {
    current: () => handle,
    next: () => Promise.resolve(handle),
    label: handle.name,
    fixed: handle,
    onGone: (listener) => handle.onEnd(listener),
  };
}

/**
 * Starts an actor in a new worker and resolves with a typed reference once
 * it is constructed and its `onStart()` has run. Rejects (and leaves no
 * worker) when the class was not declared with `task()`, an argument cannot be
 * sent, the permissions cannot be applied, or the constructor or `onStart()`
 * throws (with that error as a `RemoteError`).
 *
 * @typeParam C The actor class.
 * @param actor A subclass of {@linkcode Actor}, declared with `task()`.
 * @param options Constructor `args`, `name`, `permissions` and `mailbox`.
 * @returns A reference typed from the class.
 *
 * @example
 * ```ts
 * import { Actor, spawn, task } from "@troupe/troupe";
 *
 * export class Store extends Actor {
 *   #items = new Map<string, number>();
 *   set(key: string, value: number): void {
 *     this.#items.set(key, value);
 *   }
 *   get(key: string): number | undefined {
 *     return this.#items.get(key);
 *   }
 * }
 * task(import.meta, Store);
 *
 * if (import.meta.main) {
 *   await using store = await spawn(Store, { name: "store", mailbox: { capacity: 100 } });
 *   await store.tell.set("a", 1);
 *   console.assert((await store.call.get("a")) === 1);
 * }
 * ```
 */
export async function spawn<C extends ActorClass>(
  actor: C,
  options: SpawnOptions<ConstructorParameters<C>> = {},
): Promise<ActorRef<InstanceType<C>>> {
  return _makeRef(fixed(await _spawnHandle(actor, options)));
}

/** Starts one incarnation of an actor; resolves once it is ready. */
export async function _spawnHandle(
  actor: ActorClass,
  options: SpawnOptions,
): Promise<_ActorHandle> {
  _refuseWhileImporting(`an actor (${_describe(actor)})`);
  if (typeof actor !== "function" || !(actor.prototype instanceof Actor)) {
    throw new TypeError(
      `spawn() needs a subclass of Actor, got ${_describe(actor)}: ` +
        "write `class MyActor extends Actor { ... }` and declare it with task(import.meta, MyActor)",
    );
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`spawn() options must be an object, got ${_describe(options)}`);
  }
  const { args = [], name, permissions = "inherit", mailbox = {}, startMethod, memoryLimitMb } =
    options;
  const task = _requireTaskRef(actor, "Actor class");
  if (!Array.isArray(args)) {
    throw new TypeError(`spawn() args must be an array, got ${_describe(args)}`);
  }
  if (name !== undefined && typeof name !== "string") {
    throw new TypeError(`spawn() name must be a string, got ${_describe(name)}`);
  }
  const capacity = mailbox.capacity ?? Infinity;
  if (
    typeof capacity !== "number" ||
    !(capacity === Infinity || (Number.isInteger(capacity) && capacity >= 1))
  ) {
    throw new RangeError(
      `mailbox.capacity must be a positive integer or Infinity, got ${String(capacity)}`,
    );
  }
  const identity = _nextIdentity();
  const actorName = name ?? `${actor.name || "Actor"}-${identity}`;
  const perms = _normalizePermissions(permissions, `${actorName} permissions`);
  const start = _startOptions(startMethod, memoryLimitMb, "spawn()");
  _assertApplicable(perms, `${actorName} permissions`, start.method);
  const pid = _nextPid();
  const out = _outbox();
  out.to = pid;
  // An OS process gets its shared-memory arguments (a Lock, a Queue) as relays served from here.
  out.bytes = _reachedByBytes(start);
  const sent = args.map((arg, i) => _prepare(arg, `${actorName} args[${i}]`, out));
  const spec: ActorSpec = {
    kind: "actor",
    task,
    args: sent,
    mailbox: capacity === Infinity ? undefined : new SharedArrayBuffer(4),
    capacity: capacity === Infinity ? 0 : capacity,
  };
  if (out.wired) spec.wired = true;
  const handle = new _ActorHandle({
    name: actorName,
    pid,
    identity,
    permissions: perms,
    start,
    spec,
    modules: [task.module, ...out.modules],
    transfer: out.transfer,
  });
  await handle.ready;
  return handle;
}
