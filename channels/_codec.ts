// How channel items become bytes in a shared ring, and back. A tag codec
// written for the common case (numbers, strings, booleans, null, plain objects
// and arrays, Dates) is several times faster than JSON or node:v8 for small
// items; the rest of what structured clone carries (Map, Set, typed arrays,
// RegExp, errors...) goes through node:v8, which is slower but exact.
import v8 from "node:v8";
import { _WIRE } from "../actors/_clone.ts";
import { _describe } from "../actors/_util.ts";

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
const V8 = 12;

// Deeper than this is taken for a cycle, which the codec does not carry.
const MAX_DEPTH = 256;
const TypedArray = Object.getPrototypeOf(Uint8Array);
// Carried exactly by node:v8 (structured clone's own format).
const V8_PROTOS = new Set<unknown>([
  Map.prototype,
  Set.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  DataView.prototype,
  Boolean.prototype,
  Number.prototype,
  String.prototype,
  BigInt.prototype,
]);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
  const { written } = encoder.encodeInto(s, buf.subarray(pos));
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
  if (
    V8_PROTOS.has(proto) || value instanceof TypedArray || value instanceof Error
  ) {
    return writeV8(value);
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

function writeV8(value: object): void {
  // Map and Set entries must obey the same rules as the rest of the item.
  if (value instanceof Map) {
    let i = 0;
    for (const [k, v] of value) {
      checkNested(k, `<key ${i}>`);
      checkNested(v, `<value ${i++}>`);
    }
  } else if (value instanceof Set) {
    let i = 0;
    for (const v of value) checkNested(v, `<item ${i++}>`);
  }
  let bytes: Uint8Array;
  try {
    bytes = v8.serialize(value);
  } catch (error) {
    throw new Refusal((path) =>
      new TypeError(`${path} cannot be carried by a channel: ${(error as Error).message}`)
    );
  }
  reserve(5 + bytes.length);
  buf[pos] = V8;
  view.setUint32(pos + 1, bytes.length, true);
  buf.set(bytes, pos + 5);
  pos += 5 + bytes.length;
}

function checkNested(value: unknown, step: string): void {
  if (typeof value !== "object" && typeof value !== "function" && typeof value !== "symbol") return;
  // Encoding into a throwaway position validates without keeping the bytes.
  const saved = pos;
  try {
    write(value, 0);
  } catch (error) {
    throw addStep(step, error);
  } finally {
    pos = saved;
  }
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
  return read();
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
      const n = inputView.getUint32(at, true);
      at += 4;
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = read();
      return out;
    }
    case OBJECT: {
      const n = inputView.getUint32(at, true);
      at += 4;
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
    case V8: {
      const n = inputView.getUint32(at, true);
      at += 4;
      const bytes = input.slice(at, at + n);
      at += n;
      // v8.deserialize reads nested decodes' state: save ours around it.
      const [i, v, a] = [input, inputView, at];
      const value = v8.deserialize(bytes);
      [input, inputView, at] = [i, v, a];
      return value;
    }
    default:
      throw new Error(`corrupt channel item: unknown tag ${tag} at byte ${at - 1}`);
  }
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
  return decoder.decode(input.subarray(start, at));
}
