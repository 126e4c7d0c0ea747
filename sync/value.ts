/**
 * Numbers in shared memory: `Value` and `SynchronizedArray` (with a lock),
 * `RawValue` and `RawArray`.
 *
 * @module
 */
import {
  type _Outbox,
  _registerReviver,
  _relayed,
  _WIRE,
  type _WireForm,
} from "../runtime/wire.ts";
import { _describe, _inspectable } from "../runtime/util.ts";
import { _reviveLock, Lock, RLock } from "./lock.ts";

/** The numeric types shared memory holds, by size: `"i32"` is a signed 32-bit integer. */
export type NumericType =
  | "i8"
  | "u8"
  | "i16"
  | "u16"
  | "i32"
  | "u32"
  | "f32"
  | "f64"
  | "i64"
  | "u64";

/**
 * A numeric type, or the Python `array`/`ctypes` typecode for it: `"b"`/`"B"`
 * (i8/u8), `"h"`/`"H"` (i16/u16), `"i"`/`"I"` (i32/u32), `"l"`/`"L"` and
 * `"q"`/`"Q"` (i64/u64, as on 64-bit Linux), `"f"` (f32), `"d"` (f64).
 */
export type TypeCode =
  | NumericType
  | "b"
  | "B"
  | "h"
  | "H"
  | "i"
  | "I"
  | "l"
  | "L"
  | "q"
  | "Q"
  | "f"
  | "d";

/** The {@linkcode NumericType} a {@linkcode TypeCode} stands for. */
export type NumericTypeOf<T extends TypeCode> = T extends "b" ? "i8"
  : T extends "B" ? "u8"
  : T extends "h" ? "i16"
  : T extends "H" ? "u16"
  : T extends "i" ? "i32"
  : T extends "I" ? "u32"
  : T extends "l" | "q" ? "i64"
  : T extends "L" | "Q" ? "u64"
  : T extends "f" ? "f32"
  : T extends "d" ? "f64"
  : T;

/** The JavaScript type of one element: `bigint` for i64 and u64, `number` otherwise. */
export type ElementOf<T extends TypeCode> = NumericTypeOf<T> extends "i64" | "u64" ? bigint
  : number;

/** The typed array over shared memory that {@linkcode RawArray} returns for a type. */
export type SharedTypedArray<T extends TypeCode> = NumericTypeOf<T> extends "i8"
  ? Int8Array<SharedArrayBuffer>
  : NumericTypeOf<T> extends "u8" ? Uint8Array<SharedArrayBuffer>
  : NumericTypeOf<T> extends "i16" ? Int16Array<SharedArrayBuffer>
  : NumericTypeOf<T> extends "u16" ? Uint16Array<SharedArrayBuffer>
  : NumericTypeOf<T> extends "i32" ? Int32Array<SharedArrayBuffer>
  : NumericTypeOf<T> extends "u32" ? Uint32Array<SharedArrayBuffer>
  : NumericTypeOf<T> extends "f32" ? Float32Array<SharedArrayBuffer>
  : NumericTypeOf<T> extends "f64" ? Float64Array<SharedArrayBuffer>
  : NumericTypeOf<T> extends "i64" ? BigInt64Array<SharedArrayBuffer>
  : BigUint64Array<SharedArrayBuffer>;

type AnyArray =
  | Int8Array<SharedArrayBuffer>
  | Uint8Array<SharedArrayBuffer>
  | Int16Array<SharedArrayBuffer>
  | Uint16Array<SharedArrayBuffer>
  | Int32Array<SharedArrayBuffer>
  | Uint32Array<SharedArrayBuffer>
  | Float32Array<SharedArrayBuffer>
  | Float64Array<SharedArrayBuffer>
  | BigInt64Array<SharedArrayBuffer>
  | BigUint64Array<SharedArrayBuffer>;
type Ctor = new (buffer: SharedArrayBuffer, offset?: number, length?: number) => AnyArray;

const CTORS: Record<NumericType, Ctor> = {
  i8: Int8Array,
  u8: Uint8Array,
  i16: Int16Array,
  u16: Uint16Array,
  i32: Int32Array,
  u32: Uint32Array,
  f32: Float32Array,
  f64: Float64Array,
  i64: BigInt64Array,
  u64: BigUint64Array,
} as unknown as Record<NumericType, Ctor>;

