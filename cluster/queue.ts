// `cluster.queue()`: a Queue over a JetStream work-queue stream, shared by
// every process connected to the cluster. A put is stored once (its message
// id, retried through an election); a get takes the oldest item and
// acknowledges it before returning it, so an item a getter died before
// taking goes to another getter, and one taken is gone (as Python's get).
import {
  AckPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Empty, Full } from "../mod.ts";
import { _decode } from "../runtime/codec.ts";
import type { WaitOptions } from "../runtime/wait_options.ts";
import { _remaining, _timeoutError, _waitOptions } from "../runtime/wait.ts";
import { _names, _pack } from "./_protocol.ts";
import { _ensureStream, _isNotFound, _publish } from "./_streams.ts";
import { type _Delivery, _Puller } from "./_pull.ts";

/** Options for `cluster.queue()`. */
export interface ClusterQueueOptions {
  /** Items it holds before `put()` waits (0: the stream's own limit only). @default {0} */
  maxsize?: number;
  /** How long a getter may hold an item before it goes to another. @default {30000} */
  ackWaitMs?: number;
}

/** What a cluster queue works on: its stream and subject, and how to make them. @ignore */
export interface _QueueWiring {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  subject: string;
  maxsize: number;
  /** Makes (or checks) the stream and its consumer. */
  open: () => Promise<void>;
}

const NS = 1_000_000;

/**
 * A FIFO queue on a cluster's NATS JetStream server: `put`, `putMany`, `get`,
 * `qsize`, as a `Queue`'s (all async here, since the items live on the
 * server). Items go through Troupe's codec: data, never code.
 */
export class ClusterQueue<T> {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #stream: string;
  readonly #subject: string;
  readonly #open: () => Promise<void>;
  readonly #hold: ((msg: _Delivery) => void) | undefined;
  readonly #nc: NatsConnection;
  // Pullers not in use: a get takes one (or makes one), so that gets made at once each pull.
  readonly #pullers: _Puller[] = [];
  #opened: Promise<void> | undefined;
  /** Items it holds before `put()` waits (0: no limit). */
  readonly maxsize: number;

  /** Made by `cluster.queue()`: its stream is made (or checked) on first use. @ignore */
  constructor(wiring: _QueueWiring, hold?: (msg: _Delivery) => void) {
    this.#nc = wiring.nc;
    this.#js = wiring.js;
    this.#jsm = wiring.jsm;
    this.#stream = wiring.stream;
    this.#subject = wiring.subject;
    this.maxsize = wiring.maxsize;
    this.#open = wiring.open;
    this.#hold = hold;
  }

  #ready(): Promise<void> {
    return this.#opened ??= this.#open().catch((error) => {
      this.#opened = undefined;
      throw error;
    });
  }

  /** Adds `item`; waits while the queue is full (then `Full` after `timeoutMs`). */
  async put(item: T, options?: WaitOptions): Promise<void> {
    const { deadline, signal } = _waitOptions(options, "put()");
    await this.#ready();
    const data = _pack(item, "put()");
    const stored = await _publish(this.#js, this.#subject, data, crypto.randomUUID(), {
      deadline,
      full: () => new Full(`the cluster queue is full (maxsize ${this.maxsize})`),
      wanted: () => !signal?.aborted,
      what: `an item to stream ${this.#stream}`,
    });
    if (stored === undefined) throw signal!.reason; // aborted before it was stored
  }

  /** Adds every item, in order. */
  async putMany(items: Iterable<T>, options?: WaitOptions): Promise<void> {
    for (const item of items) await this.put(item, options);
  }

  /** Takes the oldest item; waits for one (then `Empty` after `timeoutMs`). */
  async get(options?: WaitOptions): Promise<T> {
    const { deadline, signal } = _waitOptions(options, "get()");
    await this.#ready();
    const puller = this.#pullers.pop() ?? new _Puller(this.#nc, this.#stream, "getters");
    try {
      for (;;) {
        signal?.throwIfAborted();
        const left = _remaining(deadline);
        if (left <= 0) throw new Empty("the cluster queue stayed empty");
        let msg: _Delivery | null;
        try {
          // Whole milliseconds: a pull whose expiry had a fraction of one (nats-server 2.9.10)
          // was at times never answered, and its get waited out its time with items left.
          msg = await puller.next(Math.ceil(Math.min(left, 5000)));
        } catch {
          // The connection is away: try again shortly.
          await new Promise((resolve) => setTimeout(resolve, Math.min(100, left)));
          continue;
        }
        if (msg === null) continue;
        let item: T;
        try {
          item = _decode(msg.data) as T;
        } catch {
          msg.term(); // not an item any Troupe process put
          continue;
        }
        if (this.#hold) {
          // A joinable queue's item stays the server's until taskDone() acknowledges it.
          this.#hold(msg);
          return item;
        }
        // Acknowledged before it is returned: once the caller has it, nobody else will.
        if (await msg.ackAck(5000)) return item;
      }
    } finally {
      this.#pullers.push(puller);
    }
  }

  /** How many items wait in the queue (as Python's, a moment's figure). */
  async qsize(): Promise<number> {
    await this.#ready();
    return (await this.#jsm.streams.info(this.#stream)).state.messages;
  }

  /** Whether no item waits. */
  async empty(): Promise<boolean> {
    return (await this.qsize()) === 0;
  }
}

