/**
 * `Pool`: Python's `multiprocessing.Pool` on warm Deno workers.
 *
 * @module
 */
import { _checkTimeout, _describe, _inspectable } from "../runtime/util.ts";
import { _settledWithin, _timeoutError } from "../runtime/wait.ts";
import type { StartMethod } from "../runtime/start.ts";
import type { Permissions } from "../runtime/permissions.ts";
import { _requireTaskRef } from "../runtime/task.ts";
import type { PoolEventMap, PoolStats } from "./stats.ts";
import {
  _chunkReader,
  type _JobDone,
  type _JobOptions,
  _PACK_MIN,
  _packNumbers,
  _PoolEngine,
  _positiveInt,
  type _Values,
} from "./_engine.ts";

/** Any function a pool can run (declared with `task()`). */
// deno-lint-ignore no-explicit-any
export type TaskFunction = (...args: any[]) => unknown;

/** What a call of `F` resolves to in the parent. */
export type TaskResult<F extends TaskFunction> = Awaited<ReturnType<F>>;

/** Options for {@linkcode Pool}. */
export interface PoolOptions {
  /**
   * Number of worker processes, at most max(256, 4 × `cpuCount()`): more
   * throws a `RangeError` (each worker is a thread with its own V8 heap).
   * @default {cpuCount()}
   */
  processes?: number;
  /** Declared with `task()`; called once in each worker with `initArgs` before its first task. */
  initializer?: TaskFunction;
  /** Arguments for `initializer`. @default {[]} */
  initArgs?: unknown[];
  /** Replace a worker after it ran this many tasks (chunks). @default {undefined} (never) */
  maxTasksPerChild?: number;
  /** What the workers may do. @default {"inherit"} */
  permissions?: Permissions;
  /**
   * Once the pool has had no work for this many milliseconds, its workers
   * end; the next call starts them again (running `initializer` again). So a
   * program that never closes its pool still ends, as Python's daemon pool
   * workers let it. `Infinity` keeps them until `close()` or `terminate()`.
   * @default {1000}
   */
  idleTimeoutMs?: number;
  /**
   * How the workers start: `"thread"` (Deno Workers of this OS process) or
   * `"spawn"` (an OS process each). A spawn pool's `timeoutMs`, `signal` and
   * `Future.cancel()` of a running task kill that worker's OS process, and a
   * task that runs out of memory fails alone. @default {getStartMethod()}
   */
  startMethod?: StartMethod;
  /** Each worker's heap limit in MB; spawn only (see `ProcessOptions.memoryLimitMb`). */
  memoryLimitMb?: number;
}

/** Options for a single call: cancel it with a signal or a time limit. */
export interface CallOptions {
  /** Abort the call: a queued call is dropped, a running one has its worker replaced. */
  signal?: AbortSignal;
  /** Fail with a `TimeoutError` after this many milliseconds. */
  timeoutMs?: number;
}

/** How far a `map`, `starmap`, `imap` or `imapUnordered` has got (see {@linkcode MapOptions.onProgress}). */
export interface Progress {
  /** Items whose values are ready. */
  done: number;
  /** Items in all: `undefined` for `imap` and `imapUnordered` over anything but an array. */
  total: number | undefined;
}

/** Options for `map`, `starmap`, `imap` and `imapUnordered`. */
export interface MapOptions extends CallOptions {
  /**
   * Items sent to a worker at a time. @default {Python's: ceil(n / (4 × processes)) for map
   * and starmap, 1 for imap and imapUnordered}
   */
  chunksize?: number;
  /**
   * Called each time a chunk's values are ready, with how many items are done
   * (so as often as chunks finish: draw at your own pace, as `@std/cli`'s
   * `ProgressBar` does). An error it throws is reported, not thrown into the call.
   */
  onProgress?: (progress: Progress) => void;
}

/** Callbacks for `applyAsync` and `mapAsync`, as in Python. */
export interface AsyncCallbacks<T> extends MapOptions {
  /** Called with the result when the call succeeds. */
  callback?: (value: T) => void;
  /** Called with the error when the call fails. */
  errorCallback?: (error: unknown) => void;
}

