/**
 * The Standard Schema interface (https://standardschema.dev), which zod,
 * valibot, arktype and others implement: channels take any such validator as
 * their `schema` option and check each item with it before it is sent.
 *
 * @module
 */

/**
 * A validator that implements Standard Schema v1: zod, valibot, arktype and
 * others. Only `["~standard"].validate` is used.
 *
 * @typeParam Input What the validator accepts.
 * @typeParam Output What it returns for valid input (the type of the channel's items).
 *
 * @example A hand-written validator
 * ```ts
 * import { Queue, type StandardSchemaV1 } from "@troupe/troupe";
 *
 * const positive: StandardSchemaV1<number> = {
 *   "~standard": {
 *     version: 1,
 *     vendor: "example",
 *     validate: (v) =>
 *       typeof v === "number" && v > 0 ? { value: v } : { issues: [{ message: "not positive" }] },
 *   },
 * };
 * const q = new Queue<number>({ schema: positive });
 * await q.put(1);
 * q.close();
 * ```
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The standard properties. */
  readonly "~standard": StandardSchemaV1.Props<Input, Output>;
}

/** Types that belong to {@linkcode StandardSchemaV1}. */
export declare namespace StandardSchemaV1 {
  /** The properties every Standard Schema validator has under `"~standard"`. */
  export interface Props<Input = unknown, Output = Input> {
    /** The version of the standard: 1. */
    readonly version: 1;
    /** Which library made the validator. */
    readonly vendor: string;
    /** Checks `value`: the output value, or the issues found. */
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    /** Type-only: what it takes and returns. */
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  }
  /** The outcome of `validate`. */
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  /** A value that passed. */
  export interface SuccessResult<Output> {
    /** The validated (possibly transformed) value. */
    readonly value: Output;
    /** Absent on success. */
    readonly issues?: undefined;
  }
  /** A value that failed, and why. */
  export interface FailureResult {
    /** What was wrong, one entry per problem. */
    readonly issues: ReadonlyArray<Issue>;
  }
  /** One problem found by a validator. */
  export interface Issue {
    /** The validator's message. */
    readonly message: string;
    /** Where in the value the problem is. */
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  /** A step of an issue's path. */
  export interface PathSegment {
    /** The key at this step. */
    readonly key: PropertyKey;
  }
}

/**
 * Checks `value` with a Standard Schema validator and returns the validated
 * value; throws a TypeError with the validator's messages when it fails.
 */
export function _validate<T>(
  schema: StandardSchemaV1<unknown, T>,
  value: unknown,
  what: string,
): T | Promise<T> {
  const result = schema["~standard"].validate(value);
  if (result instanceof Promise) return result.then((r) => checked(r, what));
  return checked(result, what);
}

/** `_validate` for the synchronous calls: an async validator is refused clearly. */
export function _validateSync<T>(
  schema: StandardSchemaV1<unknown, T>,
  value: unknown,
  what: string,
  call: string,
): T {
  const result = _validate(schema, value, what);
  if (result instanceof Promise) {
    result.catch(() => {});
    throw new TypeError(
      `${call} cannot use this schema: it validates asynchronously; use the async form instead`,
    );
  }
  return result;
}

function checked<T>(result: StandardSchemaV1.Result<T>, what: string): T {
  if (result.issues) {
    const details = result.issues.map((issue) => {
      const path = issue.path?.map((p) => typeof p === "object" ? p.key : p).join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    });
    throw new TypeError(`${what} was refused by the schema: ${details.join("; ")}`);
  }
  return result.value;
}