/**
 * A {@linkcode ClusterQueue} whose items are handled at least once, as
 * `JoinableQueue`'s are counted: a `get()` takes an item without
 * acknowledging it, `taskDone()` acknowledges the oldest item this object took
 * and has not marked, and `join()` waits until the queue holds no item put
 * and not yet marked, by any process. While an item is held, this process
 * tells the server so from its own event loop; if the process dies first, the
 * item goes to another getter after `ackWaitMs`.
 *
 * One difference from Python's: `taskDone()` marks an item taken by this
 * object, so call it in the process whose `get()` took the item.
 *
 * @example A batch of work, and waiting until it is all handled
 * ```ts ignore
 * import { Cluster } from "@troupe/troupe/cluster";
 *
 * await using cluster = await Cluster.connect({ servers: "nats://127.0.0.1:4222", name: "jobs" });
 * const q = cluster.joinableQueue<string>("pages");
 * await q.putMany(["a", "b"]);
 * // In any process on the cluster:
 * const page = await q.get();
 * console.log(page);
 * await q.taskDone();
 * // ...and in the one that waits:
 * await q.join({ timeoutMs: 60_000 });
 * ```
 */
export class ClusterJoinableQueue<T> extends ClusterQueue<T> {
  readonly #held: _Delivery[];
  readonly #ackWaitMs: number;
  #beat: ReturnType<typeof setInterval> | undefined;
  readonly #track: (queue: ClusterJoinableQueue<T>, holding: boolean) => void;

  /**
   * Made by `cluster.joinableQueue()`; `track` hears when it starts and stops
   * holding items (the cluster hands back what its queues hold as it closes). @ignore
   */
  constructor(
    wiring: _QueueWiring,
    ackWaitMs: number,
    track: (queue: ClusterJoinableQueue<T>, holding: boolean) => void,
  ) {
    const held: _Delivery[] = [];
    let holding = () => {};
    super(wiring, (msg) => {
      held.push(msg);
      holding();
    });
    this.#held = held;
    this.#ackWaitMs = ackWaitMs;
    this.#track = track;
    holding = () => this.#keepHolding();
  }

  /** Items this object took with `get()` and has not marked with `taskDone()`. */
  get held(): number {
    return this.#held.length;
  }

