/**
 * The proxies a `Manager` hands out: `DictProxy`, `ListProxy`,
 * `NamespaceProxy`, `ValueProxy`, `LockProxy` and `QueueProxy`. Each call is a
 * message to the manager's worker, which holds the real object.
 *
 * @module
 */
import { _context, _IN_WORKER } from "../runtime/context.ts";
import { Empty, Full } from "../channels/errors.ts";
import { type Connection, Pipe } from "../channels/pipe.ts";
import { _outbox, _prepare, _registerReviver, _reviveLoading, _WIRE } from "../runtime/wire.ts";
import type { _Outbox, _WireForm } from "../runtime/wire.ts";
import { _Caller, _JSON_MAX, _jsonExact, _settlePacked } from "../runtime/rpc.ts";
import { _endings, _isAlive, _nextEnding } from "../runtime/liveness.ts";
import { _describe, _inspectable, _post } from "../runtime/util.ts";
import { _endCall, _outcomeOf, _startCall, _traceparent, _TRACING } from "../runtime/trace.ts";
import type {
  FromManager,
  ManagerConnect,
  ManagerFailure,
  ToManager,
} from "../runtime/protocol.ts";
import {
  _armWait,
  _myPid,
  _timeoutError,
  _waitOptions,
  type WaitOptions,
} from "../runtime/wait.ts";
import { LockHolderDiedError, ManagerStoppedError } from "./errors.ts";

/** What a managed object is. */
export type _ProxyKind = "dict" | "list" | "namespace" | "value" | "lock" | "queue";

// ---- connections -------------------------------------------------------------

interface Pending {
  what: string;
  op: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** The caller stopped waiting (its signal aborted); a lock granted late is given back. */
  abandoned?: boolean;
  objId: number;
  /** The proxy called: a call in flight keeps it (so its reference, so its object) alive. */
  proxy: object | undefined;
}

// How often a caller with calls in flight checks that the manager still runs.
const WATCH_MS = 50;
const ENDED = "has ended (it was terminated, or the process that started it ended)";

type RefPort = MessagePort & { ref(): void; unref(): void };

// Each connection's pipe buffers, per direction; a bigger message takes the port.
const PIPE_BYTES = 1 << 18;

/**
 * This thread's connection to one manager, shared by every proxy of that
 * manager in this thread: a MessagePort straight to the manager's worker, for
 * control and for what must be transferred, and a `Pipe` (polled shared
 * memory) for the calls and answers themselves when the manager shares this
 * thread's memory (its `domain` is this thread's).
 */
export class _Connection {
  readonly manager: string;
  readonly name: string;
  readonly pid: number | undefined;
  readonly port: RefPort;
  /** The memory domain the manager runs in (see `_Context.domain`). */
  readonly domain: string;
  /** How the manager stopped, once it has. */
  stopped: string | undefined;
  /** Calls in flight, and the calls of this microtask: `[id, object, op, ...args]` each. */
  #caller: _Caller<Pending>;
  /** The timer that watches the manager while calls are in flight; `true` for a worker's wait loop. */
  #watch: ReturnType<typeof setInterval> | true | undefined;
  #watchLoops = 0;
  #pipe: Connection<unknown, unknown> | undefined;
  /** The port said the manager stopped; the pipe may still hold answers sent before. */
  #stopNotice = false;
  /** Settles one call a packed answer answers (made once, not per message). */
  readonly #answered = (id: number, value: unknown) => this.#settle(id, value, undefined);
  /** The liveness table said the manager's process ended: the pipe is being read one last time. */
  #ending: Promise<void> | undefined;

