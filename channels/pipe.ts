/**
 * `Pipe` and `Connection`: a two-ended typed channel between two processes,
 * Python's `multiprocessing.Pipe`. Each direction is a SharedArrayBuffer ring
 * that both ends use directly, and an end passed in `args` works in the
 * process that receives it. When every process that held an end has ended,
 * the other end reads `EOFError` after what was sent, as when a process's
 * pipe handles close with it.
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
import { _context } from "../runtime/context.ts";
import { _checkTimeout, _inspectable } from "../runtime/util.ts";
import type { ConnectionWire } from "../runtime/protocol.ts";
import { _decode, _encode } from "../runtime/codec.ts";
import {
  _CLOSED,
  _DEFAULT_BUFFER_BYTES,
  _Ring,
  type _Spin,
  _timeoutOf,
  _WOULD_WAIT,
} from "../runtime/ring.ts";
import { ChannelClosedError, EOFError } from "./errors.ts";
import type { SyncWaitOptions, WaitOptions } from "./queue.ts";
import { _validate, _validateSync, type StandardSchemaV1 } from "./schema.ts";

/** Options for {@linkcode Pipe}. */
export interface PipeOptions<A, B> {
  /**
   * `true`: both ends send and receive. `false`: the first end only receives
   * and the second only sends, as in Python.
   * @default {true}
   */
  duplex?: boolean;
  /**
   * A Standard Schema validator for the `A` items (sent by the second end of a
   * one-way pipe, or the first end of a duplex one), checked before sending.
   * It checks in the process holding the end it was given to; an end that
   * travels arrives without it (see {@linkcode Connection.withSchema}).
   * @default {undefined}
   */
  schema?: StandardSchemaV1<unknown, A>;
  /**
   * The validator for the `B` items the second end of a duplex pipe sends.
   * @default {undefined}
   */
  replySchema?: StandardSchemaV1<unknown, B>;
  /**
   * Longest time, in microseconds, `recv()` polls for an item before it
   * sleeps. Waking a sleeping thread took ~40 µs a side on a quiet machine,
   * so polling took a round trip from ~88 µs to ~7 µs there. On a busy
   * machine polls miss (they take the core the other end needs): after 3
   * misses in a row an end stops polling for its next 64 waits, then tries
   * again. A poll holds its thread's event loop for at most that long.
   * `0` never polls.
   * @default {50}
   */
  spinMicros?: number;
  /**
   * Bytes of shared memory per direction. A send waits while they are used
   * up; an item larger than that is refused with a RangeError.
   * @default {1048576}
   */
  bufferBytes?: number;
}

const KIND = "troupe.Connection";

// Set while a connection is built by Pipe() or rebuilt from its wire state
// (`received`: it came from another process, which makes this one a holder).
// `holder`: the pid it holds the end for (a relay serving a child that shares no memory).
let building:
  | {
    wire: ConnectionWire;
    schema: StandardSchemaV1 | undefined;
    received?: boolean;
    holder?: number;
  }
  | undefined;

// Set in Connection's static block (see `_servedEnd`).
let servedEnd: (end: Connection<unknown, unknown>, pid: number) => Connection<unknown, unknown>;

/**
 * One end of a {@linkcode Pipe}: sends `S` items to the other end and
 * receives `R` items from it.
 *
 * @typeParam S What this end sends (`never` for a one-way pipe's receiving end).
 * @typeParam R What this end receives (`never` for a one-way pipe's sending end).
 *
 * @example
 * ```ts
 * import { type Connection, Pipe } from "@troupe/troupe";
 *
 * const [left, right]: [Connection<string, number>, Connection<number, string>] = Pipe<
 *   string,
 *   number
 * >();
 * await left.send("ping");
 * console.assert((await right.recv()) === "ping");
 * await right.send(42);
 * console.assert((await left.recv()) === 42);
 * left.close();
 * right.close();
 * ```
 */
export class Connection<S, R> {
  readonly #send: _Ring | undefined;
  readonly #recv: _Ring | undefined;
  readonly #schema: StandardSchemaV1<unknown, S> | undefined;
  readonly #scratch = { bytes: new Uint8Array(256) };
  readonly #spin: _Spin;
  #closed = false;
  #holding = false;
  // Whether a wait should look again every so often for ended holders.
  readonly #watchWriters = (): boolean => this.#recv!.tracked("writer");
  readonly #watchReaders = (): boolean => this.#send!.tracked("reader");

