/**
 * `ProcessPoolExecutor` and `Future`: Python's `concurrent.futures` on the
 * same engine as `Pool`.
 *
 * @module
 */
import type { PoolEventMap, PoolStats } from "./stats.ts";
import { _after, type _Cancel, _settledWithin, _timeoutError } from "../runtime/wait.ts";
import { _checkTimeout, _describe, _inspectable } from "../runtime/util.ts";
import { _requireTaskRef } from "../runtime/task.ts";
import {
  _chunkReader,
  type _JobHandle,
  type _JobOptions,
  _PoolEngine,
  _positiveInt,
} from "./_engine.ts";
import type { CallOptions, PoolOptions, TaskFunction, TaskResult } from "./pool.ts";

/** The error a cancelled {@linkcode Future} rejects with, as Python's `CancelledError`. */
export class CancelledError extends Error {
  /**
   * Makes the error.
   *
   * @param message What was cancelled.
   */
  constructor(message = "the future was cancelled") {
    super(message);
    this.name = "CancelledError";
  }
}

interface FutureInternals {
  /** "pending" covers queued and running; the engine knows which. */
  state: "pending" | "cancelled" | "finished";
  failed: boolean;
  engine: _PoolEngine;
  job: _JobHandle;
  callbacks: ((future: Future<unknown>) => void)[] | undefined;
  /** For a future made with `new Future()`: how its owner settles it, and whether it runs. */
  own?: { resolve(value: unknown): void; reject(error: unknown): void; running: boolean };
}

const internals = new WeakMap<Future<unknown>, FutureInternals>();
const NO_JOB: _JobHandle = {};

function inside(future: Future<unknown>): FutureInternals {
  const it = internals.get(future);
  if (!it) throw new TypeError("not a Future made by ProcessPoolExecutor.submit() or new Future()");
  return it;
}

/**
 * The eventual result of {@linkcode ProcessPoolExecutor.submit}: a Promise,
 * plus Python's `cancel()`, `cancelled()`, `running()`, `done()`, `result()`,
 * `exception()` and `addDoneCallback()`.
 *
 * @example
 * ```ts
 * import { ProcessPoolExecutor, task } from "@troupe/troupe";
 *
 * const square = task(import.meta, function square(x: number): number {
 *   return x * x;
 * });
 *
 * if (import.meta.main) {
 *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 *   const future = executor.submit(square, 7);
 *   console.log(future.done()); // false
 *   console.log(await future); // 49
 *   console.log(future.done(), future.cancelled()); // true false
 * }
 * ```
 */
export class Future<T> extends Promise<T> {
  /** `then` and friends return plain Promises, not Futures. */
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  /**
   * With no argument, a pending future for an executor of your own, as
   * Python's `Future()`: settle it with {@linkcode Future.setResult} or
   * {@linkcode Future.setException}, and mark it running with
   * {@linkcode Future.setRunningOrNotifyCancel}; until then `cancel()`
   * cancels it. With an executor function, behaves as `new Promise(executor)`
   * (what `ProcessPoolExecutor.submit` uses).
   *
   * @example An executor of one's own
   * ```ts
   * import { Future } from "@troupe/troupe";
   *
   * const future = new Future<number>();
   * if (future.setRunningOrNotifyCancel()) future.setResult(42);
   * console.log(await future); // 42
   * ```
   *
   * @param executor As for `new Promise()`.
   */
  constructor(
    executor?: (
      resolve: (value: T | PromiseLike<T>) => void,
      reject: (reason?: unknown) => void,
    ) => void,
  ) {
    let resolve!: (value: unknown) => void;
    let reject!: (error: unknown) => void;
    super((res, rej) => {
      resolve = res as (value: unknown) => void;
      reject = rej;
      executor?.(res, rej);
    });
    if (executor !== undefined) return;
    internals.set(this as Future<unknown>, {
      state: "pending",
      failed: false,
      engine: undefined as unknown as _PoolEngine,
      job: NO_JOB,
      callbacks: undefined,
      own: { resolve, reject, running: false },
    });
  }