  constructor(
    manager: string,
    name: string,
    pid: number | undefined,
    port: MessagePort,
    domain: string,
  ) {
    this.manager = manager;
    this.name = name;
    this.pid = pid;
    this.port = port as RefPort;
    this.domain = domain;
    connections.set(manager, this);
    this.port.onmessage = (e: MessageEvent<FromManager>) => this.#onMessage(e.data);
    // An idle connection does not keep the program alive; one with calls in flight does.
    this.port.unref();
    let theirs: Connection<unknown, unknown> | undefined;
    if (domain === _context().domain) {
      [this.#pipe, theirs] = Pipe<unknown>({ bufferBytes: PIPE_BYTES });
    }
    this.#caller = new _Caller<Pending>({
      pipe: this.#pipe,
      post: (message, transfer) => _post(this.port, message, transfer),
      open: () => this.stopped === undefined,
      answer: (message) => this.#onMessage(message as FromManager, true),
      // Their callers were failed by stop().
      refused: () => this.stopped === undefined ? undefined : new Error(this.stopped),
      split: (calls) => (calls as unknown[][]).map((call) => [call[0] as number, [call]]),
      unsendable: (id, _single, error) => {
        const what = this.#caller.pending.get(id)?.what ?? "a call";
        return new TypeError(`${what} could not be sent to ${this.name}: ${error.message}`);
      },
      afterRead: () => {
        if (this.#stopNotice && this.stopped === undefined) {
          void this.#drainThenStop("was shut down");
        }
      },
    });
    const out = _outbox();
    const pipe = theirs && _prepare(theirs, "the manager connection", out);
    _post(this.port, { t: "hello", pid: _myPid(), pipe } satisfies ToManager, out.transfer);
  }

  /** Calls `op` on object `objId` (through `proxy`); `what` names the call in errors. */
  call(
    objId: number,
    op: string,
    args: unknown[],
    what: string,
    signal?: AbortSignal,
    proxy?: object,
  ): Promise<unknown> {
    if (!_TRACING) return this.#call(objId, op, args, what, signal, proxy, undefined);
    // A span, whose handling in the manager is a span under it.
    const span = _startCall(`manager.call ${op}`, {
      "troupe.manager": this.name,
      "troupe.method": op,
      "troupe.call": what,
    })!;
    if (this.pid !== undefined) span.setAttribute("troupe.worker.pid", this.pid);
    const call = this.#call(objId, op, args, what, signal, proxy, _traceparent(span));
    call.then(() => _endCall(span, "ok"), (error) => _endCall(span, _outcomeOf(error), error));
    return call;
  }

  #call(
    objId: number,
    op: string,
    args: unknown[],
    what: string,
    signal: AbortSignal | undefined,
    proxy: object | undefined,
    trace: string | undefined,
  ): Promise<unknown> {
    // The run-wide liveness table knows of an ended manager before any message could.
    if (this.stopped === undefined && this.pid !== undefined && !_isAlive(this.pid)) {
      return this.#ended().then(() =>
        Promise.reject(new ManagerStoppedError(this.name, this.stopped!, what))
      );
    }
    if (this.stopped !== undefined) {
      return Promise.reject(new ManagerStoppedError(this.name, this.stopped, what));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = this.#caller.nextId();
    // A traced call carries its caller's span (see TracedMethod).
    const called = trace === undefined ? op : [op, trace];
    let entry: unknown[];
    if (args.every(_jsonExact)) entry = [id, objId, called, ...args];
    else {
      const out = _outbox();
      let sent: unknown[];
      sendingTo = this.manager;
      try {
        sent = _prepare(args, `${what} args`, out) as unknown[];
      } catch (error) {
        return Promise.reject(error);
      } finally {
        sendingTo = undefined;
      }
      entry = [id, objId, called, ...sent];
      this.#caller.notJson();
      this.#caller.carry(out.transfer, out.wired);
    }
    this.#queue(entry);
    if (this.#watch === undefined) this.#busy();
    return new Promise((resolve, reject) => {
      const pending: Pending = { what, op, resolve, reject, objId, proxy };
      this.#caller.pending.set(id, pending);
      if (signal) {
        const disarm = _armWait({ signal }, (reason) => {
          if (this.#caller.pending.get(id) !== pending || pending.abandoned) return;
          pending.abandoned = true;
          if (this.stopped === undefined) {
            // The call must reach the manager before its cancel does.
            this.#caller.flush();
            this.#caller.send({ t: "cancel", id });
          }
          reject(reason);
        });
        pending.resolve = (v) => (disarm(), resolve(v));
        pending.reject = (e) => (disarm(), reject(e));
      }
    });
  }

  /** Sends a call nobody waits for (id 0: the manager sends no answer). */
  tell(objId: number, op: string, args: unknown[]): void {
    if (this.stopped === undefined) this.#queue([0, objId, op, ...args]);
  }

  /**
   * Gives back a proxy's reference to object `objId` (it was released or
   * collected), in order after every call made before. Releases in a row
   * share one `decref`.
   */
  release(objId: number): void {
    if (this.stopped !== undefined) return;
    if (this.#decrefs === undefined || this.#caller.batch().at(-1) !== this.#decrefs) {
      this.#decrefs = [0, 0, "decref"];
      this.#queue(this.#decrefs);
    }
    this.#decrefs.push(objId);
  }

  /**
   * Sends a proxy of object `objId` away with the peer of `port` (see
   * "travelling" below): the manager takes a reference for it, in order before
   * any later release from this thread, and serves `port`. Returns the token
   * the receiver claims the reference with.
   */
  lend(objId: number, port: MessagePort, holder: number | undefined): string {
    const token = `${_myPid()}.${++lent}`;
    const connect: ManagerConnect = { t: "connect", port, token, obj: objId };
    if (holder !== undefined) connect.holder = holder;
    this.#caller.send(connect, [port], true);
    return token;
  }

  /** Takes over the reference a proxy of object `objId` carried here (see `lend`). */
  claim(token: string, objId: number): void {
    this.tell(0, "claim", [token, objId]);
  }

  // Calls made in one microtask travel in one message (one structured clone,
  // one wake-up of the manager's thread).
  /** The batch's last entry when it is a `decref`, which later releases join. */
  #decrefs: unknown[] | undefined;

  #queue(entry: unknown[]): void {
    const batch = this.#caller.batch();
    if (batch.length >= _JSON_MAX) this.#caller.notJson();
    batch.push(entry);
  }

  /** Fails every call in flight and every later one: the manager `how` (e.g. "was shut down"). */
  stop(how: string): void {
    if (this.stopped !== undefined) return;
    this.stopped = how;
    this.port.close();
    this.#pipe?.close();
    this.#idle();
    this.#caller.failAll((call) =>
      call.abandoned ? undefined : new ManagerStoppedError(this.name, how, call.what)
    );
  }

  // While calls are in flight the port keeps the program alive, and a timer
  // checks that the manager still runs. Both stop at the first tick with no
  // call in flight (not at each reply: ref/unref per call costs ~1 µs). A
  // worker waits on the run's endings instead: its first timer would cost it
  // ~3 ms (Deno loads node:timers then), and its event loop needs no keeping.
  #busy(): void {
    this.port.ref();
    if (_IN_WORKER) {
      this.#watch = true;
      void this.#watchInWorker(++this.#watchLoops);
      return;
    }
    const watch = setInterval(() => this.#tick(), WATCH_MS);
    Deno.unrefTimer(watch);
    this.#watch = watch;
  }

  /** One look while calls are in flight; false once there is nothing left to watch. */
  #tick(): boolean {
    if (this.#caller.pending.size === 0 || this.stopped !== undefined) {
      this.#idle();
      return false;
    }
    if (this.pid !== undefined && !_isAlive(this.pid)) void this.#ended();
    return this.#watch !== undefined;
  }

  /**
   * The manager's process ended. What it sent before it ended may still wait
   * in the pipe (answers, and the notice of a shutdown, which the liveness
   * table can outrun on a busy machine): taken first, then the calls left
   * fail, with "was shut down" when the notice was there.
   */
  #ended(): Promise<void> {
    return this.#ending ??= this.#drainThenStop(ENDED);
  }

  /** The worker's watch: wakes when a process ends, and every WATCH_MS to see whether calls remain. */
  async #watchInWorker(loop: number): Promise<void> {
    // Looks after a wait, as the timer's first tick does: the call that made
    // the connection busy is registered just after.
    for (;;) {
      await _nextEnding(_endings(), WATCH_MS);
      // Idle meanwhile, and maybe busy again with a loop of its own: this one ends.
      if (this.#watchLoops !== loop || this.#watch !== true) return;
      if (!this.#tick()) return;
    }
  }

  #idle(): void {
    this.port.unref();
    if (this.#watch !== undefined && this.#watch !== true) clearInterval(this.#watch);
    this.#watch = undefined;
  }

  #settle(id: number, value: unknown, error: unknown): void {
    const pending = this.#caller.take(id);
    if (!pending) return;
    if (pending.abandoned) {
      // A lock granted after its caller gave up waiting: give it back.
      if (error === undefined && pending.op === "acquire") {
        this.tell(pending.objId, "release", []);
      }
      return;
    }
    if (error === undefined) pending.resolve(value);
    else pending.reject(error);
  }

  #onMessage(message: FromManager, viaPipe = false): void {
    if (_settlePacked(message, this.#answered)) return;
    switch (message.t) {
      case "value": {
        const { id, value } = message;
        _reviveLoading(value).then(
          (v) => this.#settle(id, v, undefined),
          (e) => this.#settle(id, undefined, e),
        );
        return;
      }
      case "error":
        return this.#settle(message.id, undefined, rebuild(message));
      case "stopped":
        // The manager sends it on the pipe (after every answer there) and on the port.
        if (viaPipe) return this.stop("was shut down");
        this.#stopNotice = true;
        if (!this.#caller.reading) void this.#drainThenStop("was shut down");
        return;
    }
  }

  /** Hands on what already waits in the pipe (a shutdown notice among it stops first), then stops. */
  async #drainThenStop(how: string): Promise<void> {
    await this.#caller.drain();
    this.stop(how);
  }
}

