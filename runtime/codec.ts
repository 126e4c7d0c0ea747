// How channel items become bytes in a shared ring, and back: a tag codec for
// what structured clone carries (numbers, strings, booleans, null, undefined,
// bigints, plain objects and arrays, Dates, Maps, Sets, RegExps, errors,
// ArrayBuffers, typed arrays, DataViews, boxed primitives). It is several
// times faster than JSON or node:v8 for small items, and it keeps node:v8 out
// of every worker's start-up (loading Node's compatibility layer costs ~3 ms).
import { _WIRE } from "./wire.ts";
import { _describe } from "./util.ts";

const UNDEFINED = 0;
const NULL = 1;
const FALSE = 2;
const TRUE = 3;
const INT = 4;
const FLOAT = 5;
const ASCII = 6;
const UTF8 = 7;
const ARRAY = 8;
const OBJECT = 9;
const BIGINT = 10;
const DATE = 11;
const MAP = 12;
const SET = 13;
const REGEXP = 14;
const ARRAY_BUFFER = 15;
const TYPED_ARRAY = 16;
const DATA_VIEW = 17;
const ERROR = 18;
const BOXED = 19;
// A string that is not well-formed UTF-16 (a lone surrogate): its code units as they are.
const UTF16 = 20;
// A MessagePort, as the number a byte link relays it by (messages only, see `_encodeMessage`).
const PORT = 21;

// Deeper than this is taken for a cycle, which the codec does not carry.
const MAX_DEPTH = 256;
const TypedArray = Object.getPrototypeOf(Uint8Array);
// Typed array kinds, by their index on the wire.
const TYPED_KINDS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const;
// The error types structured clone keeps; any other name arrives as "Error".
const ERROR_TYPES: Record<string, ErrorConstructor> = {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
};

// Made on first use: every worker loads this module, few send text through a channel.
let encoder: TextEncoder | undefined;
let decoder: TextDecoder | undefined;

// While `_encodeMessage` runs: how it names ports, and what a message crosses to.
let portId: ((port: MessagePort) => number) | undefined;
let crossing: string | undefined;
// While `_decodeMessage` runs: the port each relayed number stands for.
let portFor: ((id: number) => MessagePort) | undefined;
// A travelling Troupe object's wire form (see runtime/wire.ts): its first key.
const WIRE_MARK = "\u0000troupe.wire";

let buf = new Uint8Array(4096);
let view = new DataView(buf.buffer);
let pos = 0;

function reserve(n: number): void {
  if (pos + n <= buf.length) return;
  let size = buf.length * 2;
  while (size < pos + n) size *= 2;
  const bigger = new Uint8Array(size);
  bigger.set(buf.subarray(0, pos));
  buf = bigger;
  view = new DataView(buf.buffer);
}

/**
 * Encodes `value` into this thread's scratch buffer and returns it (valid
 * until the next call). `owner` and `call` name it in errors ("Queue", "put()").
 *
 * @throws {TypeError} For a value a channel cannot carry, naming where it is.
 */
export function _encode(value: unknown, owner: string, call: string): Uint8Array {
  pos = 0;
  try {
    write(value, 0);
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    throw error.make(`${owner}.${call.replace("()", "")} item${error.where.reverse().join("")}`);
  }
  return buf.subarray(0, pos);
}

/**
 * Encodes a whole message for a byte link, as the frame `[channel, value]`,
 * into a fresh buffer of its own:
 * what crosses to a process that shares no memory with this one (see
 * runtime/endpoint.ts). Each `MessagePort` inside becomes the number `port`
 * gives it, by which the link relays it. `to` names the receiver in errors.
 *
 * @throws {TypeError} For a value that cannot cross, naming where it is:
 * shared memory, a Troupe object that lives in it, a class instance.
 *
 * @param headroom Bytes left free before the frame, for the stream's own
 * header: the buffer holds them and then the frame.
 */
export function _encodeMessage(
  channel: number,
  value: unknown,
  to: string,
  port: (port: MessagePort) => number,
  headroom = 0,
): Uint8Array {
  pos = 0;
  reserve(headroom);
  pos = headroom;
  portId = port;
  crossing = to;
  try {
    // The frame `[channel, value]`; a refusal's path starts at `value`.
    writeCount(ARRAY, 2);
    write(channel, 0);
    write(value, 0);
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    const where = error.where.reverse().join("").replace(/^\./, "");
    throw error.make(`the message to ${to} (at ${where || "its top"})`);
  } finally {
    portId = undefined;
    crossing = undefined;
  }
  return buf.slice(0, pos);
}