  /**
   * Marks a future made with `new Future()` as running, so that `cancel()`
   * no longer takes it back; `false` (do not run the call) when it was
   * cancelled first. As Python's `set_running_or_notify_cancel()`.
   */
  setRunningOrNotifyCancel(): boolean {
    const it = owned(this as Future<unknown>, "setRunningOrNotifyCancel()");
    if (it.state === "cancelled") return false;
    if (it.state !== "pending" || it.own!.running) {
      throw new Error("setRunningOrNotifyCancel() was called on a future that runs or is done");
    }
    it.own!.running = true;
    return true;
  }

  /** Settles a future made with `new Future()` with its call's value. */
  setResult(value: T): void {
    finish(
      owned(this as Future<unknown>, "setResult()"),
      this as Future<unknown>,
      undefined,
      value,
    );
  }

  /** Settles a future made with `new Future()` with its call's error. */
  setException(error: unknown): void {
    const it = owned(this as Future<unknown>, "setException()");
    finish(it, this as Future<unknown>, error ?? new Error("setException() without an error"));
  }

  /**
   * Cancels the call if no worker has started it: returns `true` then (or
   * when it was already cancelled), `false` when it is done. A running call
   * is cancelled on a `"spawn"` executor, whose workers are OS processes: its
   * worker's process is killed and replaced, and `true` returned. On a
   * `"thread"` executor a running call runs on and `false` is returned, as
   * in Python; stop it with `signal` or `timeoutMs` instead.
   */
  cancel(): boolean {
    const it = inside(this as Future<unknown>);
    if (it.state === "cancelled") return true;
    if (it.own) {
      if (it.state !== "pending" || it.own.running) return false;
      it.state = "cancelled";
      this.catch(() => {});
      it.own.reject(new CancelledError());
      runCallbacks(it, this as Future<unknown>);
      return true;
    }
    if (it.state !== "pending" || !it.engine.cancel(it.job, new CancelledError())) return false;
    it.state = "cancelled";
    return true;
  }

  /** Whether the call was cancelled. */
  cancelled(): boolean {
    return inside(this as Future<unknown>).state === "cancelled";
  }

  /** Whether a worker is running the call now (it has started, and not finished). */
  running(): boolean {
    const it = inside(this as Future<unknown>);
    if (it.own) return it.state === "pending" && it.own.running;
    return it.state === "pending" && it.engine.started(it.job);
  }

  /** Whether the call finished or was cancelled. */
  done(): boolean {
    const { state } = inside(this as Future<unknown>);
    return state === "finished" || state === "cancelled";
  }

  /**
   * Waits for the value, like `await future`, but gives up after `timeoutMs`
   * with a `TimeoutError` (the call goes on).
   *
   * @param timeoutMs How long to wait. @default {undefined} (as long as it takes)
   */
  result(timeoutMs?: number): Promise<T> {
    const limit = _checkTimeout(timeoutMs, "result() timeoutMs");
    if (limit === undefined) return Promise.resolve(this);
    return _settledWithin(this, limit).then(() => {
      if (!this.done()) {
        throw _timeoutError(`the future was not done within ${timeoutMs} ms`);
      }
      return this;
    });
  }

  /**
   * Waits for the call and resolves with the error it failed with, or
   * `undefined` when it succeeded; rejects with `CancelledError` when it was
   * cancelled, and with a `TimeoutError` after `timeoutMs`.
   *
   * @param timeoutMs How long to wait. @default {undefined} (as long as it takes)
   */
  async exception(timeoutMs?: number): Promise<unknown> {
    try {
      await this.result(timeoutMs);
      return undefined;
    } catch (error) {
      // Timed out (not done) or cancelled: that is not the call's error.
      if (!this.done() || this.cancelled()) throw error;
      return error;
    }
  }

  /**
   * Calls `fn(future)` once the future is done (at once if it already is).
   * An error `fn` throws is reported as uncaught, never swallowed.
   *
   * @param fn The callback.
   */
  addDoneCallback(fn: (future: Future<T>) => void): void {
    const it = inside(this as Future<unknown>);
    if (this.done()) runCallback(fn as (f: Future<unknown>) => void, this as Future<unknown>);
    else (it.callbacks ??= []).push(fn as (f: Future<unknown>) => void);
  }
}

