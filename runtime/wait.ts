// Waiting on a shared Int32 word: the one place that knows how the async
// (Atomics.waitAsync) and blocking (Atomics.wait) waits behave, how timeouts
// and signals end them, and which thread may block.
import { _IN_WORKER } from "./context.ts";
import { _checkTimeout, _describe } from "./util.ts";
import { _context } from "./context.ts";
import type { SyncWaitOptions, WaitOptions } from "./wait_options.ts";

export type { SyncWaitOptions, WaitOptions };

/** What a wait on a word ended with (`Atomics.wait`'s answer). */
export type _WaitResult = "ok" | "not-equal" | "timed-out";

/** Validated wait options: an absolute deadline (`Infinity`: none) and the signal. */
export interface _Wait {
  deadline: number;
  signal: AbortSignal | undefined;
}

/** Checks `options` for an async wait named `what` (e.g. `"Lock.acquire()"`). */
export function _waitOptions(options: WaitOptions | undefined, what: string): _Wait {
  if (options === undefined) return { deadline: Infinity, signal: undefined };
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${what} options must be an object, got ${_describe(options)}`);
  }
  const timeoutMs = _checkTimeout(options.timeoutMs, `${what} timeoutMs`);
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${what} signal must be an AbortSignal, got ${_describe(signal)}`);
  }
  return {
    deadline: timeoutMs === undefined ? Infinity : performance.now() + timeoutMs,
    signal,
  };
}

/** Checks `options` for a blocking wait named `what`, refusing it on the main thread. */
export function _syncWaitOptions(options: SyncWaitOptions | undefined, what: string): number {
  _assertMayBlock(what);
  if (options === undefined) return Infinity;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${what} options must be an object, got ${_describe(options)}`);
  }
  if ("signal" in options) {
    throw new TypeError(
      `${what} cannot take a signal: a blocked thread cannot see it abort. Use timeoutMs, ` +
        "or the async form, which takes a signal",
    );
  }
  const timeoutMs = _checkTimeout(options.timeoutMs, `${what} timeoutMs`);
  return timeoutMs === undefined ? Infinity : performance.now() + timeoutMs;
}

const MAIN_THREAD = !_IN_WORKER;

/** Throws when blocking would freeze the main thread's event loop. */
export function _assertMayBlock(what: string): void {
  if (MAIN_THREAD) {
    const async = what.replace(/Sync\(\)$/, "()");
    throw new Error(
      `${what} blocks its thread, so it is refused on the main thread (it would freeze the ` +
        `event loop). Use \`await ${async}\` there; ${what} is for code running in a worker`,
    );
  }
}

/** Milliseconds left until `deadline` (never negative). */
export function _remaining(deadline: number): number {
  return deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now());
}

/** The error a wait that ran out of time rejects with. */
export function _timeoutError(what: string, timeoutMs: number | undefined): DOMException {
  return new DOMException(
    `${what} timed out${timeoutMs === undefined ? "" : ` after ${timeoutMs} ms`}`,
    "TimeoutError",
  );
}

const noop = () => {};
// Timers take at most a 32-bit delay; an interval re-arms itself for longer waits.
const KEEP_ALIVE_MAX_MS = 1 << 30;

/**
 * Waits without blocking until `i32[index]` is notified, or `ms` pass, or
 * `signal` aborts (rejecting with its reason). Answers synchronously when no
 * wait was needed (`"not-equal"`, or `"timed-out"` for `ms` 0).
 *
 * A pending `Atomics.waitAsync` does not keep the main thread's event loop
 * alive (not even once notified, until its answer is delivered), so there a
 * timer does while the wait runs: a waiting program stays alive as a blocked
 * Python one would. A worker's loop stays alive without one. A
 * wait given up on still sits in the word's wait list: if a notify reaches it
 * there, it passes the wake-up on.
 */
export function _waitAsync(
  i32: Int32Array,
  index: number,
  expected: number,
  ms: number,
  signal: AbortSignal | undefined,
): _WaitResult | Promise<_WaitResult> {
  if (signal?.aborted) throw signal.reason;
  const r = Atomics.waitAsync(i32, index, expected, ms);
  if (!r.async) return r.value;
  return new Promise<_WaitResult>((resolve, reject) => {
    let abandoned = false;
    // Only the main thread's loop needs it: a worker's stays alive anyway, and
    // its first timer call costs ~3 ms (Deno loads node:timers then).
    const keepAlive = MAIN_THREAD
      ? setInterval(noop, Math.min(ms + 5, KEEP_ALIVE_MAX_MS))
      : undefined;
    const onAbort = () => {
      abandoned = true;
      if (keepAlive !== undefined) clearInterval(keepAlive);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    r.value.then((result) => {
      if (abandoned) {
        if (result === "ok") Atomics.notify(i32, index, 1);
        return;
      }
      if (keepAlive !== undefined) clearInterval(keepAlive);
      signal?.removeEventListener("abort", onAbort);
      resolve(result);
    });
  });
}

/** Blocks this worker until `i32[index]` is notified or `ms` pass (refused on the main thread). */
export function _waitSync(
  i32: Int32Array,
  index: number,
  expected: number,
  ms: number,
): _WaitResult {
  return Atomics.wait(i32, index, expected, ms);
}

let pid = 0;

/** This process's run-wide pid. */
export function _myPid(): number {
  if (pid !== 0) return pid;
  const ctx = _context();
  // A worker learns its pid from its init message: remember it only once known.
  if (ctx.parent !== undefined || MAIN_THREAD) pid = ctx.self.pid;
  return ctx.self.pid;
}

/** A fresh shared Int32Array of `length` words, all 0. */
export function _sharedWords(length: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(length * 4));
}

/** Checks that a revived object's state is the buffer it needs. */
export function _wordsFrom(state: unknown, length: number, kind: string): Int32Array {
  if (!(state instanceof SharedArrayBuffer) || state.byteLength < length * 4) {
    throw new TypeError(`a Troupe ${kind} arrived without its shared memory`);
  }
  return new Int32Array(state, 0, length);
}
