/**
 * `Queue`, `JoinableQueue` and `SimpleQueue`: typed many-producer,
 * many-consumer queues that any process can be handed in its `args` and use
 * directly. Items live in a SharedArrayBuffer ring, so no thread brokers them
 * and items already put survive the producer that put them.
 *
 * @module
 */
import { _timeoutError } from "../runtime/wait.ts";
import {
  type _Outbox,
  _registerReviver,
  _relayed,
  _WIRE,
  type _WireForm,
} from "../runtime/wire.ts";
import { _inspectable } from "../runtime/util.ts";
import type { QueueWire, WireCodec } from "../runtime/protocol.ts";
import { _decode, _encode } from "../runtime/codec.ts";
import { _CLOSED, _DEFAULT_BUFFER_BYTES, _Ring, _timeoutOf, _WOULD_WAIT } from "../runtime/ring.ts";
import { ChannelClosedError, Empty, Full } from "./errors.ts";
import { _validate, _validateSync, type StandardSchemaV1 } from "./schema.ts";

/** Options for {@linkcode Queue}. */
export interface QueueOptions<T> {
  /**
   * Largest number of items the queue holds; `put()` waits while it is full.
   * `0` means no item limit (the buffer's size still is one).
   * @default {0}
   */
  maxsize?: number;
  /**
   * A Standard Schema validator (zod, valibot, arktype...) that every item must
   * pass before it is put. It checks in the process holding this `Queue`
   * object: a validator is code and does not travel, so a queue received in
   * `args` has none until given one with {@linkcode Queue.withSchema}.
   * @default {undefined}
   */
  schema?: StandardSchemaV1<unknown, T>;
  /**
   * Bytes of shared memory for the items (each takes its encoded size plus 4,
   * rounded up to 4). A put waits while the bytes are used up; an item larger
   * than the whole buffer is refused with a RangeError.
   * @default {1048576}
   */
  bufferBytes?: number;
  /**
   * How items are stored: `"structured"` carries what structured clone does
   * (except circular structures); `"f64"` and `"i32"` carry one number each as
   * raw bytes, the fast path for `Queue<number>` (use `putMany`/`getMany`).
   * @default {"structured"}
   */
  codec?: "structured" | "f64" | "i32";
}

import type { SyncWaitOptions, WaitOptions } from "../runtime/wait_options.ts";

export type { SyncWaitOptions, WaitOptions };

const KIND_QUEUE = "troupe.Queue";
const KIND_JOINABLE = "troupe.JoinableQueue";
const KIND_SIMPLE = "troupe.SimpleQueue";

// Set while a queue is rebuilt from its wire state (or re-viewed with a schema).
let adopting: QueueWire | undefined;

// Queue's #putBack, for the relay that lends items to a process (channels/relay.ts).
let putBack: (queue: Queue<unknown>, items: readonly unknown[]) => Promise<void>;

/**
 * Puts `items`, taken from `queue` and never handed to the application,
 * back in front of its oldest item, in order, as if never taken: the items a
 * relayed queue lent to a process that ended before it took them.
 */
export function _putBack(queue: Queue<unknown>, items: readonly unknown[]): Promise<void> {
  return putBack(queue, items);
}
// Each queue's ring, for JoinableQueue's methods.
const rings = new WeakMap<Queue<unknown>, _Ring>();

/**
 * A FIFO queue of `T` shared by any number of producers and consumers, in any
 * workers and the main thread — Python's `multiprocessing.Queue`, with
 * `await` where Python blocks.
 *
 * Pass it in a process's `args` (alone or inside objects and arrays), in
 * `send()` mail or in pool task arguments, and the other side uses the same
 * queue. Items are copied in (see {@linkcode QueueOptions.codec} for what can
 * be carried); items from one producer arrive in the order they were put.
 * `close()` closes it for everyone: puts fail, and gets drain what is left
 * and then fail, which ends `for await` loops.
 *
 * @typeParam T The type of the items.
 *
 * @example A producer and a consumer in the same thread
 * ```ts
 * import { Queue } from "@troupe/troupe";
 *
 * const q = new Queue<{ id: number }>({ maxsize: 10 });
 * await q.put({ id: 1 });
 * q.putNowait({ id: 2 });
 * q.close();
 * const seen: number[] = [];
 * for await (const item of q) seen.push(item.id);
 * console.assert(seen.join() === "1,2");
 * ```
 */
