// `cluster.dict()`: a Manager dict's methods over a JetStream KV bucket,
// shared by every process connected to the cluster. Each call is atomic on
// its key; `setDefault` and `pop` are compare-and-set loops on the key's
// revision, so two processes racing on one key never both win.
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { _decode } from "../runtime/codec.ts";
import { _describe } from "../runtime/util.ts";
import { _names, _pack } from "./_protocol.ts";

/** A key a cluster dict takes: a string or a finite number, as a Manager dict's JSON keys. */
export type ClusterDictKey = string | number;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// KV keys allow only [-/_=.a-zA-Z0-9]: a user's key is its type and its bytes in base64url.
function encodeKey(key: unknown, what: string): string {
  if (typeof key === "number" && Number.isFinite(key)) return `n.${key}`.replace("-", "_");
  if (typeof key !== "string") {
    throw new TypeError(`${what} key must be a string or a finite number, got ${_describe(key)}`);
  }
  const b64 = btoa(String.fromCharCode(...encoder.encode(key)))
    .replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
  return `s.${b64 || "="}`;
}

function decodeKey(key: string): ClusterDictKey {
  if (key.startsWith("n.")) return Number(key.slice(2).replace("_", "-"));
  const b64 = key.slice(2);
  if (b64 === "=") return "";
  const bin = atob(b64.replaceAll("-", "+").replaceAll("_", "/"));
  return decoder.decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

/**
 * A dict on a cluster's NATS server (a KV bucket): `get`, `set`, `delete`,
 * `has`, `keys`, `values`, `entries`, `size`, `clear`, `update`,
 * `setDefault`, `pop`, `toObject`, `toMap`, as a Manager dict proxy's.
 * Values go through Troupe's codec: data, never code.
 */
export class ClusterDict<K extends ClusterDictKey, V> {
  readonly #open: () => Promise<KV>;
  #bucket: KV | undefined;

  /** Made by `cluster.dict()`: the bucket is made or found on first use. @ignore */
  constructor(open: () => Promise<KV>) {
    this.#open = open;
  }

  get #kv(): KV {
    return this.#bucket!;
  }

  async #read(key: string): Promise<{ value: V; revision: number } | undefined> {
    this.#bucket ??= await this.#open();
    const entry = await this.#kv.get(key);
    if (!entry || entry.operation !== "PUT") return undefined;
    return { value: _decode(entry.value) as V, revision: entry.revision };
  }

  /** The value at `key`, or `fallback` (`undefined`) when there is none. */
  async get<D = undefined>(key: K, fallback?: D): Promise<V | D> {
    const found = await this.#read(encodeKey(key, "dict.get()"));
    return found ? found.value : fallback as D;
  }

  /** Sets `key` to `value`. */
  async set(key: K, value: V): Promise<void> {
    this.#bucket ??= await this.#open();
    await this.#kv.put(encodeKey(key, "dict.set()"), _pack(value, "dict.set()"));
  }

  /** Removes `key`; whether it was there. */
  async delete(key: K): Promise<boolean> {
    const k = encodeKey(key, "dict.delete()");
    for (;;) {
      const found = await this.#read(k);
      if (!found) return false;
      try {
        await this.#kv.delete(k, { previousSeq: found.revision });
        return true;
      } catch {
        // changed meanwhile: look again
      }
    }
  }

  /** Whether `key` has a value. */
  async has(key: K): Promise<boolean> {
    return (await this.#read(encodeKey(key, "dict.has()"))) !== undefined;
  }

  /** The keys. */
  async keys(): Promise<K[]> {
    this.#bucket ??= await this.#open();
    const keys: K[] = [];
    for await (const k of await this.#kv.keys()) {
      if (await this.#kv.get(k).then((e) => e?.operation === "PUT")) keys.push(decodeKey(k) as K);
    }
    return keys;
  }

  /** The values. */
  async values(): Promise<V[]> {
    return (await this.entries()).map(([, v]) => v);
  }

  /** The `[key, value]` pairs. */
  async entries(): Promise<[K, V][]> {
    this.#bucket ??= await this.#open();
    const out: [K, V][] = [];
    for await (const k of await this.#kv.keys()) {
      const found = await this.#read(k);
      if (found) out.push([decodeKey(k) as K, found.value]);
    }
    return out;
  }

  /** How many keys have values. */
  async size(): Promise<number> {
    return (await this.keys()).length;
  }

  /** Like {@linkcode ClusterDict.size}. */
  length(): Promise<number> {
    return this.size();
  }

  /** Removes every key. */
  async clear(): Promise<void> {
    this.#bucket ??= await this.#open();
    for await (const k of await this.#kv.keys()) await this.#kv.delete(k);
  }

  /** Sets each pair. */
  async update(entries: Iterable<readonly [K, V]> | Map<K, V> | Record<string, V>): Promise<void> {
    const pairs = Symbol.iterator in Object(entries)
      ? [...entries as Iterable<readonly [K, V]>]
      : Object.entries(entries as Record<string, V>) as unknown as [K, V][];
    for (const [k, v] of pairs) await this.set(k, v);
  }

  /** The value at `key`; when there is none, sets it to `fallback` first (atomically). */
  async setDefault(key: K, fallback: V): Promise<V> {
    this.#bucket ??= await this.#open();
    const k = encodeKey(key, "dict.setDefault()");
    const data = _pack(fallback, "dict.setDefault()");
    for (;;) {
      const found = await this.#read(k);
      if (found) return found.value;
      try {
        await this.#kv.create(k, data);
        return fallback;
      } catch {
        // another process set it meanwhile: read it
      }
    }
  }

  /** Removes `key` and returns its value (atomically); without one, `fallback` or a `KeyError`. */
  async pop<D = never>(key: K, ...fallback: [D?]): Promise<V | D> {
    const k = encodeKey(key, "dict.pop()");
    for (;;) {
      const found = await this.#read(k);
      if (!found) {
        if (fallback.length > 0) return fallback[0] as D;
        throw Object.assign(
          new Error(`dict.pop(): the key ${JSON.stringify(key)} is not in the dict`),
          { name: "KeyError" },
        );
      }
      try {
        await this.#kv.delete(k, { previousSeq: found.revision });
        return found.value;
      } catch {
        // changed meanwhile: look again
      }
    }
  }

  /** A plain object of the pairs. */
  async toObject(): Promise<Record<string, V>> {
    return Object.fromEntries(await this.entries());
  }

  /** A Map of the pairs. */
  async toMap(): Promise<Map<K, V>> {
    return new Map(await this.entries());
  }
}

/** Dict `name` of cluster `cluster`: its bucket is made (or found) on first use. */
export function _dict<K extends ClusterDictKey, V>(
  nc: NatsConnection,
  cluster: string,
  name: string,
  replicas: number,
): ClusterDict<K, V> {
  _names(name); // the same rule as a cluster's name
  return new ClusterDict<K, V>(() =>
    new Kvm(nc).create(`TROUPE_${cluster}_D_${name}`, { replicas, history: 1 })
  );
}