/** The error a manager reported, as the caller should see it. */
function rebuild(failure: ManagerFailure): Error {
  const { name, message } = failure.error;
  if (name === "LockHolderDiedError") {
    return new LockHolderDiedError("manager Lock", failure.holderPid ?? 0);
  }
  if (name === "TimeoutError") return _timeoutError(message);
  if (name === "AbortError") return new DOMException(message, name);
  if (name === "TypeError") return new TypeError(message);
  if (name === "RangeError") return new RangeError(message);
  return Object.assign(new Error(message), { name });
}

// This thread's connections, by manager id.
const connections = new Map<string, _Connection>();
// How many proxies this thread has sent away (their tokens).
let lent = 0;
// The managers this thread serves (in a manager's own worker).
const hosted = new Set<string>();
// The manager a call is being prepared for: its own proxies travel to it without a port.
let sendingTo: string | undefined;
// In a manager's worker, while it prepares an answer: the objects of the proxies in it.
let answering: number[] | undefined;

/** Records that this thread is manager `id`'s worker. */
export function _hostManager(id: string): void {
  hosted.add(id);
}

/**
 * Runs `fn` (which prepares a value to send to manager `id`'s clients) with
 * its proxies portless, and pushes the object of each onto `sent`: the
 * manager takes a reference for each proxy the client will revive.
 */
export function _sendingFrom<T>(id: string, fn: () => T, sent: number[]): T {
  sendingTo = id;
  answering = sent;
  try {
    return fn();
  } finally {
    sendingTo = undefined;
    answering = undefined;
  }
}

// ---- proxies ----------------------------------------------------------------

interface ProxyState {
  manager: string;
  name: string;
  pid: number | undefined;
  id: number;
  kind: _ProxyKind;
  /** `undefined` in the manager's own worker, where the proxy is a stored reference. */
  conn: _Connection | undefined;
  /** Its reference was given back: `[Symbol.dispose]()` was called. */
  released: boolean;
}

/**
 * A proxy as it travels: which manager, which object, and (to another
 * process) a port to the manager and the token of the reference it carries.
 */
interface WireProxy {
  manager: string;
  name: string;
  pid: number | undefined;
  id: number;
  kind: _ProxyKind;
  /** The manager's memory domain: a connection there uses a pipe only within it. */
  domain: string;
  port?: MessagePort;
  token?: string;
}

const states = new WeakMap<object, ProxyState>();

function state(proxy: object, kind: string): ProxyState {
  const s = states.get(proxy);
  if (!s) throw new TypeError(`${kind} objects come from a Manager (manager.${kind}())`);
  return s;
}

/** How a proxy is named in errors: "DictProxy (object 3 of Inventory)". */
function describeProxy(s: ProxyState): string {
  return `${CLASSES[s.kind].name} (object ${s.id} of ${s.name})`;
}

function releasedError(s: ProxyState, what: string): Error {
  return new Error(
    `${what}: this ${describeProxy(s)} was released with [Symbol.dispose]() and cannot be used ` +
      "any more; keep the proxy until you are done with it, or use another proxy of the object",
  );
}

function invoke(
  proxy: object,
  kind: string,
  op: string,
  args: unknown[],
  signal?: AbortSignal,
): Promise<unknown> {
  const s = states.get(proxy);
  if (!s) return Promise.reject(state(proxy, kind));
  const what = `${s.kind}.${op}()`;
  if (s.released) return Promise.reject(releasedError(s, what));
  if (!s.conn) {
    return Promise.reject(
      new Error(`${what}: this proxy is a value stored inside ${s.name} and is used from outside`),
    );
  }
  return s.conn.call(s.id, op, args, what, signal, proxy);
}

// A proxy that nobody can reach any more gives its reference back. The held
// value is the proxy's state (which does not point back at the proxy); the
// connection batches the `decref`s of one cleanup into one message.
const collected = new FinalizationRegistry<ProxyState>((s) => {
  try {
    giveBack(s);
  } catch {
    // A finalizer must not throw; the manager drops this process's references when it ends.
  }
});

function giveBack(s: ProxyState): void {
  if (s.released) return;
  s.released = true;
  s.conn?.release(s.id);
}

/** `[Symbol.dispose]()` of every proxy class. */
function dispose(proxy: object, kind: string): void {
  const s = state(proxy, kind);
  collected.unregister(proxy);
  giveBack(s);
}

function checkKey(key: unknown, what: string): void {
  const t = typeof key;
  if ((t === "object" && key !== null) || t === "function" || t === "symbol") {
    throw new TypeError(
      `${what} got a key that is a ${_describe(key)}: manager dict keys must be strings, ` +
        "numbers, bigints, booleans, null or undefined (a copied object is never the same key)",
    );
  }
}

function checkIndex(index: unknown, what: string): void {
  if (!Number.isInteger(index)) {
    throw new TypeError(`${what} needs an integer index, got ${String(index)}`);
  }
}