export class Queue<T> {
  readonly #ring: _Ring;
  readonly #maxsize: number;
  readonly #codec: WireCodec;
  readonly #schema: StandardSchemaV1<unknown, T> | undefined;
  readonly #joinable: boolean;
  readonly #scratch = { bytes: new Uint8Array(256) };

  static {
    // console.log(q): Queue { size: 3, maxsize: 10, closed: false }; a SimpleQueue has no
    // maxsize, a JoinableQueue adds `unfinished`.
    _inspectable(this, (q) => ({
      size: q.#ring.count,
      ...(q instanceof SimpleQueue ? {} : { maxsize: q.#maxsize }),
      ...(q.#joinable ? { unfinished: q.#ring.unfinished } : {}),
      closed: q.#ring.closed,
    }));
  }

  /**
   * Creates a queue in new shared memory.
   *
   * @param options `maxsize`, `schema`, `bufferBytes` and `codec`.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(options: QueueOptions<T> = {}) {
    const wire = adopting;
    adopting = undefined;
    if (
      options.schema !== undefined && typeof options.schema?.["~standard"]?.validate !== "function"
    ) {
      throw new TypeError(
        "'schema' must be a Standard Schema validator (an object with ['~standard'].validate), " +
          "such as a zod, valibot or arktype schema",
      );
    }
    this.#joinable = this instanceof JoinableQueue;
    this.#schema = options.schema;
    if (wire) {
      this.#maxsize = wire.maxsize;
      this.#codec = wire.codec;
      this.#ring = new _Ring(wire.buffer, wire.codec, wire.maxsize);
      rings.set(this, this.#ring);
      return;
    }
    const { maxsize = 0, bufferBytes = _DEFAULT_BUFFER_BYTES, codec = "structured" } = options;
    if (!Number.isInteger(maxsize) || maxsize < 0) {
      throw new RangeError(
        `'maxsize' must be a non-negative integer (0: no limit), got ${maxsize}`,
      );
    }
    if (!Number.isInteger(bufferBytes) || bufferBytes < 64 || bufferBytes > 2 ** 30) {
      throw new RangeError(
        `'bufferBytes' must be an integer from 64 to 2^30, got ${bufferBytes}`,
      );
    }
    if (codec !== "structured" && codec !== "f64" && codec !== "i32") {
      throw new RangeError(`'codec' must be "structured", "f64" or "i32", got ${String(codec)}`);
    }
    this.#maxsize = maxsize;
    this.#codec = codec;
    this.#ring = new _Ring(_Ring.allocate(bufferBytes), codec, maxsize);
    rings.set(this, this.#ring);
  }

  /** What this class is called in messages. */
  get #name(): string {
    return this.constructor.name;
  }

  /**
   * A view of the same queue that checks items with `schema` before they are
   * put, for a queue that arrived without one (a validator does not travel).
   *
   * @param schema A Standard Schema validator.
   * @returns A new object over the same shared queue.
   */
  withSchema<U extends T>(schema: StandardSchemaV1<unknown, U>): Queue<U> {
    adopting = this.#wire();
    const Class = this.constructor as new (options: QueueOptions<U>) => Queue<U>;
    return new Class({ schema });
  }

  /** Largest number of items held (`0`: only the buffer's size limits it). */
  get maxsize(): number {
    return this.#maxsize;
  }

  /** Whether `close()` was called (here or in any other process). */
  get closed(): boolean {
    return this.#ring.closed;
  }

  /** How many items the queue holds now. */
  qsize(): number {
    return this.#ring.count;
  }

  /** Whether the queue holds no items now. */
  empty(): boolean {
    return this.#ring.count === 0;
  }

  /**
   * Whether a put would have to wait now: `maxsize` items are in, or the
   * buffer has no room even for a small item.
   */
  full(): boolean {
    return this.#ring.full;
  }

  /**
   * Puts `item` at the end, waiting while the queue is full.
   *
   * @param item The item; checked by the schema, if any, then copied in.
   * @param options `timeoutMs` and `signal`.
   * @throws {Full} When the queue is still full after `timeoutMs`.
   * @throws {TypeError} When the schema refuses the item or it cannot be carried (nothing is put).
   * @throws {ChannelClosedError} When the queue is closed.
   */
  async put(item: T, options: WaitOptions = {}): Promise<void> {
    const timeoutMs = _timeoutOf(options.timeoutMs, this.#name, "put()");
    options.signal?.throwIfAborted();
    const value = this.#schema
      ? await _validate(this.#schema, item, `${this.#name}.put() item`)
      : item;
    if (this.#tryPut(value, "put()")) return;
    const retry = () => this.#tryPut(value, "put()") ? undefined : _WOULD_WAIT;
    await this.#ring.waitForPut(retry, {
      timeoutMs,
      signal: options.signal,
      onTimeout: () => new Full(`${this.#name} stayed full for ${timeoutMs} ms`),
    });
  }

  /**
   * Puts `item` at the end if there is room now.
   *
   * @param item The item.
   * @throws {Full} When the queue is full.
   * @throws {TypeError} When the schema refuses the item (or validates asynchronously).
   */
  putNowait(item: T): void {
    const value = this.#schema
      ? _validateSync(this.#schema, item, `${this.#name}.putNowait() item`, "putNowait()")
      : item;
    if (!this.#tryPut(value, "putNowait()")) {
      throw new Full(`${this.#name} is full (${this.#fullReason()})`);
    }
  }

  /**
   * Puts `item`, blocking this thread while the queue is full. Only inside a
   * worker: the main thread must not block.
   *
   * @param item The item.
   * @param options `timeoutMs`.
   * @throws {Full} When the queue is still full after `timeoutMs`.
   */
  putSync(item: T, options: SyncWaitOptions = {}): void {
    const timeoutMs = _timeoutOf(options.timeoutMs, this.#name, "putSync()");
    const value = this.#schema
      ? _validateSync(this.#schema, item, `${this.#name}.putSync() item`, "putSync()")
      : item;
    const attempt = () => this.#tryPut(value, "putSync()") ? undefined : _WOULD_WAIT;
    this.#ring.waitForPutSync(attempt, {
      timeoutMs,
      what: `${this.#name}.putSync()`,
      onTimeout: () => new Full(`${this.#name} stayed full for ${timeoutMs} ms`),
    });
  }

  /**
   * Puts every item of `items` in order, waiting for room as needed. With a
   * numeric codec this moves whole runs under one lock: the fast path.
   *
   * @param items The items.
   * @param options `timeoutMs` (for the whole call) and `signal`.
   * @throws {Full} When room did not come in time; the items before it were put.
   */
  async putMany(items: Iterable<T> | ArrayLike<T>, options: WaitOptions = {}): Promise<void> {
    const timeoutMs = _timeoutOf(options.timeoutMs, this.#name, "putMany()");
    options.signal?.throwIfAborted();
    const list =
      (Symbol.iterator in Object(items) ? [...(items as Iterable<T>)] : Array.from(items)) as T[];
    if (this.#codec === "structured" || this.#schema) {
      const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
      for (const item of list) {
        const left = deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
        await this.put(item, { timeoutMs: left, signal: options.signal });
      }
      return;
    }
    this.#checkNumbers(list, "putMany()");
    let done = 0;
    const attempt = () => {
      for (;;) {
        const n = this.#ring.tryPutNumbers(list as number[], done, this.#joinable);
        if (n === _CLOSED) throw this.#closedError("putMany()");
        done += n;
        if (done === list.length) return undefined;
        if (n === 0) return _WOULD_WAIT;
      }
    };
    if (attempt() !== _WOULD_WAIT) return;
    await this.#ring.waitForPut(attempt, {
      timeoutMs,
      signal: options.signal,
      onTimeout: () =>
        new Full(`${this.#name} stayed full for ${timeoutMs} ms (${done} of ${list.length} put)`),
    });
  }

  #fullReason(): string {
    return this.#maxsize > 0 && this.#ring.count >= this.#maxsize
      ? `maxsize ${this.#maxsize} reached`
      : `its ${this.#ring.capacity}-byte buffer has no room; raise 'bufferBytes'`;
  }

  /** One put attempt: true when `value` was put, false when the queue is full. */
  #tryPut(value: unknown, call: string): boolean {
    const ring = this.#ring;
    if (this.#codec !== "structured") {
      this.#checkNumbers([value], call);
      const n = ring.tryPutNumbers([value as number], 0, this.#joinable);
      if (n === _CLOSED) throw this.#closedError(call);
      return n > 0;
    }
    if (ring.closed) throw this.#closedError(call);
    const bytes = _encode(value, this.#name, call);
    if (bytes.length + 4 > ring.capacity) {
      throw new RangeError(
        `${this.#name}.${call} item takes ${bytes.length + 4} bytes, more than the queue's ` +
          `${ring.capacity}-byte buffer; create the queue with a larger 'bufferBytes'`,
      );
    }
    const r = ring.tryPut(bytes, this.#joinable);
    if (r === _CLOSED) throw this.#closedError(call);
    return r;
  }

  #checkNumbers(values: unknown[], call: string): void {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== "number" || (this.#codec === "i32" && (v | 0) !== v)) {
        throw new TypeError(
          `${this.#name}.${call} item${values.length > 1 ? ` ${i}` : ""} is ${
            typeof v === "number" ? v : typeof v
          }, but this queue's codec "${this.#codec}" carries only ${
            this.#codec === "i32" ? "32-bit integers" : "numbers"
          }`,
        );
      }
    }
  }

  #closedError(call: string): ChannelClosedError {
    return new ChannelClosedError(
      `${this.#name}.${call} on a closed ${this.#name}: it takes no more items`,
    );
  }