/** The internals of a future made with `new Future()`; throws for one an executor made. */
function owned(future: Future<unknown>, what: string): FutureInternals {
  const it = inside(future);
  if (!it.own) {
    throw new Error(
      `${what} is for a future made with new Future(); this one belongs to an executor`,
    );
  }
  return it;
}

/** Settles a future made with `new Future()`; a second settling is an error, as in Python. */
function finish(it: FutureInternals, future: Future<unknown>, error: unknown, value?: unknown) {
  if (it.state !== "pending") {
    throw new Error(`the future is already ${it.state === "cancelled" ? "cancelled" : "done"}`);
  }
  it.state = "finished";
  if (error === undefined) it.own!.resolve(value);
  else {
    it.failed = true;
    future.catch(() => {});
    it.own!.reject(error);
  }
  runCallbacks(it, future);
}

function runCallbacks(it: FutureInternals, future: Future<unknown>): void {
  const callbacks = it.callbacks;
  it.callbacks = undefined;
  if (callbacks) { for (const cb of callbacks) runCallback(cb, future); }
}

function runCallback(fn: (f: Future<unknown>) => void, future: Future<unknown>): void {
  try {
    fn(future);
  } catch (error) {
    reportError(error);
  }
}

/** Options for {@linkcode ProcessPoolExecutor}. */
export interface ExecutorOptions extends Omit<PoolOptions, "processes"> {
  /**
   * Number of worker processes, at most max(256, 4 × `cpuCount()`).
   * @default {cpuCount()}
   */
  maxWorkers?: number;
}

/** Options for {@linkcode ProcessPoolExecutor.map}. */
export interface ExecutorMapOptions {
  /**
   * Fail with a `TimeoutError` when a value is not ready this many
   * milliseconds after `map()` was called (Python's `timeout`); the calls
   * not yet done are cancelled.
   */
  timeoutMs?: number;
  /** Items sent to a worker at a time. @default {1} */
  chunksize?: number;
  /**
   * At most this many chunks submitted ahead of the consumer (Python 3.14's
   * `buffersize`), so an endless input works. @default {undefined} (submit all at once)
   */
  buffersize?: number;
  /** Stops the map: calls not done are cancelled and the iteration fails with the reason. */
  signal?: AbortSignal;
}

/** Options for {@linkcode ProcessPoolExecutor.shutdown}. */
export interface ShutdownOptions {
  /** Resolve only once every submitted call is done and every worker ended. @default {true} */
  wait?: boolean;
  /** Cancel the calls no worker has started. @default {false} */
  cancelFutures?: boolean;
}

/**
 * Python's `concurrent.futures.ProcessPoolExecutor`: `submit()` returns a
 * {@linkcode Future}, `map()` yields values in order, `shutdown()` ends the
 * workers. It runs on the same engine as {@linkcode Pool}: warm workers,
 * pipelined calls, a dead worker replaced. `await using` shuts it down and
 * waits, as Python's `with` does.
 *
 * @example
 * ```ts
 * import { asCompleted, ProcessPoolExecutor, task } from "@troupe/troupe";
 *
 * const square = task(import.meta, function square(x: number): number {
 *   return x * x;
 * });
 *
 * if (import.meta.main) {
 *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 *   const futures = [1, 2, 3].map((x) => executor.submit(square, x));
 *   for await (const done of asCompleted(futures)) {
 *     if (done.status === "fulfilled") console.log(done.value); // 1, 4 and 9, as they finish
 *   }
 *   for await (const y of executor.map(square, [4, 5, 6])) console.log(y); // 16 25 36
 * }
 * ```
 */
export class ProcessPoolExecutor {
  #engine: _PoolEngine;
  #pending = new Set<Future<unknown>>();
  #shutdown = false;

  static {
    // console.log(executor): ProcessPoolExecutor { maxWorkers: 4, state: "running", pending: 3 }
    _inspectable(this, (executor) => {
      const summary = executor.#engine.summary();
      return {
        maxWorkers: executor.#engine.size,
        ...summary,
        state: executor.#shutdown ? "shutdown" : summary.state,
      };
    });
  }

