// The JetStream streams and the consumer a cluster works on, made by whoever
// comes first (a caller or a host) and checked by everyone after: one that
// exists with other settings is an error that says which and how to fix it.
import {
  AckPolicy,
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
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