  static {
    // console.log(end): Connection { readable: true, writable: true, unread: 2, closed: false }
    _inspectable(this, (end) => ({
      readable: end.#recv !== undefined,
      writable: end.#send !== undefined,
      ...(end.#recv ? { unread: end.#recv.count } : {}),
      closed: end.closed,
    }));
  }

  /** Connections come from {@linkcode Pipe}; this constructor is not for direct use. */
  constructor() {
    if (!building) {
      throw new TypeError("a Connection comes from Pipe(); it cannot be created with new");
    }
    const { wire, schema, received, holder } = building;
    building = undefined;
    this.#send = wire.send ? new _Ring(wire.send, wire.codec, 0) : undefined;
    this.#recv = wire.recv ? new _Ring(wire.recv, wire.codec, 0) : undefined;
    this.#schema = schema as StandardSchemaV1<unknown, S> | undefined;
    this.#spin = { micros: wire.spinMicros, misses: 0, skip: 0 };
    if (received) this.#hold();
    if (holder !== undefined) this.#hold(holder);
  }

  // Records this process as a holder of this end: the process that received
  // it, or that uses it. Once every holder of an end has ended, the other end
  // learns it (EOFError, ChannelClosedError) instead of waiting forever. The
  // process that created the pipe holds an end only once it uses it, so an
  // end it passed to a child that died reads as gone.
  #hold(pid: number = _context().self.pid): void {
    if (this.#holding) return;
    this.#holding = true;
    this.#send?.hold("writer", pid);
    this.#recv?.hold("reader", pid);
  }

  /**
   * A new object for the same end that checks sent items with `schema`, for
   * an end that arrived without one (a validator does not travel).
   *
   * @param schema A Standard Schema validator.
   * @returns A new connection over the same end.
   */
  withSchema<U extends S>(schema: StandardSchemaV1<unknown, U>): Connection<U, R> {
    this.#checkOpen("withSchema()");
    building = { wire: this.#wire(), schema, received: this.#holding };
    return new Connection<U, R>();
  }

  /**
   * Whether this end was closed with `close()`, here or in another process
   * that holds it: `close()` closes an end for every holder.
   */
  get closed(): boolean {
    return this.#closed || (this.#send?.closed ?? false) || (this.#recv?.readerClosed ?? false);
  }

  /** Whether this end can send (false for a one-way pipe's receiving end). */
  get writable(): boolean {
    return this.#send !== undefined;
  }

  /** Whether this end can receive (false for a one-way pipe's sending end). */
  get readable(): boolean {
    return this.#recv !== undefined;
  }

  #checkOpen(call: string): void {
    if (this.closed) throw this.#selfClosed(call);
  }

  #selfClosed(call: string): ChannelClosedError {
    return new ChannelClosedError(
      `Connection.${call} on a connection that was closed` +
        (this.#closed ? "" : " in another process (close() closes an end for every holder)"),
    );
  }

  #sender(call: string): _Ring {
    this.#checkOpen(call);
    if (!this.#send) {
      throw new TypeError(
        `Connection.${call} on the receiving end of a one-way pipe: with Pipe({ duplex: false }) ` +
          "the first end only receives and the second only sends",
      );
    }
    return this.#send;
  }