/** Decodes what {@linkcode _encodeMessage} encoded; `port` gives the port each number relays. */
export function _decodeMessage(bytes: Uint8Array, port: (id: number) => MessagePort): unknown {
  portFor = port;
  try {
    return _decode(bytes);
  } finally {
    portFor = undefined;
  }
}

// Thrown inside the walk; each level adds its step on the way out, so paths
// are only built for the item that fails.
class Refusal {
  where: string[] = [];
  constructor(readonly make: (path: string) => Error) {}
}

function addStep(step: string, error: unknown): unknown {
  if (error instanceof Refusal && error.where.length < 32) error.where.push(step);
  return error;
}

function write(value: unknown, depth: number): void {
  switch (typeof value) {
    case "number":
      if ((value | 0) === value && !Object.is(value, -0)) {
        reserve(5);
        buf[pos] = INT;
        view.setInt32(pos + 1, value, true);
        pos += 5;
      } else {
        reserve(9);
        buf[pos] = FLOAT;
        view.setFloat64(pos + 1, value, true);
        pos += 9;
      }
      return;
    case "string":
      return writeString(value);
    case "boolean":
      reserve(1);
      buf[pos++] = value ? TRUE : FALSE;
      return;
    case "undefined":
      reserve(1);
      buf[pos++] = UNDEFINED;
      return;
    case "bigint":
      reserve(1);
      buf[pos++] = BIGINT;
      return writeString(value.toString());
    case "object":
      if (value === null) {
        reserve(1);
        buf[pos++] = NULL;
        return;
      }
      if (depth >= MAX_DEPTH) {
        throw new Refusal(() =>
          new RangeError(
            `a channel item nests deeper than ${MAX_DEPTH} levels or is circular; ` +
              "channels do not carry circular structures",
          )
        );
      }
      return writeObject(value, depth + 1);
    default:
      throw new Refusal((path) =>
        new TypeError(
          `${path} is a ${_describe(value)}, which a channel cannot carry; send plain data instead`,
        )
      );
  }
}

function writeString(s: string): void {
  const n = s.length;
  reserve(5 + n * 3);
  const start = pos;
  pos += 5;
  let i = 0;
  if (n < 256) {
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[pos + i] = c;
    }
  }
  if (i === n) {
    buf[start] = ASCII;
    view.setUint32(start + 1, n, true);
    pos += n;
    return;
  }
  if (!s.isWellFormed()) {
    // UTF-8 would turn a lone surrogate into U+FFFD: keep the code units.
    buf[start] = UTF16;
    view.setUint32(start + 1, n * 2, true);
    for (let j = 0; j < n; j++) view.setUint16(pos + j * 2, s.charCodeAt(j), true);
    pos += n * 2;
    return;
  }
  const { written } = (encoder ??= new TextEncoder()).encodeInto(s, buf.subarray(pos));
  buf[start] = UTF8;
  view.setUint32(start + 1, written, true);
  pos += written;
}

