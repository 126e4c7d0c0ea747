// What may be sent to a worker. Structured clone silently turns a class
// instance into a plain object (its prototype and private fields are lost),
// so this walk refuses what would not arrive intact, naming where it was.
// Troupe's own objects that do travel (channel ends, locks, shared values)
// implement `_WIRE`: the walk swaps each for its wire form, and the receiving
// worker revives it from the reviver its module registered.
import { _SHARED_STATE_VERSION } from "./context.ts";
import { _describe } from "./util.ts";

const TypedArray = Object.getPrototypeOf(Uint8Array);

// Prototypes whose instances structured clone carries over faithfully.
const CLONEABLE = new Set<unknown>([
  Date.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  SharedArrayBuffer.prototype,
  DataView.prototype,
  Boolean.prototype,
  Number.prototype,
  String.prototype,
  BigInt.prototype,
  Blob.prototype,
  File.prototype,
]);

/**
 * The method a Troupe object implements to travel to another worker. It
 * returns the object's wire form; `path` names where it was found, for errors,
 * and `out` is the walk's outbox (its `to` names the receiving process when
 * the sender knows it).
 */
export const _WIRE: unique symbol = Symbol.for("troupe.wire") as never;

/** What a travelling object becomes on the wire. */
export interface _WireForm {
  /** The reviver's name, registered with {@linkcode _registerReviver}. */
  kind: string;
  /** URL of the module that registers the reviver; the receiving worker imports it. */
  module: string;
  /** Structured-cloneable state the reviver rebuilds the object from. */
  state: unknown;
  /** Objects to transfer (e.g. MessagePorts), not copy. */
  transfer?: Transferable[];
}

/** An object that can travel to another worker. */
export interface _Wireable {
  [_WIRE](path: string, out: _Outbox): _WireForm;
}

// A wire form as posted: a plain object no user value has by accident.
const MARK = "\u0000troupe.wire";
interface Marked {
  [MARK]: string;
  module: string;
  state: unknown;
}

type Reviver = (state: unknown) => unknown;
const REVIVERS_KEY = Symbol.for(`troupe.wire.revivers.v${_SHARED_STATE_VERSION}`);
const revivers: Map<string, Reviver> =
  ((globalThis as Record<symbol, unknown>)[REVIVERS_KEY] as Map<string, Reviver>) ??
    ((globalThis as Record<symbol, unknown>)[REVIVERS_KEY] = new Map<string, Reviver>());

/** Registers how to rebuild objects of `kind` in the receiving worker. Call at module top level. */
export function _registerReviver(kind: string, revive: Reviver): void {
  revivers.set(kind, revive);
}

// Objects that cannot share their memory with the receiver travel as a relay
// (runtime/relay.ts): the module that serves them registers how.
type Relay = (object: object, path: string, out: _Outbox) => _WireForm;
const relays = new Map<string, Relay>();

/**
 * Registers how an object of `kind` is sent to a process that shares no
 * memory with the sender. Call at module top level.
 */
export function _registerRelay(kind: string, relay: Relay): void {
  relays.set(kind, relay);
}

/**
 * The relay's wire form of `object` when the receiver shares no memory with
 * this process (`out.bytes`) and a relay of `kind` is registered; otherwise
 * `undefined`, and the object travels as its shared memory.
 */
export function _relayed(
  kind: string,
  object: object,
  path: string,
  out: _Outbox | undefined,
): _WireForm | undefined {
  if (!out?.bytes) return undefined;
  return relays.get(kind)?.(object, path, out);
}

/** What a walk collected besides the value to post. */
export interface _Outbox {
  /** Objects to transfer with the message. */
  transfer: Transferable[];
  /** Modules the receiving worker must have imported (revivers' modules). */
  modules: Set<string>;
  /** Set when some value was swapped for a wire form: the receiver must call `_revive`. */
  wired: boolean;
  /**
   * The pid of the process that will revive the value, when the sender knows
   * it: an object whose lifetime is counted (a manager proxy) is kept for it
   * in transit until that process ends.
   */
  to?: number;
  /**
   * Set when the receiver shares no memory with this process (an OS process
   * of the "spawn" start method): objects that live in shared memory and
   * can be served from here (a Queue) are sent as a relay instead.
   */
  bytes?: boolean;
  /**
   * What was sent for each object met so far in this message (see `walk`):
   * an object found twice, even in two `_prepare` calls, is sent once.
   */
  seen?: Map<object, unknown>;
}

