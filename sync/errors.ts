/**
 * Errors raised by Troupe's shared-memory synchronization primitives.
 *
 * @module
 */

/**
 * Thrown by `acquire()` of a {@linkcode Lock} or {@linkcode RLock} held by a
 * process that has ended without releasing it: instead of waiting forever,
 * the waiter learns who held it. The data the lock guards may be half
 * updated; once it has been checked, `release()` frees the lock for others.
 *
 * @example
 * ```ts
 * import { LockHolderDiedError } from "@troupe/troupe";
 *
 * const error = new LockHolderDiedError("Lock", 12345);
 * console.assert(error.holderPid === 12345);
 * console.assert(error.name === "LockHolderDiedError");
 * ```
 */
export class LockHolderDiedError extends Error {
  /** The pid of the process that held the lock when it ended. */
  readonly holderPid: number;

  /**
   * Constructs the error.
   *
   * @param kind The lock's class name, such as `"RLock"`.
   * @param holderPid The pid of the process that held it.
   */
  constructor(kind: string, holderPid: number) {
    super(
      `this ${kind} is held by process ${holderPid}, which has ended without releasing it; ` +
        "check the data it guards, then call release() to free it",
    );
    this.name = "LockHolderDiedError";
    this.holderPid = holderPid;
  }
}

/**
 * Thrown by `Barrier.wait()` when the barrier is broken: `abort()` was called,
 * or a waiter's timeout ran out, while parties were waiting (Python's
 * `threading.BrokenBarrierError`).
 *
 * @example
 * ```ts
 * import { BrokenBarrierError } from "@troupe/troupe";
 *
 * const error = new BrokenBarrierError("the barrier was aborted");
 * console.assert(error.name === "BrokenBarrierError");
 * ```
 */
export class BrokenBarrierError extends Error {
  /**
   * Constructs the error.
   *
   * @param message Why the barrier is broken.
   */
  constructor(message: string) {
    super(message);
    this.name = "BrokenBarrierError";
  }
}

/**
 * Thrown by a call on a `Manager` proxy whose manager has stopped: it was shut
 * down, terminated, or ended with the process that started it. The call
 * fails at once (or as soon as the stop is noticed) instead of waiting.
 *
 * @example
 * ```ts
 * import { ManagerStoppedError } from "@troupe/troupe";
 *
 * const error = new ManagerStoppedError("Manager-1", "was shut down", "dict.get()");
 * console.assert(error.manager === "Manager-1");
 * console.assert(error.message.includes("Manager-1 was shut down"));
 * ```
 */
export class ManagerStoppedError extends Error {
  /** The name of the manager that stopped. */
  readonly manager: string;

  /**
   * Constructs the error.
   *
   * @param manager The manager's name.
   * @param how How it stopped, such as `"was shut down"`.
   * @param call The call that could not be made, such as `"dict.get()"`.
   */
  constructor(manager: string, how: string, call: string) {
    super(
      `${call} cannot reach its manager: ${manager} ${how}. ` +
        "Proxies only work while their manager runs",
    );
    this.name = "ManagerStoppedError";
    this.manager = manager;
  }
}
