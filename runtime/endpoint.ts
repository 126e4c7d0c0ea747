// The seam between the kernel and a kind of process. The kernel talks to a
// child only through an `_Endpoint`; everything above it (processes, actors,
// pools, managers) asks the endpoint one question, `sharesMemory`, before it
// puts shared memory in a message, and keeps its fast paths for the children
// that do.
//
// A child that shares no memory with its parent (an OS process, a host on
// another machine) is reached by bytes alone: `_ByteLink` carries the
// kernel's messages encoded by the codec (runtime/codec.ts) over anything that
// moves bytes in order, and relays each MessagePort found in a message as a
// numbered sub-channel of the same link, so that the protocols built on ports
// (travelling actor references, manager connections) cross it unchanged.
import { _decodeMessage, _encodeMessage } from "./codec.ts";
import type { ToChild, WireError } from "./protocol.ts";

/** A started child as the parent sees it: post to it, or end it. */
export interface _Endpoint {
  /**
   * Whether the child shares this thread's memory: SharedArrayBuffers,
   * Atomics waits and every Troupe object built on them reach it. False for a
   * child reached by bytes alone; then no message to it may hold shared memory.
   */
  readonly sharesMemory: boolean;
  /** Sends `message`; throws, with nothing sent, when it cannot go. */
  post(message: ToChild, transfer?: Transferable[]): void;
  /**
   * Ends the child at once. Safe to call more than once. An OS process gets
   * `signal` (SIGKILL unless told), a thread ends whatever it is.
   */
  terminate(signal?: "SIGTERM" | "SIGKILL"): void;
  /**
   * Ends a child that has nothing left to do. An OS process is told by its
   * stdin's end and exits by itself, running what a normal exit runs (the
   * last export of its telemetry, say), and is killed only if it lingers; a
   * thread is terminated. Safe to call more than once, and after `terminate()`.
   */
  retire(): void;
  /** An OS process's own pid; undefined for a thread. */
  readonly osPid?: number;
  /** An OS process: resolves once it has exited, and so is gone from the system. */
  readonly gone?: Promise<void>;
}

/** What a byte link moves: whole frames, in order (a `MessagePort` given only bytes, a socket). */
export interface _ByteStream {
  /**
   * Sends one frame, after `headroom` bytes of its own; the link does not
   * touch `bytes` afterwards.
   */
  send(bytes: Uint8Array): void;
  /**
   * Bytes the stream wants free before each frame it is sent (its header, so
   * it need not copy the frame to put one in front); 0 unless given.
   */
  readonly headroom?: number;
  /** Calls `receive` with each frame as it arrives. */
  listen(receive: (bytes: Uint8Array) => void): void;
  /** Writes what `send` queued, now, when the stream batches its writes. */
  flush?(): void;
  close(): void;
}

/** A `MessagePort` that carries only bytes, each frame's buffer transferred: a socket's stand-in. */
export function _portStream(port: MessagePort): _ByteStream {
  return {
    send(bytes) {
      port.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
    },
    listen(receive) {
      port.onmessage = (e: MessageEvent) => {
        if (e.data instanceof Uint8Array) receive(e.data);
      };
    },
    close() {
      port.close();
    },
  };
}

/** What a byte link tells its owner. */
export interface _ByteLinkEvents {
  /** A kernel message came (sub-channel 0). */
  message(message: unknown): void;
  /** Something the link could not carry or read; the message it was in is lost. */
  error(error: WireError): void;
  /**
   * What came from the other side was not a frame it could have sent: it is
   * broken or hostile. Reported as an `error` when there is no handler.
   */
  corrupt?(error: WireError): void;
}

// Every port some link of this thread relays: each may cross only once.
const relayed = new WeakSet<MessagePort>();