  /** Puts taken `items` back in front, in order, waiting for room if others filled it. */
  async #putBack(items: readonly unknown[]): Promise<void> {
    if (items.length === 0) return;
    const ring = this.#ring;
    const records = this.#codec === "structured"
      // Each a copy: the encoder writes every item into one scratch buffer.
      ? items.map((item) => _encode(item, this.#name, "get()").slice())
      : undefined;
    const attempt = () =>
      (records ? ring.tryPutFront(records) : ring.tryPutNumbersFront(items as number[]))
        ? true
        : _WOULD_WAIT;
    if (attempt() !== _WOULD_WAIT) return;
    await ring.waitForPut(attempt, {
      timeoutMs: undefined,
      signal: undefined,
      onTimeout: () => new Full(`${this.#name} had no room to take its items back`),
    });
  }

  static {
    putBack = (queue, items) => queue.#putBack(items);
  }

  /** One take attempt: the item, `_WOULD_WAIT`, or a throw when closed and drained. */
  #take = (): T | typeof _WOULD_WAIT => {
    if (this.#codec !== "structured") {
      const out: number[] = [];
      const r = this.#ring.tryTakeNumbers(out, 1);
      if (r === _CLOSED) throw this.#drainedError();
      return r === _WOULD_WAIT ? r : out[0] as T;
    }
    const r = this.#ring.tryTake(this.#scratch);
    if (r === _CLOSED) throw this.#drainedError();
    if (r === _WOULD_WAIT) return r;
    return _decode(this.#scratch.bytes.subarray(0, r)) as T;
  };

  #drainedError(): ChannelClosedError {
    return new ChannelClosedError(`${this.#name} is closed and has no items left`);
  }

