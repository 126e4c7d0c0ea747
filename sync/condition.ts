/**
 * `Condition` over shared memory: wait, with a lock held, until another
 * process notifies.
 *
 * @module
 */
import { _registerReviver, _WIRE, type _WireForm } from "../runtime/wire.ts";
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
  async wait(options?: WaitOptions): Promise<boolean> {
    const wait: _Wait = _waitOptions(options, "Condition.wait()");
    const { m, count, seq } = this.#releaseForWait("Condition.wait()");
    let result: string;
    try {
      const r = _waitWord(this.#w, SEQ, seq, _remaining(wait.deadline), wait.signal);
      result = typeof r === "string" ? r : await r;
    } finally {
      if (!_tryLock(m)) {
        await _lockAsync(m, "Condition's lock", "Condition.wait()", Infinity, undefined, undefined);
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
    const { m, count, seq } = this.#releaseForWait("Condition.waitSync()");
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
    if (!(n >= 0)) throw new RangeError(`Condition.notify() n must be 0 or more, got ${n}`);
    this.#mine("Condition.notify()");
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
  [_WIRE](): _WireForm {
    const lock = this.#lock[_WIRE]();
    return {
      kind: "troupe.Condition",
      module: import.meta.url,
      state: { w: this.#w.buffer, lock: { kind: lock.kind, state: lock.state } },
    };
  }

  #mine(what: string): Int32Array {
    const m = _mutexOf(this.#lock).w;
    if (!_isLocked(m) || Atomics.load(m, _OWNER) !== _myPid()) {
      throw new Error(`${what} needs the condition's lock: acquire it first`);
    }
    return m;
  }

  // Frees the lock completely (an RLock may be held several times) for a wait.
  #releaseForWait(what: string): { m: Int32Array; count: number; seq: number } {
    const m = this.#mine(what);
    const count = m[_COUNT];
    const seq = Atomics.load(this.#w, SEQ);
    _unlock(m);
    return { m, count, seq };
  }
}

_registerReviver("troupe.Condition", (state) => {
  const { w, lock } = state as { w: unknown; lock: { kind: string; state: unknown } };
  reviving = { w: _wordsFrom(w, WORDS, "Condition"), lock: _reviveLock(lock.kind, lock.state) };
  return new Condition();
});
