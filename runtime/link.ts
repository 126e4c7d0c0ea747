// A one-way link between two threads over a shared-memory ring: messages of
// plain data, encoded with the channels' codec. A waiting reader polls for a
// few microseconds before it sleeps, so an answer that comes quickly is taken
// without waking a sleeping thread (~40 µs a side, where a poll takes ~5).
// A message the link refuses (too big, the ring full, data the codec cannot
// carry) goes by the worker's port instead: the caller decides.
import { _decode, _encode } from "./codec.ts";
import { _Ring, type _Spin, _WOULD_WAIT } from "./ring.ts";

/** Ring bytes per link: a larger message takes the port. */
const LINK_BYTES = 1 << 18;
/** Longest poll before a wait sleeps, in µs (see `_Spin`). */
const SPIN_MICROS = 50;

export { _WOULD_WAIT };

/** One direction of a link; both threads make one over the same buffer. */
export class _Link {
  readonly buffer: SharedArrayBuffer;
  readonly #ring: _Ring;
  readonly #scratch = { bytes: new Uint8Array(256) };
  readonly #spin: _Spin = { micros: SPIN_MICROS, misses: 0, skip: 0 };

  /** A new buffer for a link. */
  static allocate(): SharedArrayBuffer {
    return _Ring.allocate(LINK_BYTES);
  }

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#ring = new _Ring(buffer, "structured", 0);
  }

  /** Puts `message` in the ring without waiting; false when it must go another way. */
  trySend(message: unknown): boolean {
    let bytes: Uint8Array;
    try {
      bytes = _encode(message, "link", "send()");
    } catch {
      return false;
    }
    if (bytes.length + 4 > this.#ring.capacity) return false;
    return this.#ring.tryPut(bytes, false) === true;
  }

  /** The next message, or `_WOULD_WAIT` when there is none (or the link was closed). */
  tryTake(): unknown {
    const n = this.#ring.tryTake(this.#scratch);
    return typeof n === "number" ? _decode(this.#scratch.bytes.subarray(0, n)) : _WOULD_WAIT;
  }

  /**
   * Waits (polling first) until `attempt` returns something other than
   * `_WOULD_WAIT`; `attempt` runs again after each wake, and at least every
   * `recheckMs` while `recheck()` says so.
   */
  wait<R>(attempt: () => R | typeof _WOULD_WAIT, recheck?: () => boolean): Promise<R> {
    return this.#ring.waitForTake(attempt, {
      timeoutMs: undefined,
      signal: undefined,
      onTimeout: () => new Error("unreachable: a link wait has no timeout"),
      spin: this.#spin,
      recheck,
    });
  }

  /** Wakes a waiting reader for good: `tryTake` gives `_WOULD_WAIT` from now on. */
  close(): void {
    this.#ring.close();
  }

  get closed(): boolean {
    return this.#ring.closed;
  }
}
