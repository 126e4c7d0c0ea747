/**
 * `Event` over shared memory: a flag that processes wait for.
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

const FLAG = 0;
const WORDS = 1;

let reviving: Int32Array | undefined;

/**
 * A flag in shared memory, Python's `multiprocessing.Event`: `set()` wakes
 * every process waiting in `wait()`, and later waits return at once until
 * `clear()`. Pass it in `args` to any process: every copy is the same event.
 *
 * @example
 * ```ts
 * import { Event } from "@troupe/troupe";
 *
 * const ready = new Event();
 * setTimeout(() => ready.set(), 10);
 * console.assert(await ready.wait({ timeoutMs: 5000 }));
 * console.assert(ready.isSet());
 * ```
 */
export class Event {
  #w: Int32Array;

  static {
    // console.log(event): Event { set: true }
    _inspectable(this, (event) => ({ set: event.isSet() }));
  }

  /** Creates an event whose flag is not set. */
  constructor() {
    this.#w = reviving ?? _sharedWords(WORDS);
    reviving = undefined;
  }

  /** Whether the flag is set. */
  isSet(): boolean {
    return Atomics.load(this.#w, FLAG) === 1;
  }

  /** Sets the flag and wakes every waiter. */
  set(): void {
    Atomics.store(this.#w, FLAG, 1);
    Atomics.notify(this.#w, FLAG);
  }

  /** Clears the flag: later `wait()`s wait again. */
  clear(): void {
    Atomics.store(this.#w, FLAG, 0);
  }

  /**
   * Waits until the flag is set, without blocking the event loop.
   *
   * @param options `timeoutMs` and `signal`.
   * @returns `true` once the flag is set, `false` when `timeoutMs` passed first (as in Python).
   */
  async wait(options?: WaitOptions): Promise<boolean> {
    const wait: _Wait = _waitOptions(options, "Event.wait()");
    const w = this.#w;
    while (Atomics.load(w, FLAG) !== 1) {
      const left = _remaining(wait.deadline);
      if (left === 0) return false;
      const r = _waitWord(w, FLAG, 0, left, wait.signal);
      if (typeof r !== "string") await r;
    }
    return true;
  }

  /**
   * Blocks this worker until the flag is set. Refused on the main thread:
   * use `wait()` there.
   *
   * @param options `timeoutMs`.
   * @returns `true` once the flag is set, `false` when `timeoutMs` passed first.
   */
  waitSync(options?: SyncWaitOptions): boolean {
    const deadline = _syncWaitOptions(options, "Event.waitSync()");
    const w = this.#w;
    while (Atomics.load(w, FLAG) !== 1) {
      const left = _remaining(deadline);
      if (left === 0) return false;
      _waitSync(w, FLAG, 0, left);
    }
    return true;
  }

  /**
   * The event's wire form: its shared memory. Internal: how it travels to another worker.
   *
   * @ignore
   */
  [_WIRE](path: string, out?: _Outbox): _WireForm {
    const relayed = _relayed("troupe.Event", this, path, out);
    if (relayed) return relayed;
    return { kind: "troupe.Event", module: import.meta.url, state: this.#w.buffer };
  }
}

_registerReviver("troupe.Event", (state) => {
  reviving = _wordsFrom(state, WORDS, "Event");
  return new Event();
});
