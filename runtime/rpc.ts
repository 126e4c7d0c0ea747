// What every call between threads shares, whichever kind of process it goes
// to: the caller (`_Caller`: ids, the calls awaiting answers, calls batched
// per microtask, the JSON fast path, the one-by-one retry when structured
// clone refuses a batch, reading answers while calls wait, draining at the
// end), the packed formats of answers (`_packAnswers`, `_settlePacked`), and
// the order of calls that travel two ways (`_OrderedSender`, `_InOrder`).
// An actor's handle and a manager's connection are callers; each keeps only
// what its calls mean.
//
// Calls that travel two ways and still run in order. A connection to an actor
// or a manager sends calls on a polled shared-memory pipe (a few µs) and, when
// they must be transferred, hold Troupe objects, or the pipe refuses them, on
// its port. Each payload is numbered; the receiver runs them by number.
import type {
  ActorError,
  ActorRepliesMessage,
  JsonPacked,
  Ordered,
  PackedValues,
} from "./protocol.ts";
import { _toWireError } from "./errors.ts";

/**
 * The polled pipe a connection sends on: what this file needs of a `Pipe`'s
 * `Connection` (channels/pipe.ts), which the kernel does not import.
 */
export interface _PolledPipe {
  send(item: unknown): Promise<void>;
  recv(): Promise<unknown>;
  poll(timeoutMs: number): Promise<boolean>;
}

/** Most values a batch may hold and still travel as JSON text. */
export const _JSON_MAX = 64;

/**
 * Whether `value` survives JSON text exactly: a finite number other than -0,
 * a short string, a boolean or null. Small batches of such values travel as
 * JSON text, which crosses a worker boundary faster than an array (measured:
 * structured clone of a 4-item array costs ~2 µs, a string next to nothing,
 * and a round trip of JSON text is ~2 µs faster than one of an array).
 */
export function _jsonExact(value: unknown): boolean {
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "string":
      return value.length <= 256;
    case "boolean":
      return true;
    case "object":
      return value === null;
    default:
      return false;
  }
}

/**
 * Settles the calls a packed answer answers: JSON text or a flat array of
 * `id, value` pairs (in JSON text a negative id stands for the value
 * `undefined`). Returns `false` for any other message.
 */
export function _settlePacked<M>(
  message: M,
  settle: (id: number, value: unknown) => void,
): message is Extract<M, string | unknown[]> {
  if (typeof message === "string") {
    const values = JSON.parse(message) as unknown[];
    for (let i = 0; i < values.length; i += 2) {
      const id = values[i] as number;
      if (id < 0) settle(-id, undefined);
      else settle(id, values[i + 1]);
    }
    return true;
  }
  if (!Array.isArray(message)) return false;
  for (let i = 0; i < message.length; i += 2) settle(message[i] as number, message[i + 1]);
  return true;
}

/**
 * Packs answers `id, value, id, value...` for the wire: as JSON text when
 * `json` says every value is exact in JSON (`_jsonExact`) or `undefined`
 * (then sent as a negative id), else as the array itself. The inverse of
 * `_settlePacked`. Rewrites `values` in place for JSON.
 */
export function _packAnswers(values: unknown[], json: boolean): unknown[] | string {
  if (!json) return values;
  for (let i = 0; i < values.length; i += 2) {
    if (values[i + 1] === undefined) {
      values[i] = -(values[i] as number);
      values[i + 1] = 0;
    }
  }
  return JSON.stringify(values);
}

/**
 * Sends the items of a batch that structured clone refused whole, one at a
 * time (`one`), so that only the items that cannot travel fail: `failed`
 * gets each of those with its error. The one failure path of every batch in
 * Troupe (calls, answers, a pool's jobs and results), called from the
 * `catch` of the whole batch's send, so a batch that travels pays nothing
 * for it.
 */
export function _sendApart<T>(
  items: Iterable<T>,
  one: (item: T) => void,
  failed: (item: T, error: Error) => void,
): void {
  for (const item of items) {
    try {
      one(item);
    } catch (error) {
      failed(item, error as Error);
    }
  }
}

/**
 * Answers gathered in one turn of a callee (an actor's worker, a bridge to a
 * travelled reference), sent as one message: as packed values, or their JSON
 * text, while every call succeeded and no value holds Troupe objects; else as
 * an `ActorRepliesMessage`. When structured clone refuses the message, the
 * values go one at a time, so only the one that cannot travel fails (with the
 * clone's error), and its caller hears why.
 */
