/**
 * `Barrier` over shared memory: a fixed number of processes wait for each
 * other.
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
import { BrokenBarrierError } from "./errors.ts";
import {
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

// One word holds the generation (high 16 bits), the broken flag and the count
// of arrivals in this generation, so that an arrival learns its index and
// its generation in one atomic add.
const STATE = 0;
const PARTIES = 1;
// 1 + the generation that reset() ended, so its waiters report a broken barrier.
const RESET = 2;
const WORDS = 3;

const COUNT = 0x7fff;
const BROKEN = 0x8000;
const MAX_PARTIES = 0x3fff;

const generation = (state: number) => state >>> 16;
const nextGeneration = (state: number) => ((generation(state) + 1) & 0xffff) << 16;

let reviving: Int32Array | undefined;

/**
 * A barrier in shared memory, Python's `multiprocessing.Barrier`: each of
 * `parties` processes calls `wait()`, and all are released together once the
 * last arrives; then the barrier can be used again. `wait()` resolves with
 * the arrival index, `0` for the first and `parties - 1` for the last.
 *
 * A `wait()` whose timeout runs out (or whose signal aborts), or a call to
 * `abort()`, breaks the barrier: every waiter, and every later `wait()`,
 * throws {@linkcode BrokenBarrierError} until `reset()`. Python's `action`
 * callback is not offered (a function cannot travel between processes): the
 * process that gets index `parties - 1` can run it.
 *
 * @example Two parties
 * ```ts
 * import { Barrier } from "@troupe/troupe";
 *
 * const barrier = new Barrier(2);
 * const indexes = await Promise.all([barrier.wait(), barrier.wait()]);
 * console.assert(indexes.sort().join() === "0,1");
 * ```
 */
export class Barrier {
  #w: Int32Array;

  static {
    // console.log(barrier): Barrier { parties: 3, nWaiting: 1, broken: false }
    _inspectable(this, (b) => ({ parties: b.parties, nWaiting: b.nWaiting, broken: b.broken }));
  }

  /**
   * Creates a barrier.
   *
   * @param parties How many processes must call `wait()` before all are released (1 to 16383).
   */
  constructor(parties: number) {
    if (reviving) {
      this.#w = reviving;
      reviving = undefined;
      return;
    }
    if (!Number.isInteger(parties) || parties < 1 || parties > MAX_PARTIES) {
      throw new RangeError(
        `Barrier parties must be an integer from 1 to ${MAX_PARTIES}, got ${
          typeof parties === "number" ? parties : _describe(parties)
        }`,
      );
    }
    this.#w = _sharedWords(WORDS);
    this.#w[PARTIES] = parties;
  }

  /** How many processes must call `wait()` to release them all. */
  get parties(): number {
    return this.#w[PARTIES];
  }

