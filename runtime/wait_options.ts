/**
 * The options every wait in Troupe takes: a time limit and a signal.
 *
 * @module
 */

/**
 * Options for a wait that never blocks the event loop: `Queue.get()`,
 * `Lock.acquire()`, `Event.wait()`...
 *
 * @example
 * ```ts
 * import { Queue, type WaitOptions } from "@troupe/troupe";
 *
 * const q = new Queue<string>();
 * const options: WaitOptions = { timeoutMs: 10 };
 * await q.get(options).catch((e) => console.log(e.name)); // "Empty"
 * q.close();
 * ```
 */
export interface WaitOptions {
  /** Longest time to wait, in milliseconds. @default {undefined} (no limit) */
  timeoutMs?: number;
  /** Ends the wait early, rejecting with `signal.reason`. @default {undefined} */
  signal?: AbortSignal;
}

/**
 * Options for a blocking wait, allowed only inside workers: `Queue.getSync()`,
 * `Lock.acquireSync()`, `Event.waitSync()`...
 *
 * @example
 * ```ts
 * import type { SyncWaitOptions } from "@troupe/troupe";
 *
 * const options: SyncWaitOptions = { timeoutMs: 100 };
 * console.log(options.timeoutMs);
 * ```
 */
export interface SyncWaitOptions {
  /** Longest time to block, in milliseconds. @default {undefined} (no limit) */
  timeoutMs?: number;
}
