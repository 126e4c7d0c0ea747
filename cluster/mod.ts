/**
 * Troupe across machines: a `Pool` whose tasks run on hosts (`deno run
 * jsr:@troupe/troupe/host ...`) that share a NATS JetStream server.
 *
 * A task is published to a work-queue stream with a message id (so a retried
 * publish is stored once); a host pulls one task per idle worker, tells the
 * server it is still working on it from its own main thread, publishes the
 * result, and only then acknowledges the task. A host that dies mid-task has
 * its task delivered again after the ack wait, to another host: execution is
 * at least once, and results are deduplicated by task id, so the caller sees
 * each exactly once. A task whose every delivery failed (its host or its
 * worker died each time) fails at the caller with a {@linkcode TaskLostError}.
 *
 * @example A pool on the cluster named "jobs"
 * ```ts ignore
 * import { task } from "@troupe/troupe";
 * import { Cluster } from "@troupe/troupe/cluster";
 *
 * export const square = task(import.meta, function square(x: number) { return x * x; });
 *
 * if (import.meta.main) {
 *   await using cluster = await Cluster.connect({ servers: "nats://127.0.0.1:4222", name: "jobs" });
 *   const pool = cluster.pool();
 *   console.log(await pool.map(square, [1, 2, 3])); // [1, 4, 9], run on the hosts
 * }
 * ```
 *
 * @module
 */
import { abortable } from "@std/async";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  type ConsumerMessages,
  DeliverPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import {
  AsyncResult,
  CancelledError,
  Future,
  type MapOptions,
  RemoteError,
  type TaskFunction,
} from "../mod.ts";
import { _taskRef } from "../runtime/task.ts";
import { _describe } from "../runtime/util.ts";
import { _armWait, _timeoutError, type _Wait, _waitOptions } from "../runtime/wait.ts";
import { _connect, type ConnectOptions } from "./_connect.ts";
import { _ensureStreams, _publish, _settings } from "./_streams.ts";
import {
  _queue,
  type ClusterJoinableQueue,
  type ClusterQueue,
  type ClusterQueueOptions,
} from "./queue.ts";
import { _dict, type ClusterDict, type ClusterDictKey } from "./dict.ts";
import {
  type _Names,
  _names,
  _pack,
  _readResult,
  type _ResultMessage,
  type _TaskMessage,
} from "./_protocol.ts";

export type { ConnectOptions } from "./_connect.ts";
export { ClusterJoinableQueue, ClusterQueue, type ClusterQueueOptions } from "./queue.ts";
/** A wait's `timeoutMs` and `signal`: the same options as the local classes take. */
export type { WaitOptions } from "../runtime/wait_options.ts";
export { ClusterDict, type ClusterDictKey } from "./dict.ts";
export {
  AsyncResult,
  type CallOptions,
  CancelledError,
  Future,
  type MapOptions,
  type Progress,
  RemoteError,
  type TaskFunction,
} from "../mod.ts";

/** Options for {@linkcode Cluster.connect}: the servers, the cluster's name, and how tasks are kept. */
export interface ClusterOptions extends ConnectOptions {
  /** The cluster's name: callers and hosts of one name share its tasks. */
  name: string;
  /** Copies of each stream (3 on a three-node JetStream cluster). @default {1} */
  replicas?: number;
  /**
   * How long a host may go without telling the server it is working on a
   * task before the task goes to another host. Hosts tell it every third of
   * this. @default {30000}
   */
  ackWaitMs?: number;
  /** Deliveries of a task before it is given up ({@linkcode TaskLostError}). @default {4} */
  maxDeliver?: number;
  /** Tasks the stream holds before a submit waits for room. @default {100000} */
  maxQueued?: number;
}

/**
 * A task that was delivered `deliveries` times and never finished: its host
 * or its worker died each time. The task was removed from the stream.
 */
export class TaskLostError extends Error {
  /** The task's id. */
  readonly taskId: string;
  /** How many times it was delivered. */
  readonly deliveries: number;

  /**
   * Made by the cluster when a task is given up.
   *
   * @param task The task's name.
   * @param taskId Its id.
   * @param deliveries How many times it was delivered.
   */
  constructor(task: string, taskId: string, deliveries: number) {
    super(
      `task '${task}' (${taskId}) was delivered ${deliveries} times and never finished: its ` +
        `host or its worker died each time (a task that crashes what runs it). It was given up`,
    );
    this.name = "TaskLostError";
    this.taskId = taskId;
    this.deliveries = deliveries;
  }
}

