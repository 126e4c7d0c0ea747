// Every wait of the runtime, in one place: the one-shot timer (`_after`),
// the end conditions of a wait (`_armWait`: a time limit, a signal, their
// cleanup), the one error a wait that ran out of time throws
// (`_timeoutError`), and waits on a shared Int32 word (`_waitWord`, and
// `_waitSync` where a worker may block): how the async (Atomics.waitAsync)
// and blocking (Atomics.wait) waits behave, and which thread may block.
//
// Timers: on the main thread they are setTimeout, which also keeps its event
// loop alive while a call waits. In a worker the first timer call costs 3–8
// ms (Deno loads node:timers then), and its event loop stays alive anyway,
// so there a timer is an Atomics.waitAsync on a cell of its own that times
// out when the timer is due; cancelling notifies the cell, which frees it at
// once.
import { _IN_WORKER } from "./context.ts";
import { _checkTimeout, _describe } from "./util.ts";
import { _context } from "./context.ts";
import type { SyncWaitOptions, WaitOptions } from "./wait_options.ts";

export type { SyncWaitOptions, WaitOptions };

const BLOCK = 256;

interface Cell {
  block: Int32Array;
  index: number;
}

// Cells not in use. A cell goes back only once its wait has ended, so a new
// timer never waits on a cell an old wait may still be woken through.
const free: Cell[] = [];

function takeCell(): Cell {
  let cell = free.pop();
  if (!cell) {
    const block = new Int32Array(new SharedArrayBuffer(BLOCK * 4));
    for (let i = BLOCK - 1; i > 0; i--) free.push({ block, index: i });
    cell = { block, index: 0 };
  }
  return cell;
}

/** Cancels a timer; does nothing once it fired or was cancelled. */
export type _Cancel = () => void;

// The longest delay setTimeout takes; a longer one fires at once.
const MAX_TIMER_MS = 2 ** 31 - 1;
const never: _Cancel = () => {};

/**
 * Calls `fn` once, `ms` from now, unless the returned function is called
 * first. `Infinity` never fires; delays beyond what a timer takes (~24.8
 * days) wait in steps.
 */
export function _after(ms: number, fn: () => void): _Cancel {
  if (!(ms < Infinity)) return never;
  if (!_IN_WORKER) {
    if (ms <= MAX_TIMER_MS) {
      const id = setTimeout(fn, ms);
      return () => clearTimeout(id);
    }
    const due = performance.now() + ms;
    let id: ReturnType<typeof setTimeout>;
    const step = () => {
      const left = due - performance.now();
      id = left > MAX_TIMER_MS ? setTimeout(step, MAX_TIMER_MS) : setTimeout(fn, Math.max(0, left));
    };
    step();
    return () => clearTimeout(id);
  }
  const cell = takeCell();
  Atomics.store(cell.block, cell.index, 0);
  let pending = true;
  const ended = (result: string) => {
    free.push(cell);
    if (!pending) return;
    pending = false;
    if (result === "timed-out") fn();
  };
  const wait = Atomics.waitAsync(cell.block, cell.index, 0, Math.max(0, ms));
  if (wait.async) wait.value.then(ended);
  else queueMicrotask(() => ended(wait.value)); // a 0 ms timer still fires later, as setTimeout's does
  return () => {
    if (!pending) return;
    pending = false;
    Atomics.store(cell.block, cell.index, 1);
    Atomics.notify(cell.block, cell.index);
  };
}

/** What a wait on a word ended with (`Atomics.wait`'s answer). */
export type _WaitResult = "ok" | "not-equal" | "timed-out";

/** Validated wait options: the time limit, its absolute deadline (`Infinity`: none) and the signal. */
export interface _Wait {
  /** The time limit in milliseconds as checked (`undefined`: none, also for `null` and `Infinity`). */
  timeoutMs: number | undefined;
  deadline: number;
  signal: AbortSignal | undefined;
}