  /** How many processes wait at the barrier now. */
  get nWaiting(): number {
    const state = Atomics.load(this.#w, STATE);
    return state & BROKEN ? 0 : Math.min(state & COUNT, this.parties);
  }

  /** Whether the barrier is broken (see {@linkcode Barrier.abort}). */
  get broken(): boolean {
    return (Atomics.load(this.#w, STATE) & BROKEN) !== 0;
  }

  /**
   * Waits until `parties` processes have called `wait()`, without blocking.
   *
   * @param options `timeoutMs` and `signal`; either one ending the wait breaks the barrier.
   * @returns The arrival index, from `0` to `parties - 1`.
   * @throws {BrokenBarrierError} When the barrier is or becomes broken (also on timeout).
   */
  async wait(options?: WaitOptions): Promise<number> {
    const wait: _Wait = _waitOptions(options, "Barrier.wait()");
    if (wait.signal?.aborted) throw wait.signal.reason;
    const w = this.#w;
    for (;;) {
      const { index, gen } = this.#arrive();
      if (index === this.parties - 1) return index;
      // index >= parties: this generation is full; wait for the next and arrive again.
      const full = index >= this.parties;
      for (;;) {
        const state = Atomics.load(w, STATE);
        if (generation(state) !== gen) {
          if (!full) this.#checkReset(gen);
          break;
        }
        if (state & BROKEN) throw this.#brokenError();
        const left = _remaining(wait.deadline);
        if (left === 0) {
          this.abort();
          throw new BrokenBarrierError(
            `Barrier.wait() timed out after ${options?.timeoutMs} ms, which broke the barrier`,
          );
        }
        try {
          const r = _waitWord(w, STATE, state, left, wait.signal);
          if (typeof r !== "string") await r;
        } catch (reason) {
          this.abort();
          throw reason;
        }
      }
      if (!full) return index;
    }
  }

  /**
   * {@linkcode Barrier.wait} that blocks this worker. Refused on the main thread.
   *
   * @param options `timeoutMs`; running out breaks the barrier.
   * @returns The arrival index, from `0` to `parties - 1`.
   * @throws {BrokenBarrierError} When the barrier is or becomes broken (also on timeout).
   */
  waitSync(options?: SyncWaitOptions): number {
    const deadline = _syncWaitOptions(options, "Barrier.waitSync()");
    const w = this.#w;
    for (;;) {
      const { index, gen } = this.#arrive();
      if (index === this.parties - 1) return index;
      const full = index >= this.parties;
      for (;;) {
        const state = Atomics.load(w, STATE);
        if (generation(state) !== gen) {
          if (!full) this.#checkReset(gen);
          break;
        }
        if (state & BROKEN) throw this.#brokenError();
        const left = _remaining(deadline);
        if (left === 0) {
          this.abort();
          throw new BrokenBarrierError(
            `Barrier.waitSync() timed out after ${options?.timeoutMs} ms, which broke the barrier`,
          );
        }
        _waitSync(w, STATE, state, left);
      }
      if (!full) return index;
    }
  }

  // Counts this arrival; the last one opens the next generation and wakes the rest.
  #arrive(): { index: number; gen: number } {
    const w = this.#w;
    const parties = this.parties;
    const before = Atomics.add(w, STATE, 1);
    if (before & BROKEN) throw this.#brokenError();
    const index = before & COUNT;
    const gen = generation(before);
    if (index === parties - 1) {
      // Also erases arrivals beyond `parties`, which wait for this change and arrive again.
      for (let state = before + 1;;) {
        const seen = Atomics.compareExchange(w, STATE, state, nextGeneration(before));
        if (seen === state) break;
        if (seen & BROKEN || generation(seen) !== gen) throw this.#brokenError();
        state = seen;
      }
      Atomics.notify(w, STATE);
    }
    return { index, gen };
  }

  #checkReset(gen: number): void {
    if (Atomics.load(this.#w, RESET) === gen + 1) {
      throw new BrokenBarrierError("the barrier was reset while this process waited");
    }
  }

  #brokenError(): BrokenBarrierError {
    return new BrokenBarrierError(
      "the barrier is broken (abort() was called, or a wait timed out or was aborted); " +
        "reset() makes it usable again",
    );
  }

  /**
   * Breaks the barrier: every waiter, and every later `wait()`, throws
   * {@linkcode BrokenBarrierError} until `reset()`.
   */
  abort(): void {
    Atomics.or(this.#w, STATE, BROKEN);
    Atomics.notify(this.#w, STATE);
  }

  /**
   * Returns the barrier to its empty, unbroken state. Processes waiting at
   * it throw {@linkcode BrokenBarrierError}.
   */
  reset(): void {
    const w = this.#w;
    for (;;) {
      const state = Atomics.load(w, STATE);
      if ((state & COUNT) !== 0) Atomics.store(w, RESET, generation(state) + 1);
      if (Atomics.compareExchange(w, STATE, state, nextGeneration(state)) === state) break;
    }
    Atomics.notify(w, STATE);
  }

  /**
   * The barrier's wire form: its shared memory. Internal: how it travels to another worker.
   *
   * @ignore
   */
  [_WIRE](path: string, out?: _Outbox): _WireForm {
    const relayed = _relayed("troupe.Barrier", this, path, out);
    if (relayed) return relayed;
    return { kind: "troupe.Barrier", module: import.meta.url, state: this.#w.buffer };
  }
}

_registerReviver("troupe.Barrier", (state) => {
  reviving = _wordsFrom(state, WORDS, "Barrier");
  return new Barrier(0);
});