  /**
   * Marks the oldest item this object took with `get()` as handled: the server
   * forgets it.
   *
   * @throws {Error} When this object holds no item taken and not yet marked.
   */
  async taskDone(): Promise<void> {
    const msg = this.#held.shift();
    if (msg === undefined) {
      throw new Error(
        "ClusterJoinableQueue.taskDone() was called with no item taken: call it once per item " +
          "taken with get(), in the process (and on the object) whose get() took it",
      );
    }
    if (this.#held.length === 0) this.#stopBeating();
    if (!(await msg.ackAck(5000))) {
      throw new Error(
        "ClusterJoinableQueue.taskDone() could not reach the server, or it had given the item " +
          `to another getter (held past ackWaitMs, ${this.#ackWaitMs} ms): it may be handled again`,
      );
    }
  }

  /**
   * Waits until the queue holds no item put and not yet marked with
   * `taskDone()`, in any process.
   *
   * @throws {DOMException} Named `"TimeoutError"` when `timeoutMs` passes first.
   */
  async join(options?: WaitOptions): Promise<void> {
    const { deadline, signal } = _waitOptions(options, "join()");
    for (;;) {
      signal?.throwIfAborted();
      const left = await this.qsize();
      if (left === 0) return;
      const wait = _remaining(deadline);
      if (wait === 0) {
        throw _timeoutError(
          `the cluster queue still had ${left} unfinished item(s) after ${options?.timeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(JOIN_POLL_MS, wait)));
    }
  }

  /** Hands every item held back to the server, for another getter (the cluster's close). @ignore */
  _release(): void {
    this.#stopBeating();
    for (const msg of this.#held.splice(0)) msg.nak();
  }

  #keepHolding(): void {
    if (this.#beat !== undefined) return;
    // The server hears from this event loop while items are held, every third of the ack wait.
    this.#beat = setInterval(() => {
      for (const msg of this.#held) msg.working();
    }, Math.max(50, this.#ackWaitMs / 3));
    this.#track(this, true);
  }

  #stopBeating(): void {
    if (this.#beat === undefined) return;
    clearInterval(this.#beat);
    this.#beat = undefined;
    this.#track(this, false);
  }
}

const JOIN_POLL_MS = 100;

/** Queue `name` of cluster `cluster`: its stream and consumer are made (or checked) on first use. */
export function _queue<T>(
  nc: NatsConnection,
  js: JetStreamClient,
  jsm: JetStreamManager,
  cluster: string,
  name: string,
  options: ClusterQueueOptions,
  replicas: number,
  track?: (queue: ClusterJoinableQueue<T>, holding: boolean) => void,
): ClusterQueue<T> {
  _names(name); // the same rule as a cluster's name
  const maxsize = options.maxsize ?? 0;
  if (!Number.isInteger(maxsize) || maxsize < 0) {
    throw new RangeError(`'maxsize' must be a non-negative integer, got ${String(maxsize)}`);
  }
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  if (!Number.isInteger(ackWaitMs) || ackWaitMs < 1) {
    throw new RangeError(`'ackWaitMs' must be a positive integer, got ${String(ackWaitMs)}`);
  }
  const stream = `TROUPE_${cluster}_Q_${name}`;
  const subject = `troupe.${cluster}.q.${name}`;
  const open = async () => {
    await _ensureStream(jsm, stream, {
      subjects: [subject],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: replicas,
      max_msgs: maxsize === 0 ? -1 : maxsize,
      discard: DiscardPolicy.New,
      duplicate_window: 120_000 * NS,
    }, ["subjects", "retention", "max_msgs"]);
    let info;
    try {
      info = await jsm.consumers.info(stream, "getters");
    } catch (error) {
      if (!_isNotFound(error)) throw error;
      await jsm.consumers.add(stream, {
        durable_name: "getters",
        ack_policy: AckPolicy.Explicit,
        ack_wait: ackWaitMs * NS,
      });
      return;
    }
    if (info.config.ack_wait !== ackWaitMs * NS) {
      throw new Error(
        `cluster queue '${name}' exists with ackWaitMs ${(info.config.ack_wait ?? 0) / NS}, not ` +
          `${ackWaitMs}: open it with the same ackWaitMs everywhere, or delete its stream ` +
          `(nats stream rm ${stream})`,
      );
    }
  };
  const wiring: _QueueWiring = { nc, js, jsm, stream, subject, maxsize, open };
  return track
    ? new ClusterJoinableQueue<T>(wiring, ackWaitMs, track)
    : new ClusterQueue<T>(wiring);
}