/** Checks `options` for an async wait named `what` (e.g. `"Lock.acquire()"`). */
export function _waitOptions(options: WaitOptions | undefined, what: string): _Wait {
  if (options === undefined) return { timeoutMs: undefined, deadline: Infinity, signal: undefined };
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${what} options must be an object, got ${_describe(options)}`);
  }
  const timeoutMs = _checkTimeout(options.timeoutMs, `${what} timeoutMs`);
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${what} signal must be an AbortSignal, got ${_describe(signal)}`);
  }
  return {
    timeoutMs,
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

/**
 * The error every wait that ran out of time fails with: a `DOMException`
 * named `"TimeoutError"`, as `AbortSignal.timeout()` gives, so that one
 * check (`error.name === "TimeoutError"`) serves every call.
 */
export function _timeoutError(message: string): DOMException {
  return new DOMException(message, "TimeoutError");
}

/** `_timeoutError` for a wait named `what`: "Lock.acquire() timed out after 50 ms". */
export function _timedOut(what: string, timeoutMs: number | undefined): DOMException {
  return _timeoutError(
    `${what} timed out${timeoutMs === undefined ? "" : ` after ${timeoutMs} ms`}`,
  );
}

/** A wait's limits: a time limit in milliseconds (`undefined`: none) and a signal. */
export interface _Limits {
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Arms the end conditions of a wait that settles some other way: after
 * `limits.timeoutMs` it calls `fail` with what `timeoutError()` builds
 * (usually `_timeoutError(message)`; a queue's wait fails with `Empty` or
 * `Full`), and when `limits.signal` aborts, with the signal's reason (at
 * once, when it already has). Returns `disarm`, which the wait calls once it
 * settled however it did: it clears the timer and the listener, and may be
 * called more than once. `fail` is called at most once.
 */
export function _armWait(
  limits: _Limits,
  fail: (error: unknown) => void,
  timeoutError: () => unknown = () => _timedOut("the wait", limits.timeoutMs),
): () => void {
  const { timeoutMs, signal } = limits;
  if (timeoutMs === undefined && signal === undefined) return never;
  let armed = true;
  let cancelTimer: _Cancel = never;
  const end = (error: unknown) => {
    if (!armed) return;
    disarm();
    fail(error);
  };
  const onAbort = () => end(signal!.reason);
  const disarm = () => {
    armed = false;
    cancelTimer();
    signal?.removeEventListener("abort", onAbort);
  };
  if (signal?.aborted) {
    end(signal.reason);
    return never;
  }
  if (timeoutMs !== undefined) {
    cancelTimer = _after(timeoutMs, () => end(timeoutError()));
  }
  signal?.addEventListener("abort", onAbort, { once: true });
  return disarm;
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
 * timer does while the wait runs (`keepAlive`): a waiting program stays
 * alive as a blocked Python one would. A worker's loop stays alive without
 * one, and a wait that something else keeps alive (a worker's exit cell)
 * passes `keepAlive` false. A
 * wait given up on still sits in the word's wait list: if a notify reaches it
 * there, it passes the wake-up on.
 */
export function _waitWord(
  i32: Int32Array,
  index: number,
  expected: number,
  ms: number = Infinity,
  signal?: AbortSignal,
  keepAlive: boolean = MAIN_THREAD,
): _WaitResult | Promise<_WaitResult> {
  if (signal?.aborted) throw signal.reason;
  const r = Atomics.waitAsync(i32, index, expected, ms);
  if (!r.async) return r.value;
  if (!keepAlive && signal === undefined) return r.value;
  return new Promise<_WaitResult>((resolve, reject) => {
    let abandoned = false;
    // Only the main thread's loop needs it: a worker's stays alive anyway, and
    // its first timer call costs ~3 ms (Deno loads node:timers then).
    const alive = keepAlive ? setInterval(noop, Math.min(ms + 5, KEEP_ALIVE_MAX_MS)) : undefined;
    const onAbort = () => {
      abandoned = true;
      if (alive !== undefined) clearInterval(alive);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    r.value.then((result) => {
      if (abandoned) {
        if (result === "ok") Atomics.notify(i32, index, 1);
        return;
      }
      if (alive !== undefined) clearInterval(alive);
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

/**
 * Waits for `promise` to settle, or for `limitMs` to pass (`undefined`: no
 * limit), whichever comes first; never throws and leaves no timer behind.
 */
export async function _settledWithin(
  promise: Promise<unknown>,
  limitMs: number | undefined,
): Promise<void> {
  const settled = promise.then(() => {}, () => {});
  if (limitMs === undefined) return settled;
  let cancel: _Cancel | undefined;
  await Promise.race([
    settled,
    new Promise<void>((resolve) => cancel = _after(limitMs, resolve)),
  ]);
  cancel!();
}

/**
 * Resolves `true` after `ms`, or `false` as soon as `signal` aborts (at once
 * when it already has); leaves no timer or listener behind.
 */
export function _sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const cancel = _after(ms, () => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    });
    const onAbort = () => {
      cancel();
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