// Settles an AsyncResult from this module (set by the class's static block).
let settleResult: <T>(result: AsyncResult<T>, error: unknown, value?: T) => void;
// Gives an AsyncResult the callbacks to call once settled (set by the class's static block).
let watchResult: <T>(result: AsyncResult<T>, callbacks: AsyncCallbacks<T>) => void;

/**
 * The result of `applyAsync` or `mapAsync`, as in Python: `get()`, `wait()`,
 * `ready()`, `successful()`. It is also a Promise-like, so `await` works.
 *
 * @example
 * ```ts
 * import { Pool, task } from "@troupe/troupe";
 *
 * const square = task(import.meta, (x: number) => x * x, "square");
 *
 * if (import.meta.main) {
 *   await using pool = new Pool({ processes: 2 });
 *   const result = pool.applyAsync(square, [7]);
 *   console.log(await result.get(1000)); // 49
 * }
 * ```
 */
export class AsyncResult<T> implements PromiseLike<T> {
  #state: "pending" | "fulfilled" | "rejected" = "pending";
  #outcome: unknown;
  // Made only when someone waits: most results of a big batch are never awaited one by one.
  #deferred: PromiseWithResolvers<T> | undefined;
  #callbacks: AsyncCallbacks<T> | undefined;

  static {
    // console.log(result): AsyncResult { state: "pending" }
    _inspectable(this, (result) => ({ state: result.#state }));
    settleResult = (result, error, value) => result.#settle(error, value);
    watchResult = (result, callbacks) => {
      if (callbacks.callback || callbacks.errorCallback) result.#callbacks = callbacks;
    };
  }

  /**
   * Wraps a call's outcome; `applyAsync` and `mapAsync` make these.
   *
   * @param promise The call's outcome.
   */
  constructor(promise?: Promise<T>) {
    promise?.then((value) => this.#settle(undefined, value), (error) => this.#settle(error));
  }

  #settle(error: unknown, value?: T): void {
    if (this.#state !== "pending") return;
    const callbacks = this.#callbacks;
    this.#callbacks = undefined;
    if (error === undefined) {
      this.#state = "fulfilled";
      this.#outcome = value;
      this.#deferred?.resolve(value as T);
      if (callbacks?.callback) invoke(callbacks.callback, value as T);
    } else {
      this.#state = "rejected";
      this.#outcome = error;
      this.#deferred?.reject(error);
      if (callbacks?.errorCallback) invoke(callbacks.errorCallback, error);
    }
  }

  #promise(): Promise<T> {
    if (this.#state === "fulfilled") return Promise.resolve(this.#outcome as T);
    if (this.#state === "rejected") return Promise.reject(this.#outcome);
    return (this.#deferred ??= Promise.withResolvers<T>()).promise;
  }

  /**
   * Waits for the value. Throws the call's error, or a `TimeoutError` when
   * `timeoutMs` passes first (the call goes on).
   */
  async get(timeoutMs?: number): Promise<T> {
    await this.wait(timeoutMs);
    if (this.#state === "pending") {
      throw _timeoutError(`result not ready within ${timeoutMs} ms`);
    }
    return this.#promise();
  }

  /** Waits until the result is ready, or `timeoutMs` passes; never throws the call's error. */
  async wait(timeoutMs?: number): Promise<void> {
    const ms = _checkTimeout(timeoutMs, "wait() timeoutMs");
    if (this.#state === "pending") await _settledWithin(this.#promise(), ms);
  }

  /** Whether the call has finished. */
  ready(): boolean {
    return this.#state !== "pending";
  }

  /** Whether the call finished without an error; throws if it is not ready yet. */
  successful(): boolean {
    if (this.#state === "pending") throw new Error("AsyncResult is not ready yet");
    return this.#state === "fulfilled";
  }

  /** Lets `await result` work. */
  then<A = T, B = never>(
    onfulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#promise().then(onfulfilled, onrejected);
  }
}

/**
 * A pool of warm worker processes. Python's `multiprocessing.Pool`: `map`,
 * `starmap`, `imap`, `imapUnordered`, `apply`, `applyAsync`, `mapAsync`,
 * `close`, `terminate`, `join`. Functions must be declared with `task()`.
 *
 * A task that throws rejects its own call with a {@linkcode RemoteError};
 * the worker stays. A worker that dies is replaced, and only the call it held
 * fails. `await using` terminates the pool, as Python's `with` does.
 *
 * @example
 * ```ts
 * import { Pool, task } from "@troupe/troupe";
 *
 * const square = task(import.meta, function square(x: number): number {
 *   return x * x;
 * });
 *
 * if (import.meta.main) {
 *   await using pool = new Pool({ processes: 2 });
 *   console.log(await pool.map(square, [1, 2, 3])); // [1, 4, 9]
 *   for await (const y of pool.imapUnordered(square, [4, 5, 6])) console.log(y);
 * }
 * ```
 */
export class Pool {
  #engine: _PoolEngine;

  static {
    // console.log(pool): Pool { processes: 4, state: "running", workers: 4, pending: 3, ... }
    _inspectable(this, (pool) => ({ processes: pool.#engine.size, ...pool.#engine.summary() }));
  }

  /**
   * Creates the pool; its workers start on first use.
   *
   * @param options Size, initializer, permissions.
   */
  constructor(options: PoolOptions = {}) {
    this.#engine = _PoolEngine.from(options, options.processes, "Pool");
  }

  /** The number of worker processes. */
  get processes(): number {
    return this.#engine.size;
  }

  /**
   * What the pool has done and is doing: its workers (pid, busy), calls
   * queued, running, completed and failed, workers replaced and why, and
   * run-time and wait-time percentiles since it was made. Cheap: read it as
   * often as a display needs.
   *
   * @example
   * ```ts
   * import { Pool, task } from "@troupe/troupe";
   *
   * const square = task(import.meta, (x: number) => x * x, "square");
   *
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 2 });
   *   await pool.map(square, [1, 2, 3]);
   *   const { completed, runTimeMs } = pool.stats();
   *   console.log(completed, runTimeMs.p99); // 3 0.01
   * }
   * ```
   */
  stats(): PoolStats {
    return this.#engine.stats();
  }

  /**
   * Listens to an event: `"workerStart"`, `"workerExit"` (with its reason)
   * or `"taskFail"`.
   *
   * @example
   * ```ts
   * import { Pool } from "@troupe/troupe";
   *
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 2 });
   *   const off = pool.on("workerExit", ({ name, reason }) => console.log(name, reason));
   *   off(); // stop listening
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

  /** Hands a job to the engine; `done` hears how it ended, or why `fn` cannot run. */
  #enqueue(
    fn: TaskFunction,
    calls: unknown[] | Float64Array,
    spread: boolean,
    options: _JobOptions,
    done: _JobDone,
  ): void {
    let ref;
    try {
      ref = _requireTaskRef(fn, "Pool task");
    } catch (error) {
      return done(error);
    }
    this.#engine.enqueue(ref, calls, spread, options, done);
  }

  #call(
    fn: TaskFunction,
    calls: unknown[],
    spread: boolean,
    options: _JobOptions,
  ): Promise<_Values> {
    return new Promise((resolve, reject) => {
      this.#enqueue(fn, calls, spread, options, (error, values) => {
        if (error === undefined) resolve(values!);
        else reject(error);
      });
    });
  }

  /**
   * Calls `fn(...args)` in a worker and resolves with its value.
   *
   * @param fn A function declared with `task()`.
   * @param args Its arguments.
   * @param options `signal` and `timeoutMs`.
   */
  apply<F extends TaskFunction>(
    fn: F,
    args: Parameters<F>,
    options: CallOptions = {},
  ): Promise<TaskResult<F>> {
    return new Promise((resolve, reject) => {
      this.#enqueue(fn, [args], true, options, (error, values) => {
        if (error === undefined) resolve(values![0] as TaskResult<F>);
        else reject(error);
      });
    });
  }

  /** Like {@linkcode Pool.apply}, returning an {@linkcode AsyncResult} at once. */
  applyAsync<F extends TaskFunction>(
    fn: F,
    args: Parameters<F>,
    options: AsyncCallbacks<TaskResult<F>> = {},
  ): AsyncResult<TaskResult<F>> {
    const result = new AsyncResult<TaskResult<F>>();
    watchResult(result, options);
    this.#enqueue(fn, [args], true, options, (error, values) => {
      settleResult(result, error, values?.[0] as TaskResult<F>);
    });
    return result;
  }

  /**
   * Applies `fn` to every item, in chunks, and resolves with the values in order.
   *
   * @param fn A one-argument function declared with `task()`.
   * @param iterable The items.
   * @param options `chunksize` (Python's default), `signal`, `timeoutMs` (per chunk).
   */
  map<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T>,
    options: MapOptions = {},
  ): Promise<Awaited<R>[]> {
    return this.#mapChunks(fn as TaskFunction, listOf(iterable), false, options) as Promise<
      Awaited<R>[]
    >;
  }

  /** Like {@linkcode Pool.map}, returning an {@linkcode AsyncResult} at once. */
  mapAsync<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T>,
    options: AsyncCallbacks<Awaited<R>[]> = {},
  ): AsyncResult<Awaited<R>[]> {
    const result = new AsyncResult<Awaited<R>[]>();
    watchResult(result, options);
    this.map(fn, iterable, options).then(
      (values) => settleResult(result, undefined, values),
      (error) => settleResult(result, error),
    );
    return result;
  }

  /**
   * Like {@linkcode Pool.map}, but each item is an argument list: `fn(...item)`.
   */
  starmap<F extends TaskFunction>(
    fn: F,
    iterable: Iterable<Parameters<F>>,
    options: MapOptions = {},
  ): Promise<TaskResult<F>[]> {
    return this.#mapChunks(fn, listOf(iterable), true, options) as Promise<TaskResult<F>[]>;
  }

  async #mapChunks(
    fn: TaskFunction,
    calls: unknown[],
    spread: boolean,
    options: MapOptions,
  ): Promise<unknown[]> {
    if (calls.length === 0) return [];
    if (spread) {
      const i = calls.findIndex((args) => !Array.isArray(args));
      if (i >= 0) {
        throw new TypeError(
          `item ${i} must be an array of arguments, got ${_describe(calls[i])}`,
        );
      }
    }
    const chunksize = options.chunksize === undefined
      ? Math.ceil(calls.length / (this.#engine.size * 4))
      : _positiveInt(options.chunksize, "chunksize");
    const n = calls.length;
    // All-number items are packed once; each chunk is a view of them.
    const packed = !spread && chunksize >= _PACK_MIN ? _packNumbers(calls) : undefined;
    // Each chunk's values go into one array as they come: no array per chunk, no pass to join
    // them. Every chunk settles before the call fails, with the error of the first that failed.
    const { promise, resolve, reject } = Promise.withResolvers<unknown[]>();
    let values: unknown[] | undefined;
    let pending = Math.ceil(n / chunksize);
    let failedAt = n;
    let failure: unknown;
    const onProgress = progressOf(options);
    let done = 0;
    for (let at = 0; at < n; at += chunksize) {
      const end = Math.min(at + chunksize, n);
      const chunk = packed ? packed.subarray(at, end) : calls.slice(at, end);
      this.#enqueue(fn, chunk, spread, { ...options, first: at }, (error, chunkValues) => {
        if (error !== undefined) {
          if (at < failedAt) {
            failedAt = at;
            failure = error;
          }
        } else if (failedAt === n) {
          values ??= valuesArray(n, chunkValues!);
          copyInto(values, at, chunkValues!);
          if (onProgress) invoke(onProgress, { done: done += chunkValues!.length, total: n });
        }
        if (--pending > 0) return;
        if (failedAt < n) reject(failure);
        else resolve(values!);
      });
    }
    return await promise;
  }