  /**
   * Creates the executor; its workers start on first use.
   *
   * @param options Size, initializer, permissions.
   */
  constructor(options: ExecutorOptions = {}) {
    this.#engine = _PoolEngine.from(options, options.maxWorkers, "ProcessPoolExecutor");
  }

  /** The number of worker processes. */
  get maxWorkers(): number {
    return this.#engine.size;
  }

  /**
   * What the executor has done and is doing, as {@linkcode Pool.stats}:
   * workers, calls queued, running, completed and failed, replacements, and
   * run-time and wait-time percentiles.
   *
   * @example
   * ```ts
   * import { ProcessPoolExecutor, task } from "@troupe/troupe";
   *
   * const square = task(import.meta, (x: number) => x * x, "square");
   *
   * if (import.meta.main) {
   *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
   *   await executor.submit(square, 3);
   *   console.log(executor.stats().completed); // 1
   * }
   * ```
   */
  stats(): PoolStats {
    return this.#engine.stats();
  }

  /**
   * Listens to an event, as {@linkcode Pool.on}: `"workerStart"`,
   * `"workerExit"` or `"taskFail"`.
   *
   * @example
   * ```ts
   * import { ProcessPoolExecutor } from "@troupe/troupe";
   *
   * if (import.meta.main) {
   *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
   *   executor.on("taskFail", ({ task, error }) => console.error(task, error));
   * }
   * ```
   *
   * @param type The event.
   * @param listener Called with the event's details.
   * @returns A function that removes the listener.
   */
  on<K extends keyof PoolEventMap>(
    type: K,
    listener: (event: PoolEventMap[K]) => void,
  ): () => void {
    return this.#engine.events.on(type, listener);
  }

  /**
   * Schedules `fn(...args)` in a worker and returns its {@linkcode Future}.
   *
   * @param fn A function declared with `task()`.
   * @param args Its arguments.
   * @throws {Error} After `shutdown()`.
   */
  submit<F extends TaskFunction>(fn: F, ...args: Parameters<F>): Future<TaskResult<F>> {
    return this.#submit(fn, [args], true, {}, "submit") as Future<TaskResult<F>>;
  }

  /**
   * `submit` with a signal or time limit: `executor.with({ timeoutMs }).submit(fn, x)`.
   * A queued call that is aborted is dropped; a running one has its worker
   * replaced.
   *
   * @param options `signal` and `timeoutMs` for the calls made through the result.
   */
  with(options: CallOptions): {
    submit<F extends TaskFunction>(fn: F, ...args: Parameters<F>): Future<TaskResult<F>>;
  } {
    return {
      submit: <F extends TaskFunction>(fn: F, ...args: Parameters<F>) =>
        this.#submit(fn, [args], true, options, "submit") as Future<TaskResult<F>>,
    };
  }

