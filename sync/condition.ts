/**
 * `Condition` over shared memory: wait, with a lock held, until another
 * process notifies.
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
import { _describe, _inspectable } from "../runtime/util.ts";
import { _COUNT, _isLocked, _lockAsync, _lockSync, _OWNER, _tryLock, _unlock } from "./_mutex.ts";
import { _mutexOf, _reviveLock, Lock, type LockGuard, RLock } from "./lock.ts";
import {
  _myPid,
  _remaining,
  _sharedWords,
  _syncWaitOptions,
  type _Wait,
  _waitOptions,
  _waitSync,
  _waitWord,
  _wordsFrom,
  type SyncWaitOptions,
  type WaitOptions,
} from "../runtime/wait.ts";

// Bumped by every notify: a waiter sleeps only while it is unchanged since it
// released the lock, so a notify between the release and the sleep is not lost.
const SEQ = 0;
const WORDS = 1;

interface Revived {
  w: Int32Array;
  lock: Lock | RLock;
}
let reviving: Revived | undefined;

// A condition's calls for another process's pid (set in Condition's static block).
let forPid: {
  lock(cond: Condition): Lock | RLock;
  wait(cond: Condition, options: WaitOptions | undefined, pid: number): Promise<boolean>;
  notify(cond: Condition, n: number, pid: number): void;
};

/**
 * A condition variable in shared memory, Python's `multiprocessing.Condition`:
 * with its lock held, `wait()` releases the lock, sleeps until another process
 * calls `notify()` or `notifyAll()`, and takes the lock again before it
 * returns. As everywhere, a wait may also end without a notify: check the
 * state you wait for in a loop, or use `waitFor(predicate)`.
 *
 * @example A flag set under the condition's lock
 * ```ts
 * import { Condition } from "@troupe/troupe";
 *
 * const cond = new Condition();
 * const state = { ready: false };
 * setTimeout(async () => {
 *   using _ = await cond.acquire();
 *   state.ready = true;
 *   cond.notifyAll();
 * }, 10);
 * using _ = await cond.acquire();
 * console.assert(await cond.waitFor(() => state.ready, { timeoutMs: 5000 }));
 * ```
 */
export class Condition implements LockGuard {
  #w: Int32Array;
  #lock: Lock | RLock;