export class _Replies {
  #values: unknown[] = [];
  #errors: ActorError[] = [];
  #transfer: Transferable[] = [];
  #wired = false;
  /** Whether every value so far is exact in JSON, or `undefined` (see `_jsonExact`). */
  #json = true;

  /** Whether nothing was gathered since the last flush. */
  get empty(): boolean {
    return this.#values.length === 0 && this.#errors.length === 0;
  }

  /**
   * Call `id` answered `value`, prepared for the wire: `transfer` is what it
   * moves, `wired` whether it holds Troupe objects to revive.
   */
  value(id: number, value: unknown, transfer?: Transferable[], wired = false): void {
    if (wired) this.#wired = true;
    if (transfer !== undefined && transfer.length > 0) this.#transfer.push(...transfer);
    if (this.#json && value !== undefined && !_jsonExact(value)) this.#json = false;
    this.#values.push(id, value);
  }

  /** A call failed. */
  error(failure: ActorError): void {
    this.#errors.push(failure);
  }

  /**
   * Sends what was gathered through `post`, which throws when structured
   * clone refuses the message; `byPort` is set when a value holds Troupe
   * objects (which may hold shared memory a pipe would copy).
   */
  flush(
    post: (
      message: ActorRepliesMessage | PackedValues | JsonPacked,
      transfer: Transferable[],
      byPort: boolean,
    ) => void,
  ): void {
    if (this.empty) return;
    const values = this.#values;
    const errors = this.#errors;
    const transfer = this.#transfer;
    const wired = this.#wired;
    const json = this.#json && errors.length === 0 && values.length <= 2 * _JSON_MAX;
    this.#values = [];
    // Most turns have no errors and move nothing: those arrays stay.
    if (errors.length > 0) this.#errors = [];
    if (transfer.length > 0) this.#transfer = [];
    this.#wired = false;
    this.#json = true;
    if (json) return post(_packAnswers(values, true), transfer, wired);
    // An empty `errors` is kept for the next turn, so the message must not hold it.
    const message = errors.length === 0 && !wired
      ? values
      : { t: "replies" as const, values, errors: errors.length > 0 ? errors : undefined, wired };
    try {
      return post(message, transfer, wired);
    } catch {
      // Structured clone refused a value: the answers go one by one.
    }
    const failed = [...errors];
    const pairs: number[] = [];
    for (let i = 0; i < values.length; i += 2) pairs.push(i);
    _sendApart(
      pairs,
      (i) => post({ t: "replies", values: [values[i], values[i + 1]], wired }, transfer, true),
      (i, error) => failed.push({ id: values[i] as number, error: _toWireError(error) }),
    );
    if (failed.length > 0) post({ t: "replies", values: [], errors: failed }, [], true);
  }
}

/** A call waiting for its answer. */
export interface _PendingCall {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** What a `_Caller` needs of the handle or connection it serves. */
export interface _CallerSide {
  /**
   * The polled pipe calls go out on and answers come in on; `undefined`
   * when there is only the port (an actor reference that travelled).
   */
  pipe: _PolledPipe | undefined;
  /** Posts on the port; throws, with nothing sent, when structured clone refuses. */
  post(message: unknown, transfer: Transferable[]): void;
  /** Whether answers are still read (the other side has not ended). */
  open(): boolean;
  /** Takes one answer message that came on the pipe. */
  answer(message: unknown): void;
  /**
   * The error the tells of a batch flushed after the other side ended fail
   * with (their calls were failed already); `undefined` while it runs.
   */
  refused(calls: unknown[]): Error | undefined;
  /** The calls of a batch one by one, `[id, the call alone as a batch]`, for the retry. */
  split(calls: unknown[]): Iterable<[id: number, single: unknown[]]>;
  /** The error of call `id` (0: a tell) that structured clone refused. */
  unsendable(id: number, single: unknown[], error: Error): Error;
  /** Runs when a read of the pipe ends (the pending calls were answered, or it closed). */
  afterRead?(): void;
}

/**
 * The calling side of a connection to an actor or a manager: ids, pending
 * calls, and calls made in one microtask sent as one message (one structured
 * clone, one wake-up of the other thread), on the pipe or, when they must,
 * on the port, in order either way.
 *
 * A batch is a flat array the owner appends its packed calls to (`batch()`);
 * it travels as JSON text while every call in it is exact in JSON (the owner
 * says when one is not: `notJson()`), as a wired message while one holds
 * Troupe objects (`carry()`), else as the array. A batch structured clone
 * refuses is sent again one call at a time, so only the call that cannot
 * travel fails.
 */
export class _Caller<P extends _PendingCall = _PendingCall> {
  /** The calls awaiting answers, by id. */
  readonly pending: Map<number, P> = new Map();
  readonly #side: _CallerSide;
  readonly #sender: _OrderedSender<unknown> | undefined;
  #nextId = 1;
  #calls: unknown[] = [];
  #transfer: Transferable[] = [];
  #wired = false;
  #json = true;
  #sent: PromiseWithResolvers<void> | undefined;
  #reading = false;
  readonly #flushLater = () => this.flush();