interface Pending {
  key: string;
  resolve(values: unknown[], failed?: [number, RemoteError][]): void;
  reject(error: unknown): void;
  seq: number | undefined;
}

/** `apply()` calls of one task made in one turn, sent as one message. */
interface Batch {
  fn: TaskFunction;
  calls: unknown[][];
  waiters: { resolve(value: unknown): void; reject(error: unknown): void }[];
}

/** A gathered message some of whose calls threw: the values, and each call's error. */
class BatchFailed extends Error {
  constructor(readonly values: unknown[], readonly failed: Map<number, RemoteError>) {
    super("some calls of the batch threw");
  }
}

/** The most `apply()` calls one message gathers. */
const BATCH_MAX = 64;

// How long a publish is retried while the stream has no leader (an election
// takes 5-8 s on this machine), and how long a full stream is waited on per try.
// With calls waiting, after this long without a result, look results up one by one
// (SWEEP_MAX at a time); after RESTART_MS, make the results consumer again.
const SWEEP_MS = 2000;
const SWEEP_MAX = 64;
const RESTART_MS = 5000;

/**
 * A connection to a cluster of hosts. `pool()` gives a {@linkcode ClusterPool}
 * with `Pool`'s methods; `close()` (or `await using`) ends the connection.
 */
export class Cluster implements AsyncDisposable {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #names: _Names;
  readonly #caller: string;
  readonly #pending = new Map<string, Pending>();
  readonly #bySeq = new Map<number, string>();
  readonly #batches = new Map<TaskFunction, Batch>();
  #next = 0;
  #results: ConsumerMessages | undefined;
  /** When the results consumer last delivered (or a call began waiting). */
  #heardAt = Date.now();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #sweeping = false;
  #advisories: Subscription | undefined;
  #closed = false;
  readonly #holding = new Set<ClusterJoinableQueue<unknown>>();