const CODES: Record<string, NumericType> = {
  b: "i8",
  B: "u8",
  h: "i16",
  H: "u16",
  i: "i32",
  I: "u32",
  l: "i64",
  L: "u64",
  q: "i64",
  Q: "u64",
  f: "f32",
  d: "f64",
};

function numericType(type: unknown, what: string): NumericType {
  if (typeof type === "string") {
    if (Object.hasOwn(CTORS, type)) return type as NumericType;
    if (Object.hasOwn(CODES, type)) return CODES[type];
  }
  throw new TypeError(
    `${what} type must be one of ${Object.keys(CTORS).join(", ")} (or a Python typecode: ` +
      `${Object.keys(CODES).join(" ")}), got ${
        typeof type === "string" ? JSON.stringify(type) : _describe(type)
      }`,
  );
}

const isBig = (type: NumericType) => type === "i64" || type === "u64";
const isFloat = (type: NumericType) => type === "f32" || type === "f64";

function element(type: NumericType, value: unknown, what: string): number | bigint {
  if (isBig(type)) {
    if (typeof value === "bigint") return value;
    if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  } else if (typeof value === "number") return value;
  throw new TypeError(
    `${what} must be ${isBig(type) ? "a bigint (or an integer number)" : "a number"} for ` +
      `type ${type}, got ${typeof value === "object" ? _describe(value) : typeof value}`,
  );
}

function allocate(type: NumericType, length: number): AnyArray {
  const ctor = CTORS[type] as unknown as { BYTES_PER_ELEMENT: number } & Ctor;
  return new ctor(new SharedArrayBuffer(Math.max(1, length) * ctor.BYTES_PER_ELEMENT), 0, length);
}

/**
 * A typed array over shared memory, Python's `multiprocessing.RawArray`: pass
 * it in `args` and every process reads and writes the same elements. There is
 * no lock; guard compound updates with a {@linkcode Lock}, or use `Atomics`
 * on integer types.
 *
 * @param type The element type: a {@linkcode NumericType} such as `"i32"` or `"f64"`, or a Python typecode such as `"d"`.
 * @param lengthOrValues How many elements (all 0), or the initial elements.
 * @returns An `Int32Array`, `Float64Array`... over a new `SharedArrayBuffer`.
 *
 * @example
 * ```ts
 * import { RawArray } from "@troupe/troupe";
 *
 * const hist = RawArray("i32", 10);
 * Atomics.add(hist, 3, 1);
 * const xs = RawArray("d", [0.5, 1.5]);
 * console.assert(hist[3] === 1 && xs[1] === 1.5);
 * console.assert(hist.buffer instanceof SharedArrayBuffer);
 * ```
 */
export function RawArray<T extends TypeCode>(
  type: T,
  lengthOrValues: number | ArrayLike<ElementOf<T>> | Iterable<ElementOf<T>>,
): SharedTypedArray<T> {
  const t = numericType(type, "RawArray()");
  return arrayFor(t, lengthOrValues, "RawArray()") as SharedTypedArray<T>;
}

function arrayFor(t: NumericType, lengthOrValues: unknown, what: string): AnyArray {
  if (typeof lengthOrValues === "number") {
    if (!Number.isInteger(lengthOrValues) || lengthOrValues < 0) {
      throw new RangeError(`${what} length must be a non-negative integer, got ${lengthOrValues}`);
    }
    return allocate(t, lengthOrValues);
  }
  // Array.from() would take any object as an empty list: ask for an iterable or an array-like.
  if (
    typeof lengthOrValues !== "object" || lengthOrValues === null ||
    (typeof (lengthOrValues as Partial<Iterable<unknown>>)[Symbol.iterator] !== "function" &&
      typeof (lengthOrValues as Partial<ArrayLike<unknown>>).length !== "number")
  ) {
    throw new TypeError(
      `${what} needs a length or the initial values, got ${_describe(lengthOrValues)}`,
    );
  }
  const values = Array.from(lengthOrValues as ArrayLike<unknown>);
  const array = allocate(t, values.length);
  values.forEach((v, i) => (array[i] = element(t, v, `${what} values[${i}]`) as never));
  return array;
}

// ---- single values ---------------------------------------------------------

interface ValueState {
  type: NumericType;
  buffer: SharedArrayBuffer;
  /** How many elements: a SynchronizedArray's; a value has one. */
  length?: number;
  lock?: { kind: string; state: unknown };
}

let reviving: { type: NumericType; cell: AnyArray; lock: Lock | RLock | undefined } | undefined;

