/**
 * `Semaphore` and `BoundedSemaphore` over shared memory.
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
import type { LockGuard } from "./lock.ts";
import {
  _remaining,
  _sharedWords,
  _syncWaitOptions,
  _timedOut,
  type _Wait,
  _waitOptions,
  _waitSync,
  _waitWord,
  _wordsFrom,
  type SyncWaitOptions,
  type WaitOptions,
} from "../runtime/wait.ts";

const VALUE = 0;
// How many wait: release() notifies only when someone does.
const WAITERS = 1;
// The bound of a BoundedSemaphore; -1 for a Semaphore.
const MAX = 2;
const WORDS = 3;
// Values above this would not fit the shared Int32 word.
const LIMIT = 0x7fffffff;

let reviving: Int32Array | undefined;

function tryDown(w: Int32Array): boolean {
  for (;;) {
    const v = Atomics.load(w, VALUE);
    if (v <= 0) return false;
    if (Atomics.compareExchange(w, VALUE, v, v - 1) === v) return true;
  }
}

/**
 * A counting semaphore in shared memory, Python's `multiprocessing.Semaphore`:
 * `acquire()` waits while the value is 0 and then decrements it; `release()`
 * increments it. Pass it in `args` to any process: every copy is the same
 * semaphore.
 *
 * @example At most two at a time
 * ```ts
 * import { Semaphore } from "@troupe/troupe";
 *
 * const slots = new Semaphore(2);
 * using _a = await slots.acquire();
 * using _b = await slots.acquire();
 * console.assert(slots.value === 0 && !slots.tryAcquire());
 * ```
 */
export class Semaphore implements LockGuard {
  #w: Int32Array;

  static {
    // console.log(s): Semaphore { value: 2 }, BoundedSemaphore { value: 1, max: 2 }
    _inspectable(this, (s) => {
      const max = s.#w[MAX];
      return max >= 0 ? { value: s.value, max } : { value: s.value };
    });
  }

  /**
   * Creates a semaphore.
   *
   * @param value The initial value: how many `acquire()`s succeed before one waits. @default {1}
   */
  constructor(value: number = 1) {
    if (reviving) {
      this.#w = reviving;
      reviving = undefined;
      return;
    }
    const kind = this instanceof BoundedSemaphore ? "BoundedSemaphore" : "Semaphore";
    if (!Number.isInteger(value) || value < 0 || value > LIMIT) {
      throw new RangeError(
        `${kind} value must be an integer from 0 to ${LIMIT}, got ${
          typeof value === "number" ? value : _describe(value)
        }`,
      );
    }
    this.#w = _sharedWords(WORDS);
    this.#w[VALUE] = value;
    this.#w[MAX] = kind === "BoundedSemaphore" ? value : -1;
  }