  #submit(
    fn: TaskFunction,
    calls: unknown[],
    spread: boolean,
    options: _JobOptions,
    what: string,
  ): Future<unknown> {
    if (this.#shutdown) {
      throw new Error(`cannot ${what}() after shutdown(): the executor takes no new calls`);
    }
    const ref = _requireTaskRef(fn, "ProcessPoolExecutor task");
    let resolve!: (value: unknown) => void;
    let reject!: (error: unknown) => void;
    const future = new Future<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const it: FutureInternals = {
      state: "pending",
      failed: false,
      engine: this.#engine,
      job: NO_JOB,
      callbacks: undefined,
    };
    internals.set(future, it);
    this.#pending.add(future);
    it.job = this.#engine.enqueue(ref, calls, spread, options, (error, values) => {
      if (error === undefined) {
        it.state = "finished";
        resolve(spread ? values![0] : values);
      } else {
        if (it.state !== "cancelled") {
          it.state = "finished";
          it.failed = true;
        }
        // Like Python's, a future keeps its error for whoever asks (await, result(), exception()).
        future.catch(() => {});
        reject(error);
      }
      this.#pending.delete(future);
      const callbacks = it.callbacks;
      it.callbacks = undefined;
      if (callbacks) { for (const cb of callbacks) runCallback(cb, future); }
    });
    return future;
  }

  /**
   * Applies `fn` to every item and yields the values in input order, as
   * Python's `Executor.map`. Breaking out of the loop cancels the calls not
   * yet started.
   *
   * @param fn A one-argument function declared with `task()`.
   * @param iterable The items (any iterable or async iterable).
   * @param options `timeoutMs` (from the call), `chunksize`, `buffersize`, `signal`.
   */
  async *map<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    options: ExecutorMapOptions = {},
  ): AsyncGenerator<Awaited<R>, void, undefined> {
    const timeoutMs = _checkTimeout(options.timeoutMs, "map() timeoutMs");
    const chunksize = _positiveInt(options.chunksize ?? 1, "chunksize");
    const buffersize = options.buffersize === undefined
      ? Infinity
      : _positiveInt(options.buffersize, "buffersize");
    const { signal } = options;
    const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
    const read = _chunkReader(iterable, chunksize);
    const futures: Future<unknown>[] = [];
    let exhausted = false;
    let first = 0;
    const fill = async () => {
      while (!exhausted && futures.length < buffersize) {
        const chunk = await read();
        if (!chunk) {
          exhausted = true;
          break;
        }
        const future = this.#submit(fn, chunk, false, { signal, first }, "map");
        first += chunk.length;
        future.catch(() => {}); // rejections are rethrown in order below
        futures.push(future);
      }
    };
    try {
      await fill();
      while (futures.length > 0) {
        const head = futures[0];
        const values = (deadline === undefined
          ? await head
          : await head.result(Math.max(0, deadline - performance.now()))) as Awaited<R>[];
        futures.shift();
        await fill();
        yield* values;
      }
    } finally {
      for (const future of futures) future.cancel();
    }
  }

  /**
   * Takes no new calls and ends the workers once the submitted calls are done.
   *
   * @param options `wait` (resolve when all is done) and `cancelFutures`.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelFutures = false } = options;
    this.#shutdown = true;
    if (cancelFutures) { for (const future of this.#pending) future.cancel(); }
    this.#engine.close();
    if (wait) {
      await this.#engine.join();
      await Promise.allSettled([...this.#pending]);
    }
  }

  /** `shutdown({ wait: true })`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown({ wait: true });
  }
}

/** How {@linkcode wait} decides it is done, as in Python's `concurrent.futures.wait`. */
export type ReturnWhen = "FIRST_COMPLETED" | "FIRST_EXCEPTION" | "ALL_COMPLETED";

/** Options for {@linkcode wait}. */
export interface FutureWaitOptions {
  /** When to return. @default {"ALL_COMPLETED"} */
  returnWhen?: ReturnWhen;
  /** Return what is done after this many milliseconds. @default {undefined} (no limit) */
  timeoutMs?: number;
}

/** What {@linkcode wait} resolves with. */
export interface WaitResult<T> {
  /** The futures that finished or were cancelled. */
  done: Set<Future<T>>;
  /** The others. */
  notDone: Set<Future<T>>;
}

function failed(future: Future<unknown>): boolean {
  return inside(future).failed;
}

/**
 * Waits for futures, as Python's `concurrent.futures.wait`: resolves with the
 * `done` and `notDone` sets when `returnWhen` is met or `timeoutMs` passes.
 *
 * @example
 * ```ts
 * import { ProcessPoolExecutor, task, wait } from "@troupe/troupe";
 *
 * const square = task(import.meta, function square(x: number): number {
 *   return x * x;
 * });
 *
 * if (import.meta.main) {
 *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 *   const futures = [1, 2, 3].map((x) => executor.submit(square, x));
 *   const { done, notDone } = await wait(futures, { returnWhen: "FIRST_COMPLETED" });
 *   console.log(done.size >= 1, done.size + notDone.size); // true 3
 * }
 * ```
 *
 * @param futures Futures from {@linkcode ProcessPoolExecutor.submit}.
 * @param options `returnWhen` and `timeoutMs`.
 */