  /**
   * Lazily applies `fn` to the items of any (async) iterable, with a bounded
   * number of chunks in flight (max(4 × processes, 64)), yielding values in
   * input order. An endless input is pulled only as fast as values are taken.
   */
  imap<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    options: MapOptions = {},
  ): AsyncGenerator<Awaited<R>, void, undefined> {
    return this.#imap(fn, iterable, options, true) as AsyncGenerator<Awaited<R>, void, undefined>;
  }

  /** Like {@linkcode Pool.imap}, yielding values as they finish. */
  imapUnordered<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    options: MapOptions = {},
  ): AsyncGenerator<Awaited<R>, void, undefined> {
    return this.#imap(fn, iterable, options, false) as AsyncGenerator<Awaited<R>, void, undefined>;
  }

  async *#imap(
    fn: TaskFunction,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    options: MapOptions,
    ordered: boolean,
  ): AsyncGenerator<unknown, void, undefined> {
    const chunksize = options.chunksize === undefined
      ? 1
      : _positiveInt(options.chunksize, "chunksize");
    // Enough chunks in flight to keep every worker's queue fed, still bounded.
    const window = Math.max(this.#engine.size * 4, 64);
    const read = _chunkReader(iterable, chunksize);
    const onProgress = progressOf(options);
    const total = Array.isArray(iterable) ? iterable.length : undefined;
    let done = 0;
    const progress = (values: _Values) => {
      if (onProgress) invoke(onProgress, { done: done += values.length, total });
    };
    let exhausted = false;
    let first = 0;
    const inFlight: { promise: Promise<_Values>; done: boolean }[] = [];
    const finished: { values?: _Values; error?: unknown }[] = [];
    let wake: (() => void) | undefined;
    const pull = async () => {
      while (!exhausted && inFlight.length < window) {
        const chunk = await read();
        if (!chunk) {
          exhausted = true;
          break;
        }
        const entry = {
          promise: this.#call(fn, chunk, false, { ...options, first }),
          done: false,
        };
        first += chunk.length;
        const settle = (outcome: { values?: _Values; error?: unknown }) => {
          entry.done = true;
          finished.push(outcome);
          wake?.();
        };
        entry.promise.then((values) => {
          progress(values);
          settle({ values });
        }, (error) => settle({ error }));
        inFlight.push(entry);
      }
    };
    await pull();
    while (inFlight.length > 0) {
      let values: _Values;
      if (ordered) {
        const head = inFlight.shift()!;
        values = await head.promise;
      } else {
        while (finished.length === 0) await new Promise<void>((r) => wake = r);
        const first = finished.shift()!;
        inFlight.splice(inFlight.findIndex((e) => e.done), 1);
        if (first.error !== undefined) throw first.error;
        values = first.values!;
      }
      if (ordered) finished.length = 0;
      await pull();
      yield* values;
    }
  }

  /** Takes no new tasks; workers end once the submitted ones are done (then `join()`). */
  close(): void {
    this.#engine.close();
  }

  /** Ends every worker now; calls still pending fail. */
  terminate(): void {
    this.#engine.terminate();
  }

  /**
   * Waits for the workers to end, after `close()` or `terminate()`: for a
   * `"spawn"` pool, until each worker's OS process is gone.
   */
  join(): Promise<void> {
    return this.#engine.join();
  }

  /** Terminates the pool, as Python's `with Pool()` does. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.terminate();
    await this.join();
  }
}

/**
 * The items of a `map` or `starmap`. An array is read chunk by chunk before the call returns, so
 * it needs no copy first (unless it iterates in its own way).
 */
function listOf<T>(iterable: Iterable<T>): T[] {
  const plain = Array.isArray(iterable) &&
    iterable[Symbol.iterator] === Array.prototype[Symbol.iterator];
  return plain ? iterable : Array.from(iterable);
}

/**
 * The array a map's values go into, made when the first chunk answers. When that chunk's values
 * are all numbers, the array stores doubles from the start: `[0.5]` grown by `length` gets its
 * store once, where `new Array(n)` gets one of holes and copies it at the first double stored.
 */
function valuesArray(n: number, first: _Values): unknown[] {
  if (!(first instanceof Float64Array)) return new Array(n);
  const values = [0.5];
  values.length = n;
  return values;
}

/** Copies a chunk's values into the map's values from position `at`. */
function copyInto(values: unknown[], at: number, chunk: _Values): void {
  for (let i = 0; i < chunk.length; i++) values[at + i] = chunk[i];
}

/** The `onProgress` of a call's options, checked. */
function progressOf(options: MapOptions): ((progress: Progress) => void) | undefined {
  const { onProgress } = options;
  if (onProgress !== undefined && typeof onProgress !== "function") {
    throw new TypeError(`onProgress must be a function, got ${_describe(onProgress)}`);
  }
  return onProgress;
}

/** Calls a user callback; an error it throws is reported as uncaught, never swallowed. */
function invoke<T>(callback: (value: T) => void, value: T): void {
  try {
    callback(value);
  } catch (error) {
    reportError(error);
  }
}