/** A fresh, empty {@linkcode _Outbox}. */
export function _outbox(): _Outbox {
  return { transfer: [], modules: new Set(), wired: false, to: undefined, seen: undefined };
}

function isErrorLike(value: object): boolean {
  return value instanceof Error || value instanceof DOMException;
}

/**
 * Returns `value` as it must be posted to a worker: itself, or a copy in which
 * Troupe objects are swapped for their wire forms. Collects the `MessagePort`s
 * to transfer and the modules the receiver needs into `out`.
 *
 * @param value What will be posted.
 * @param path How the caller names it, e.g. `"args[0]"`.
 * @param out Receives the transfer list and modules.
 * @throws {TypeError} Naming the path and type of the first value that cannot be sent.
 */
export function _prepare(value: unknown, path: string, out: _Outbox): unknown {
  return inert(value) ? value : walk(value, path, out, out.seen ??= new Map());
}

/** Whether `value` is sent as it is with nothing inside to check: a primitive other than a symbol. */
function inert(value: unknown): boolean {
  const type = typeof value;
  return value === null || (type !== "object" && type !== "function" && type !== "symbol");
}

// Plain objects and arrays, the common case, are walked here; primitives inside
// them are skipped without building their path. The rest is in `walkOther`, so
// a worker's first message compiles only this small function. `seen` maps each
// object met to what is sent for it, so an object found twice is sent once,
// as structured clone does: a Troupe object passed twice arrives as one.
function walk(value: unknown, path: string, out: _Outbox, seen: Map<object, unknown>): unknown {
  if (typeof value !== "object" || value === null) return walkOther(value, path, out, seen);
  const known = seen.get(value);
  if (known !== undefined) return known;
  seen.set(value, value); // while it is walked, a cycle back to it finds itself
  let sent: unknown = value;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    let copy: Record<string, unknown> | undefined;
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      if (inert(item)) continue;
      const itemSent = walk(item, `${path}.${key}`, out, seen);
      if (itemSent !== item) copy ??= { ...(value as Record<string, unknown>) };
      if (copy) copy[key] = itemSent;
    }
    if (copy) sent = copy;
  } else if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (inert(item)) continue;
      const itemSent = walk(item, `${path}[${i}]`, out, seen);
      if (itemSent !== item) copy ??= value.slice();
      if (copy) copy[i] = itemSent;
    }
    if (copy) sent = copy;
  } else sent = walkOther(value, path, out, seen);
  if (sent !== value) seen.set(value, sent);
  return sent;
}

