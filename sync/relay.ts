// The shared-memory primitives for a child that shares no memory with them (a
// "spawn" child, an OS process), served by their sender (runtime/relay.ts):
// the child gets an object of the same class whose async methods are
// requests done on the real one, in the order the child made them. A lock is
// taken for the child's pid, so the child is its holder: when the child ends
// holding it, waiters learn it as they do of a thread (LockHolderDiedError).
// Sync forms (acquireSync(), waitSync(), `value`) cannot wait for an answer:
// they throw a TypeError that names the async form.
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
  type _RelayCallWait,
  _RelayClient,
  _relayNotPassable,
  type _RelayOp,
  _relayUnavailable,
  _serveRelay,
} from "../runtime/relay.ts";
import { _isAlive } from "../runtime/liveness.ts";
import { _waitOptions, type WaitOptions } from "../runtime/wait.ts";
import { _describe } from "../runtime/util.ts";
import { BrokenBarrierError, LockHolderDiedError } from "./errors.ts";
import { _acquireFor, _mutexOf, _releaseFor, Lock, type LockGuard, RLock } from "./lock.ts";
import { BoundedSemaphore, Semaphore } from "./semaphore.ts";
import { Event } from "./event.ts";
import { _conditionFor, Condition } from "./condition.ts";
import { Barrier } from "./barrier.ts";
import { RawValue, SynchronizedArray, type TypeCode, Value } from "./value.ts";
import { _OWNER } from "./_mutex.ts";

const KIND = "troupe.sync.relay";

const REBUILDERS = {
  ..._rebuildersOf(Error, BrokenBarrierError),
  LockHolderDiedError: (message: string, fields: Record<string, unknown>) =>
    Object.assign(new LockHolderDiedError("Lock", Number(fields.holderPid)), { message }),
};

type Flavour =
  | "Lock"
  | "RLock"
  | "Semaphore"
  | "BoundedSemaphore"
  | "Event"
  | "Condition"
  | "Barrier"
  | "RawValue"
  | "Value"
  | "SynchronizedArray";

interface State {
  port: MessagePort;
  flavour: Flavour;
  /** The lock a Condition, Value or SynchronizedArray holds ("lock." calls), if any. */
  lock?: "Lock" | "RLock";
  /** A Barrier's parties. */
  parties?: number;
  /** A value's or array's element type and length. */
  type?: TypeCode;
  length?: number;
}

// ---- the sender's side ------------------------------------------------------------------------

function lockOps(lock: Lock | RLock, pid: number, prefix: string): Record<string, _RelayOp> {
  return {
    [`${prefix}acquire`]: (_args, wait) => _acquireFor(lock, pid, wait),
    [`${prefix}release`]: () => _releaseFor(lock, pid),
  };
}

const lockName = (lock: Lock | RLock): "Lock" | "RLock" => lock instanceof RLock ? "RLock" : "Lock";

function index(args: unknown[]): number {
  return args[0] as number;
}

/** What the sender serves for each kind of object, and what the child needs to rebuild it. */
function serverFor(object: object, pid: number): {
  ops: Record<string, _RelayOp>;
  status: () => unknown;
  state: Omit<State, "port">;
} {
  if (object instanceof Lock || object instanceof RLock) {
    return {
      ops: lockOps(object, pid, ""),
      status: () => object.locked(),
      state: { flavour: lockName(object) },
    };
  }
  if (object instanceof Semaphore) {
    return {
      ops: {
        acquire: async (_args, wait) => void await object.acquire(wait),
        release: () => object.release(),
      },
      status: () => object.value,
      state: { flavour: object instanceof BoundedSemaphore ? "BoundedSemaphore" : "Semaphore" },
    };
  }
  if (object instanceof Event) {
    return {
      ops: {
        wait: (_args, wait) => object.wait(wait),
        set: () => object.set(),
        clear: () => object.clear(),
      },
      status: () => object.isSet(),
      state: { flavour: "Event" },
    };
  }
  if (object instanceof Condition) {
    const cond = _conditionFor(object);
    const m = _mutexOf(cond.lock).w;
    return {
      ops: {
        ...lockOps(cond.lock, pid, "lock."),
        wait: async (_args, wait) => {
          try {
            return await cond.wait(wait, pid);
          } finally {
            // A wait takes the lock back, even when its process has ended: give it up then.
            if (!_isAlive(pid)) {
              while (Atomics.load(m, _OWNER) === pid) _releaseFor(cond.lock, pid);
            }
          }
        },
        notify: (args) => cond.notify(Number(args[0]), pid),
      },
      status: () => cond.lock.locked(),
      state: { flavour: "Condition", lock: lockName(cond.lock) },
    };
  }
  if (object instanceof Barrier) {
    return {
      ops: {
        wait: (_args, wait) => object.wait(wait),
        abort: () => object.abort(),
        reset: () => object.reset(),
      },
      status: () => [object.nWaiting, object.broken],
      state: { flavour: "Barrier", parties: object.parties },
    };
  }
  if (object instanceof SynchronizedArray) {
    const lock = lockOf(object);
    return {
      ops: {
        ...(lock ? lockOps(lock, pid, "lock.") : {}),
        load: (args) => object.get(index(args)),
        store: (args) => object.set(index(args), args[1] as never),
        loadAll: () => object.toArray(),
      },
      status: () => lock?.locked() ?? false,
      state: {
        flavour: "SynchronizedArray",
        type: object.type,
        length: object.length,
        lock: lock && lockName(lock),
      },
    };
  }
  const value = object as Value<TypeCode> | RawValue<TypeCode>;
  const lock = value instanceof Value ? lockOf(value) : undefined;
  return {
    ops: {
      ...(lock ? lockOps(lock, pid, "lock.") : {}),
      load: () => value.value,
      store: (args) => void (value.value = args[0] as never),
    },
    status: () => lock?.locked() ?? false,
    state: {
      flavour: value instanceof Value ? "Value" : "RawValue",
      type: value.type,
      lock: lock && lockName(lock),
    },
  };
}