/** Rejects instead of throwing, so every proxy method fails the same way. */
function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A dict held by a `Manager`, Python's `DictProxy`: every method is
 * a call to the manager, so every process holding the proxy sees the same
 * entries. Keys compare like `Map` keys: strings, numbers, bigints, booleans,
 * `null` or `undefined`. Values are copied (structured clone), except proxies
 * of the same manager, which are stored as references and come back as
 * usable proxies. Each call is atomic: `update()` and `setDefault()` cannot
 * interleave with another process's calls.
 *
 * @typeParam K The keys.
 * @typeParam V The values.
 *
 * @example
 * ```ts
 * import { Manager } from "@troupe/troupe";
 *
 * if (import.meta.main) {
 *   await using manager = await Manager.start();
 *   const d = await manager.dict<string, number>({ a: 1 });
 *   await d.set("b", 2);
 *   console.assert((await d.setDefault("a", 5)) === 1);
 *   console.assert((await d.get("b")) === 2);
 * }
 * ```
 */
export class DictProxy<K = string, V = unknown> {
  private constructor() {
    throw new TypeError("DictProxy objects come from a Manager (manager.dict())");
  }

  /**
   * Gives back this proxy's reference to the dict. The manager frees the
   * dict once nothing refers to it: no proxy in any process, and no other
   * managed object it is stored in. Calls on this proxy reject from now on;
   * other proxies of the dict are unaffected. A proxy that is garbage
   * collected gives its reference back by itself, later; `using` gives it
   * back at the end of a scope. Safe to call more than once.
   *
   * @example
   * ```ts
   * import { Manager } from "@troupe/troupe";
   *
   * if (import.meta.main) {
   *   await using manager = await Manager.start();
   *   {
   *     using scratch = await manager.dict<string, number>();
   *     await scratch.set("a", 1);
   *   } // its only proxy is gone: the manager frees the dict here
   * }
   * ```
   */
  [Symbol.dispose](): void {
    dispose(this, "DictProxy");
  }

  /**
   * The value for `key`, or `undefined` when the key is absent.
   *
   * @param key The key.
   */
  get(key: K): Promise<V | undefined>;
  /**
   * The value for `key`, or `fallback` when the key is absent.
   *
   * @typeParam D The fallback's type.
   * @param key The key.
   * @param fallback The value when the key is absent.
   */
  get<D>(key: K, fallback: D): Promise<V | D>;
  get(key: K, ...fallback: unknown[]): Promise<unknown> {
    return guarded(() => {
      checkKey(key, "dict.get()");
      return invoke(this, "DictProxy", "get", [key, ...fallback.slice(0, 1)]);
    });
  }

  /**
   * Sets `key` to `value`.
   *
   * @param key The key.
   * @param value The value (copied; a proxy of the same manager is stored as a reference).
   */
  set(key: K, value: V): Promise<void> {
    return guarded(() => {
      checkKey(key, "dict.set()");
      return invoke(this, "DictProxy", "set", [key, value]) as Promise<void>;
    });
  }

  /**
   * Removes `key`; resolves with whether it was there.
   *
   * @param key The key.
   */
  delete(key: K): Promise<boolean> {
    return guarded(() => {
      checkKey(key, "dict.delete()");
      return invoke(this, "DictProxy", "delete", [key]) as Promise<boolean>;
    });
  }

  /**
   * Whether `key` is in the dict.
   *
   * @param key The key.
   */
  has(key: K): Promise<boolean> {
    return guarded(() => {
      checkKey(key, "dict.has()");
      return invoke(this, "DictProxy", "has", [key]) as Promise<boolean>;
    });
  }

  /** The keys, in insertion order. */
  keys(): Promise<K[]> {
    return invoke(this, "DictProxy", "keys", []) as Promise<K[]>;
  }

  /** The values, in insertion order. */
  values(): Promise<V[]> {
    return invoke(this, "DictProxy", "values", []) as Promise<V[]>;
  }

  /** The `[key, value]` pairs, in insertion order. */
  entries(): Promise<[K, V][]> {
    return invoke(this, "DictProxy", "entries", []) as Promise<[K, V][]>;
  }

  /** How many entries there are (Python's `len(d)`). */
  size(): Promise<number> {
    return invoke(this, "DictProxy", "size", []) as Promise<number>;
  }

  /** How many entries there are (the same as {@linkcode DictProxy.size}). */
  length(): Promise<number> {
    return this.size();
  }

  /** Removes every entry. */
  clear(): Promise<void> {
    return invoke(this, "DictProxy", "clear", []) as Promise<void>;
  }

  /**
   * Sets many entries at once, atomically: no other call sees half of them.
   *
   * @param entries A `Map`, an iterable of `[key, value]` pairs, or a plain object.
   */
  update(entries: Iterable<readonly [K, V]> | Map<K, V> | Record<string, V>): Promise<void> {
    return guarded(() => {
      let pairs: (readonly [unknown, unknown])[];
      if (entries instanceof Map || Symbol.iterator in Object(entries)) {
        pairs = Array.from(entries as Iterable<readonly [unknown, unknown]>);
      } else if (typeof entries === "object" && entries !== null) {
        pairs = Object.entries(entries);
      } else {
        throw new TypeError(
          `dict.update() needs a Map, [key, value] pairs or a plain object, got ${
            _describe(entries)
          }`,
        );
      }
      for (const pair of pairs) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new TypeError(`dict.update() pairs must be [key, value], got ${_describe(pair)}`);
        }
        checkKey(pair[0], "dict.update()");
      }
      return invoke(this, "DictProxy", "update", [pairs]) as Promise<void>;
    });
  }

  /**
   * The value for `key`; when absent, sets it to `fallback` first (atomically) and returns that.
   *
   * @param key The key.
   * @param fallback The value to store when the key is absent.
   */
  setDefault(key: K, fallback: V): Promise<V> {
    return guarded(() => {
      checkKey(key, "dict.setDefault()");
      return invoke(this, "DictProxy", "setDefault", [key, fallback]) as Promise<V>;
    });
  }

  /**
   * Removes `key` and resolves with its value; rejects with an error named
   * `KeyError` when the key is absent.
   *
   * @param key The key.
   */
  pop(key: K): Promise<V>;
  /**
   * Removes `key` and resolves with its value, or with `fallback` when it is absent.
   *
   * @typeParam D The fallback's type.
   * @param key The key.
   * @param fallback The value when the key is absent.
   */
  pop<D>(key: K, fallback: D): Promise<V | D>;
  pop(key: K, ...fallback: unknown[]): Promise<unknown> {
    return guarded(() => {
      checkKey(key, "dict.pop()");
      return invoke(this, "DictProxy", "pop", [key, ...fallback.slice(0, 1)]);
    });
  }

  /** A copy of the entries as a plain object (keys become strings). */
  toObject(): Promise<Record<string, V>> {
    return invoke(this, "DictProxy", "toObject", []) as Promise<Record<string, V>>;
  }

  /** A copy of the entries as a `Map`. */
  toMap(): Promise<Map<K, V>> {
    return invoke(this, "DictProxy", "toMap", []) as Promise<Map<K, V>>;
  }
}