  static {
    // console.log(cond): Condition { lock: RLock { locked: false } }
    _inspectable(this, (cond) => ({ lock: cond.#lock }));
    forPid = {
      lock: (cond) => cond.#lock,
      wait: (cond, options, pid) => cond.#waitFor(options, pid),
      notify: (cond, n, pid) => cond.#notifyFor(n, pid),
    };
  }

  /**
   * Creates a condition.
   *
   * @param lock The lock it uses; share one lock between conditions by passing it. @default {new RLock()}
   */
  constructor(lock?: Lock | RLock) {
    if (reviving) {
      ({ w: this.#w, lock: this.#lock } = reviving);
      reviving = undefined;
      return;
    }
    if (lock !== undefined && !(lock instanceof Lock) && !(lock instanceof RLock)) {
      throw new TypeError(`Condition lock must be a Lock or an RLock, got ${_describe(lock)}`);
    }
    this.#w = _sharedWords(WORDS);
    this.#lock = lock ?? new RLock();
  }

  /**
   * Takes the condition's lock, waiting without blocking.
   *
   * @param options `timeoutMs` and `signal`.
   * @returns The condition, as a guard that `using` releases.
   */
  async acquire(options?: WaitOptions): Promise<LockGuard> {
    await this.#lock.acquire(options);
    return this;
  }

  /**
   * Takes the condition's lock, blocking this worker. Refused on the main thread.
   *
   * @param options `timeoutMs`.
   * @returns The condition, as a guard that `using` releases.
   */
  acquireSync(options?: SyncWaitOptions): LockGuard {
    this.#lock.acquireSync(options);
    return this;
  }

  /** Releases the condition's lock. */
  release(): void {
    this.#lock.release();
  }

  /** Releases the condition's lock at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.#lock.release();
  }

  /**
   * Releases the lock, waits for a notify, and takes the lock again.
   *
   * @param options `timeoutMs` and `signal`; the lock is held again even when they end the wait.
   * @returns `false` when `timeoutMs` passed first, else `true`.
   * @throws {Error} When this process does not hold the lock.
   */
  wait(options?: WaitOptions): Promise<boolean> {
    return this.#waitFor(options, _myPid());
  }

  // wait() for process `pid` (a relay waits for the child it serves).
  async #waitFor(options: WaitOptions | undefined, pid: number): Promise<boolean> {
    const wait: _Wait = _waitOptions(options, "Condition.wait()");
    const { m, count, seq } = this.#releaseForWait("Condition.wait()", pid);
    let result: string;
    try {
      const r = _waitWord(this.#w, SEQ, seq, _remaining(wait.deadline), wait.signal);
      result = typeof r === "string" ? r : await r;
    } finally {
      if (!_tryLock(m, pid)) {
        await _lockAsync(
          m,
          "Condition's lock",
          "Condition.wait()",
          Infinity,
          undefined,
          undefined,
          pid,
        );
      }
      m[_COUNT] = count;
    }
    return result !== "timed-out";
  }

  /**
   * {@linkcode Condition.wait} that blocks this worker. Refused on the main thread.
   *
   * @param options `timeoutMs`.
   * @returns `false` when `timeoutMs` passed first, else `true`.
   */
  waitSync(options?: SyncWaitOptions): boolean {
    const deadline = _syncWaitOptions(options, "Condition.waitSync()");
    const { m, count, seq } = this.#releaseForWait("Condition.waitSync()", _myPid());
    let result: string;
    try {
      result = _waitSync(this.#w, SEQ, seq, _remaining(deadline));
    } finally {
      if (!_tryLock(m)) {
        _lockSync(m, "Condition's lock", "Condition.waitSync()", Infinity, undefined);
      }
      m[_COUNT] = count;
    }
    return result !== "timed-out";
  }

  /**
   * Waits until `predicate()` is true, re-checking after each notify, with the lock held.
   *
   * @param predicate Checked with the lock held; the wait ends once it returns true.
   * @param options `timeoutMs` (for the whole wait) and `signal`.
   * @returns The predicate's last answer (false when `timeoutMs` passed first).
   */
  async waitFor(predicate: () => boolean, options?: WaitOptions): Promise<boolean> {
    const wait: _Wait = _waitOptions(options, "Condition.waitFor()");
    let ok = predicate();
    while (!ok) {
      const left = _remaining(wait.deadline);
      if (left === 0) break;
      await this.wait({ timeoutMs: left === Infinity ? undefined : left, signal: wait.signal });
      ok = predicate();
    }
    return ok;
  }

  /**
   * {@linkcode Condition.waitFor} that blocks this worker. Refused on the main thread.
   *
   * @param predicate Checked with the lock held.
   * @param options `timeoutMs` for the whole wait.
   * @returns The predicate's last answer.
   */
  waitForSync(predicate: () => boolean, options?: SyncWaitOptions): boolean {
    const deadline = _syncWaitOptions(options, "Condition.waitForSync()");
    let ok = predicate();
    while (!ok) {
      const left = _remaining(deadline);
      if (left === 0) break;
      this.waitSync({ timeoutMs: left === Infinity ? undefined : left });
      ok = predicate();
    }
    return ok;
  }

  /**
   * Wakes up to `n` processes waiting on this condition. The lock must be held.
   *
   * @param n How many waiters to wake. @default {1}
   * @throws {Error} When this process does not hold the lock.
   */
  notify(n: number = 1): void {
    this.#notifyFor(n, _myPid());
  }

  #notifyFor(n: number, pid: number): void {
    if (!(n >= 0)) throw new RangeError(`Condition.notify() n must be 0 or more, got ${n}`);
    this.#mine("Condition.notify()", pid);
    Atomics.add(this.#w, SEQ, 1);
    Atomics.notify(this.#w, SEQ, n);
  }

  /** Wakes every process waiting on this condition. The lock must be held. */
  notifyAll(): void {
    this.notify(Infinity);
  }

  /**
   * The condition's wire form: its shared memory and its lock's. Internal: how it travels to another worker.
   *
   * @ignore
   */
  [_WIRE](path: string, out?: _Outbox): _WireForm {
    const relayed = _relayed("troupe.Condition", this, path, out);
    if (relayed) return relayed;
    const lock = this.#lock[_WIRE]("lock");
    return {
      kind: "troupe.Condition",
      module: import.meta.url,
      state: { w: this.#w.buffer, lock: { kind: lock.kind, state: lock.state } },
    };
  }

  #mine(what: string, pid: number): Int32Array {
    const m = _mutexOf(this.#lock).w;
    if (!_isLocked(m) || Atomics.load(m, _OWNER) !== pid) {
      throw new Error(`${what} needs the condition's lock: acquire it first`);
    }
    return m;
  }

  // Frees the lock completely (an RLock may be held several times) for a wait.
  #releaseForWait(what: string, pid: number): { m: Int32Array; count: number; seq: number } {
    const m = this.#mine(what, pid);
    const count = m[_COUNT];
    const seq = Atomics.load(this.#w, SEQ);
    _unlock(m);
    return { m, count, seq };
  }
}

/**
 * A condition's lock, and its `wait()` and `notify()` done for process `pid`:
 * a relay serving a child that shares no memory with the condition waits and
 * notifies as that child, which holds the lock.
 */
export function _conditionFor(cond: Condition): {
  lock: Lock | RLock;
  wait(options: WaitOptions | undefined, pid: number): Promise<boolean>;
  notify(n: number, pid: number): void;
} {
  return {
    lock: forPid.lock(cond),
    wait: (options, pid) => forPid.wait(cond, options, pid),
    notify: (n, pid) => forPid.notify(cond, n, pid),
  };
}

_registerReviver("troupe.Condition", (state) => {
  const { w, lock } = state as { w: unknown; lock: { kind: string; state: unknown } };
  reviving = { w: _wordsFrom(w, WORDS, "Condition"), lock: _reviveLock(lock.kind, lock.state) };
  return new Condition();
});