function lockOf(object: { getLock(): Lock | RLock }): Lock | RLock | undefined {
  try {
    return object.getLock();
  } catch {
    return undefined; // made with { lock: false }
  }
}

function relay(object: object, path: string, out: _Outbox): _WireForm {
  if (out.to === undefined) {
    const kind = _describe(object).replace(/ object$/, "");
    throw new TypeError(
      `${path} is a ${kind}, which a process that shares no memory with it (a "spawn" pool's ` +
        `worker) reaches only as a relay served for that one process, and a pool task may run ` +
        `in any worker. Pass it to a Process or an actor, or use a Manager's (manager.lock(), ` +
        `manager.value()) in pool tasks`,
    );
  }
  const { ops, status, state } = serverFor(object, out.to);
  const port = _serveRelay({ ops, status, pid: out.to });
  return {
    kind: KIND,
    module: import.meta.url,
    state: { ...state, port } satisfies State,
    transfer: [port],
  };
}

for (
  const kind of [
    "Lock",
    "RLock",
    "Semaphore",
    "Event",
    "Condition",
    "Barrier",
    "RawValue",
    "Value",
    "SynchronizedArray",
  ]
) _registerRelay(`troupe.${kind}`, relay);

// ---- the child's side -------------------------------------------------------------------------

/** One relayed object's port, and what its last answer said of it. */
class Remote {
  readonly client: _RelayClient;
  status: unknown;

  constructor(port: MessagePort) {
    this.client = new _RelayClient(port, REBUILDERS, (status) => this.status = status);
  }

  /** A call with wait options, checked here (a signal stays here; it cancels the call there). */
  wait(op: string, what: string, options: WaitOptions | undefined): Promise<unknown> {
    try {
      _waitOptions(options, what);
    } catch (error) {
      return Promise.reject(error);
    }
    const wait: _RelayCallWait = { timeoutMs: options?.timeoutMs, signal: options?.signal };
    return this.client.checked(op, [], wait);
  }
}

type LockClass = new () => Lock | RLock;

function remoteLock(Base: LockClass, name: string) {
  const Class = class extends (Base as new () => Lock) {
    #remote: Remote;
    #prefix: string;

    constructor(remote: Remote, prefix: string) {
      super();
      this.#remote = remote;
      this.#prefix = prefix;
    }
    override async acquire(options?: WaitOptions): Promise<LockGuard> {
      await this.#remote.wait(`${this.#prefix}acquire`, `${name}.acquire()`, options);
      return this;
    }
    override release(): void {
      this.#remote.status = false;
      this.#remote.client.ahead(`${this.#prefix}release`);
    }
    /** Whether the lock was held at the last answer. */
    override locked(): boolean {
      return this.#remote.status === true;
    }
    override acquireSync(): never {
      throw _relayUnavailable(`${name}.acquireSync()`, "await acquire()");
    }
    override tryAcquire(): never {
      throw _relayUnavailable(`${name}.tryAcquire()`, "await acquire({ timeoutMs: 0 })");
    }
    override [_WIRE](path: string): never {
      throw _relayNotPassable(path, name);
    }
  };
  Object.defineProperty(Class, "name", { value: name });
  return Class as unknown as new (remote: Remote, prefix: string) => Lock;
}