/**
 * A list held by a `Manager`, Python's `ListProxy`. Negative indexes
 * count from the end, as in Python; an index out of range rejects with an
 * `IndexError`. Values compare by content in `remove()` and `index()`.
 *
 * @typeParam T The items.
 *
 * @example
 * ```ts
 * import { Manager } from "@troupe/troupe";
 *
 * if (import.meta.main) {
 *   await using manager = await Manager.start();
 *   const l = await manager.list<number>([1, 2]);
 *   await l.push(3);
 *   console.assert((await l.get(-1)) === 3);
 *   console.assert((await l.toArray()).join() === "1,2,3");
 * }
 * ```
 */
export class ListProxy<T = unknown> {
  private constructor() {
    throw new TypeError("ListProxy objects come from a Manager (manager.list())");
  }

  /**
   * Gives back this proxy's reference to the list. The manager frees the
   * list once nothing refers to it: no proxy in any process, and no other
   * managed object it is stored in. Calls on this proxy reject from now on;
   * other proxies of the list are unaffected. A proxy that is garbage
   * collected gives its reference back by itself, later; `using` gives it
   * back at the end of a scope. Safe to call more than once.
   *
   * @example
   * ```ts
   * import { Manager } from "@troupe/troupe";
   *
   * if (import.meta.main) {
   *   await using manager = await Manager.start();
   *   const log = await manager.list<string>(["started"]);
   *   log[Symbol.dispose]();
   *   await log.length().catch((e: Error) => console.assert(e.message.includes("released")));
   * }
   * ```
   */
  [Symbol.dispose](): void {
    dispose(this, "ListProxy");
  }

  /**
   * The item at `index` (negative: from the end).
   *
   * @param index The index.
   */
  get(index: number): Promise<T> {
    return guarded(() => {
      checkIndex(index, "list.get()");
      return invoke(this, "ListProxy", "get", [index]) as Promise<T>;
    });
  }

  /**
   * Replaces the item at `index` (negative: from the end).
   *
   * @param index The index.
   * @param value The new item.
   */
  set(index: number, value: T): Promise<void> {
    return guarded(() => {
      checkIndex(index, "list.set()");
      return invoke(this, "ListProxy", "set", [index, value]) as Promise<void>;
    });
  }

  /**
   * Appends items (Python's `append`); resolves with the new length.
   *
   * @param items The items to append.
   */
  push(...items: T[]): Promise<number> {
    return invoke(this, "ListProxy", "push", items) as Promise<number>;
  }

  /**
   * Removes and returns the item at `index`.
   *
   * @param index The index (negative: from the end). @default {-1}
   */
  pop(index: number = -1): Promise<T> {
    return guarded(() => {
      checkIndex(index, "list.pop()");
      return invoke(this, "ListProxy", "pop", [index]) as Promise<T>;
    });
  }

  /** How many items there are (Python's `len(l)`). */
  length(): Promise<number> {
    return invoke(this, "ListProxy", "length", []) as Promise<number>;
  }

  /**
   * A copy of the items from `start` to before `end`, as `Array.prototype.slice`.
   *
   * @param start First index. @default {0}
   * @param end Index to stop before. @default {the length}
   */
  slice(start?: number, end?: number): Promise<T[]> {
    return invoke(this, "ListProxy", "slice", [start ?? 0, end ?? null]) as Promise<T[]>;
  }

  /** A copy of all items. */
  toArray(): Promise<T[]> {
    return invoke(this, "ListProxy", "toArray", []) as Promise<T[]>;
  }

  /**
   * Inserts `value` before `index` (clamped to the list, as in Python).
   *
   * @param index Where to insert.
   * @param value The item.
   */
  insert(index: number, value: T): Promise<void> {
    return guarded(() => {
      checkIndex(index, "list.insert()");
      return invoke(this, "ListProxy", "insert", [index, value]) as Promise<void>;
    });
  }

  /**
   * Removes the first item equal to `value`; rejects with a `ValueError` when there is none.
   *
   * @param value The item to remove.
   */
  remove(value: T): Promise<void> {
    return invoke(this, "ListProxy", "remove", [value]) as Promise<void>;
  }

  /**
   * The index of the first item equal to `value`; rejects with a `ValueError` when there is none.
   *
   * @param value The item to find.
   */
  index(value: T): Promise<number> {
    return invoke(this, "ListProxy", "index", [value]) as Promise<number>;
  }

  /**
   * Appends every item of `items`, atomically.
   *
   * @param items The items.
   */
  extend(items: Iterable<T>): Promise<void> {
    return guarded(() => invoke(this, "ListProxy", "extend", [Array.from(items)])) as Promise<
      void
    >;
  }

  /** Removes every item. */
  clear(): Promise<void> {
    return invoke(this, "ListProxy", "clear", []) as Promise<void>;
  }
}

/**
 * A namespace held by a `Manager`, Python's `Manager().Namespace()`:
 * named fields that every process holding the proxy shares.
 *
 * @typeParam T The fields and their types.
 *
 * @example
 * ```ts
 * import { Manager } from "@troupe/troupe";
 *
 * if (import.meta.main) {
 *   await using manager = await Manager.start();
 *   const ns = await manager.namespace<{ x: number; label: string }>({ x: 1 });
 *   await ns.set("label", "done");
 *   console.assert((await ns.get("x")) === 1);
 *   console.assert((await ns.toObject()).label === "done");
 * }
 * ```
 */
export class NamespaceProxy<T extends Record<string, unknown> = Record<string, unknown>> {
  private constructor() {
    throw new TypeError("NamespaceProxy objects come from a Manager (manager.namespace())");
  }