// A port's direct path through a byte link, for the protocols whose every
// message counts (a relayed queue's requests and answers): what is sent on it
// is written to the stream before the send returns, and what arrives for it
// is handed to its listener in the same task, with no MessagePort hop either
// way. `port` is the end the protocol holds; the link relays its peer.
interface Direct {
  /** Set once a link relays the port's peer. */
  send?: (message: unknown) => void;
  /** Set by the port's user. */
  receive?: (message: unknown) => void;
}
const directs = new WeakMap<MessagePort, Direct>();
// The end a protocol holds, by the peer it hands to a link.
const holders = new WeakMap<MessagePort, MessagePort>();

function directOf(port: MessagePort): Direct {
  let d = directs.get(port);
  if (d === undefined) directs.set(port, d = {});
  return d;
}

/**
 * Sends `message` on `port` now, when the port's peer crossed a byte link:
 * it is encoded and written to the stream before this returns (so it is in
 * the pipe, even if this process is killed next), in order with every
 * message sent so before. Returns false, with nothing sent, for any other
 * port: post on it instead. Throws, with nothing sent, what the link cannot
 * carry (a port).
 */
export function _sendNow(port: MessagePort, message: unknown): boolean {
  const send = directs.get(port)?.send;
  if (send === undefined) return false;
  send(message);
  return true;
}

/**
 * Has each message that comes for `port` across a byte link given to
 * `receive` as soon as the link reads it, instead of through the port's
 * `onmessage` a task later (which still gets what does not come so). Set it
 * before the first message can come.
 */
export function _receiveNow(port: MessagePort, receive: (message: unknown) => void): void {
  directOf(port).receive = receive;
}

/**
 * Says that `peer`, which will be sent to another process, is the far end of
 * `port`, which stays here: when `peer` crosses a byte link, `port` gets the
 * direct path of {@linkcode _sendNow} and {@linkcode _receiveNow}.
 */
export function _pairPorts(port: MessagePort, peer: MessagePort): void {
  holders.set(peer, port);
}

// The kernel's own messages travel on sub-channel 0; relayed ports on the
// numbers each side gives them, odd from the parent and even from the child.
const KERNEL = 0;

/**
 * The kernel's messages and the ports inside them, over one `_ByteStream`.
 * Every frame is `[channel, payload]` encoded by the codec, which carries
 * what structured clone carries except shared memory and class instances.
 * The bytes come from a child that may be hostile: a frame that does not
 * decode is reported, never trusted.
 */
export class _ByteLink {
  readonly #stream: _ByteStream;
  readonly #peer: string;
  readonly #events: _ByteLinkEvents;
  /** This side's end of each relayed port, by its number. */
  readonly #ports = new Map<number, MessagePort>();
  /** The direct path of each relayed port that has one, by its number. */
  readonly #directs = new Map<number, Direct>();
  #nextId: number;
  #closed = false;

