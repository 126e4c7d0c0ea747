/**
 * `Lock` and `RLock` over shared memory: usable from every process they are
 * passed to, with async waits that never block an event loop and blocking
 * `acquireSync()` inside workers.
 *
 * @module
 */
import {
  type _Outbox,
  _registerReviver,
  _relayed,
  _WIRE,
  type _WireForm,
} from "../runtime/wire.ts";
import { _inspectable } from "../runtime/util.ts";
import {
  _COUNT,
  _deadHolder,
  _isLocked,
  _lockAsync,
  _lockSync,
  _MUTEX_WORDS,
  _mutexFields,
  _OWNER,
  _tryLock,
  _unlock,
} from "./_mutex.ts";
import {
  _myPid,
  _sharedWords,
  _syncWaitOptions,
  type _Wait,
  _waitOptions,
  _wordsFrom,
  type SyncWaitOptions,
  type WaitOptions,
} from "../runtime/wait.ts";

export type { SyncWaitOptions, WaitOptions } from "../runtime/wait.ts";

/**
 * What `acquire()` resolves with: release it by hand, or let `using` release
 * it at the end of the scope. Release through the guard or through the lock,
 * not both.
 */
export interface LockGuard {
  /** Releases what `acquire()` took. */
  release(): void;
  /** Releases what `acquire()` took, at the end of a `using` scope. */
  [Symbol.dispose](): void;
}

// Read the private words of a lock (set in each class's static block).
let lockWords: (lock: Lock) => Int32Array;
let rlockWords: (lock: RLock) => Int32Array;

// Set by a reviver around `new Lock()`/`new RLock()`: the words it received.
let reviving: Int32Array | undefined;

function words(): Int32Array {
  const w = reviving ?? _sharedWords(_MUTEX_WORDS);
  reviving = undefined;
  return w;
}

function timeoutOf(options: WaitOptions | SyncWaitOptions | undefined): number | undefined {
  return options?.timeoutMs ?? undefined;
}

// Takes the mutex for `pid`: `undefined` when it was taken at once, else the
// wait (or the rejection of bad options). An RLock is re-entered by its holder.
function acquireFor(
  w: Int32Array,
  reentrant: boolean,
  options: WaitOptions | undefined,
  pid: number,
): Promise<void> | undefined {
  const take = () => reentrant ? reenter(w, pid) : _tryLock(w, pid);
  if (options === undefined && take()) return undefined;
  const kind = reentrant ? "RLock" : "Lock";
  let wait: _Wait;
  try {
    wait = _waitOptions(options, `${kind}.acquire()`);
    if (wait.signal?.aborted) return Promise.reject(wait.signal.reason);
  } catch (error) {
    return Promise.reject(error);
  }
  if (take()) return undefined;
  return _lockAsync(
    w,
    kind,
    `${kind}.acquire()`,
    wait.deadline,
    wait.signal,
    timeoutOf(options),
    pid,
  );
}

// An RLock's fast path: a free lock, or one `pid` already holds.
function reenter(w: Int32Array, pid: number): boolean {
  if (Atomics.load(w, _OWNER) === pid) {
    w[_COUNT]++;
    return true;
  }
  return _tryLock(w, pid);
}

// Releases one level of `pid`'s hold of an RLock.
function releaseFor(w: Int32Array, pid: number): void {
  const owner = Atomics.load(w, _OWNER);
  if (owner !== pid) {
    if (owner !== 0 && _deadHolder(w) === owner) {
      w[_COUNT] = 0;
      _unlock(w);
      return;
    }
    throw new Error(
      owner === 0
        ? "RLock.release() was called on a lock that is not held"
        : `RLock.release() was called by process ${pid}, but process ${owner} holds ` +
          "the lock: only its holder may release an RLock",
    );
  }
  if (--w[_COUNT] === 0) _unlock(w);
}