  readonly #replicas: number;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, names: _Names, replicas: number) {
    this.#replicas = replicas;
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jetstream(nc);
    this.#names = names;
    this.#caller = crypto.randomUUID().replaceAll("-", "");
  }

  /**
   * Connects to the servers, makes the cluster's streams if they are not
   * there (or checks them), and starts listening for results.
   *
   * @throws {Error} When no server answers within `connectTimeoutMs`, or a
   * stream exists with other settings.
   */
  static async connect(options: ClusterOptions): Promise<Cluster> {
    const names = _names(options?.name);
    const settings = _settings(options);
    const nc = await _connect(options, `troupe caller ${options.name}`);
    try {
      const jsm = await jetstreamManager(nc);
      await _ensureStreams(jsm, names, settings);
      const cluster = new Cluster(nc, jsm, names, settings.replicas);
      await cluster.#listen();
      return cluster;
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  /** The cluster's name. */
  get name(): string {
    return this.#names.taskSubject.split(".")[1];
  }

  /**
   * Queue `name` on the cluster's server, shared by every process connected
   * to the cluster: `put`, `get`, `qsize` as a `Queue`'s (all async).
   */
  queue<T>(name: string, options: ClusterQueueOptions = {}): ClusterQueue<T> {
    return _queue<T>(this.#nc, this.#js, this.#jsm, this.name, name, options, this.#replicas);
  }

  /**
   * The same queue as {@linkcode Cluster.queue}, with `JoinableQueue`'s
   * `taskDone()` and `join()`: an item a getter took stays on the server
   * until it is marked done, and goes to another getter if that one dies
   * first (at-least-once handling).
   */
  joinableQueue<T>(name: string, options: ClusterQueueOptions = {}): ClusterJoinableQueue<T> {
    // Only queues holding items are kept, for close() to hand their items back.
    const track = (q: ClusterJoinableQueue<T>, holding: boolean) => {
      if (holding) this.#holding.add(q as ClusterJoinableQueue<unknown>);
      else this.#holding.delete(q as ClusterJoinableQueue<unknown>);
    };
    return _queue<T>(
      this.#nc,
      this.#js,
      this.#jsm,
      this.name,
      name,
      options,
      this.#replicas,
      track,
    ) as ClusterJoinableQueue<T>;
  }

  /** Dict `name` on the cluster's server (a KV bucket): a Manager dict proxy's methods. */
  dict<K extends ClusterDictKey, V>(name: string): ClusterDict<K, V> {
    return _dict<K, V>(this.#nc, this.name, name, this.#replicas);
  }

  /** A `ProcessPoolExecutor`-shaped view of {@linkcode Cluster.pool}: `submit` gives Futures. */
  executor(): ClusterExecutor {
    return new ClusterExecutor(this.pool());
  }

  /** A pool whose tasks run on the cluster's hosts. */
  pool(): ClusterPool {
    return new ClusterPool(this, {
      submit: (fn, calls, spread, options) => this.#submit(fn, calls, spread, options),
      apply: (fn, args) => this.#applyBatched(fn, args),
    });
  }

  async #listen(): Promise<void> {
    await this.#consumeResults();
    this.#advisories = this.#nc.subscribe(this.#names.maxDeliveries, {
      callback: (error, m) => {
        if (error) return;
        try {
          const advisory = JSON.parse(new TextDecoder().decode(m.data));
          this.#onLost(Number(advisory.stream_seq), Number(advisory.deliveries));
        } catch {
          // not an advisory
        }
      },
    });
    await this.#nc.flush();
  }

  /** Reads this caller's results from the stream as they come (an ordered consumer). */
  async #consumeResults(): Promise<void> {
    const consumer = await this.#js.consumers.get(this.#names.results, {
      filter_subjects: this.#names.resultSubject(`${this.#caller}.>`),
      deliver_policy: DeliverPolicy.New,
    });
    const messages = this.#results = await consumer.consume();
    void (async () => {
      for await (const m of messages) {
        this.#heardAt = Date.now();
        const result = _readResult(m.data);
        if (result) this.#onResult(result);
      }
    })().catch(() => {});
  }

  /**
   * While calls wait and no result has come for SWEEP_MS, each of the oldest
   * (SWEEP_MAX) is looked up in the stream by its subject: a result stored
   * while the consumer was away (a server it read from was killed) still
   * reaches its caller. After RESTART_MS of silence the consumer is made again.
   */
  #sweep(): void {
    if (this.#sweeper !== undefined || this.#closed) return;
    this.#sweeper = setInterval(() => {
      if (this.#pending.size === 0 || this.#closed) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
        return;
      }
      const quiet = Date.now() - this.#heardAt;
      if (quiet < SWEEP_MS || this.#sweeping) return;
      this.#sweeping = true;
      const ids = [...this.#pending.keys()].slice(0, SWEEP_MAX);
      void (async () => {
        for (const id of ids) {
          if (!this.#pending.has(id)) continue;
          const m = await this.#jsm.streams.getMessage(this.#names.results, {
            last_by_subj: this.#names.resultSubject(id),
          }).catch(() => null);
          const result = m ? _readResult(m.data) : undefined;
          if (result) this.#onResult(result);
        }
        if (quiet > RESTART_MS && this.#pending.size > 0 && !this.#closed) {
          this.#heardAt = Date.now();
          await this.#results?.close()?.catch(() => {});
          await this.#consumeResults().catch(() => {});
        }
      })().finally(() => this.#sweeping = false);
    }, SWEEP_MS);
    Deno.unrefTimer(this.#sweeper);
  }

  #onResult(result: _ResultMessage): void {
    const pending = this.#pending.get(result.id);
    // A result for a task already settled: a second run's, deduplicated here.
    if (!pending) return;
    this.#settled(result.id, pending);
    const where = (worker: string | undefined) => `${worker ?? "a worker"} on host ${result.host}`;
    if (result.ok) {
      pending.resolve(
        result.values,
        result.failed?.map((
          [i, error, worker],
        ) => [i, new RemoteError(where(worker), undefined, error)]),
      );
    } else pending.reject(new RemoteError(where(result.worker), undefined, result.error));
  }

  #onLost(seq: number, deliveries: number): void {
    const id = this.#bySeq.get(seq);
    if (id === undefined) return;
    const pending = this.#pending.get(id);
    // Nothing will run it again: it leaves the work queue.
    void this.#jsm.streams.deleteMessage(this.#names.tasks, seq).catch(() => {});
    if (!pending) return;
    this.#settled(id, pending);
    pending.reject(new TaskLostError(pending.key, id, deliveries));
  }

  #settled(id: string, pending: Pending): void {
    this.#pending.delete(id);
    if (pending.seq !== undefined) this.#bySeq.delete(pending.seq);
  }

  /**
   * An `apply()` without options: gathered with the others of its task made
   * in this turn into one message (BATCH_MAX at most), each call answered on
   * its own.
   */
  #applyBatched(fn: TaskFunction, args: unknown[]): Promise<unknown> {
    let batch = this.#batches.get(fn);
    if (!batch) {
      const made: Batch = { fn, calls: [], waiters: [] };
      this.#batches.set(fn, batch = made);
      queueMicrotask(() => this.#flushBatch(made));
    }
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    batch.calls.push(args);
    batch.waiters.push({ resolve, reject });
    if (batch.calls.length >= BATCH_MAX) this.#flushBatch(batch);
    return promise;
  }

  #flushBatch(batch: Batch): void {
    if (this.#batches.get(batch.fn) === batch) this.#batches.delete(batch.fn);
    const { calls, waiters } = batch;
    if (calls.length === 0) return;
    batch.calls = [];
    batch.waiters = [];
    this.#submit(batch.fn, calls, true, {}, calls.length > 1).then(
      (values) => values.forEach((value, i) => waiters[i].resolve(value)),
      (error) => {
        if (error instanceof BatchFailed) {
          return error.values.forEach((value, i) => {
            const failure = error.failed.get(i);
            if (failure) waiters[i].reject(failure);
            else waiters[i].resolve(value);
          });
        }
        if (error instanceof TaskLostError && calls.length > 1) {
          // One call kept crashing what ran the batch: each again alone, so only that one fails.
          return calls.forEach((args, i) =>
            this.#submit(batch.fn, [args], true, {}).then(
              ([value]) => waiters[i].resolve(value),
              waiters[i].reject,
            )
          );
        }
        waiters.forEach((w) => w.reject(error));
      },
    );
  }

  #submit(
    fn: TaskFunction,
    calls: unknown[],
    spread: boolean,
    options: { timeoutMs?: number; signal?: AbortSignal },
    each = false,
  ): Promise<unknown[]> {
    if (this.#closed) return Promise.reject(new Error(`Cluster ${this.name} is closed`));
    const ref = _taskRef(fn);
    if (!ref) {
      return Promise.reject(
        new TypeError(
          `a cluster task must be a function declared with task(), got ${_describe(fn)}`,
        ),
      );
    }
    let limits: _Wait;
    try {
      limits = _waitOptions(options, `task '${ref.key}'`);
    } catch (error) {
      return Promise.reject(error);
    }
    const { signal, timeoutMs } = limits;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = `${this.#caller}.${++this.#next}`;
    const message: _TaskMessage = {
      id,
      caller: this.#caller,
      module: ref.module,
      key: ref.key,
      spread,
      calls,
      deadline: timeoutMs === undefined ? undefined : Date.now() + timeoutMs,
    };
    if (each) message.each = true;
    let data: Uint8Array;
    try {
      data = _pack(message, `task '${ref.key}'`);
    } catch (error) {
      return Promise.reject(
        new TypeError(`task '${ref.key}' arguments cannot be sent: ${(error as Error).message}`),
      );
    }
    const max = this.#nc.info?.max_payload;
    if (max !== undefined && data.length > max) {
      return Promise.reject(
        new RangeError(
          `task '${ref.key}' is ${data.length} bytes encoded, above the server's max_payload of ` +
            `${max}: send smaller arguments (a chunksize, or a reference to the data)`,
        ),
      );
    }
    return new Promise<unknown[]>((resolve, reject) => {
      let disarm = () => {};
      const pending: Pending = {
        key: ref.key,
        seq: undefined,
        resolve: (values, failed) => {
          disarm();
          if (failed && failed.length > 0) reject(new BatchFailed(values, new Map(failed)));
          else resolve(values);
        },
        reject: (error) => (disarm(), reject(error)),
      };
      const giveUp = (error: unknown) => {
        if (this.#pending.get(id) !== pending) return;
        this.#settled(id, pending);
        // A host running it stops; one that has not started it skips it.
        this.#nc.publish(this.#names.cancelSubject, id);
        pending.reject(error);
      };
      if (this.#pending.size === 0) this.#heardAt = Date.now();
      this.#pending.set(id, pending);
      this.#sweep();
      disarm = _armWait(
        { timeoutMs, signal },
        giveUp,
        () => _timeoutError(`task '${ref.key}' did not finish within ${timeoutMs} ms`),
      );
      _publish(this.#js, this.#names.taskSubject, data, id, {
        wanted: () => this.#pending.get(id) === pending,
        what: `a task to stream ${this.#names.tasks}`,
      }).then((seq) => {
        if (seq === undefined || this.#pending.get(id) !== pending) return;
        pending.seq = seq;
        this.#bySeq.set(seq, id);
      }, (error) => giveUp(error));
    });
  }

  /** Ends the connection; tasks still waiting for results fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id, pending] of [...this.#pending]) {
      this.#settled(id, pending);
      pending.reject(new Error(`Cluster ${this.name} was closed before the task finished`));
    }
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    // Items taken and not marked done go back, for another getter.
    for (const q of [...this.#holding]) q._release();
    this.#advisories?.unsubscribe();
    await this.#results?.close()?.catch(() => {});
    await this.#nc.drain().catch(() => {});
  }

  /** Closes the connection, as `await using` does. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

interface Submit {
  submit(
    fn: TaskFunction,
    calls: unknown[],
    spread: boolean,
    options: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<unknown[]>;
  apply(fn: TaskFunction, args: unknown[]): Promise<unknown>;
}

/** Chunks in flight at once for `imap` and `imapUnordered`. */
const WINDOW = 64;
/** A `map` goes out in this many chunks, when it has as many items. */
const MAP_CHUNKS = 16;

/**
 * `Pool`'s methods on a cluster's hosts: `apply`, `applyAsync`, `map`,
 * `starmap`, `imap`, `imapUnordered`, with the same types, options and errors
 * (a task's exception is a `RemoteError` with its stack; `timeoutMs` and
 * `signal` give a `TimeoutError` or the signal's reason).
 */
export class ClusterPool implements AsyncDisposable {
  readonly #cluster: Cluster;
  readonly #calls: Submit;
  #closed = false;
  /** Aborted by `terminate()`: every call still pending fails. */
  readonly #stop = new AbortController();
  readonly #pending = new Set<Promise<unknown>>();

  /** Made by {@linkcode Cluster.pool}. @ignore */
  constructor(cluster: Cluster, submit: Submit) {
    this.#cluster = cluster;
    const stop = this.#stop.signal;
    this.#calls = {
      submit: (fn, calls, spread, options) =>
        this.#track(() =>
          submit.submit(fn, calls, spread, {
            timeoutMs: options.timeoutMs,
            signal: options.signal ? AbortSignal.any([options.signal, stop]) : stop,
          })
        ),
      // Gathered with others: the hosts run it whatever this pool does; its caller stops waiting.
      apply: (fn, args) => this.#track(() => abortable(submit.apply(fn, args), stop)),
    };
  }

  #track<T>(call: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new Error(
          "this ClusterPool is closed: make another with cluster.pool() (the cluster goes on)",
        ),
      );
    }
    const promise = call();
    this.#pending.add(promise);
    const done = () => this.#pending.delete(promise);
    promise.then(done, done);
    return promise;
  }

  /** Takes no more calls, as Python's `Pool.close()`; those made run to their end. */
  close(): void {
    this.#closed = true;
  }

  /**
   * Takes no more calls, and those still pending fail at once with a
   * `CancelledError` (hosts stop those sent on their own; calls gathered with
   * others run to their end there, unheard). The cluster goes on.
   */
  terminate(): void {
    this.#closed = true;
    this.#stop.abort(new CancelledError("the ClusterPool was terminated"));
  }

  /** After `close()` or `terminate()`, waits until every call made has settled. */
  async join(): Promise<void> {
    if (!this.#closed) {
      throw new Error("join() needs close() or terminate() first, as Python's Pool.join()");
    }
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Terminates the pool, as local `Pool` and Python's `with Pool()` do. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.terminate();
    await this.join();
  }

  /** The cluster this pool runs on. */
  get cluster(): Cluster {
    return this.#cluster;
  }

  /** Calls `fn(...args)` on a host and resolves with its value. */
  async apply<F extends TaskFunction>(
    fn: F,
    args: Parameters<F>,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<Awaited<ReturnType<F>>> {
    if (!Array.isArray(args)) throw new TypeError(`args must be an array, got ${_describe(args)}`);
    // Calls without options made in one turn travel together, each answered on its own.
    if (options.timeoutMs === undefined && options.signal === undefined && _taskRef(fn)) {
      return await this.#calls.apply(fn, args) as Awaited<ReturnType<F>>;
    }
    const [value] = await this.#calls.submit(fn, [args], true, options);
    return value as Awaited<ReturnType<F>>;
  }

  /** Like {@linkcode ClusterPool.apply}, returning an `AsyncResult` at once. */
  applyAsync<F extends TaskFunction>(
    fn: F,
    args: Parameters<F>,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): AsyncResult<Awaited<ReturnType<F>>> {
    return new AsyncResult(this.apply(fn, args, options));
  }

  /** Like {@linkcode ClusterPool.map}, returning an `AsyncResult` at once. */
  mapAsync<T, R>(
    fn: (item: T) => R,
    items: Iterable<T>,
    options: MapOptions = {},
  ): AsyncResult<Awaited<R>[]> {
    return new AsyncResult(this.map(fn, items, options));
  }

  /** Applies `fn` to every item, in chunks, and resolves with the values in input order. */
  map<T, R>(
    fn: (item: T) => R,
    items: Iterable<T>,
    options: MapOptions = {},
  ): Promise<Awaited<R>[]> {
    return this.#mapAll(fn as TaskFunction, [...items], false, options) as Promise<Awaited<R>[]>;
  }

  /** Like {@linkcode ClusterPool.map}, with each item an argument list. */
  starmap<F extends TaskFunction>(
    fn: F,
    items: Iterable<Parameters<F>>,
    options: MapOptions = {},
  ): Promise<Awaited<ReturnType<F>>[]> {
    return this.#mapAll(fn, [...items], true, options) as Promise<Awaited<ReturnType<F>>[]>;
  }

  async #mapAll(fn: TaskFunction, items: unknown[], spread: boolean, options: MapOptions) {
    if (spread) {
      const bad = items.findIndex((args) => !Array.isArray(args));
      if (bad >= 0) {
        throw new TypeError(
          `item ${bad} must be an array of arguments, got ${_describe(items[bad])}`,
        );
      }
    }
    const size = chunkSize(options, Math.ceil(items.length / MAP_CHUNKS));
    const chunks: Promise<unknown[]>[] = [];
    let done = 0;
    for (let at = 0; at < items.length; at += size) {
      const chunk = items.slice(at, at + size);
      chunks.push(
        this.#calls.submit(fn, chunk, spread, options).then((values) => {
          if (options.onProgress) {
            report(options.onProgress, { done: done += values.length, total: items.length });
          }
          return values;
        }),
      );
    }
    return (await Promise.all(chunks)).flat();
  }

  /** Lazily applies `fn` to any (async) iterable, at most 64 chunks in flight, in input order. */
  imap<T, R>(
    fn: (item: T) => R,
    items: Iterable<T> | AsyncIterable<T>,
    options: MapOptions = {},
  ): AsyncGenerator<Awaited<R>, void, undefined> {
    return this.#imap(fn as TaskFunction, items, options, true) as AsyncGenerator<Awaited<R>>;
  }

  /** Like {@linkcode ClusterPool.imap}, yielding values as they arrive. */
  imapUnordered<T, R>(
    fn: (item: T) => R,
    items: Iterable<T> | AsyncIterable<T>,
    options: MapOptions = {},
  ): AsyncGenerator<Awaited<R>, void, undefined> {
    return this.#imap(fn as TaskFunction, items, options, false) as AsyncGenerator<Awaited<R>>;
  }

  async *#imap(
    fn: TaskFunction,
    items: Iterable<unknown> | AsyncIterable<unknown>,
    options: MapOptions,
    ordered: boolean,
  ): AsyncGenerator<unknown, void, undefined> {
    const size = chunkSize(options, 1);
    const total = Array.isArray(items) ? items.length : undefined;
    const it = Symbol.asyncIterator in Object(items)
      ? (items as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (items as Iterable<unknown>)[Symbol.iterator]();
    let exhausted = false;
    let done = 0;
    type Slot = { promise: Promise<unknown[]>; settled?: { values?: unknown[]; error?: unknown } };
    const flight: Slot[] = [];
    let wake: (() => void) | undefined;
    const fill = async () => {
      while (!exhausted && flight.length < WINDOW) {
        const chunk: unknown[] = [];
        while (chunk.length < size) {
          const next = await it.next();
          if (next.done) {
            exhausted = true;
            break;
          }
          chunk.push(next.value);
        }
        if (chunk.length === 0) break;
        const slot: Slot = { promise: this.#calls.submit(fn, chunk, false, options) };
        slot.promise.then((values) => {
          slot.settled = { values };
          if (options.onProgress) {
            report(options.onProgress, { done: done += values.length, total });
          }
          wake?.();
        }, (error) => {
          slot.settled = { error };
          wake?.();
        });
        slot.promise.catch(() => {});
        flight.push(slot);
      }
    };
    await fill();
    while (flight.length > 0) {
      let slot: Slot;
      if (ordered) {
        slot = flight.shift()!;
        await slot.promise.catch(() => {});
      } else {
        let i = flight.findIndex((s) => s.settled);
        while (i < 0) {
          await new Promise<void>((r) => wake = r);
          i = flight.findIndex((s) => s.settled);
        }
        slot = flight.splice(i, 1)[0];
      }
      if (slot.settled!.error !== undefined) throw slot.settled!.error;
      await fill();
      yield* slot.settled!.values!;
    }
  }
}

function chunkSize(options: MapOptions, fallback: number): number {
  const size = options.chunksize ?? Math.max(1, fallback);
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`'chunksize' must be a positive integer, got ${String(size)}`);
  }
  return size;
}