  /**
   * @param peer Names the other side in errors ("Process-1", "its parent").
   * @param parent Whether this is the parent's side (it numbers ports odd).
   */
  constructor(stream: _ByteStream, peer: string, parent: boolean, events: _ByteLinkEvents) {
    this.#stream = stream;
    this.#peer = peer;
    this.#events = events;
    this.#nextId = parent ? 1 : 2;
    stream.listen((bytes) => this.#receive(bytes));
  }

  /**
   * Sends a kernel message. Throws a `TypeError` naming what could not cross
   * (shared memory, a Troupe object that lives in it), with nothing sent.
   */
  send(message: unknown): void {
    this.#send(KERNEL, message);
  }

  /** Writes out what was sent, now (before the process exits). */
  flush(): void {
    this.#stream.flush?.();
  }

  /** Closes the stream and every port the link relays. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const port of this.#ports.values()) port.close();
    this.#ports.clear();
    this.#directs.clear();
    this.#stream.close();
  }

  #send(channel: number, payload: unknown): void {
    if (this.#closed) return;
    // Ports are numbered only once the whole frame encoded: a refused message relays nothing.
    const found: [number, MessagePort][] = [];
    const bytes = _encodeMessage(channel, payload, this.#peer, (port) => {
      // Structured clone moves a port once; so does the link.
      if (relayed.has(port) || found.some(([, p]) => p === port)) {
        throw new TypeError(
          "a MessagePort was sent a second time: sending a port moves it, so it can be sent " +
            "only once. Make a new MessageChannel for each message",
        );
      }
      const id = this.#nextId;
      this.#nextId += 2;
      found.push([id, port]);
      return id;
    }, this.#stream.headroom);
    for (const [id, port] of found) {
      this.#relay(id, port);
      const holder = holders.get(port);
      if (holder !== undefined) this.#direct(id, holder);
    }
    this.#stream.send(bytes);
  }

  /** Gives `holder`, the far end of relayed port `id`, its direct path. */
  #direct(id: number, holder: MessagePort): void {
    const d = directOf(holder);
    d.send = (message) => {
      if (this.#closed) return;
      const bytes = _encodeMessage(id, message, this.#peer, () => {
        throw new TypeError("a MessagePort cannot be sent on a direct path");
      }, this.#stream.headroom);
      this.#stream.send(bytes);
      this.#stream.flush?.();
    };
    this.#directs.set(id, d);
  }

  /** Forwards what arrives on `port` to the other side's port `id`. */
  #relay(id: number, port: MessagePort): void {
    this.#ports.set(id, port);
    relayed.add(port);
    port.onmessage = (e: MessageEvent) => {
      try {
        this.#send(id, e.data);
      } catch (error) {
        this.#events.error({
          name: "DataCloneError",
          message: `a message relayed to ${this.#peer} could not be sent: ${
            (error as Error).message
          }`,
        });
      }
    };
  }

  #corrupt(error: WireError): void {
    if (this.#events.corrupt) this.#events.corrupt(error);
    else this.#events.error(error);
  }

  #receive(bytes: Uint8Array): void {
    let frame: unknown;
    try {
      frame = _decodeMessage(bytes, (id) => this.#portFor(id));
    } catch (error) {
      return this.#corrupt({
        name: "DataCloneError",
        message: `a message from ${this.#peer} could not be read: ${(error as Error).message}`,
      });
    }
    if (!Array.isArray(frame) || frame.length !== 2 || typeof frame[0] !== "number") {
      return this.#corrupt({
        name: "DataCloneError",
        message: `a message from ${this.#peer} is not a frame of the byte link`,
      });
    }
    const [channel, payload] = frame;
    if (channel === KERNEL) return this.#events.message(payload);
    const receive = this.#directs.get(channel)?.receive;
    if (receive !== undefined) {
      // As a listener's throw would be: reported, and the link reads on.
      try {
        receive(payload);
      } catch (error) {
        reportError(error);
      }
      return;
    }
    // A port closed on this side, or a number it never gave out: nobody listens.
    this.#ports.get(channel)?.postMessage(payload, transferablesIn(payload));
  }

  /** The port the other side relays as `id`: a fresh channel, whose far end this link keeps. */
  #portFor(id: number): MessagePort {
    if (this.#ports.has(id) || id === KERNEL || id % 2 === this.#nextId % 2) {
      throw new Error(`port number ${id} is not one the other side may give`);
    }
    const { port1, port2 } = new MessageChannel();
    this.#relay(id, port2);
    this.#direct(id, port1);
    return port1;
  }
}

/** The ports inside a decoded payload: they were transferred by the sender, so they are here. */
function transferablesIn(value: unknown, found: MessagePort[] = [], depth = 0): MessagePort[] {
  if (typeof value !== "object" || value === null || depth > 64) return found;
  if (value instanceof MessagePort) found.push(value);
  else if (Array.isArray(value)) {
    for (const item of value) {
      transferablesIn(item, found, depth + 1);
    }
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      transferablesIn(k, found, depth + 1);
      transferablesIn(v, found, depth + 1);
    }
  } else if (value instanceof Set) { for (const v of value) transferablesIn(v, found, depth + 1); }
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) transferablesIn(v, found, depth + 1);
  }
  return found;
}