/**
 * A lock in shared memory, Python's `multiprocessing.Lock`. Pass it in `args`
 * to any process or in a message: every copy is the same lock.
 *
 * `await lock.acquire()` waits without blocking the event loop (main thread
 * included); `lock.acquireSync()` blocks, and only works inside a worker.
 * Both resolve with the lock itself as a {@linkcode LockGuard}, so `using`
 * releases it. When the process holding the lock ends without releasing it,
 * waiters get a {@linkcode LockHolderDiedError} instead of waiting forever.
 *
 * Like Python's, a `Lock` is not re-entrant, and any process may release it.
 * Within one process the lock is held by the process, not by one async task.
 *
 * @example Guarding a shared counter
 * ```ts
 * import { Lock, Process, RawValue, task } from "@troupe/troupe";
 *
 * const add = task(import.meta, function add(lock: Lock, total: RawValue<"i32">) {
 *   for (let i = 0; i < 1000; i++) {
 *     using _ = lock.acquireSync();
 *     total.value = total.value + 1;
 *   }
 * });
 *
 * if (import.meta.main) {
 *   const lock = new Lock();
 *   const total = new RawValue("i32", 0);
 *   const ps = [1, 2].map(() => new Process({ target: add, args: [lock, total] }));
 *   ps.forEach((p) => p.start());
 *   for (const p of ps) await p.join();
 *   console.assert(total.value === 2000);
 * }
 * ```
 */
export class Lock implements LockGuard {
  #w: Int32Array = words();