  constructor(side: _CallerSide) {
    this.#side = side;
    this.#sender = side.pipe === undefined
      ? undefined
      : new _OrderedSender<unknown>(side.pipe, (m, transfer) => side.post(m, transfer), []);
  }

  /** A new call id (ids start at 1; 0 means no answer is wanted). */
  nextId(): number {
    return this.#nextId++;
  }

  /** The batch to append a packed call to; it is sent at the end of this microtask. */
  batch(): unknown[] {
    if (this.#calls.length === 0) queueMicrotask(this.#flushLater);
    return this.#calls;
  }

  /** Whether the batch may still travel as JSON text: no call in it said otherwise. */
  get json(): boolean {
    return this.#json;
  }

  /** Some call in the batch is not exact in JSON. */
  notJson(): void {
    this.#json = false;
  }

  /**
   * Adds what a call in the batch moves (`transfer`) and whether it holds
   * Troupe objects (`wired`: the batch goes by port, as a wired message).
   */
  carry(transfer: Transferable[], wired: boolean): void {
    if (wired) {
      this.#wired = true;
      this.#json = false;
    }
    for (const t of transfer) this.#transfer.push(t);
  }

  /** Resolves once the batch the last call joined is posted (what a tell waits for). */
  sent(): Promise<void> {
    return (this.#sent ??= Promise.withResolvers<void>()).promise;
  }

  /** Sends the batch now (before a message that must come after it). */
  flush(): void {
    const calls = this.#calls;
    if (calls.length === 0) return;
    const transfer = this.#transfer;
    const wired = this.#wired;
    const json = this.#json;
    const sent = this.#sent;
    this.#calls = [];
    if (transfer.length > 0) this.#transfer = [];
    this.#wired = false;
    this.#json = true;
    this.#sent = undefined;
    const refused = this.#side.refused(calls);
    if (refused !== undefined) {
      sent?.promise.catch(() => {});
      return sent?.reject(refused);
    }
    try {
      const message = json ? JSON.stringify(calls) : wired ? { t: "calls", calls, wired } : calls;
      this.send(message, transfer, wired);
      return sent?.resolve();
    } catch {
      // Structured clone refused one of them: the calls go one by one.
    }
    let tellError: unknown;
    _sendApart(
      this.#side.split(calls),
      ([, single]) => this.send({ t: "calls", calls: single, wired: true }, transfer, true),
      ([id, single], error) => {
        const failure = this.#side.unsendable(id, single, error);
        if (id === 0) tellError ??= failure;
        else this.settle(id, undefined, failure);
      },
    );
    if (tellError === undefined) sent?.resolve();
    else sent?.reject(tellError);
  }

  /**
   * Sends `payload` after everything sent before it: on the pipe, or on the
   * port when it must be transferred or holds Troupe objects (`byPort`),
   * which a pipe would copy. Throws, with nothing sent, when the port
   * refuses it. Starts reading answers while calls wait for them.
   */
  send(payload: unknown, transfer: Transferable[] = [], byPort = false): void {
    if (this.#sender === undefined) return this.#side.post(payload, transfer);
    this.#sender.send(payload, transfer, byPort);
    if (!this.#reading && this.pending.size > 0) void this.#read();
  }

  /** Removes and returns call `id`, if it still waits (its caller may have stopped waiting). */
  take(id: number): P | undefined {
    const pending = this.pending.get(id);
    if (pending !== undefined) this.pending.delete(id);
    return pending;
  }

  /** Settles call `id` with `value`, or with `error` when there is one. */
  settle(id: number, value: unknown, error: unknown): void {
    const pending = this.take(id);
    if (pending === undefined) return;
    if (error === undefined) pending.resolve(value);
    else pending.reject(error);
  }

  /** Fails every call in flight with what `error(call)` gives (`undefined`: leave it unsettled). */
  failAll(error: (call: P) => unknown): void {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      const reason = error(pending);
      if (reason !== undefined) pending.reject(reason);
    }
  }

  /** Whether a read of the pipe runs now. */
  get reading(): boolean {
    return this.#reading;
  }

  /** Reads answers from the pipe while calls wait for them. */
  async #read(): Promise<void> {
    this.#reading = true;
    try {
      while (this.pending.size > 0 && this.#side.open()) {
        this.#side.answer(await this.#side.pipe!.recv());
      }
    } catch {
      // Closed: the other side ended, and its end failed the callers.
    } finally {
      this.#reading = false;
      this.#side.afterRead?.();
    }
  }

  /**
   * Hands `answer` what is already waiting in the pipe, until it is empty or
   * the side closes: the answers sent before a notice that came faster by
   * port (an exit, a shutdown).
   */
  drain(): Promise<void> {
    const side = this.#side;
    return side.pipe === undefined
      ? Promise.resolve()
      : _drain(side.pipe, (item) => side.answer(item), () => side.open());
  }
}

/** The sending side: numbers payloads and sends each on the pipe or the port. */
export class _OrderedSender<P> {
  #seq = 0;
  #pipe: _PolledPipe;
  #port: (message: Ordered<P>, transfer: Transferable[]) => void;
  #empty: P;

  /**
   * @param pipe Where payloads go when they can.
   * @param port Posts a payload on the port; may throw (structured clone refused it).
   * @param empty A payload that does nothing, to fill a number whose payload was lost.
   */
  constructor(
    pipe: _PolledPipe,
    port: (message: Ordered<P>, transfer: Transferable[]) => void,
    empty: P,
  ) {
    this.#pipe = pipe;
    this.#port = port;
    this.#empty = empty;
  }

  /**
   * Sends `payload` after every payload sent before it. `byPort` (Troupe
   * objects, which may hold shared memory a pipe would copy) or a transfer
   * list sends it on the port, and an error posting it is thrown with no
   * number used, so the caller may send again.
   */
  send(payload: P, transfer: Transferable[] = [], byPort = false): void {
    if (byPort || transfer.length > 0) {
      this.#port({ t: "ordered", seq: this.#seq, payload }, transfer);
      this.#seq++;
      return;
    }
    const seq = this.#seq++;
    this.#pipe.send([seq, payload]).catch(() => {
      try {
        this.#port({ t: "ordered", seq, payload }, []);
      } catch (error) {
        // The receiver must not wait for this number forever.
        this.#port({ t: "ordered", seq, payload: this.#empty }, []);
        throw error;
      }
    });
  }
}

/** The receiving side: runs numbered payloads in order, whichever way each came. */
export class _InOrder<P> {
  #next = 0;
  #early = new Map<number, P>();
  #run: (payload: P) => void;