function report(
  onProgress: NonNullable<MapOptions["onProgress"]>,
  p: { done: number; total: number | undefined },
) {
  try {
    onProgress(p);
  } catch (error) {
    reportError(error);
  }
}

/**
 * `ProcessPoolExecutor`'s methods on a cluster's hosts: `submit` gives a
 * `Future` (so `wait` and `asCompleted` take it), `map` yields in input
 * order, `shutdown` waits for what was submitted.
 *
 * A cluster cannot tell when a host starts a task, so a future stays
 * cancellable until its result comes: `cancel()` then fails it with
 * `CancelledError` at once and tells the hosts, and one that has started it
 * stops its worker.
 */
export class ClusterExecutor implements AsyncDisposable {
  readonly #pool: ClusterPool;
  readonly #pending = new Set<Future<unknown>>();
  #shutdown = false;

  /** Made by {@linkcode Cluster.executor}. @ignore */
  constructor(pool: ClusterPool) {
    this.#pool = pool;
  }

  /** Schedules `fn(...args)` on a host and returns its `Future`. */
  submit<F extends TaskFunction>(fn: F, ...args: Parameters<F>): Future<Awaited<ReturnType<F>>> {
    if (this.#shutdown) {
      throw new Error("cannot submit() after shutdown(): the executor takes no new calls");
    }
    const future = new Future<Awaited<ReturnType<F>>>();
    const abort = new AbortController();
    future.addDoneCallback((f) => {
      this.#pending.delete(f as Future<unknown>);
      if (f.cancelled()) abort.abort(new CancelledError());
    });
    this.#pending.add(future as Future<unknown>);
    this.#pool.apply(fn, args, { signal: abort.signal }).then(
      (value) => {
        if (!future.done()) future.setResult(value);
      },
      (error) => {
        if (!future.done()) future.setException(error);
      },
    );
    return future;
  }

  /** Applies `fn` to every item on the hosts, yielding values in input order. */
  map<T, R>(
    fn: (item: T) => R,
    items: Iterable<T> | AsyncIterable<T>,
    options: MapOptions = {},
  ): AsyncGenerator<Awaited<R>, void, undefined> {
    if (this.#shutdown) {
      throw new Error("cannot map() after shutdown(): the executor takes no new calls");
    }
    return this.#pool.imap(fn, items, options);
  }

  /**
   * Takes no new calls; with `cancelFutures`, cancels those not done; with
   * `wait` (the default), resolves once every submitted future is done.
   */
  async shutdown(options: { wait?: boolean; cancelFutures?: boolean } = {}): Promise<void> {
    this.#shutdown = true;
    if (options.cancelFutures) { for (const f of [...this.#pending]) f.cancel(); }
    if (options.wait === false) return;
    await Promise.allSettled([...this.#pending]);
  }

  /** Shuts down, waiting, as `with ProcessPoolExecutor()` does. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}