function writeObject(value: object, depth: number): void {
  if (Array.isArray(value)) {
    const n = value.length;
    reserve(5);
    buf[pos] = ARRAY;
    view.setUint32(pos + 1, n, true);
    pos += 5;
    let i = 0;
    try {
      for (; i < n; i++) write(value[i], depth);
    } catch (error) {
      throw addStep(`[${i}]`, error);
    }
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const keys = Object.keys(value);
    if (crossing !== undefined && keys[0] === WIRE_MARK) return writeWireForm(value, keys, depth);
    reserve(5);
    buf[pos] = OBJECT;
    view.setUint32(pos + 1, keys.length, true);
    pos += 5;
    for (const key of keys) {
      writeString(key);
      try {
        write((value as Record<string, unknown>)[key], depth);
      } catch (error) {
        throw addStep(`.${key}`, error);
      }
    }
    return;
  }
  if (proto === Date.prototype) {
    reserve(9);
    buf[pos] = DATE;
    view.setFloat64(pos + 1, (value as Date).getTime(), true);
    pos += 9;
    return;
  }
  if (value instanceof Map) {
    writeCount(MAP, value.size);
    let i = 0;
    for (const [k, v] of value) {
      try {
        write(k, depth);
      } catch (error) {
        throw addStep(`<key ${i}>`, error);
      }
      try {
        write(v, depth);
      } catch (error) {
        throw addStep(`<value ${i}>`, error);
      }
      i++;
    }
    return;
  }
  if (value instanceof Set) {
    writeCount(SET, value.size);
    let i = 0;
    for (const v of value) {
      try {
        write(v, depth);
      } catch (error) {
        throw addStep(`<item ${i}>`, error);
      }
      i++;
    }
    return;
  }
  if (
    proto === SharedArrayBuffer.prototype ||
    ArrayBuffer.isView(value) && value.buffer instanceof SharedArrayBuffer
  ) {
    throw new Refusal((path) =>
      new TypeError(
        crossing !== undefined
          ? `${path} is shared memory (a SharedArrayBuffer or a view of one), and ${crossing} ` +
            "shares no memory with this process. Send a copy (an ArrayBuffer or typed array) instead"
          : `${path} is shared memory (a SharedArrayBuffer or a view of one), which a channel ` +
            "would copy instead of share; pass it to the process in args or send() instead",
      )
    );
  }
  if (portId !== undefined && value instanceof MessagePort) {
    reserve(5);
    buf[pos] = PORT;
    view.setUint32(pos + 1, portId(value), true);
    pos += 5;
    return;
  }
  if (value instanceof TypedArray) {
    const typed = value as Uint8Array;
    const kind = TYPED_KINDS.findIndex((T) => typed instanceof T);
    if (kind >= 0) {
      reserve(1);
      buf[pos++] = TYPED_ARRAY;
      reserve(1);
      buf[pos++] = kind;
      return writeBytes(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
    }
  }
  if (proto === ArrayBuffer.prototype) {
    reserve(1);
    buf[pos++] = ARRAY_BUFFER;
    return writeBytes(new Uint8Array(value as ArrayBuffer));
  }
  if (proto === DataView.prototype) {
    const dv = value as DataView;
    reserve(1);
    buf[pos++] = DATA_VIEW;
    return writeBytes(new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength));
  }
  if (proto === RegExp.prototype) {
    reserve(1);
    buf[pos++] = REGEXP;
    writeString((value as RegExp).source);
    return writeString((value as RegExp).flags);
  }
  if (value instanceof Error) {
    reserve(1);
    buf[pos++] = ERROR;
    writeString(value.name in ERROR_TYPES ? value.name : "Error");
    writeString(value.message);
    write(typeof value.stack === "string" ? value.stack : undefined, depth);
    try {
      write("cause" in value ? value.cause : undefined, depth);
    } catch (error) {
      throw addStep(".cause", error);
    }
    return;
  }
  if (
    proto === Boolean.prototype || proto === Number.prototype || proto === String.prototype ||
    proto === BigInt.prototype
  ) {
    reserve(1);
    buf[pos++] = BOXED;
    return write((value as { valueOf(): unknown }).valueOf(), depth);
  }
  if (typeof (value as Record<symbol, unknown>)[_WIRE] === "function") {
    throw new Refusal((path) =>
      new TypeError(
        `${path} is a ${_describe(value)}, which cannot travel inside a channel item; ` +
          "pass it to the process in args or send() instead",
      )
    );
  }
  throw new Refusal((path) =>
    new TypeError(
      `${path} is an instance of ${_describe(value).replace(/ object$/, "")}: a channel would ` +
        "drop its prototype, methods and private fields. Send a plain object or array with the " +
        "data it needs instead",
    )
  );
}

// A Troupe object on its way to a process that shares no memory: its state
// crosses when it is plain data; one that lives in shared memory cannot.
function writeWireForm(value: object, keys: string[], depth: number): void {
  const start = pos;
  try {
    writeCount(OBJECT, keys.length);
    for (const key of keys) {
      writeString(key);
      write((value as Record<string, unknown>)[key], depth);
    }
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    pos = start;
    const kind = String((value as Record<string, unknown>)[WIRE_MARK]).replace(/^troupe\./, "");
    throw new Refusal((path) =>
      new TypeError(
        `${path} is a ${kind}, which lives in shared memory: ${crossing} shares no memory ` +
          `with this process, so a ${kind} cannot reach it. Send plain data instead`,
      )
    );
  }
}

function writeCount(tag: number, n: number): void {
  reserve(5);
  buf[pos] = tag;
  view.setUint32(pos + 1, n, true);
  pos += 5;
}

function writeBytes(bytes: Uint8Array): void {
  reserve(4 + bytes.length);
  view.setUint32(pos, bytes.length, true);
  buf.set(bytes, pos + 4);
  pos += 4 + bytes.length;
}

let input: Uint8Array = buf;
let inputView: DataView = view;
let at = 0;