  /** @param run Runs one payload. */
  constructor(run: (payload: P) => void) {
    this.#run = run;
  }

  /** Takes payload number `seq`; runs it, and those it was holding up, once its turn comes. */
  take(seq: number, payload: P): void {
    if (seq !== this.#next) {
      this.#early.set(seq, payload);
      return;
    }
    this.#run(payload);
    for (let next = this.#early.get(++this.#next); next !== undefined;) {
      this.#early.delete(this.#next);
      this.#run(next);
      next = this.#early.get(++this.#next);
    }
  }

  /** Reads `[seq, payload]` items from a pipe until it closes. */
  async read(pipe: _PolledPipe): Promise<void> {
    try {
      for (;;) {
        const [seq, payload] = await pipe.recv() as [number, P];
        this.take(seq, payload);
      }
    } catch {
      // Closed: the connection or the actor is ending.
    }
  }
}

/**
 * Hands `take` what is already waiting in a pipe, until it is empty or
 * `more()` says stop: the answers an actor or a manager sent before a notice
 * that came faster by port (its exit, its shutdown).
 */
export async function _drain(
  pipe: _PolledPipe,
  take: (item: unknown) => void,
  more: () => boolean,
): Promise<void> {
  try {
    while (more() && await pipe.poll(0)) take(await pipe.recv());
  } catch {
    // Closed: nothing more to read.
  }
}