function cellFor(type: NumericType, initial: unknown, what: string): AnyArray {
  const cell = allocate(type, 1);
  if (initial !== undefined) cell[0] = element(type, initial, `${what} initial value`) as never;
  return cell;
}

function read(type: NumericType, cell: AnyArray, index = 0): number | bigint {
  return isFloat(type) ? cell[index] : Atomics.load(cell as unknown as Int32Array, index);
}

function write(type: NumericType, cell: AnyArray, value: unknown, what: string, index = 0): void {
  const v = element(type, value, what);
  if (isFloat(type)) cell[index] = v as never;
  else Atomics.store(cell as unknown as Int32Array, index, v as number);
}

/** The lock `options` ask for: a new RLock for `true` (Python's default), none for `false`. */
function lockOption(options: ValueOptions, what: string): Lock | RLock | undefined {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${what} options must be an object, got ${_describe(options)}`);
  }
  const { lock = true } = options;
  if (lock !== true && lock !== false && !(lock instanceof Lock) && !(lock instanceof RLock)) {
    throw new TypeError(
      `${what} lock must be true, false, a Lock or an RLock, got ${_describe(lock)}`,
    );
  }
  return lock === true ? new RLock() : lock === false ? undefined : lock;
}

function noLock(what: string): Error {
  return new Error(`this ${what} was made with { lock: false }, so it has no lock to get`);
}

/** The wire form of a value's or array's lock, kept in its state. */
function lockState(lock: Lock | RLock | undefined): ValueState["lock"] {
  if (!lock) return undefined;
  const form = lock[_WIRE]("lock");
  return { kind: form.kind, state: form.state };
}

/**
 * One number in shared memory with no lock, Python's
 * `multiprocessing.RawValue`. Reads and writes of `value` are single atomic
 * operations (for integer types); `v.value = v.value + 1` is not, so guard it
 * with a {@linkcode Lock} or use a {@linkcode Value}.
 *
 * @typeParam T The element type.
 *
 * @example
 * ```ts
 * import { RawValue } from "@troupe/troupe";
 *
 * const hits = new RawValue("i32", 0);
 * hits.value = hits.value + 1;
 * const big = new RawValue("u64", 1n << 40n);
 * console.assert(hits.value === 1 && big.value === 1099511627776n);
 * ```
 */
export class RawValue<T extends TypeCode = "f64"> {
  #type: NumericType;
  #cell: AnyArray;

  static {
    // console.log(v): RawValue { type: "i32", value: 5 }
    _inspectable(this, (v) => ({ type: v.#type, value: read(v.#type, v.#cell) }));
  }

  /**
   * Creates a value.
   *
   * @param type The element type, such as `"i32"` or `"f64"` (or a Python typecode).
   * @param initial The initial value. @default {0}
   */
  constructor(type: T, initial?: ElementOf<T>) {
    if (reviving) {
      ({ type: this.#type, cell: this.#cell } = reviving);
      reviving = undefined;
      return;
    }
    this.#type = numericType(type, "RawValue");
    this.#cell = cellFor(this.#type, initial, "RawValue");
  }

  /** The element type, such as `"i32"`. */
  get type(): NumericTypeOf<T> {
    return this.#type as NumericTypeOf<T>;
  }

  /** The number, read from shared memory. */
  get value(): ElementOf<T> {
    return read(this.#type, this.#cell) as ElementOf<T>;
  }
  set value(value: ElementOf<T>) {
    write(this.#type, this.#cell, value, "RawValue value");
  }

  /**
   * Reads the number, as `value` does. The async form works in every
   * process, including one that shares no memory with the value (a "spawn"
   * child), where `value` cannot: there the read is done by its creator.
   *
   * @returns The number.
   */
  load(): Promise<ElementOf<T>> {
    return Promise.resolve(this.value);
  }

  /**
   * Writes the number, as setting `value` does; the async form works in
   * every process (see {@linkcode RawValue.load}).
   *
   * @param value A number, or a bigint for `"i64"` and `"u64"`.
   * @throws {TypeError} When `value` is not of the element's kind.
   */
  store(value: ElementOf<T>): Promise<void> {
    try {
      this.value = value;
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The value's wire form: its shared memory. Internal: how it travels to another worker.
   *
   * @ignore
   */
  [_WIRE](path: string, out?: _Outbox): _WireForm {
    const relayed = _relayed("troupe.RawValue", this, path, out);
    if (relayed) return relayed;
    const state: ValueState = { type: this.#type, buffer: this.#cell.buffer };
    return { kind: "troupe.RawValue", module: import.meta.url, state };
  }
}

/** Options for {@linkcode Value}. */
export interface ValueOptions {
  /**
   * The lock `getLock()` returns: `true` for a new `RLock` (as in Python), a
   * `Lock` or `RLock` to share one, or `false` for none. @default {true}
   */
  lock?: boolean | Lock | RLock;
}

/**
 * One number in shared memory with a lock, Python's `multiprocessing.Value`.
 * `value` reads and writes are single atomic operations (for integer types);
 * hold `getLock()` around a read-modify-write such as `v.value += 1`, which
 * Python's `Value` does not make atomic either.
 *
 * @typeParam T The element type.
 *
 * @example Four processes counting under the lock
 * ```ts
 * import { Process, task, Value } from "@troupe/troupe";
 *
 * const count = task(import.meta, function count(total: Value<"i32">) {
 *   for (let i = 0; i < 1000; i++) {
 *     using _ = total.getLock().acquireSync();
 *     total.value += 1;
 *   }
 * });
 *
 * if (import.meta.main) {
 *   const total = new Value("i32", 0);
 *   const ps = [1, 2, 3, 4].map(() => new Process({ target: count, args: [total] }));
 *   ps.forEach((p) => p.start());
 *   for (const p of ps) await p.join();
 *   console.assert(total.value === 4000);
 * }
 * ```
 */
export class Value<T extends TypeCode = "f64"> {
  #type: NumericType;
  #cell: AnyArray;
  #lock: Lock | RLock | undefined;

  static {
    // console.log(v): Value { type: "i32", value: 5 } (the lock is not taken)
    _inspectable(this, (v) => ({ type: v.#type, value: read(v.#type, v.#cell) }));
  }

  /**
   * Creates a value.
   *
   * @param type The element type, such as `"i32"` or `"f64"` (or a Python typecode).
   * @param initial The initial value. @default {0}
   * @param options `lock`.
   */
  constructor(type: T, initial?: ElementOf<T>, options: ValueOptions = {}) {
    if (reviving) {
      ({ type: this.#type, cell: this.#cell, lock: this.#lock } = reviving);
      reviving = undefined;
      return;
    }
    this.#type = numericType(type, "Value");
    const lock = lockOption(options, "Value");
    this.#cell = cellFor(this.#type, initial, "Value");
    this.#lock = lock;
  }

  /** The element type, such as `"i32"`. */
  get type(): NumericTypeOf<T> {
    return this.#type as NumericTypeOf<T>;
  }

  /** The number, read from shared memory (one atomic read; the lock is not taken). */
  get value(): ElementOf<T> {
    return read(this.#type, this.#cell) as ElementOf<T>;
  }
  set value(value: ElementOf<T>) {
    write(this.#type, this.#cell, value, "Value value");
  }

  /**
   * Reads the number, as `value` does. The async form works in every
   * process, including one that shares no memory with the value (a "spawn"
   * child), where `value` cannot: there the read is done by its creator.
   *
   * @returns The number.
   */
  load(): Promise<ElementOf<T>> {
    return Promise.resolve(this.value);
  }

  /**
   * Writes the number, as setting `value` does; the async form works in
   * every process (see {@linkcode Value.load}).
   *
   * @param value A number, or a bigint for `"i64"` and `"u64"`.
   * @throws {TypeError} When `value` is not of the element's kind.
   */
  store(value: ElementOf<T>): Promise<void> {
    try {
      this.value = value;
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The lock that guards this value (Python's `get_lock()`).
   *
   * @returns The `RLock` made for it, or the lock given in its options.
   * @throws {Error} When the value was made with `{ lock: false }`.
   */
  getLock(): Lock | RLock {
    if (!this.#lock) throw noLock("Value");
    return this.#lock;
  }

  /**
   * The value's wire form: its shared memory and its lock's. Internal: how it travels to another worker.
   *
   * @ignore
   */
  [_WIRE](path: string, out?: _Outbox): _WireForm {
    const relayed = _relayed("troupe.Value", this, path, out);
    if (relayed) return relayed;
    const state: ValueState = {
      type: this.#type,
      buffer: this.#cell.buffer,
      lock: lockState(this.#lock),
    };
    return { kind: "troupe.Value", module: import.meta.url, state };
  }
}

/**
 * Options for {@linkcode SynchronizedArray}: the same as a {@linkcode Value}'s.
 *
 * @example
 * ```ts
 * import { Lock, SynchronizedArray, type SynchronizedArrayOptions } from "@troupe/troupe";
 *
 * const options: SynchronizedArrayOptions = { lock: new Lock() };
 * const xs = new SynchronizedArray("f64", 4, options);
 * console.assert(xs.getLock() === options.lock);
 * ```
 */
export type SynchronizedArrayOptions = ValueOptions;

/**
 * An array of numbers in shared memory with a lock: what Python's
 * `multiprocessing.Array(typecode, size_or_initializer, lock=True)` returns
 * (its class is `SynchronizedArray`; a module cannot sensibly export an
 * `Array`). `array` is the typed array itself (Python's `get_obj()`), and
 * `getLock()` the lock that guards it (`get_lock()`). Pass it in `args`, mail,
 * pool task arguments or actor calls: every process sees the same elements
 * and the same lock.
 *
 * As with {@linkcode Value}, the lock is not taken for you: `get(i)` and
 * `set(i, v)` are single atomic operations (for integer types), and a
 * read-modify-write such as `xs.array[i] += 1` needs `getLock()` held.
 *
 * @typeParam T The element type.
 *
 * @example Four processes filling a histogram under its lock
 * ```ts
 * import { Process, SynchronizedArray, task } from "@troupe/troupe";
 *
 * const tally = task(import.meta, function tally(hist: SynchronizedArray<"i32">) {
 *   for (let n = 0; n < 1000; n++) {
 *     using _ = hist.getLock().acquireSync();
 *     hist.array[n % hist.length] += 1;
 *   }
 * });
 *
 * if (import.meta.main) {
 *   const hist = new SynchronizedArray("i32", 10);
 *   const ps = [1, 2, 3, 4].map(() => new Process({ target: tally, args: [hist] }));
 *   ps.forEach((p) => p.start());
 *   for (const p of ps) await p.join();
 *   console.assert(hist.toArray().every((n) => n === 400));
 * }
 * ```
 */
export class SynchronizedArray<T extends TypeCode = "f64"> {
  #type: NumericType;
  #array: AnyArray;
  #lock: Lock | RLock | undefined;

  static {
    // console.log(a): SynchronizedArray { type: "f64", array: Float64Array(3) [ 1, 2, 3 ] }
    _inspectable(this, (a) => ({ type: a.#type, array: a.#array }));
  }

  /**
   * Creates an array.
   *
   * @param type The element type: a {@linkcode NumericType} such as `"i32"` or `"f64"`, or a Python typecode such as `"d"`.
   * @param lengthOrValues How many elements (all 0), or the initial elements.
   * @param options `lock`.
   */
  constructor(
    type: T,
    lengthOrValues: number | ArrayLike<ElementOf<T>> | Iterable<ElementOf<T>>,
    options: SynchronizedArrayOptions = {},
  ) {
    if (reviving) {
      ({ type: this.#type, cell: this.#array, lock: this.#lock } = reviving);
      reviving = undefined;
      return;
    }
    this.#type = numericType(type, "SynchronizedArray");
    const lock = lockOption(options, "SynchronizedArray");
    this.#array = arrayFor(this.#type, lengthOrValues, "SynchronizedArray");
    this.#lock = lock;
  }

  /** The element type, such as `"i32"`. */
  get type(): NumericTypeOf<T> {
    return this.#type as NumericTypeOf<T>;
  }

  /** The typed array over shared memory (Python's `get_obj()`); hold the lock for compound updates. */
  get array(): SharedTypedArray<T> {
    return this.#array as SharedTypedArray<T>;
  }

  /** How many elements it has. */
  get length(): number {
    return this.#array.length;
  }

  /**
   * The lock that guards this array (Python's `get_lock()`).
   *
   * @returns The `RLock` made for it, or the lock given in its options.
   * @throws {Error} When the array was made with `{ lock: false }`.
   */
  getLock(): Lock | RLock {
    if (!this.#lock) throw noLock("SynchronizedArray");
    return this.#lock;
  }

  /**
   * One element, read from shared memory (one atomic read for integer types; the lock is not taken).
   *
   * @param index From 0 to `length - 1`; a negative one counts from the end, as in Python.
   * @throws {RangeError} When `index` is not an integer in that range.
   */
  get(index: number): ElementOf<T> {
    return read(this.#type, this.#array, this.#checked(index)) as ElementOf<T>;
  }

  /**
   * Writes one element (one atomic write for integer types; the lock is not taken).
   *
   * @param index From 0 to `length - 1`; a negative one counts from the end, as in Python.
   * @param value A number, or a bigint for `"i64"` and `"u64"`.
   * @throws {RangeError} When `index` is not an integer in that range.
   * @throws {TypeError} When `value` is not of the element's kind.
   */
  set(index: number, value: ElementOf<T>): void {
    const i = this.#checked(index);
    write(this.#type, this.#array, value, `SynchronizedArray value at index ${i}`, i);
  }

  /**
   * Reads one element, as `get(index)` does. The async form works in every
   * process, including one that shares no memory with the array (a "spawn"
   * child), where `get()` and `array` cannot: there the read is done by its
   * creator.
   *
   * @param index From 0 to `length - 1`; a negative one counts from the end.
   * @returns The element.
   */
  load(index: number): Promise<ElementOf<T>> {
    try {
      return Promise.resolve(this.get(index));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Writes one element, as `set(index, value)` does; the async form works in
   * every process (see {@linkcode SynchronizedArray.load}).
   *
   * @param index From 0 to `length - 1`; a negative one counts from the end.
   * @param value A number, or a bigint for `"i64"` and `"u64"`.
   */
  store(index: number, value: ElementOf<T>): Promise<void> {
    try {
      this.set(index, value);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * A plain array copied from the elements, as `toArray()` does; the async
   * form works in every process (see {@linkcode SynchronizedArray.load}).
   *
   * @returns The elements.
   */
  loadAll(): Promise<ElementOf<T>[]> {
    return Promise.resolve(this.toArray());
  }

  /** A plain array copied from the elements (the lock is not taken). */
  toArray(): ElementOf<T>[] {
    return Array.from(this.#array as unknown as ArrayLike<ElementOf<T>>);
  }

  /** The elements, read from shared memory as the iteration reaches them. */
  [Symbol.iterator](): IterableIterator<ElementOf<T>> {
    return this.#array.values() as IterableIterator<ElementOf<T>>;
  }

  #checked(index: number): number {
    const n = this.#array.length;
    if (Number.isInteger(index) && index < 0 && index >= -n) return index + n;
    if (!Number.isInteger(index) || index < 0 || index >= n) {
      throw new RangeError(
        `SynchronizedArray index ${
          typeof index === "number" ? index : _describe(index)
        } is out of range for length ${this.#array.length}`,
      );
    }
    return index;
  }

  /**
   * The array's wire form: its shared memory and its lock's. Internal: how it travels to another worker.
   *
   * @ignore
   */
  [_WIRE](path: string, out?: _Outbox): _WireForm {
    const relayed = _relayed("troupe.SynchronizedArray", this, path, out);
    if (relayed) return relayed;
    const state: ValueState = {
      type: this.#type,
      buffer: this.#array.buffer,
      length: this.#array.length,
      lock: lockState(this.#lock),
    };
    return { kind: "troupe.SynchronizedArray", module: import.meta.url, state };
  }
}