/** Decodes one item from `bytes` (a copy taken out of the ring). */
export function _decode(bytes: Uint8Array): unknown {
  if (bytes.buffer !== input.buffer || bytes.byteOffset !== input.byteOffset) {
    inputView = new DataView(bytes.buffer, bytes.byteOffset);
  }
  input = bytes;
  at = 0;
  try {
    return read();
  } catch (error) {
    // Another process may have written the bytes: they are never trusted.
    if (error instanceof CorruptItem) throw error;
    throw new CorruptItem(`corrupt channel item: ${(error as Error).message}`);
  }
}

class CorruptItem extends Error {}

/** A count read from the item: each of its entries takes at least a byte. */
function readCount(): number {
  const n = inputView.getUint32(at, true);
  at += 4;
  if (n > input.length - at) {
    throw new CorruptItem(`corrupt channel item: count ${n} at byte ${at - 4}`);
  }
  return n;
}

function read(): unknown {
  const tag = input[at++];
  switch (tag) {
    case INT: {
      const v = inputView.getInt32(at, true);
      at += 4;
      return v;
    }
    case FLOAT: {
      const v = inputView.getFloat64(at, true);
      at += 8;
      return v;
    }
    case ASCII:
    case UTF8:
    case UTF16:
      return readString(tag);
    case TRUE:
      return true;
    case FALSE:
      return false;
    case NULL:
      return null;
    case UNDEFINED:
      return undefined;
    case ARRAY: {
      const n = readCount();
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = read();
      return out;
    }
    case OBJECT: {
      const n = readCount();
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const key = readKey();
        out[key] = read();
      }
      return out;
    }
    case BIGINT:
      return BigInt(readString(input[at++]));
    case DATE: {
      const v = inputView.getFloat64(at, true);
      at += 8;
      return new Date(v);
    }
    case MAP: {
      const n = readCount();
      const out = new Map<unknown, unknown>();
      for (let i = 0; i < n; i++) {
        const k = read();
        out.set(k, read());
      }
      return out;
    }
    case SET: {
      const n = readCount();
      const out = new Set<unknown>();
      for (let i = 0; i < n; i++) out.add(read());
      return out;
    }
    case TYPED_ARRAY: {
      const T = TYPED_KINDS[input[at++]];
      return new T(readBytes());
    }
    case ARRAY_BUFFER:
      return readBytes();
    case DATA_VIEW:
      return new DataView(readBytes());
    case REGEXP: {
      const source = readString(input[at++]);
      return new RegExp(source, readString(input[at++]));
    }
    case ERROR: {
      const name = readString(input[at++]);
      const message = readString(input[at++]);
      const stack = read();
      const cause = read();
      const error = cause === undefined
        ? new (ERROR_TYPES[name] ?? Error)(message)
        : new (ERROR_TYPES[name] ?? Error)(message, { cause });
      if (typeof stack === "string") error.stack = stack;
      return error;
    }
    case BOXED:
      return Object(read());
    case PORT: {
      if (portFor === undefined) break;
      const id = inputView.getUint32(at, true);
      at += 4;
      return portFor(id);
    }
  }
  throw new Error(`corrupt channel item: unknown tag ${tag} at byte ${at - 1}`);
}

// Short ASCII keys, by their bytes packed into one number: objects of the
// same shape then share key strings, which V8 builds objects from faster.
const keys = new Map<number, string>();

function readKey(): string {
  const tag = input[at];
  const n = inputView.getUint32(at + 1, true);
  if (tag !== ASCII || n > 6) return readString(input[at++]);
  let packed = n;
  const start = at + 5;
  for (let i = 0; i < n; i++) packed = packed * 256 + input[start + i];
  let key = keys.get(packed);
  if (key === undefined) {
    at++;
    key = readString(tag);
    if (keys.size < 4096) keys.set(packed, key);
  } else at = start + n;
  return key;
}

/** A fresh ArrayBuffer holding the next length-prefixed bytes. */
function readBytes(): ArrayBuffer {
  const n = inputView.getUint32(at, true);
  at += 4;
  const out = input.slice(at, at + n).buffer;
  at += n;
  return out;
}

function readString(tag: number): string {
  const n = inputView.getUint32(at, true);
  at += 4;
  const start = at;
  at += n;
  if (tag === ASCII && n < 64) {
    let s = "";
    for (let i = start; i < at; i++) s += String.fromCharCode(input[i]);
    return s;
  }
  if (tag === UTF16) {
    let s = "";
    for (let i = start; i < at; i += 2) s += String.fromCharCode(inputView.getUint16(i, true));
    return s;
  }
  return (decoder ??= new TextDecoder()).decode(input.subarray(start, at));
}
