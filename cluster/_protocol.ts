// What callers and hosts of a cluster say to each other over NATS JetStream,
// and the names of the streams they say it on. Payloads are encoded by
// Troupe's codec (runtime/codec.ts): data only, never code, decoded and then
// checked field by field, since any client of the server could have written
// them.
import { _decode, _encode } from "../runtime/codec.ts";
import type { WireError } from "../runtime/protocol.ts";

/** The streams, subjects and consumer of the cluster named `name`. */
export interface _Names {
  tasks: string;
  taskSubject: string;
  results: string;
  /** The subject of task `id`'s result (`<caller>.<n>`), or `<caller>.>` for all of a caller's. */
  resultSubject: (id: string) => string;
  cancelSubject: string;
  consumer: string;
  maxDeliveries: string;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The names for cluster `name`; throws a `TypeError` for a name NATS cannot use. */
export function _names(name: unknown): _Names {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new TypeError(
      `cluster name must be 1 to 64 letters, digits, '_' or '-' (it names JetStream streams), ` +
        `got ${JSON.stringify(name)}`,
    );
  }
  const tasks = `TROUPE_${name}_TASKS`;
  return {
    tasks,
    taskSubject: `troupe.${name}.tasks`,
    results: `TROUPE_${name}_RESULTS`,
    resultSubject: (id) => `troupe.${name}.results.${id}`,
    cancelSubject: `troupe.${name}.cancel`,
    consumer: "hosts",
    maxDeliveries: `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${tasks}.hosts`,
  };
}

/** A task: run `key` of `module` once per call. */
export interface _TaskMessage {
  id: string;
  caller: string;
  module: string;
  key: string;
  /** Each call an argument list (`apply`, `starmap`), else one item (`map`). */
  spread: boolean;
  calls: unknown[];
  /** When the caller stops waiting (`Date.now()` ms), if it ever does. */
  deadline: number | undefined;
  /**
   * The calls are separate `apply()` calls gathered into one message: each
   * gets its own value or error (`failed` in the result), where a `map`
   * chunk fails whole.
   */
  each?: boolean;
}

/** A task's result: its values, or the error of the first call that threw. */
export type _ResultMessage =
  | {
    id: string;
    ok: true;
    values: unknown[];
    host: string;
    /** For `each` tasks: the calls that threw, as `[index, error, worker]`. */
    failed?: [number, WireError, string | undefined][];
  }
  | { id: string; ok: false; error: WireError; host: string; worker: string | undefined };

/** Bytes for the wire (a copy: the codec reuses its buffer). */
export function _pack(value: unknown, what: string): Uint8Array {
  return _encode(value, "Cluster", what).slice();
}

const isString = (v: unknown): v is string => typeof v === "string";

/** A task read from the stream, or a `TypeError` saying what is wrong with it. */
export function _readTask(bytes: Uint8Array): _TaskMessage {
  const m = _decode(bytes) as Partial<_TaskMessage> | null;
  if (
    typeof m !== "object" || m === null || !isString(m.id) || !isString(m.caller) ||
    !isString(m.module) || !isString(m.key) || typeof m.spread !== "boolean" ||
    !Array.isArray(m.calls) || (m.deadline !== undefined && typeof m.deadline !== "number") ||
    (m.each !== undefined && typeof m.each !== "boolean")
  ) {
    throw new TypeError("not a Troupe task message");
  }
  if (m.spread && !m.calls.every(Array.isArray)) {
    throw new TypeError("a task message whose calls are not argument lists");
  }
  return m as _TaskMessage;
}

/** A result read from the stream, or `undefined` when it is not one. */
export function _readResult(bytes: Uint8Array): _ResultMessage | undefined {
  let m: Record<string, unknown> | null;
  try {
    m = _decode(bytes) as Record<string, unknown> | null;
  } catch {
    return undefined;
  }
  if (typeof m !== "object" || m === null || !isString(m.id) || !isString(m.host)) return undefined;
  if (m.ok === true && Array.isArray(m.values)) {
    const failed = m.failed;
    if (failed === undefined) return m as unknown as _ResultMessage;
    const fine = Array.isArray(failed) &&
      failed.every((f) =>
        Array.isArray(f) && typeof f[0] === "number" && typeof f[1] === "object" && f[1] !== null &&
        isString((f[1] as WireError).name) && isString((f[1] as WireError).message)
      );
    return fine ? m as unknown as _ResultMessage : undefined;
  }
  const e = m.error as WireError | undefined;
  if (
    m.ok === false && typeof e === "object" && e !== null && isString(e.name) && isString(e.message)
  ) {
    return m as unknown as _ResultMessage;
  }
  return undefined;
}
