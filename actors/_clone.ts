// What may be sent to a worker. Structured clone silently turns a class
// instance into a plain object (its prototype and private fields are lost),
// so this walk refuses what would not arrive intact, naming where it was.
import { _describe } from "./_util.ts";

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

function isErrorLike(value: object): boolean {
  return value instanceof Error || value instanceof DOMException;
}

/**
 * Checks that `value` arrives in a worker as it is, and collects the
 * `MessagePort`s inside it (they must be transferred, not copied).
 *
 * @param value What will be posted.
 * @param path How the caller names it, e.g. `"args[0]"`.
 * @param transfer Receives the ports found.
 * @throws {TypeError} Naming the path and type of the first value that cannot be sent.
 */
export function _checkSendable(value: unknown, path: string, transfer: Transferable[]): void {
  walk(value, path, transfer, new Set());
}

function walk(value: unknown, path: string, transfer: Transferable[], seen: Set<object>): void {
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
      return;
  }
  if (value === null || seen.has(value)) return;
  seen.add(value);
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    for (const key of Object.keys(value)) {
      walk((value as Record<string, unknown>)[key], `${path}.${key}`, transfer, seen);
    }
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) walk(value[i], `${path}[${i}]`, transfer, seen);
    return;
  }
  if (value instanceof TypedArray || CLONEABLE.has(proto) || isErrorLike(value)) return;
  if (value instanceof MessagePort) {
    if (!transfer.includes(value)) transfer.push(value);
    return;
  }
  if (value instanceof Map) {
    let i = 0;
    for (const [k, v] of value) {
      walk(k, `${path}<key ${i}>`, transfer, seen);
      walk(
        v,
        `${path}.get(${typeof k === "string" ? JSON.stringify(k) : `<key ${i}>`})`,
        transfer,
        seen,
      );
      i++;
    }
    return;
  }
  if (value instanceof Set) {
    let i = 0;
    for (const v of value) walk(v, `${path}<item ${i++}>`, transfer, seen);
    return;
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
