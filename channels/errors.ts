/**
 * Errors raised by Troupe's channels, named as in Python's `queue` and
 * `multiprocessing` modules.
 *
 * @module
 */

/**
 * Thrown by `put()` when the queue stays full until the timeout passes, and
 * by `putNowait()` when it is full now.
 *
 * @example
 * ```ts
 * import { Full, Queue } from "@troupe/troupe";
 *
 * const q = new Queue<number>({ maxsize: 1 });
 * q.putNowait(1);
 * try {
 *   q.putNowait(2);
 * } catch (error) {
 *   console.assert(error instanceof Full);
 * }
 * q.close();
 * ```
 */
export class Full extends Error {
  /**
   * Creates the error.
   *
   * @param message What was full, and for how long it was waited on.
   */
  constructor(message: string) {
    super(message);
    this.name = "Full";
  }
}

/**
 * Thrown by `get()` when the queue stays empty until the timeout passes, and
 * by `getNowait()` when it is empty now.
 *
 * @example
 * ```ts
 * import { Empty, Queue } from "@troupe/troupe";
 *
 * const q = new Queue<number>();
 * try {
 *   q.getNowait();
 * } catch (error) {
 *   console.assert(error instanceof Empty);
 * }
 * q.close();
 * ```
 */
export class Empty extends Error {
  /**
   * Creates the error.
   *
   * @param message What was empty, and for how long it was waited on.
   */
  constructor(message: string) {
    super(message);
    this.name = "Empty";
  }
}

/**
 * Thrown by `Connection.recv()` when the other end was closed and nothing is
 * left to receive.
 *
 * @example
 * ```ts
 * import { EOFError, Pipe } from "@troupe/troupe";
 *
 * const [a, b] = Pipe<string>();
 * await a.send("last");
 * a.close();
 * console.assert((await b.recv()) === "last");
 * try {
 *   await b.recv();
 * } catch (error) {
 *   console.assert(error instanceof EOFError);
 * }
 * b.close();
 * ```
 */
export class EOFError extends Error {
  /**
   * Creates the error.
   *
   * @param message Which connection ran out, and why.
   */
  constructor(message: string) {
    super(message);
    this.name = "EOFError";
  }
}

/**
 * Thrown when a channel is used after it was closed: a `put()` on a closed
 * queue, a `get()` on a closed queue with nothing left, any call on a
 * connection after its own `close()`, a `send()` to a connection whose
 * other end was closed, or passing a closed channel to another process.
 *
 * @example
 * ```ts
 * import { ChannelClosedError, Queue } from "@troupe/troupe";
 *
 * const q = new Queue<number>();
 * q.close();
 * try {
 *   await q.put(1);
 * } catch (error) {
 *   console.assert(error instanceof ChannelClosedError);
 * }
 * ```
 */
export class ChannelClosedError extends Error {
  /**
   * Creates the error.
   *
   * @param message Which channel was closed, and what was attempted.
   */
  constructor(message: string) {
    super(message);
    this.name = "ChannelClosedError";
  }
}