function lockFor(state: State, remote: Remote): Lock | RLock | undefined {
  if (state.lock === undefined) return undefined;
  const { Lock, RLock } = remoteClasses();
  return new (state.lock === "RLock" ? RLock : Lock)(remote, "lock.");
}

function remoteSemaphore(Base: typeof Semaphore, name: string) {
  const Class = class extends Base {
    #remote: Remote;

    constructor(remote: Remote) {
      super();
      this.#remote = remote;
    }
    /** The value at the last answer. */
    override get value(): number {
      return Number(this.#remote.status ?? 0);
    }
    override async acquire(options?: WaitOptions): Promise<LockGuard> {
      await this.#remote.wait("acquire", `${name}.acquire()`, options);
      return this;
    }
    override release(): void {
      this.#remote.client.ahead("release");
    }
    override acquireSync(): never {
      throw _relayUnavailable(`${name}.acquireSync()`, "await acquire()");
    }
    override tryAcquire(): never {
      throw _relayUnavailable(`${name}.tryAcquire()`, "await acquire({ timeoutMs: 0 })");
    }
    override [_WIRE](path: string): never {
      throw _relayNotPassable(path, name);
    }
  };
  Object.defineProperty(Class, "name", { value: name });
  return Class as unknown as new (remote: Remote) => Semaphore;
}

const remoteEvent = () =>
  class RemoteEvent extends Event {
    #remote: Remote;

    constructor(remote: Remote) {
      super();
      this.#remote = remote;
    }
    /** Whether the flag was set at the last answer, or by this process since. */
    override isSet(): boolean {
      return this.#remote.status === true;
    }
    override set(): void {
      this.#remote.status = true;
      this.#remote.client.ahead("set");
    }
    override clear(): void {
      this.#remote.status = false;
      this.#remote.client.ahead("clear");
    }
    override async wait(options?: WaitOptions): Promise<boolean> {
      return await this.#remote.wait("wait", "Event.wait()", options) as boolean;
    }
    override waitSync(): never {
      throw _relayUnavailable("Event.waitSync()", "await wait()");
    }
    override [_WIRE](path: string): never {
      throw _relayNotPassable(path, "Event");
    }
  };

const remoteCondition = () =>
  class RemoteCondition extends Condition {
    #remote: Remote;

    constructor(remote: Remote, lock: Lock | RLock) {
      super(lock);
      this.#remote = remote;
    }
    override async wait(options?: WaitOptions): Promise<boolean> {
      return await this.#remote.wait("wait", "Condition.wait()", options) as boolean;
    }
    override notify(n: number = 1): void {
      if (!(n >= 0)) throw new RangeError(`Condition.notify() n must be 0 or more, got ${n}`);
      this.#remote.client.ahead("notify", [n]);
    }
    override acquireSync(): never {
      throw _relayUnavailable("Condition.acquireSync()", "await acquire()");
    }
    override waitSync(): never {
      throw _relayUnavailable("Condition.waitSync()", "await wait()");
    }
    override waitForSync(): never {
      throw _relayUnavailable("Condition.waitForSync()", "await waitFor()");
    }
    override [_WIRE](path: string): never {
      throw _relayNotPassable(path, "Condition");
    }
  };

const remoteBarrier = () =>
  class RemoteBarrier extends Barrier {
    #remote: Remote;

    constructor(remote: Remote, parties: number) {
      super(parties);
      this.#remote = remote;
    }
    /** How many waited at the last answer. */
    override get nWaiting(): number {
      return (this.#remote.status as [number, boolean] | undefined)?.[0] ?? 0;
    }
    /** Whether the barrier was broken at the last answer. */
    override get broken(): boolean {
      return (this.#remote.status as [number, boolean] | undefined)?.[1] ?? false;
    }
    override async wait(options?: WaitOptions): Promise<number> {
      return await this.#remote.wait("wait", "Barrier.wait()", options) as number;
    }
    override abort(): void {
      this.#remote.client.ahead("abort");
    }
    override reset(): void {
      this.#remote.client.ahead("reset");
    }
    override waitSync(): never {
      throw _relayUnavailable("Barrier.waitSync()", "await wait()");
    }
    override [_WIRE](path: string): never {
      throw _relayNotPassable(path, "Barrier");
    }
  };

function remoteValue(Base: typeof Value | typeof RawValue, name: "Value" | "RawValue") {
  const unavailable = () => _relayUnavailable(`${name}.value`, "await load(), await store(v)");
  const Class = class extends (Base as typeof Value) {
    #remote: Remote;
    #lock: Lock | RLock | undefined;

    constructor(remote: Remote, state: State) {
      super(state.type as "f64", undefined, { lock: false });
      this.#remote = remote;
      this.#lock = lockFor(state, remote);
    }
    override get value(): never {
      throw unavailable();
    }
    override set value(_: number) {
      throw unavailable();
    }
    override async load(): Promise<number> {
      return await this.#remote.client.checked("load", []) as number;
    }
    override async store(value: number): Promise<void> {
      await this.#remote.client.checked("store", [value]);
    }
    override getLock(): Lock | RLock {
      return this.#lock ?? super.getLock();
    }
    override [_WIRE](path: string): never {
      throw _relayNotPassable(path, name);
    }
  };
  Object.defineProperty(Class, "name", { value: name });
  return Class as unknown as new (remote: Remote, state: State) => Value<TypeCode>;
}

const remoteSynchronizedArray = () =>
  class RemoteSynchronizedArray extends SynchronizedArray<"f64"> {
    #remote: Remote;
    #lock: Lock | RLock | undefined;
    #length: number;

    constructor(remote: Remote, state: State) {
      super(state.type as "f64", 0, { lock: false });
      this.#remote = remote;
      this.#lock = lockFor(state, remote);
      this.#length = state.length ?? 0;
    }
    override get length(): number {
      return this.#length;
    }
    override get array(): never {
      throw unavailable("array");
    }
    override get(): never {
      throw unavailable("get()");
    }
    override set(): never {
      throw unavailable("set()");
    }
    override toArray(): never {
      throw unavailable("toArray()");
    }
    override [Symbol.iterator](): never {
      throw unavailable("[Symbol.iterator]()");
    }
    override async load(index: number): Promise<number> {
      return await this.#remote.client.checked("load", [index]) as number;
    }
    override async store(index: number, value: number): Promise<void> {
      await this.#remote.client.checked("store", [index, value]);
    }
    override async loadAll(): Promise<number[]> {
      return await this.#remote.client.checked("loadAll", []) as number[];
    }
    override getLock(): Lock | RLock {
      return this.#lock ?? super.getLock();
    }
    override [_WIRE](path: string): never {
      throw _relayNotPassable(path, "SynchronizedArray");
    }
  };

function unavailable(member: string): TypeError {
  return _relayUnavailable(
    `SynchronizedArray.${member}`,
    "await load(i), await store(i, v), await loadAll()",
  );
}

// The classes a relayed object becomes, made the first time one is revived (see `_once`).
const remoteClasses = _once(() => {
  const named = <C>(Class: C, name: string): C => {
    Object.defineProperty(Class, "name", { value: name });
    return Class;
  };
  return {
    Lock: remoteLock(Lock, "Lock"),
    RLock: remoteLock(RLock as unknown as LockClass, "RLock"),
    Semaphore: remoteSemaphore(Semaphore, "Semaphore"),
    BoundedSemaphore: remoteSemaphore(BoundedSemaphore, "BoundedSemaphore"),
    Event: named(remoteEvent(), "Event"),
    Condition: named(remoteCondition(), "Condition"),
    Barrier: named(remoteBarrier(), "Barrier"),
    Value: remoteValue(Value, "Value"),
    RawValue: remoteValue(RawValue, "RawValue"),
    SynchronizedArray: named(remoteSynchronizedArray(), "SynchronizedArray"),
  };
});

_registerReviver(KIND, (state) => {
  const s = state as State;
  const remote = new Remote(s.port);
  const made = remoteClasses();
  switch (s.flavour) {
    case "Lock":
      return new made.Lock(remote, "");
    case "RLock":
      return new made.RLock(remote, "");
    case "Semaphore":
      return new made.Semaphore(remote);
    case "BoundedSemaphore":
      return new made.BoundedSemaphore(remote);
    case "Event":
      return new made.Event(remote);
    case "Condition":
      return new made.Condition(remote, lockFor(s, remote)!);
    case "Barrier":
      return new made.Barrier(remote, s.parties ?? 1);
    case "RawValue":
      return new made.RawValue(remote, s);
    case "Value":
      return new made.Value(remote, s);
    case "SynchronizedArray":
      return new made.SynchronizedArray(remote, s);
  }
  throw new TypeError(`a relayed ${String(s.flavour)} is not one this process knows`);
});