  /**
   * Takes the oldest item, waiting while the queue is empty.
   *
   * @param options `timeoutMs` and `signal`.
   * @returns The item.
   * @throws {Empty} When the queue is still empty after `timeoutMs`.
   * @throws {ChannelClosedError} When the queue is closed and has no items left.
   */
  async get(options: WaitOptions = {}): Promise<T> {
    const timeoutMs = _timeoutOf(options.timeoutMs, this.#name, "get()");
    options.signal?.throwIfAborted();
    const item = this.#take();
    if (item !== _WOULD_WAIT) return item;
    return await this.#ring.waitForTake(this.#take, {
      timeoutMs,
      signal: options.signal,
      onTimeout: () => new Empty(`${this.#name} stayed empty for ${timeoutMs} ms`),
    });
  }

  /**
   * Takes the oldest item if there is one now.
   *
   * @returns The item.
   * @throws {Empty} When the queue is empty.
   * @throws {ChannelClosedError} When the queue is closed and has no items left.
   */
  getNowait(): T {
    const item = this.#take();
    if (item === _WOULD_WAIT) throw new Empty(`${this.#name} is empty`);
    return item;
  }

  /**
   * Takes the oldest item, blocking this thread while the queue is empty.
   * Only inside a worker: the main thread must not block.
   *
   * @param options `timeoutMs`.
   * @returns The item.
   * @throws {Empty} When the queue is still empty after `timeoutMs`.
   */
  getSync(options: SyncWaitOptions = {}): T {
    const timeoutMs = _timeoutOf(options.timeoutMs, this.#name, "getSync()");
    return this.#ring.waitForTakeSync(this.#take, {
      timeoutMs,
      what: `${this.#name}.getSync()`,
      onTimeout: () => new Empty(`${this.#name} stayed empty for ${timeoutMs} ms`),
    });
  }

  /**
   * Takes up to `max` items at once, waiting until there is at least one.
   * With a numeric codec they come out under one lock: the fast path.
   *
   * @param max Most items to take. @default {1024}
   * @param options `timeoutMs` and `signal`.
   * @returns One to `max` items, oldest first.
   * @throws {Empty} When the queue is still empty after `timeoutMs`.
   * @throws {ChannelClosedError} When the queue is closed and has no items left.
   */
  async getMany(max = 1024, options: WaitOptions = {}): Promise<T[]> {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`${this.#name}.getMany() max must be a positive integer, got ${max}`);
    }
    const timeoutMs = _timeoutOf(options.timeoutMs, this.#name, "getMany()");
    options.signal?.throwIfAborted();
    const attempt = (): T[] | typeof _WOULD_WAIT => {
      if (this.#codec !== "structured") {
        const out: number[] = [];
        const r = this.#ring.tryTakeNumbers(out, max);
        if (r === _CLOSED) throw this.#drainedError();
        return r === _WOULD_WAIT ? r : out as T[];
      }
      const first = this.#take();
      if (first === _WOULD_WAIT) return _WOULD_WAIT;
      const out = [first];
      while (out.length < max) {
        const r = this.#ring.tryTake(this.#scratch);
        if (typeof r !== "number") break;
        out.push(_decode(this.#scratch.bytes.subarray(0, r)) as T);
      }
      return out;
    };
    const items = attempt();
    if (items !== _WOULD_WAIT) return items;
    return await this.#ring.waitForTake(attempt, {
      timeoutMs,
      signal: options.signal,
      onTimeout: () => new Empty(`${this.#name} stayed empty for ${timeoutMs} ms`),
    });
  }

  /**
   * Closes the queue for every process that holds it: puts fail from now on,
   * and gets take what is left, then fail with {@linkcode ChannelClosedError}
   * (which ends `for await` loops). Waiting calls wake up. Safe to call twice.
   */
  close(): void {
    this.#ring.close();
  }

  /** Yields items until the queue is closed and drained. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let item: T;
      try {
        item = await this.get();
      } catch (error) {
        if (error instanceof ChannelClosedError && this.#ring.closed && this.#ring.count === 0) {
          return;
        }
        throw error;
      }
      yield item;
    }
  }

  #wire(): QueueWire {
    return { buffer: this.#ring.buffer, maxsize: this.#maxsize, codec: this.#codec };
  }

  /**
   * The wire hook: a queue travels as its shared buffer and settings.
   * @ignore
   */
  [_WIRE](path: string, out?: _Outbox): _WireForm {
    if (this.#ring.closed) {
      throw new ChannelClosedError(
        `${path} is a closed ${this.#name}, which cannot be passed to another process; ` +
          "pass it before closing it",
      );
    }
    // A process reached by bytes gets the queue served from here (channels/relay.ts).
    const relayed = _relayed(KIND_QUEUE, this, path, out);
    if (relayed) return relayed;
    const kind = this.#joinable
      ? KIND_JOINABLE
      : this instanceof SimpleQueue
      ? KIND_SIMPLE
      : KIND_QUEUE;
    return { kind, module: import.meta.url, state: this.#wire() };
  }
}