function reviveState(state: unknown, kind: string): ValueState {
  const s = state as Partial<ValueState> | null;
  if (!s || !(s.buffer instanceof SharedArrayBuffer) || !s.type || !Object.hasOwn(CTORS, s.type)) {
    throw new TypeError(`a Troupe ${kind} arrived without its shared memory`);
  }
  if (s.length !== undefined && !(Number.isInteger(s.length) && s.length >= 0)) {
    throw new TypeError(`a Troupe ${kind} arrived without its length`);
  }
  return s as ValueState;
}

_registerReviver("troupe.RawValue", (state) => {
  const { type, buffer } = reviveState(state, "RawValue");
  reviving = { type, cell: new CTORS[type](buffer, 0, 1), lock: undefined };
  return new RawValue(type);
});

_registerReviver("troupe.Value", (state) => {
  const { type, buffer, lock } = reviveState(state, "Value");
  reviving = {
    type,
    cell: new CTORS[type](buffer, 0, 1),
    lock: lock && _reviveLock(lock.kind, lock.state),
  };
  return new Value(type);
});

_registerReviver("troupe.SynchronizedArray", (state) => {
  const { type, buffer, length, lock } = reviveState(state, "SynchronizedArray");
  reviving = {
    type,
    cell: new CTORS[type](buffer, 0, length ?? 0),
    lock: lock && _reviveLock(lock.kind, lock.state),
  };
  return new SynchronizedArray(type, 0);
});
