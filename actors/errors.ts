/**
 * Errors that Troupe raises in the parent for things that went wrong in a child.
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
 * {@linkcode RemoteError.remoteStack}.
 *
 * @example Catching a child's error
 * ```ts
 * import { RemoteError } from "./errors.ts";
 *
 * const error = new RemoteError("Process-1", 7, { name: "TypeError", message: "bad input" });
 * console.assert(error instanceof RemoteError);
 * console.assert(error.message === "TypeError in Process-1: bad input");
 * console.assert(error.remoteName === "TypeError");
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
    super(`${error.name} in ${processName}: ${error.message}`);
    this.name = "RemoteError";
    this.processName = processName;
    this.pid = pid;
    this.remoteName = error.name;
    this.remoteMessage = error.message;
    this.remoteStack = error.stack;
    if (error.stack) this.stack = `${this.stack}\n  remote stack (${processName}):\n${error.stack}`;
  }
}

/**
 * Thrown when a process, pool or actor asks for permissions that cannot be
 * applied: more than the parent has, or a narrowed set while Deno's
 * `worker-options` unstable feature is off. No worker is started.
 *
 * @example
 * ```ts
 * import { PermissionError } from "./errors.ts";
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
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack };
  }
  let message: string;
  try {
    message = typeof error === "string" ? error : Deno.inspect(error);
  } catch {
    message = String(error);
  }
  return { name: "Error", message: `non-Error thrown: ${message}` };
}
