// Small helpers shared by the runtime's files.

/** Whether `fn` is a class (as opposed to a plain or arrow function). */
export function _isClass(fn: unknown): boolean {
  return typeof fn === "function" && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

/** Anything with `postMessage`: a Worker, a worker's `self`, a MessagePort. */
export interface _PostTarget {
  postMessage(message: unknown, transfer: Transferable[]): void;
  postMessage(message: unknown): void;
}

/**
 * Posts `message`, passing a transfer list only when there is something to
 * move. Any second argument to `postMessage` costs about 1 ms the first time a
 * worker uses it (Deno's lazy set-up, on every worker's start-up path) and
 * about 0.3 µs on every later post (measured, Deno 2.9).
 */
export function _post(target: _PostTarget, message: unknown, transfer?: Transferable[]): void {
  if (transfer !== undefined && transfer.length > 0) target.postMessage(message, transfer);
  else target.postMessage(message);
}

/** A short description of a value's type for error messages: "function f", "Point object". */
export function _describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "function") {
    return `${_isClass(value) ? "class" : "function"} ${value.name || "(anonymous)"}`;
  }
  if (typeof value === "symbol") return `symbol ${value.description ?? ""}`.trimEnd();
  if (typeof value !== "object") return typeof value;
  const ctor = Object.getPrototypeOf(value)?.constructor;
  return ctor?.name ? `${ctor.name} object` : "object";
}

/**
 * Validates an optional timeout in milliseconds. `undefined` (also for
 * `null` and `Infinity`) means wait forever.
 */
export function _checkTimeout(timeoutMs: unknown, what: string): number | undefined {
  if (timeoutMs === undefined || timeoutMs === null || timeoutMs === Infinity) return undefined;
  if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(
      `${what} must be a non-negative number of milliseconds, got ${String(timeoutMs)}`,
    );
  }
  return timeoutMs;
}

/** The hook `console.log()` and `Deno.inspect()` call to print an object. */
const INSPECT = Symbol.for("Deno.customInspect");

/**
 * Makes `console.log()` and `Deno.inspect()` print an instance of `cls` as
 * its class name and the fields `fields` reads from it, formatted with the
 * caller's options (colors, depth): `Pool { processes: 2, state: "running" }`.
 * `fields` must be cheap and leave the object as it was: no waiting, no
 * remote call. An object it cannot read (a prototype) prints as `Name {}`.
 */
export function _inspectable<T extends object>(
  cls: { prototype: T },
  fields: (self: T) => Record<string, unknown>,
): void {
  Object.defineProperty(cls.prototype, INSPECT, {
    value: function customInspect(
      this: T,
      inspect: typeof Deno.inspect,
      options: Deno.InspectOptions,
    ): string {
      let shown: Record<string, unknown> = {};
      try {
        shown = fields(this);
      } catch {
        // Printing must not fail: show the class alone.
      }
      return `${this.constructor.name} ${inspect(shown, options)}`;
    },
  });
}
