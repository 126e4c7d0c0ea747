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
import { Empty, Full } from "../mod.ts";
import { _decode } from "../runtime/codec.ts";
import type { WaitOptions } from "../runtime/wait_options.ts";
import { _remaining, _waitOptions } from "../runtime/wait.ts";
import { _names, _pack } from "./_protocol.ts";
import { _ensureStream, _isNotFound, _publish } from "./_streams.ts";

/** Options for `cluster.queue()`. */
export interface ClusterQueueOptions {
  /** Items it holds before `put()` waits (0: the stream's own limit only). @default {0} */
  maxsize?: number;
  /** How long a getter may hold an item before it goes to another. @default {30000} */
  ackWaitMs?: number;
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
  #opened: Promise<void> | undefined;
  /** Items it holds before `put()` waits (0: no limit). */
  readonly maxsize: number;

  /** Made by `cluster.queue()`: its stream is made (or checked) on first use. @ignore */
  constructor(
    js: JetStreamClient,
    jsm: JetStreamManager,
    stream: string,
    subject: string,
    maxsize: number,
    open: () => Promise<void>,
  ) {
    this.#js = js;
    this.#jsm = jsm;
    this.#stream = stream;
    this.#subject = subject;
    this.maxsize = maxsize;
    this.#open = open;
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
    const consumer = await this.#js.consumers.get(this.#stream, "getters");
    for (;;) {
      signal?.throwIfAborted();
      const left = _remaining(deadline);
      if (left <= 0) throw new Empty("the cluster queue stayed empty");
      // Whole milliseconds: a pull whose expiry had a fraction of one (nats-server 2.9.10)
      // was at times never answered, and its get waited out its time with items left.
      const expires = Math.ceil(Math.max(100, Math.min(left, 5000)));
      const msg = await consumer.next({ expires })
        .catch(() => null);
      if (msg === null) continue;
      let item: T;
      try {
        item = _decode(msg.data) as T;
      } catch {
        msg.term(); // not an item any Troupe process put
        continue;
      }
      // Acknowledged before it is returned: once the caller has it, nobody else will.
      if (await msg.ackAck({ timeout: 5000 }).catch(() => false)) return item;
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

/** Queue `name` of cluster `cluster`: its stream and consumer are made (or checked) on first use. */
export function _queue<T>(
  js: JetStreamClient,
  jsm: JetStreamManager,
  cluster: string,
  name: string,
  options: ClusterQueueOptions,
  replicas: number,
): ClusterQueue<T> {
  _names(name); // the same rule as a cluster's name
  const maxsize = options.maxsize ?? 0;
  if (!Number.isInteger(maxsize) || maxsize < 0) {
    throw new RangeError(`'maxsize' must be a non-negative integer, got ${String(maxsize)}`);
  }
  const stream = `TROUPE_${cluster}_Q_${name}`;
  const subject = `troupe.${cluster}.q.${name}`;
  return new ClusterQueue<T>(js, jsm, stream, subject, maxsize, async () => {
    await _ensureStream(jsm, stream, {
      subjects: [subject],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: replicas,
      max_msgs: maxsize === 0 ? -1 : maxsize,
      discard: DiscardPolicy.New,
      duplicate_window: 120_000 * NS,
    }, ["subjects", "retention", "max_msgs"]);
    try {
      await jsm.consumers.info(stream, "getters");
    } catch (error) {
      if (!_isNotFound(error)) throw error;
      await jsm.consumers.add(stream, {
        durable_name: "getters",
        ack_policy: AckPolicy.Explicit,
        ack_wait: (options.ackWaitMs ?? 30_000) * NS,
      });
    }
  });
}