function walkOther(
  value: unknown,
  path: string,
  out: _Outbox,
  seen: Map<object, unknown>,
): unknown {
  switch (typeof value) {
    case "function":
      throw new TypeError(
        `${path} is a ${_describe(value)}, which cannot be sent to a worker. ` +
          "Declare it with task() and import it there, or send plain data instead",
      );
    case "symbol":
      throw new TypeError(`${path} is a ${_describe(value)}, which cannot be sent to a worker`);
    case "object":
      break;
    default:
      return value;
  }
  if (value === null) return value;
  if (value instanceof TypedArray || CLONEABLE.has(Object.getPrototypeOf(value))) return value;
  if (isErrorLike(value)) return value;
  if (typeof (value as Partial<_Wireable>)[_WIRE] === "function") {
    const form = (value as _Wireable)[_WIRE](path, out);
    out.modules.add(form.module);
    for (const t of form.transfer ?? []) if (!out.transfer.includes(t)) out.transfer.push(t);
    out.wired = true;
    return { [MARK]: form.kind, module: form.module, state: form.state } satisfies Marked;
  }
  if (value instanceof MessagePort) {
    if (!out.transfer.includes(value)) out.transfer.push(value);
    return value;
  }
  if (value instanceof Map) {
    let i = 0;
    let changed = false;
    const entries: [unknown, unknown][] = [];
    for (const [k, v] of value) {
      const sk = walk(k, `${path}<key ${i}>`, out, seen);
      const sv = walk(
        v,
        `${path}.get(${typeof k === "string" ? JSON.stringify(k) : `<key ${i}>`})`,
        out,
        seen,
      );
      changed ||= sk !== k || sv !== v;
      entries.push([sk, sv]);
      i++;
    }
    return changed ? new Map(entries) : value;
  }
  if (value instanceof Set) {
    let i = 0;
    let changed = false;
    const items: unknown[] = [];
    for (const v of value) {
      const sv = walk(v, `${path}<item ${i++}>`, out, seen);
      changed ||= sv !== v;
      items.push(sv);
    }
    return changed ? new Set(items) : value;
  }
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof Promise) {
    throw new TypeError(`${path} is a ${_describe(value)}, which cannot be sent to a worker`);
  }
  throw new TypeError(
    `${path} is an instance of ${
      _describe(value).replace(/ object$/, "")
    }: sending it to a worker ` +
      "would drop its prototype, methods and private fields. Send a plain object or array " +
      "with the data it needs instead",
  );
}

/**
 * Rebuilds the Troupe objects inside a received value (the reverse of
 * {@linkcode _prepare}). Only needed when the sender's outbox was `wired`.
 */
export function _revive(value: unknown): unknown {
  return revive(value, new Map());
}

// `seen` maps each object met to what it became: a wire form found twice (a
// Troupe object sent twice) is rebuilt once, and both places get that object.
function revive(value: unknown, seen: Map<object, unknown>): unknown {
  if (typeof value !== "object" || value === null) return value;
  const known = seen.get(value);
  if (known !== undefined) return known;
  seen.set(value, value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i], seen);
    return value;
  }
  if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => [revive(k, seen), revive(v, seen)] as const);
    value.clear();
    for (const [k, v] of entries) value.set(k, v);
    return value;
  }
  if (value instanceof Set) {
    const items = [...value].map((v) => revive(v, seen));
    value.clear();
    for (const v of items) value.add(v);
    return value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  if (MARK in value) {
    const { [MARK]: kind, module, state } = value as Marked;
    const reviver = revivers.get(kind);
    if (!reviver) throw new MissingReviver(kind, module);
    const revived = reviver(state);
    seen.set(value, revived);
    return revived;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = revive(record[key], seen);
  return value;
}

class MissingReviver extends Error {
  constructor(readonly kind: string, readonly module: string) {
    super(
      `received a Troupe ${kind}, but this worker could not load ${module} to rebuild it ` +
        "(a worker with narrowed permissions can only use Troupe objects it was started with: " +
        "pass them in args instead of a later message)",
    );
  }
}

/**
 * {@linkcode _revive} for a value whose revivers may not be loaded yet (a
 * message to a running worker): imports the missing modules first.
 */
export async function _reviveLoading(value: unknown): Promise<unknown> {
  const missing = new Map<string, string>();
  findMissing(value, missing, new Set());
  for (const [kind, module] of missing) {
    try {
      await import(module);
    } catch {
      // Reported below, naming what could not be loaded.
    }
    if (!revivers.has(kind)) throw new MissingReviver(kind, module);
  }
  return _revive(value);
}

function findMissing(value: unknown, missing: Map<string, string>, seen: Set<object>): void {
  if (typeof value !== "object" || value === null || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      findMissing(k, missing, seen);
      findMissing(v, missing, seen);
    }
    return;
  }
  if (value instanceof Set || Array.isArray(value)) {
    for (const v of value) findMissing(v, missing, seen);
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return;
  if (MARK in value) {
    const { [MARK]: kind, module } = value as Marked;
    if (!revivers.has(kind)) missing.set(kind, module);
    return;
  }
  for (const v of Object.values(value)) findMissing(v, missing, seen);
}