  #receiver(call: string): _Ring {
    this.#checkOpen(call);
    if (!this.#recv) {
      throw new TypeError(
        `Connection.${call} on the sending end of a one-way pipe: with Pipe({ duplex: false }) ` +
          "the first end only receives and the second only sends",
      );
    }
    return this.#recv;
  }

  /** One send attempt: true when `value` was sent, false when the buffer is full. */
  #trySend(ring: _Ring, value: unknown, call: string): boolean {
    if (ring.closed) throw this.#selfClosed(call);
    if (ring.readerClosed) throw this.#peerGone(call);
    const ended = ring.holdersEnded("reader");
    if (ended) throw this.#peerEnded(call, ended);
    const bytes = _encode(value, "Connection", call);
    if (bytes.length + 4 > ring.capacity) {
      throw new RangeError(
        `Connection.${call} item takes ${bytes.length + 4} bytes, more than the pipe's ` +
          `${ring.capacity}-byte buffer; create the pipe with a larger 'bufferBytes'`,
      );
    }
    const r = ring.tryPut(bytes, false);
    if (r === _CLOSED) throw ring.closed ? this.#selfClosed(call) : this.#peerGone(call);
    return r;
  }

  #peerGone(call: string): ChannelClosedError {
    return new ChannelClosedError(`Connection.${call}: the other end of the pipe was closed`);
  }

  #peerEnded(call: string, pids: number[]): ChannelClosedError {
    return new ChannelClosedError(
      `Connection.${call}: every process that held the other end of the pipe has ended ` +
        `(${pids.length === 1 ? "pid" : "pids"} ${pids.join(", ")}), so nothing would read this`,
    );
  }

  /**
   * Sends `item` to the other end, waiting while the pipe's buffer is full.
   *
   * @param item The item; checked by the schema, if any, then copied.
   * @param options `timeoutMs` and `signal`.
   * @throws {TypeError} When the schema refuses the item (nothing is sent), or on the receiving end of a one-way pipe.
   * @throws {ChannelClosedError} When either end was closed, or every process
   * that held the other end has ended.
   * @throws {DOMException} Named `"TimeoutError"` when the buffer stays full past `timeoutMs`.
   */
  async send(item: S, options: WaitOptions = {}): Promise<void> {
    const ring = this.#sender("send()");
    this.#hold();
    const timeoutMs = _timeoutOf(options.timeoutMs, "Connection", "send()");
    options.signal?.throwIfAborted();
    const value = this.#schema
      ? await _validate(this.#schema, item, "Connection.send() item")
      : item;
    if (this.#trySend(ring, value, "send()")) return;
    await ring.waitForPut(() => this.#trySend(ring, value, "send()") ? undefined : _WOULD_WAIT, {
      timeoutMs,
      signal: options.signal,
      recheck: this.#watchReaders,
      onTimeout: () => _timeoutError(`Connection.send() found the pipe full for ${timeoutMs} ms`),
    });
  }

  /**
   * Sends `item`, blocking this thread while the buffer is full. Only inside
   * a worker: the main thread must not block.
   *
   * @param item The item.
   * @param options `timeoutMs`.
   */
  sendSync(item: S, options: SyncWaitOptions = {}): void {
    const ring = this.#sender("sendSync()");
    this.#hold();
    const timeoutMs = _timeoutOf(options.timeoutMs, "Connection", "sendSync()");
    const value = this.#schema
      ? _validateSync(this.#schema, item, "Connection.sendSync() item", "sendSync()")
      : item;
    ring.waitForPutSync(() => this.#trySend(ring, value, "sendSync()") ? undefined : _WOULD_WAIT, {
      timeoutMs,
      what: "Connection.sendSync()",
      recheck: this.#watchReaders,
      onTimeout: () =>
        _timeoutError(`Connection.sendSync() found the pipe full for ${timeoutMs} ms`),
    });
  }

  #take = (): R | typeof _WOULD_WAIT => {
    const ring = this.#recv!;
    let r = ring.tryTake(this.#scratch);
    if (r === _WOULD_WAIT) {
      const ended = ring.holdersEnded("writer");
      if (!ended) return r;
      // Look again: a holder may have sent its last item and ended after the first look.
      r = ring.tryTake(this.#scratch);
      if (r === _WOULD_WAIT) {
        throw new EOFError(
          "Connection.recv(): every process that held the other end has ended " +
            `(${ended.length === 1 ? "pid" : "pids"} ${ended.join(", ")}) and nothing is left`,
        );
      }
    }
    if (r === _CLOSED) {
      if (ring.readerClosed) throw this.#selfClosed("recv()");
      throw new EOFError("Connection.recv(): the other end was closed and nothing is left");
    }
    return _decode(this.#scratch.bytes.subarray(0, r)) as R;
  };

  /**
   * Receives the next item the other end sent, waiting until there is one.
   *
   * @param options `timeoutMs` and `signal`.
   * @returns The item.
   * @throws {EOFError} When the other end was closed, or every process that
   * held it has ended, and nothing is left.
   * @throws {DOMException} Named `"TimeoutError"` when nothing comes within `timeoutMs`.
   */
  async recv(options: WaitOptions = {}): Promise<R> {
    const ring = this.#receiver("recv()");
    this.#hold();
    const timeoutMs = _timeoutOf(options.timeoutMs, "Connection", "recv()");
    options.signal?.throwIfAborted();
    const item = this.#take();
    if (item !== _WOULD_WAIT) return item;
    return await ring.waitForTake(this.#take, {
      timeoutMs,
      signal: options.signal,
      spin: this.#spin,
      recheck: this.#watchWriters,
      onTimeout: () => _timeoutError(`Connection.recv() got nothing within ${timeoutMs} ms`),
    });
  }

  /**
   * Receives the next item, blocking this thread until there is one. Only
   * inside a worker: the main thread must not block.
   *
   * @param options `timeoutMs`.
   * @returns The item.
   * @throws {EOFError} When the other end was closed, or every process that
   * held it has ended, and nothing is left.
   */
  recvSync(options: SyncWaitOptions = {}): R {
    const ring = this.#receiver("recvSync()");
    this.#hold();
    const timeoutMs = _timeoutOf(options.timeoutMs, "Connection", "recvSync()");
    return ring.waitForTakeSync(this.#take, {
      timeoutMs,
      what: "Connection.recvSync()",
      spin: this.#spin,
      recheck: this.#watchWriters,
      onTimeout: () => _timeoutError(`Connection.recvSync() got nothing within ${timeoutMs} ms`),
    });
  }

  /**
   * Whether `recv()` would return at once: an item is waiting, or the other
   * end was closed or all its holders ended (so `recv()` throws `EOFError`). Waits up to `timeoutMs`
   * for that to become true.
   *
   * @param timeoutMs Longest time to wait. @default {0}
   * @returns Whether there is something to receive.
   */
  async poll(timeoutMs = 0): Promise<boolean> {
    const ring = this.#receiver("poll()");
    const limit = _checkTimeout(timeoutMs, "Connection.poll() timeoutMs");
    this.#hold();
    const ready = () =>
      ring.count > 0 || ring.closed || ring.readerClosed || ring.holdersEnded("writer")
        ? true
        : _WOULD_WAIT;
    if (ready() === true || limit === 0) return ready() === true;
    try {
      return await ring.waitForTake(ready, {
        timeoutMs: limit,
        signal: undefined,
        recheck: this.#watchWriters,
        onTimeout: () => _timeoutError("poll"),
      });
    } catch (error) {
      if (error instanceof DOMException && error.name === "TimeoutError") return false;
      throw error;
    }
  }

  /**
   * Closes this end: the other end receives what was already sent, then
   * `EOFError`; its sends fail from now on. Safe to call twice.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#send?.close();
    this.#recv?.closeReader();
  }

  #wire(): ConnectionWire {
    return {
      send: this.#send?.buffer ?? null,
      recv: this.#recv?.buffer ?? null,
      codec: "structured",
      spinMicros: this.#spin.micros,
    };
  }

  /**
   * The wire hook: an end travels as its two shared buffers.
   * @ignore
   */
  [_WIRE](path: string, out?: _Outbox): _WireForm {
    if (this.closed) {
      throw new ChannelClosedError(
        `${path} is a closed Connection, which cannot be passed to another process`,
      );
    }
    // A process reached by bytes gets the end served from here (channels/relay.ts).
    return _relayed(KIND, this, path, out) ??
      { kind: KIND, module: import.meta.url, state: this.#wire() };
  }

  static {
    servedEnd = (end, pid) => {
      building = { wire: end.#wire(), schema: undefined, holder: pid };
      return new Connection();
    };
  }
}

/**
 * The same end as `end`, for a relay to use on behalf of process `pid` (a
 * child that shares no memory with it): `pid` is recorded as its holder, so
 * that the other end learns when that process has ended.
 */
export function _servedEnd(
  end: Connection<unknown, unknown>,
  pid: number,
): Connection<unknown, unknown> {
  return servedEnd(end, pid);
}

/** Lets the next `Connection` built be a relayed end's token object, with no rings of its own. */
export function _buildRelayedEnd(): void {
  building = {
    wire: { send: null, recv: null, codec: "structured", spinMicros: 0 },
    schema: undefined,
  };
}

/**
 * Creates a pipe and returns its two ends, Python's `multiprocessing.Pipe()`.
 * With `duplex: true` (the default) the first end sends `A` and receives `B`,
 * the second sends `B` and receives `A`. With `duplex: false` the first end
 * only receives and the second only sends `A`.
 *
 * @typeParam A What the first end receives from a one-way pipe, or sends on a duplex one.
 * @typeParam B What the second end of a duplex pipe sends.
 * @param options `duplex`, `schema`, `replySchema`, `bufferBytes` and `spinMicros`.
 * @returns The two ends.
 *
 * @example A one-way pipe
 * ```ts
 * import { Pipe } from "@troupe/troupe";
 *
 * const [reader, writer] = Pipe<number>({ duplex: false });
 * await writer.send(1);
 * writer.close();
 * console.assert((await reader.recv()) === 1);
 * reader.close();
 * ```
 */
export function Pipe<A>(
  options: PipeOptions<A, never> & { duplex: false },
): [Connection<never, A>, Connection<A, never>];
/**
 * Creates a duplex pipe: the first end sends `A` and receives `B`, the second
 * sends `B` and receives `A`.
 *
 * @typeParam A What the first end sends.
 * @typeParam B What the second end sends.
 * @param options `schema`, `replySchema`, `bufferBytes` and `spinMicros`.
 * @returns The two ends.
 *
 * @example
 * ```ts
 * import { Pipe } from "@troupe/troupe";
 *
 * const [a, b] = Pipe<string, number>();
 * await a.send("how long?");
 * await b.send((await b.recv()).length);
 * console.assert((await a.recv()) === 9);
 * a.close();
 * b.close();
 * ```
 */
export function Pipe<A, B = A>(
  options?: PipeOptions<A, B> & { duplex?: true },
): [Connection<A, B>, Connection<B, A>];
export function Pipe<A, B = A>(
  options: PipeOptions<A, B> = {},
): [Connection<unknown, unknown>, Connection<unknown, unknown>] {
  const {
    duplex = true,
    bufferBytes = _DEFAULT_BUFFER_BYTES,
    spinMicros = 50,
    schema,
    replySchema,
  } = options;
  if (typeof spinMicros !== "number" || !(spinMicros >= 0 && spinMicros <= 1_000_000)) {
    throw new RangeError(`'spinMicros' must be a number from 0 to 1000000, got ${spinMicros}`);
  }
  if (!Number.isInteger(bufferBytes) || bufferBytes < 64 || bufferBytes > 2 ** 30) {
    throw new RangeError(`'bufferBytes' must be an integer from 64 to 2^30, got ${bufferBytes}`);
  }
  for (const [name, s] of [["schema", schema], ["replySchema", replySchema]] as const) {
    if (s !== undefined && typeof s?.["~standard"]?.validate !== "function") {
      throw new TypeError(
        `'${name}' must be a Standard Schema validator (an object with ['~standard'].validate), ` +
          "such as a zod, valibot or arktype schema",
      );
    }
  }
  if (!duplex && replySchema !== undefined) {
    throw new TypeError("'replySchema' is for duplex pipes; a one-way pipe's items use 'schema'");
  }
  const forward = _Ring.allocate(bufferBytes);
  const codec = "structured" as const;
  if (!duplex) {
    building = { wire: { send: null, recv: forward, codec, spinMicros }, schema: undefined };
    const reader = new Connection();
    building = {
      wire: { send: forward, recv: null, codec, spinMicros },
      schema: schema as StandardSchemaV1,
    };
    return [reader, new Connection()];
  }
  const backward = _Ring.allocate(bufferBytes);
  building = {
    wire: { send: forward, recv: backward, codec, spinMicros },
    schema: schema as StandardSchemaV1,
  };
  const first = new Connection();
  building = {
    wire: { send: backward, recv: forward, codec, spinMicros },
    schema: replySchema as StandardSchemaV1,
  };
  return [first, new Connection()];
}

_registerReviver(KIND, (state) => {
  building = { wire: state as ConnectionWire, schema: undefined, received: true };
  return new Connection();
});