export function wait<T>(
  futures: Iterable<Future<T>>,
  options: FutureWaitOptions = {},
): Promise<WaitResult<T>> {
  const { returnWhen = "ALL_COMPLETED" } = options;
  const timeoutMs = _checkTimeout(options.timeoutMs, "wait() timeoutMs");
  if (!["FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED"].includes(returnWhen)) {
    throw new TypeError(
      `'returnWhen' must be "FIRST_COMPLETED", "FIRST_EXCEPTION" or "ALL_COMPLETED", got ${
        _describe(returnWhen)
      }`,
    );
  }
  const all = [...new Set(futures)];
  all.forEach((f) => inside(f as Future<unknown>));
  const split = (): WaitResult<T> => {
    const done = new Set<Future<T>>();
    const notDone = new Set<Future<T>>();
    for (const f of all) (f.done() ? done : notDone).add(f);
    return { done, notDone };
  };
  const met = (): boolean => {
    if (all.every((f) => f.done())) return true;
    if (returnWhen === "FIRST_COMPLETED") return all.some((f) => f.done());
    if (returnWhen === "FIRST_EXCEPTION") return all.some((f) => failed(f as Future<unknown>));
    return false;
  };
  if (met() || timeoutMs === 0) return Promise.resolve(split());
  return new Promise((resolve) => {
    let cancelTimer: _Cancel | undefined;
    let finished = false;
    const check = () => {
      if (finished || !met()) return;
      finished = true;
      cancelTimer?.();
      resolve(split());
    };
    if (timeoutMs !== undefined) {
      cancelTimer = _after(timeoutMs, () => {
        finished = true;
        resolve(split());
      });
    }
    for (const f of all) f.addDoneCallback(check);
  });
}

/**
 * One finished future, as {@linkcode asCompleted} yields it: how it settled
 * (the shape of `Promise.allSettled`'s results), the future itself, and its
 * position in the input.
 */
export type Completed<T> =
  & ({ status: "fulfilled"; value: T } | { status: "rejected"; reason: unknown })
  & { future: Future<T>; index: number };

/**
 * Yields futures as they finish (done or cancelled), as Python's
 * `concurrent.futures.as_completed`. Each entry says how the future settled
 * and which one it was: a future is a Promise, and `for await` would unwrap
 * it, so it comes inside the entry. With `timeoutMs`, throws a
 * `TimeoutError` if they are not all done by then.
 *
 * @example
 * ```ts
 * import { asCompleted, ProcessPoolExecutor, task } from "@troupe/troupe";
 *
 * const square = task(import.meta, function square(x: number): number {
 *   return x * x;
 * });
 *
 * if (import.meta.main) {
 *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 *   const futures = [3, 1, 2].map((x) => executor.submit(square, x));
 *   for await (const done of asCompleted(futures)) {
 *     if (done.status === "fulfilled") console.log(done.index, done.value);
 *     else console.error(done.index, done.reason);
 *   }
 * }
 * ```
 *
 * @param futures Futures from {@linkcode ProcessPoolExecutor.submit}.
 * @param options `timeoutMs`: the whole iteration's limit.
 */
export async function* asCompleted<T>(
  futures: Iterable<Future<T>>,
  options: { timeoutMs?: number } = {},
): AsyncGenerator<Completed<T>, void, undefined> {
  const timeoutMs = _checkTimeout(options.timeoutMs, "asCompleted() timeoutMs");
  const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
  const all = [...new Set(futures)];
  all.forEach((f) => inside(f as Future<unknown>));
  const ready: Completed<T>[] = [];
  let wake: (() => void) | undefined;
  all.forEach((future, index) => {
    future.then(
      (value) => ready.push({ status: "fulfilled", value, future, index }),
      (reason) => ready.push({ status: "rejected", reason, future, index }),
    ).then(() => wake?.());
  });
  for (let left = all.length; left > 0; left--) {
    while (ready.length === 0) {
      const woke = new Promise<void>((resolve) => wake = resolve);
      if (deadline === undefined) {
        await woke;
        continue;
      }
      let cancel: _Cancel | undefined;
      const timedOut = await Promise.race([
        woke.then(() => false),
        new Promise<boolean>((resolve) =>
          cancel = _after(Math.max(0, deadline - performance.now()), () => resolve(true))
        ),
      ]);
      cancel!();
      if (timedOut && ready.length === 0) {
        throw _timeoutError(`${left} of the futures were not done within ${timeoutMs} ms`);
      }
    }
    yield ready.shift()!;
  }
}
