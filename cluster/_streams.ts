// The JetStream streams and the consumer a cluster works on, made by whoever
// comes first (a caller or a host) and checked by everyone after: one that
// exists with other settings is an error that says which and how to fix it.
import {
  AckPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { _remaining } from "../runtime/wait.ts";
import type { _Names } from "./_protocol.ts";

interface ClusterSettings {
  replicas?: number;
  ackWaitMs?: number;
  maxDeliver?: number;
  maxQueued?: number;
}

/** How the streams are made (see `ClusterOptions`). */
export interface _StreamSettings {
  replicas: number;
  ackWaitMs: number;
  maxDeliver: number;
  maxQueued: number;
}

const NS = 1_000_000;
// A task's msgID is kept this long: a publish retried within it (an
// election, a lost answer) is stored once.
const DUPLICATE_WINDOW_MS = 2 * 60_000;
// Results wait this long for a caller that reconnects.
const RESULT_AGE_MS = 60 * 60_000;

export function _isNotFound(error: unknown): boolean {
  return (error as { code?: unknown })?.code === 10059 ||
    (error as { api_error?: { err_code?: number } })?.api_error?.err_code === 10059 ||
    /not found/i.test(String((error as Error)?.message));
}

/** Makes the streams and the hosts' consumer, or checks those that exist. */
export async function _ensureStreams(
  jsm: JetStreamManager,
  names: _Names,
  s: _StreamSettings,
): Promise<void> {
  await _ensureStream(jsm, names.tasks, {
    subjects: [names.taskSubject],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: s.replicas,
    max_msgs: s.maxQueued,
    discard: DiscardPolicy.New,
    duplicate_window: DUPLICATE_WINDOW_MS * NS,
  }, ["subjects", "retention", "num_replicas", "max_msgs", "discard"]);
  await _ensureStream(jsm, names.results, {
    subjects: [names.resultSubject(">")],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: s.replicas,
    max_age: RESULT_AGE_MS * NS,
    duplicate_window: DUPLICATE_WINDOW_MS * NS,
  }, ["subjects", "retention", "num_replicas"]);
  const wanted = {
    durable_name: names.consumer,
    ack_policy: AckPolicy.Explicit,
    ack_wait: s.ackWaitMs * NS,
    max_deliver: s.maxDeliver,
    max_ack_pending: 10_000,
  };
  let info;
  try {
    info = await jsm.consumers.info(names.tasks, names.consumer);
  } catch (error) {
    if (!_isNotFound(error)) throw error;
    await jsm.consumers.add(names.tasks, wanted);
    return;
  }
  for (const key of ["ack_wait", "max_deliver"] as const) {
    if (info.config[key] !== wanted[key]) {
      throw new Error(
        `the consumer '${names.consumer}' of stream ${names.tasks} exists with ${key} ` +
          `${info.config[key]}, not ${wanted[key]}: start every caller and host with the same ` +
          `ackWaitMs and maxDeliver, or delete the stream to start afresh`,
      );
    }
  }
}

/** Makes stream `name`, or checks that the one there has `config`'s `checked` settings. */
export async function _ensureStream(
  jsm: JetStreamManager,
  name: string,
  config: Record<string, unknown>,
  checked: string[],
): Promise<void> {
  let info;
  try {
    info = await jsm.streams.info(name);
  } catch (error) {
    if (!_isNotFound(error)) throw error;
    await jsm.streams.add({ name, ...config });
    return;
  }
  const have = info.config as unknown as Record<string, unknown>;
  for (const key of checked) {
    if (JSON.stringify(have[key]) !== JSON.stringify(config[key])) {
      throw new Error(
        `stream ${name} exists with ${key} ${JSON.stringify(have[key])}, not ` +
          `${JSON.stringify(config[key])}: it was made by other settings or another program. ` +
          `Use another cluster name, the same settings, or delete the stream (nats stream rm ${name})`,
      );
    }
  }
}

/** The options a caller and a host must agree on, checked, with their defaults. */
export function _settings(options: ClusterSettings): _StreamSettings {
  const int = (value: unknown, name: string, fallback: number) => {
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new RangeError(`'${name}' must be a positive integer, got ${String(value)}`);
    }
    return value;
  };
  return {
    replicas: int(options.replicas, "replicas", 1),
    ackWaitMs: int(options.ackWaitMs, "ackWaitMs", 30_000),
    maxDeliver: int(options.maxDeliver, "maxDeliver", 4),
    maxQueued: int(options.maxQueued, "maxQueued", 100_000),
  };
}

// JetStream's error code for a stream at its max_msgs with discard "new".
const STREAM_FULL_CODE = 10077;
// A full stream is asked again this often.
const FULL_WAIT_MS = 100;
// Other failures (no leader during an election, a lost answer) are retried
// this long before the publish fails.
const PUBLISH_RETRY_MS = 30_000;

/** What `_publish` is to do while it cannot. */
export interface _PublishWait {
  /** `performance.now()` time after which a full stream is given up. @default {Infinity} */
  deadline?: number;
  /** The error a full stream ends with at `deadline`. */
  full?: () => Error;
  /** Asked before each try: false stops the publish, which then gives `undefined`. */
  wanted?: () => boolean;
  /** Named in the error of a publish that kept failing. */
  what: string;
}

/**
 * Publishes `data` with `id` as its message id, again while the stream is
 * full (backpressure: it waits, it never drops) or has no leader (an
 * election): the server stores it once however many tries it takes. Gives
 * the stream sequence it was stored at.
 */
export async function _publish(
  js: JetStreamClient,
  subject: string,
  data: Uint8Array,
  id: string,
  wait: _PublishWait,
): Promise<number | undefined> {
  const retryUntil = performance.now() + PUBLISH_RETRY_MS;
  for (let attempt = 0;; attempt++) {
    if (wait.wanted?.() === false) return undefined;
    try {
      return (await js.publish(subject, data, { msgID: id, timeout: 5000 })).seq;
    } catch (error) {
      const full = (error as { code?: unknown }).code === STREAM_FULL_CODE ||
        /maximum messages/.test(String((error as Error).message));
      const deadline = wait.deadline ?? Infinity;
      const left = _remaining(full ? deadline : Math.min(deadline, retryUntil));
      if (left === 0) {
        if (full && wait.full) throw wait.full();
        throw new Error(`could not publish ${wait.what}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      const pause = full ? FULL_WAIT_MS : Math.min(100 * 2 ** attempt, 1000);
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
    }
  }
}