  /**
   * Gives back this proxy's reference to the namespace. The manager frees the
   * namespace once nothing refers to it: no proxy in any process, and no other
   * managed object it is stored in. Calls on this proxy reject from now on;
   * other proxies of the namespace are unaffected. A proxy that is garbage
   * collected gives its reference back by itself, later; `using` gives it
   * back at the end of a scope. Safe to call more than once.
   *
   * @example
   * ```ts
   * import { Manager } from "@troupe/troupe";
   *
   * if (import.meta.main) {
   *   await using manager = await Manager.start();
   *   {
   *     using settings = await manager.namespace({ retries: 3 });
   *     console.assert((await settings.get("retries")) === 3);
   *   } // the manager frees the namespace here
   * }
   * ```
   */
  [Symbol.dispose](): void {
    dispose(this, "NamespaceProxy");
  }

  /**
   * The field `name`, or `undefined` when it was never set.
   *
   * @param name The field.
   */
  get<N extends keyof T & string>(name: N): Promise<T[N] | undefined> {
    return guarded(() => {
      if (typeof name !== "string") {
        throw new TypeError(`namespace.get() needs a field name, got ${_describe(name)}`);
      }
      return invoke(this, "NamespaceProxy", "get", [name]) as Promise<T[N] | undefined>;
    });
  }

  /**
   * Sets the field `name`.
   *
   * @param name The field.
   * @param value Its new value.
   */
  set<N extends keyof T & string>(name: N, value: T[N]): Promise<void> {
    return guarded(() => {
      if (typeof name !== "string") {
        throw new TypeError(`namespace.set() needs a field name, got ${_describe(name)}`);
      }
      return invoke(this, "NamespaceProxy", "set", [name, value]) as Promise<void>;
    });
  }

  /** A copy of every field, as a plain object. */
  toObject(): Promise<Partial<T>> {
    return invoke(this, "NamespaceProxy", "toObject", []) as Promise<Partial<T>>;
  }
}

/**
 * One value held by a `Manager`, Python's `Manager().Value()`.
 * Functions cannot travel to the manager, so read-modify-write goes through
 * `add()` (numbers and bigints) and `compareAndSet()`, both atomic.
 *
 * @typeParam T The value's type.
 *
 * @example
 * ```ts
 * import { Manager } from "@troupe/troupe";
 *
 * if (import.meta.main) {
 *   await using manager = await Manager.start();
 *   const hits = await manager.value(0);
 *   console.assert((await hits.add(5)) === 5);
 *   console.assert(await hits.compareAndSet(5, 7));
 *   console.assert((await hits.get()) === 7);
 * }
 * ```
 */
export class ValueProxy<T = unknown> {
  private constructor() {
    throw new TypeError("ValueProxy objects come from a Manager (manager.value())");
  }

  /**
   * Gives back this proxy's reference to the value. The manager frees the
   * value once nothing refers to it: no proxy in any process, and no other
   * managed object it is stored in. Calls on this proxy reject from now on;
   * other proxies of the value are unaffected. A proxy that is garbage
   * collected gives its reference back by itself, later; `using` gives it
   * back at the end of a scope. Safe to call more than once.
   *
   * @example
   * ```ts
   * import { Manager } from "@troupe/troupe";
   *
   * if (import.meta.main) {
   *   await using manager = await Manager.start();
   *   {
   *     using hits = await manager.value(0);
   *     await hits.add(1);
   *   } // the manager frees the value here
   * }
   * ```
   */
  [Symbol.dispose](): void {
    dispose(this, "ValueProxy");
  }

  /** The value. */
  get(): Promise<T> {
    return invoke(this, "ValueProxy", "get", []) as Promise<T>;
  }

  /**
   * Replaces the value.
   *
   * @param value The new value.
   */
  set(value: T): Promise<void> {
    return invoke(this, "ValueProxy", "set", [value]) as Promise<void>;
  }

  /**
   * Adds `delta` to a number or bigint value, atomically; resolves with the sum.
   *
   * @param delta What to add (of the value's type).
   */
  add(delta: T & (number | bigint)): Promise<T> {
    return invoke(this, "ValueProxy", "add", [delta]) as Promise<T>;
  }

  /**
   * Sets the value to `next` if it equals `expected` (by content), atomically;
   * resolves with whether it did.
   *
   * @param expected The value it must have.
   * @param next The value to set.
   */
  compareAndSet(expected: T, next: T): Promise<boolean> {
    return invoke(this, "ValueProxy", "compareAndSet", [expected, next]) as Promise<boolean>;
  }
}

/** What {@linkcode LockProxy.acquire} resolves with: `await using` releases it. */
export interface ManagerLockGuard {
  /** Releases the lock. */
  release(): Promise<void>;
  /** Releases the lock at the end of an `await using` scope. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A lock held by a `Manager`, Python's `Manager().Lock()`. The
 * process that acquired it holds it (all its async tasks alike) and only
 * that process may release it. Not re-entrant: a process that acquires it
 * twice waits for itself. When the holder ends without releasing it, waiters
 * get a `LockHolderDiedError` instead of waiting forever; any process may
 * then `release()` it.
 *
 * For locks between processes of one program, the shared-memory `Lock` is
 * faster; a manager lock is for code that already shares a manager.
 *
 * @example
 * ```ts
 * import { Manager } from "@troupe/troupe";
 *
 * if (import.meta.main) {
 *   await using manager = await Manager.start();
 *   const lock = await manager.lock();
 *   {
 *     await using _held = await lock.acquire({ timeoutMs: 1000 });
 *     console.assert(await lock.locked());
 *   }
 *   console.assert(!(await lock.locked()));
 * }
 * ```
 */
export class LockProxy {
  private constructor() {
    throw new TypeError("LockProxy objects come from a Manager (manager.lock())");
  }

  /**
   * Gives back this proxy's reference to the lock. The manager frees the
   * lock once nothing refers to it: no proxy in any process, and no other
   * managed object it is stored in. Calls on this proxy reject from now on;
   * other proxies of the lock are unaffected. A proxy that is garbage
   * collected gives its reference back by itself, later; `using` gives it
   * back at the end of a scope. Safe to call more than once.
   *
   * @example
   * ```ts
   * import { Manager } from "@troupe/troupe";
   *
   * if (import.meta.main) {
   *   await using manager = await Manager.start();
   *   {
   *     using lock = await manager.lock();
   *     await (await lock.acquire()).release();
   *   } // the manager frees the lock here
   * }
   * ```
   */
  [Symbol.dispose](): void {
    dispose(this, "LockProxy");
  }