  /**
   * Waits until the lock is free and takes it.
   *
   * @param options `timeoutMs` and `signal`.
   * @returns The lock, as a guard that `using` releases.
   * @throws {DOMException} Named `"TimeoutError"` when `timeoutMs` passes first.
   * @throws {LockHolderDiedError} When the process holding it has ended.
   */
  acquire(options?: WaitOptions): Promise<LockGuard> {
    const waiting = acquireFor(this.#w, false, options, _myPid());
    return waiting === undefined ? Promise.resolve(this) : waiting.then(() => this);
  }

  /**
   * Blocks this worker until the lock is free and takes it. Refused on the
   * main thread (it would freeze the event loop): use `acquire()` there.
   *
   * @param options `timeoutMs`.
   * @returns The lock, as a guard that `using` releases.
   * @throws {DOMException} Named `"TimeoutError"` when `timeoutMs` passes first.
   * @throws {LockHolderDiedError} When the process holding it has ended.
   */
  acquireSync(options?: SyncWaitOptions): LockGuard {
    const deadline = _syncWaitOptions(options, "Lock.acquireSync()");
    const w = this.#w;
    if (!_tryLock(w)) {
      if (Atomics.load(w, _OWNER) === _myPid() && deadline === Infinity) {
        throw new Error(
          "Lock.acquireSync() would wait forever: this process already holds the lock, and a " +
            "Lock is not re-entrant. Release it first, or use an RLock",
        );
      }
      _lockSync(w, "Lock", "Lock.acquireSync()", deadline, timeoutOf(options));
    }
    return this;
  }

  /**
   * Takes the lock if it is free, without waiting.
   *
   * @returns Whether the lock was taken.
   */
  tryAcquire(): boolean {
    return _tryLock(this.#w);
  }

  /**
   * Releases the lock. Any process may release it (as in Python); releasing
   * a lock that is not held is an error.
   *
   * @throws {Error} When the lock is not held.
   */
  release(): void {
    if (!_isLocked(this.#w)) {
      throw new Error("Lock.release() was called on a lock that is not held");
    }
    _unlock(this.#w);
  }

  /** Whether some process holds the lock. */
  locked(): boolean {
    return _isLocked(this.#w);
  }

  /** Releases the lock at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.release();
  }

  /**
   * The lock's wire form: its shared memory. Internal: how it travels to another worker.
   *
   * @ignore
   */
  [_WIRE](path: string, out?: _Outbox): _WireForm {
    const relayed = _relayed("troupe.Lock", this, path, out);
    if (relayed) return relayed;
    return { kind: "troupe.Lock", module: import.meta.url, state: this.#w.buffer };
  }

  static {
    lockWords = (lock) => lock.#w;
    // console.log(lock): Lock { locked: true, holder: 1000000001 }
    _inspectable(this, (lock) => _mutexFields(lock.#w, false));
  }
}

/**
 * A re-entrant lock in shared memory, Python's `multiprocessing.RLock`: the
 * process that holds it may acquire it again, and must release it as many
 * times. Only that process may release it; releasing it elsewhere is an
 * error (except when the holder has ended, which frees it).
 *
 * The holder is the process, identified by its run-wide pid: async code in
 * one process shares the hold, the way Python's threads would not.
 *
 * @example
 * ```ts
 * import { RLock } from "@troupe/troupe";
 *
 * const lock = new RLock();
 * {
 *   using _outer = await lock.acquire();
 *   using _inner = await lock.acquire(); // the holder may take it again
 * }
 * console.assert(!lock.locked());
 * ```
 */
export class RLock implements LockGuard {
  #w: Int32Array = words();

  /**
   * Takes the lock, waiting until it is free unless this process holds it.
   *
   * @param options `timeoutMs` and `signal`.
   * @returns The lock, as a guard that `using` releases once.
   * @throws {DOMException} Named `"TimeoutError"` when `timeoutMs` passes first.
   * @throws {LockHolderDiedError} When the process holding it has ended.
   */
  acquire(options?: WaitOptions): Promise<LockGuard> {
    const waiting = acquireFor(this.#w, true, options, _myPid());
    return waiting === undefined ? Promise.resolve(this) : waiting.then(() => this);
  }

  /**
   * Blocks this worker until it holds the lock (at once if it already does).
   * Refused on the main thread: use `acquire()` there.
   *
   * @param options `timeoutMs`.
   * @returns The lock, as a guard that `using` releases once.
   * @throws {DOMException} Named `"TimeoutError"` when `timeoutMs` passes first.
   * @throws {LockHolderDiedError} When the process holding it has ended.
   */
  acquireSync(options?: SyncWaitOptions): LockGuard {
    const deadline = _syncWaitOptions(options, "RLock.acquireSync()");
    if (reenter(this.#w, _myPid())) return this;
    _lockSync(this.#w, "RLock", "RLock.acquireSync()", deadline, timeoutOf(options));
    return this;
  }

  /**
   * Takes the lock if it is free or this process holds it, without waiting.
   *
   * @returns Whether the lock was taken.
   */
  tryAcquire(): boolean {
    return reenter(this.#w, _myPid());
  }

  /**
   * Releases one level of the hold; the lock is free once every `acquire()`
   * has been matched.
   *
   * @throws {Error} When this process does not hold the lock.
   */
  release(): void {
    releaseFor(this.#w, _myPid());
  }

  /** Whether some process holds the lock. */
  locked(): boolean {
    return _isLocked(this.#w);
  }

  /** Releases one level of the hold at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.release();
  }

  /**
   * The lock's wire form: its shared memory. Internal: how it travels to another worker.
   *
   * @ignore
   */
  [_WIRE](path: string, out?: _Outbox): _WireForm {
    const relayed = _relayed("troupe.RLock", this, path, out);
    if (relayed) return relayed;
    return { kind: "troupe.RLock", module: import.meta.url, state: this.#w.buffer };
  }

  static {
    rlockWords = (lock) => lock.#w;
    // console.log(lock): RLock { locked: true, holder: 1000000001, count: 2 }
    _inspectable(this, (lock) => _mutexFields(lock.#w, true));
  }
}

/**
 * The mutex words of a `Lock` or `RLock`, and whether it is re-entrant (for
 * `Condition`, which releases and retakes it around a wait).
 */
export function _mutexOf(lock: Lock | RLock): { w: Int32Array; reentrant: boolean } {
  return lock instanceof RLock
    ? { w: rlockWords(lock), reentrant: true }
    : { w: lockWords(lock), reentrant: false };
}

/**
 * Takes `lock` for process `pid`, as its `acquire()` does for this one: a
 * relay serving a child that shares no memory with the lock takes it for
 * that child, which is then its holder (a holder that ends is reported).
 */
export function _acquireFor(
  lock: Lock | RLock,
  pid: number,
  options: WaitOptions | undefined,
): Promise<void> {
  const { w, reentrant } = _mutexOf(lock);
  return acquireFor(w, reentrant, options, pid) ?? Promise.resolve();
}

/** Releases `lock` for process `pid`, as its `release()` does for this one. */
export function _releaseFor(lock: Lock | RLock, pid: number): void {
  if (lock instanceof RLock) releaseFor(rlockWords(lock), pid);
  else lock.release();
}

/** Rebuilds a `Lock` or `RLock` from its wire form's kind and state (for objects that hold one). */
export function _reviveLock(kind: string, state: unknown): Lock | RLock {
  const reentrant = kind === "troupe.RLock";
  reviving = _wordsFrom(state, _MUTEX_WORDS, reentrant ? "RLock" : "Lock");
  return reentrant ? new RLock() : new Lock();
}

_registerReviver("troupe.Lock", (state) => _reviveLock("troupe.Lock", state));
_registerReviver("troupe.RLock", (state) => _reviveLock("troupe.RLock", state));
