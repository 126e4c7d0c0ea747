// What every call between threads shares, whichever kind of process it goes
// to: the packed formats of calls and answers, the JSON fast path, and the
// order of calls that travel two ways.
//
// Calls that travel two ways and still run in order. A connection to an actor
// or a manager sends calls on a polled shared-memory pipe (a few µs) and, when
// they must be transferred, hold Troupe objects, or the pipe refuses them, on
// its port. Each payload is numbered; the receiver runs them by number.
import type { Ordered } from "./protocol.ts";

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