  /**
   * Waits for the lock and takes it for this process. Rejects with a
   * `TimeoutError` after `timeoutMs`, with the signal's reason when it
   * aborts, and with a `LockHolderDiedError` when the holder ended holding it.
   *
   * @param options `timeoutMs` and `signal`.
   */
  acquire(options?: WaitOptions): Promise<ManagerLockGuard> {
    return guarded(async () => {
      const { deadline, signal } = _waitOptions(options, "lock.acquire()");
      const timeoutMs = deadline === Infinity ? null : options!.timeoutMs!;
      await invoke(this, "LockProxy", "acquire", [timeoutMs], signal);
      return {
        release: () => this.release(),
        [Symbol.asyncDispose]: () => this.release(),
      };
    });
  }

  /** Releases the lock; rejects when this process does not hold it. */
  release(): Promise<void> {
    return invoke(this, "LockProxy", "release", []) as Promise<void>;
  }

  /** Whether some process holds the lock. */
  locked(): Promise<boolean> {
    return invoke(this, "LockProxy", "locked", []) as Promise<boolean>;
  }
}

/** Options of {@linkcode QueueProxy.put} and {@linkcode QueueProxy.get}. */
export interface QueueWaitOptions extends WaitOptions {
  /**
   * Wait for room (put) or an item (get): `false` fails at once with
   * `Full`/`Empty` (the same classes a `Queue` throws) instead, as Python's
   * `block=False`.
   * @default {true}
   */
  block?: boolean;
}

/**
 * A FIFO queue held by a `Manager`, Python's `Manager().Queue()`.
 * `put()` waits while a bounded queue is full and `get()` while it is empty;
 * with `block: false` they reject at once with `Full` or `Empty` (the classes
 * a `Queue` throws), and after `timeoutMs` with a `TimeoutError`.
 *
 * @typeParam T The items.
 *
 * @example
 * ```ts
 * import { Manager } from "@troupe/troupe";
 *
 * if (import.meta.main) {
 *   await using manager = await Manager.start();
 *   const q = await manager.queue<string>({ maxsize: 2 });
 *   await q.put("a");
 *   console.assert((await q.qsize()) === 1);
 *   console.assert((await q.get({ timeoutMs: 1000 })) === "a");
 * }
 * ```
 */
export class QueueProxy<T = unknown> {
  private constructor() {
    throw new TypeError("QueueProxy objects come from a Manager (manager.queue())");
  }

  /**
   * Gives back this proxy's reference to the queue. The manager frees the
   * queue once nothing refers to it: no proxy in any process, and no other
   * managed object it is stored in. Calls on this proxy reject from now on;
   * other proxies of the queue are unaffected. A proxy that is garbage
   * collected gives its reference back by itself, later; `using` gives it
   * back at the end of a scope. Safe to call more than once.
   *
   * @example
   * ```ts
   * import { Manager } from "@troupe/troupe";
   *
   * if (import.meta.main) {
   *   await using manager = await Manager.start();
   *   {
   *     using jobs = await manager.queue<number>();
   *     await jobs.put(1);
   *   } // the manager frees the queue and the item in it here
   * }
   * ```
   */
  [Symbol.dispose](): void {
    dispose(this, "QueueProxy");
  }

  /**
   * Adds `item` at the end, waiting for room in a full bounded queue.
   *
   * @param item The item.
   * @param options `block`, `timeoutMs` and `signal`.
   */
  put(item: T, options?: QueueWaitOptions): Promise<void> {
    return guarded(() => {
      const { timeoutMs, block, signal } = queueOptions(options, "queue.put()");
      return asQueueError(
        invoke(this, "QueueProxy", "put", [item, block, timeoutMs], signal),
      ) as Promise<void>;
    });
  }

  /**
   * Takes the first item, waiting for one while the queue is empty.
   *
   * @param options `block`, `timeoutMs` and `signal`.
   */
  get(options?: QueueWaitOptions): Promise<T> {
    return guarded(() => {
      const { timeoutMs, block, signal } = queueOptions(options, "queue.get()");
      return asQueueError(invoke(this, "QueueProxy", "get", [block, timeoutMs], signal)) as Promise<
        T
      >;
    });
  }

  /** How many items wait in the queue. */
  qsize(): Promise<number> {
    return invoke(this, "QueueProxy", "qsize", []) as Promise<number>;
  }

  /** Whether the queue is empty. */
  empty(): Promise<boolean> {
    return invoke(this, "QueueProxy", "empty", []) as Promise<boolean>;
  }