/**
 * A {@linkcode Queue} that counts unfinished items: each `put` adds one,
 * each `taskDone()` removes one, and `join()` waits until none is left —
 * Python's `multiprocessing.JoinableQueue`.
 *
 * @typeParam T The type of the items.
 *
 * @example Waiting until every item was handled
 * ```ts
 * import { JoinableQueue } from "@troupe/troupe";
 *
 * const q = new JoinableQueue<string>();
 * await q.put("a");
 * await q.put("b");
 * const worker = (async () => {
 *   for (let i = 0; i < 2; i++) {
 *     await q.get();
 *     q.taskDone();
 *   }
 * })();
 * await q.join();
 * await worker;
 * q.close();
 * ```
 */
export class JoinableQueue<T> extends Queue<T> {
  /**
   * Marks one item taken with `get()` as handled.
   *
   * @throws {Error} When called more times than items were put.
   */
  taskDone(): void {
    if (!rings.get(this)!.taskDone()) {
      throw new Error(
        "JoinableQueue.taskDone() was called more times than items were put; " +
          "call it once per item taken with get()",
      );
    }
  }

  /**
   * Waits until every item put was marked with `taskDone()`.
   *
   * @param options `timeoutMs` and `signal`.
   * @throws {DOMException} Named `"TimeoutError"` when `timeoutMs` passes first.
   */
  async join(options: WaitOptions = {}): Promise<void> {
    const timeoutMs = _timeoutOf(options.timeoutMs, "JoinableQueue", "join()");
    options.signal?.throwIfAborted();
    if (rings.get(this)!.unfinished <= 0) return;
    await rings.get(this)!.waitForJoin({
      timeoutMs,
      signal: options.signal,
      onTimeout: () =>
        _timeoutError(
          `JoinableQueue still had ${
            rings.get(this)!.unfinished
          } unfinished item(s) after ${timeoutMs} ms`,
        ),
    });
  }
}

/** Options for {@linkcode SimpleQueue}. */
export type SimpleQueueOptions<T> = Omit<QueueOptions<T>, "maxsize">;

/**
 * An unbounded {@linkcode Queue} (only its buffer limits it) — Python's
 * `multiprocessing.SimpleQueue`.
 *
 * @typeParam T The type of the items.
 *
 * @example
 * ```ts
 * import { SimpleQueue } from "@troupe/troupe";
 *
 * const q = new SimpleQueue<number>();
 * await q.put(1);
 * console.assert((await q.get()) === 1);
 * q.close();
 * ```
 */
export class SimpleQueue<T> extends Queue<T> {
  /**
   * Creates a queue in new shared memory.
   *
   * @param options `schema`, `bufferBytes` and `codec`.
   */
  constructor(options: SimpleQueueOptions<T> = {}) {
    super({ ...options, maxsize: 0 });
  }
}

function revive(Class: new () => Queue<unknown>) {
  return (state: unknown) => {
    adopting = state as QueueWire;
    return new Class();
  };
}
_registerReviver(KIND_QUEUE, revive(Queue));
_registerReviver(KIND_JOINABLE, revive(JoinableQueue));
_registerReviver(KIND_SIMPLE, revive(SimpleQueue));