  /** The current value (Python's `get_value()`); it may change at once. */
  get value(): number {
    return Atomics.load(this.#w, VALUE);
  }

  /**
   * Waits until the value is above 0, then decrements it.
   *
   * @param options `timeoutMs` and `signal`.
   * @returns The semaphore, as a guard that `using` releases.
   * @throws {DOMException} Named `"TimeoutError"` when `timeoutMs` passes first.
   */
  acquire(options?: WaitOptions): Promise<LockGuard> {
    if (options === undefined && tryDown(this.#w)) return Promise.resolve(this);
    let wait: _Wait;
    try {
      wait = _waitOptions(options, `${this.#kind()}.acquire()`);
      if (wait.signal?.aborted) return Promise.reject(wait.signal.reason);
    } catch (error) {
      return Promise.reject(error);
    }
    if (tryDown(this.#w)) return Promise.resolve(this);
    return this.#acquireSlow(wait);
  }

  async #acquireSlow(wait: _Wait): Promise<LockGuard> {
    const w = this.#w;
    Atomics.add(w, WAITERS, 1);
    try {
      while (!tryDown(w)) {
        const left = _remaining(wait.deadline);
        if (left === 0) throw _timedOut(`${this.#kind()}.acquire()`, wait.timeoutMs);
        const r = _waitWord(w, VALUE, 0, left, wait.signal);
        if (typeof r !== "string") await r;
      }
    } finally {
      Atomics.sub(w, WAITERS, 1);
    }
    return this;
  }

  /**
   * Blocks this worker until the value is above 0, then decrements it.
   * Refused on the main thread: use `acquire()` there.
   *
   * @param options `timeoutMs`.
   * @returns The semaphore, as a guard that `using` releases.
   * @throws {DOMException} Named `"TimeoutError"` when `timeoutMs` passes first.
   */
  acquireSync(options?: SyncWaitOptions): LockGuard {
    const what = `${this.#kind()}.acquireSync()`;
    const deadline = _syncWaitOptions(options, what);
    const w = this.#w;
    if (tryDown(w)) return this;
    Atomics.add(w, WAITERS, 1);
    try {
      while (!tryDown(w)) {
        const left = _remaining(deadline);
        if (left === 0) throw _timedOut(what, options?.timeoutMs);
        _waitSync(w, VALUE, 0, left);
      }
    } finally {
      Atomics.sub(w, WAITERS, 1);
    }
    return this;
  }

  /**
   * Decrements the value if it is above 0, without waiting.
   *
   * @returns Whether it was decremented.
   */
  tryAcquire(): boolean {
    return tryDown(this.#w);
  }

  /**
   * Increments the value, waking one waiter.
   *
   * @throws {Error} For a `BoundedSemaphore`, when it would go above its initial value.
   */
  release(): void {
    const w = this.#w;
    const max = w[MAX];
    for (;;) {
      const v = Atomics.load(w, VALUE);
      if (max >= 0 && v >= max) {
        throw new Error(
          `BoundedSemaphore.release() was called more times than acquire(): the value would ` +
            `exceed its initial value ${max}`,
        );
      }
      if (v >= LIMIT) throw new RangeError(`Semaphore value cannot exceed ${LIMIT}`);
      if (Atomics.compareExchange(w, VALUE, v, v + 1) === v) break;
    }
    if (Atomics.load(w, WAITERS) > 0) Atomics.notify(w, VALUE, 1);
  }

  /** Releases at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.release();
  }

  /**
   * The semaphore's wire form: its shared memory. Internal: how it travels to another worker.
   *
   * @ignore
   */
  [_WIRE](path: string, out?: _Outbox): _WireForm {
    const relayed = _relayed("troupe.Semaphore", this, path, out);
    if (relayed) return relayed;
    return { kind: "troupe.Semaphore", module: import.meta.url, state: this.#w.buffer };
  }

  #kind(): string {
    return this.#w[MAX] >= 0 ? "BoundedSemaphore" : "Semaphore";
  }
}

/**
 * A semaphore whose value may not exceed its initial value, Python's
 * `multiprocessing.BoundedSemaphore`: a `release()` without a matching
 * `acquire()` is an error instead of a silent extra slot.
 *
 * @example
 * ```ts
 * import { BoundedSemaphore } from "@troupe/troupe";
 *
 * const sem = new BoundedSemaphore(1);
 * await sem.acquire();
 * sem.release();
 * try {
 *   sem.release(); // one release too many
 * } catch (error) {
 *   console.assert((error as Error).message.includes("more times than acquire()"));
 * }
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  /**
   * Creates a bounded semaphore.
   *
   * @param value The initial value, which is also the most it may reach. @default {1}
   */
  constructor(value: number = 1) {
    super(value);
  }
}

_registerReviver("troupe.Semaphore", (state) => {
  const w = _wordsFrom(state, WORDS, "Semaphore");
  reviving = w;
  return w[MAX] >= 0 ? new BoundedSemaphore() : new Semaphore();
});