  /** Whether a bounded queue is full. */
  full(): Promise<boolean> {
    return invoke(this, "QueueProxy", "full", []) as Promise<boolean>;
  }
}

/** The manager's `Full`/`Empty` arrive named; they become the channels' classes, as for a `Queue`. */
function asQueueError(call: Promise<unknown>): Promise<unknown> {
  return call.catch((error) => {
    if (error instanceof Error && error.constructor === Error) {
      if (error.name === "Full") throw new Full(error.message);
      if (error.name === "Empty") throw new Empty(error.message);
    }
    throw error;
  });
}

function queueOptions(
  options: QueueWaitOptions | undefined,
  what: string,
): { timeoutMs: number | null; block: boolean; signal: AbortSignal | undefined } {
  const { deadline, signal } = _waitOptions(options, what);
  const block = options?.block ?? true;
  if (typeof block !== "boolean") {
    throw new TypeError(`${what} block must be a boolean, got ${_describe(block)}`);
  }
  return { timeoutMs: deadline === Infinity ? null : options!.timeoutMs!, block, signal };
}

/** Any proxy a manager hands out. */
export type AnyProxy =
  // deno-lint-ignore no-explicit-any
  | DictProxy<any, any>
  // deno-lint-ignore no-explicit-any
  | ListProxy<any>
  // deno-lint-ignore no-explicit-any
  | NamespaceProxy<any>
  // deno-lint-ignore no-explicit-any
  | ValueProxy<any>
  | LockProxy
  // deno-lint-ignore no-explicit-any
  | QueueProxy<any>;

const CLASSES = {
  dict: DictProxy,
  list: ListProxy,
  namespace: NamespaceProxy,
  value: ValueProxy,
  lock: LockProxy,
  queue: QueueProxy,
} as const;

// console.log(d): DictProxy { manager: "Manager-1", id: 3 }; it asks the manager nothing.
for (const cls of Object.values(CLASSES)) {
  _inspectable(cls, (proxy: object) => {
    const s = state(proxy, "proxy");
    return s.released
      ? { manager: s.name, id: s.id, released: true }
      : { manager: s.name, id: s.id };
  });
}

/**
 * Makes the proxy for object `id` of a manager; the one way proxies are made.
 * With a connection, the proxy owns one of this thread's references to the
 * object, given back when it is disposed or collected.
 */
export function _makeProxy(
  kind: _ProxyKind,
  id: number,
  manager: string,
  name: string,
  pid: number | undefined,
  conn: _Connection | undefined,
): AnyProxy {
  const proxy = Object.create(CLASSES[kind].prototype) as AnyProxy;
  const s: ProxyState = { manager, name, pid, id, kind, conn, released: false };
  states.set(proxy, s);
  if (conn) collected.register(proxy, s, proxy);
  return proxy;
}

/** The name of the manager that serves `proxy`, or `undefined` for any other value. */
export function _proxyManager(proxy: unknown): string | undefined {
  return typeof proxy === "object" && proxy !== null ? states.get(proxy)?.name : undefined;
}

/**
 * The objects of manager `manager` that `value` refers to: one entry per
 * stored proxy inside it (in the manager's worker, where proxies are stored
 * references), in arrays, plain objects, Maps and Sets.
 */
export function _storedIds(value: unknown, manager: string, ids: number[] = []): number[] {
  if (typeof value !== "object" || value === null) return ids;
  const s = states.get(value);
  if (s) {
    if (s.manager === manager && !s.conn) ids.push(s.id);
    return ids;
  }
  const proto = Object.getPrototypeOf(value);
  if (Array.isArray(value) || value instanceof Set) {
    for (const item of value) _storedIds(item, manager, ids);
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      _storedIds(k, manager, ids);
      _storedIds(v, manager, ids);
    }
  } else if (proto === Object.prototype || proto === null) {
    for (const item of Object.values(value)) _storedIds(item, manager, ids);
  }
  return ids;
}

// ---- travelling ---------------------------------------------------------------
//
// Every proxy owns one reference to its object, counted by the manager for
// the connection of the thread it lives in. A proxy that travels must not let
// its object die on the way, nor keep it alive forever when it never arrives:
//
// - To its own manager (stored in a dict, list...): no reference travels. The
//   sender's proxy holds one until the call has run (its release is ordered
//   after the call on the same connection), and the object it is stored in
//   takes its own reference as the call runs.
// - From its manager, in an answer: the manager takes a reference for the
//   asking connection as it sends the answer; the proxy revived there owns it.
// - To another process: the sender's connection sends `connect` (the port the
//   receiver will use, a token, the object) in order with its calls, so the
//   manager takes the reference before any release the sender makes later,
//   even if its proxy is collected right after sending. The revived proxy
//   takes that reference over: over the carried port, whose hello makes it
//   that process's connection, or with a `claim` of the token on the
//   connection the process already has (a claim that outruns its connect is
//   remembered). Until then the reference is kept for processes whose end
//   the manager sees in the liveness table. It goes once the receiver has
//   ended, when the sender knew it (process args and mail, actor args, calls
//   and replies): the proxy can no longer arrive. And it goes a grace period
//   after the sender has ended (SENDER_GRACE_MS): what the sender posted has
//   been revived by then, or was lost with it (the mail of a terminated
//   child). The manager drops a process's own references only ~200 ms after
//   it ended, so a `connect` or `claim` it sent just before ending counts.
//   What stays is a bounded leak: a message lost while both ends run (a
//   queued pool task that is cancelled) keeps its proxies' objects until the
//   sender ends.

const WIRE_KIND = "troupe.ManagerProxy";

// Installed outside the class bodies, so the wire hook stays out of the public API.
for (const cls of Object.values(CLASSES)) {
  Object.defineProperty(cls.prototype, _WIRE, {
    value: function wire(this: object, path: string, out?: _Outbox): _WireForm {
      const s = state(this, "proxy");
      if (s.released) {
        throw new TypeError(`${path} is a ${describeProxy(s)} that was released; it cannot travel`);
      }
      const travelling: WireProxy = {
        manager: s.manager,
        name: s.name,
        pid: s.pid,
        id: s.id,
        kind: s.kind,
        domain: s.conn?.domain ?? _context().domain,
      };
      // To its own manager (or from it, to a client that has a connection): no port.
      if (sendingTo === s.manager) {
        answering?.push(s.id);
        return { kind: WIRE_KIND, module: import.meta.url, state: travelling };
      }
      if (!s.conn) {
        throw new TypeError(`${path} is a ${s.kind} proxy stored in ${s.name}; it cannot travel`);
      }
      if (s.conn.stopped !== undefined) {
        throw new TypeError(
          `${path} is a ${s.kind} proxy of ${s.name}, which ${s.conn.stopped}: ` +
            "only a proxy of a running manager can be sent",
        );
      }
      // A port straight to the manager, for the receiving process, and a reference for it.
      const { port1, port2 } = new MessageChannel();
      travelling.token = s.conn.lend(s.id, port1, out?.to);
      travelling.port = port2;
      return { kind: WIRE_KIND, module: import.meta.url, state: travelling, transfer: [port2] };
    },
  });
}

_registerReviver(WIRE_KIND, (wire) => {
  const { manager, name, pid, id, kind, port, token, domain } = wire as WireProxy;
  let conn = connections.get(manager);
  if (hosted.has(manager)) {
    // In the manager's own worker: a stored reference, counted by the object that stores it.
    if (port) {
      port.postMessage({ t: "bye" } satisfies ToManager);
      port.close();
    }
    return _makeProxy(kind, id, manager, name, pid, undefined);
  }
  if (port) {
    if (conn) {
      // This thread already talks to the manager: take the reference over there.
      conn.claim(token!, id);
      port.close();
    } else conn = new _Connection(manager, name, pid, port, domain); // its hello takes it over
  } else if (!conn) {
    throw new TypeError(
      `a ${kind} proxy of ${name} arrived without a way to reach its manager`,
    );
  }
  return _makeProxy(kind, id, manager, name, pid, conn);
});

/** Opens this thread's connection to a manager it just started. */
export function _connect(
  manager: string,
  name: string,
  pid: number | undefined,
  port: MessagePort,
  domain: string,
): _Connection {
  return new _Connection(manager, name, pid, port, domain);
}
