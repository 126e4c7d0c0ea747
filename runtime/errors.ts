/**
 * Errors that cross a process boundary: a child's error rebuilt in the parent,
 * and the wire form every error travels in.
 *
 * @module
 */
import type { WireError } from "./protocol.ts";

/**
 * An error thrown in a child process, rebuilt in the parent.
 *
 * `message` reads `"<ChildErrorName> in <process name>: <child's message>"`;
 * the child's own name, message and stack are kept apart in
 * {@linkcode RemoteError.remoteName}, {@linkcode RemoteError.remoteMessage} and
 * {@linkcode RemoteError.remoteStack}. The child's error itself is the
 * `cause`: an `Error` with the child's name, message and stack, so an
 * uncaught `RemoteError` prints the child's frames under "Caused by:", and a
 * child error's own `cause` chain follows it.
 *
 * @example Catching a child's error
 * ```ts
 * import { RemoteError } from "@troupe/troupe";
 *
 * const error = new RemoteError("Process-1", 7, { name: "TypeError", message: "bad input" });
 * console.assert(error instanceof RemoteError);
 * console.assert(error.message === "TypeError in Process-1: bad input");
 * console.assert(error.remoteName === "TypeError");
 * console.assert((error.cause as Error).name === "TypeError");
 * ```
 */
export class RemoteError extends Error {
  /** Name of the process the error was thrown in. */
  readonly processName: string;
  /** Pid of the process the error was thrown in. */
  readonly pid: number | undefined;
  /** The class name of the original error, such as `"TypeError"`. */
  readonly remoteName: string;
  /** The original error's message. */
  readonly remoteMessage: string;
  /** The original error's stack as printed in the child. */
  readonly remoteStack: string | undefined;

  /**
   * Rebuilds a child's error.
   *
   * @param processName Name of the process the error was thrown in.
   * @param pid Its pid.
   * @param error The error as it crossed the worker boundary.
   */
  constructor(processName: string, pid: number | undefined, error: WireError) {
    super(`${error.name} in ${processName}: ${error.message}`, { cause: _fromWireError(error) });
    this.name = "RemoteError";
    this.processName = processName;
    this.pid = pid;
    this.remoteName = error.name;
    this.remoteMessage = error.message;
    this.remoteStack = error.stack;
  }
}

/**
 * The child's error as a plain `Error` carrying its name, message and stack
 * (and its own cause, rebuilt the same way): what a `RemoteError`'s `cause` is.
 */
export function _fromWireError(error: WireError): Error {
  const cause = error.cause ? _fromWireError(error.cause) : undefined;
  const rebuilt = cause === undefined
    ? new Error(error.message)
    : new Error(error.message, { cause });
  rebuilt.name = error.name;
  rebuilt.stack = error.stack ?? `${error.name}: ${error.message}`;
  return rebuilt;
}

/**
 * Thrown when a process, pool or actor asks for permissions that cannot be
 * applied: more than the parent has, or a narrowed set while Deno's
 * `worker-options` unstable feature is off. No worker is started.
 *
 * @example
 * ```ts
 * import { PermissionError } from "@troupe/troupe";
 *
 * const error = new PermissionError("permissions.net asks for network access this process does not have");
 * console.assert(error.name === "PermissionError");
 * ```
 */
export class PermissionError extends Error {
  /**
   * Constructs the error.
   *
   * @param message What was asked and how to fix it.
   */
  constructor(message: string) {
    super(message);
    this.name = "PermissionError";
  }
}

/** Turns anything thrown into a {@linkcode WireError}. */
export function _toWireError(error: unknown): WireError {
  if (error instanceof Error) return _errorToWire(error, 0);
  let message: string;
  try {
    message = typeof error === "string" ? error : Deno.inspect(error);
  } catch {
    message = String(error);
  }
  return { name: "Error", message: `non-Error thrown: ${message}` };
}

/** How deep a child error's `cause` chain travels. */
const CAUSE_DEPTH = 8;

/** Deno's advice in a `NotCapable` message, which speaks of the command line. */
const DENO_ADVICE = /, run again with the --allow-(\w+) flag/;

/**
 * Rewrites the advice of a `NotCapable` thrown in a child: Deno tells it to
 * run again with an `--allow-*` flag, but a child's permissions come from the
 * options that started it, so the advice names those.
 */
function _adviseOnPermissions(wire: WireError): void {
  const found = DENO_ADVICE.exec(wire.message);
  if (!found) return;
  const kind = found[1];
  const what = /^Requires \w+ access to (.+)$/.exec(wire.message.slice(0, found.index))?.[1];
  const grant = what === undefined ? `${kind}: true` : `${kind}: [${what}] (or ${kind}: true)`;
  const advice = `: this process's permissions do not allow it; grant ${grant} in the ` +
    "permissions option of the Process, Pool, spawn() or Manager that starts it " +
    "(a child gets at most what its parent has)";
  const original = wire.message;
  wire.message = original.replace(DENO_ADVICE, advice);
  if (wire.stack?.includes(original)) wire.stack = wire.stack.replace(original, wire.message);
}

/** A `RemoteError` as it travels on: the child's error it was rebuilt from. */
export function _remoteToWire(error: RemoteError): WireError {
  return error.cause instanceof Error
    ? _errorToWire(error.cause, 0)
    : { name: error.remoteName, message: error.remoteMessage, stack: error.remoteStack };
}

function _errorToWire(error: Error, depth: number): WireError {
  const wire: WireError = { name: String(error.name), message: String(error.message) };
  if (typeof error.stack === "string") wire.stack = error.stack;
  if (wire.name === "NotCapable") _adviseOnPermissions(wire);
  const cause = error.cause;
  if (cause !== undefined && depth < CAUSE_DEPTH) {
    wire.cause = cause instanceof Error ? _errorToWire(cause, depth + 1) : _toWireError(cause);
  }
  return wire;
}
