/**
 * Errors of actors and supervisors: how a process ended, and what a call to
 * an actor that ended, or a full mailbox, or an escalation raises.
 *
 * @module
 */
import { RemoteError } from "../runtime/errors.ts";
/**
 * How a process, actor or supervisor ended, as a supervisor and an
 * {@linkcode ActorExited} error describe it.
 *
 * @example
 * ```ts
 * import type { ExitReason } from "@troupe/troupe";
 *
 * const reason: ExitReason = { code: -15, error: null, normal: false, description: "was terminated" };
 * console.assert(!reason.normal);
 * ```
 */
export interface ExitReason {
  /** `0` normal, `1` uncaught error, `n` from `Deno.exit(n)`, `-15` terminated, `-9` killed. */
  code: number;
  /** The error that ended it, if one did. */
  error: Error | null;
  /** Whether it ended normally (code 0, no error): a `transient` child is then not restarted. */
  normal: boolean;
  /** How it ended, in words: `"died of an uncaught Error: boom"`, `"was terminated"`... */
  description: string;
}

/** Builds the {@linkcode ExitReason} for an exit code and the error that caused it, if any. */
export function _exitReason(code: number, error: Error | null, how?: string): ExitReason {
  let description = how;
  if (description === undefined) {
    if (error instanceof RemoteError) {
      description = `died of an uncaught ${error.remoteName}: ${error.remoteMessage}`;
    } else if (error) description = `failed: ${error.message}`;
    else if (code === 0) description = "exited normally";
    else if (code === -15) description = "was terminated";
    else if (code === -9) description = "was killed";
    else description = `exited with code ${code}`;
  }
  return { code, error, normal: code === 0 && error === null, description };
}

/**
 * A call or tell to an actor that ended (or ended before answering). The
 * message names the actor, how it ended, and the method that was called.
 *
 * @example
 * ```ts
 * import { ActorExited } from "@troupe/troupe";
 *
 * const error = new ActorExited("Counter-1", 7, "inc", {
 *   code: -15,
 *   error: null,
 *   normal: false,
 *   description: "was terminated",
 * }, true);
 * console.assert(error.message === "Counter-1 (pid 7) was terminated before answering inc()");
 * ```
 */
export class ActorExited extends Error {
  /** The actor's name. */
  readonly actorName: string;
  /** The actor's pid. */
  readonly pid: number | undefined;
  /** The method that was called. */
  readonly method: string;
  /** How the actor ended. */
  readonly reason: ExitReason;

  /**
   * Constructs the error.
   *
   * @param actorName The actor's name.
   * @param pid Its pid.
   * @param method The method that was called.
   * @param reason How the actor ended.
   * @param inFlight Whether the call was sent before the actor ended (else it was made after).
   */
  constructor(
    actorName: string,
    pid: number | undefined,
    method: string,
    reason: ExitReason,
    inFlight: boolean,
  ) {
    const who = pid === undefined ? actorName : `${actorName} (pid ${pid})`;
    super(
      inFlight
        ? `${who} ${reason.description} before answering ${method}()`
        : `cannot call ${method}(): ${who} ${reason.description}`,
      reason.error ? { cause: reason.error } : undefined,
    );
    this.name = "ActorExited";
    this.actorName = actorName;
    this.pid = pid;
    this.method = method;
    this.reason = reason;
  }
}

/**
 * A send to an actor whose mailbox is full, made with `wait: false`.
 *
 * @example
 * ```ts
 * import { MailboxFull } from "@troupe/troupe";
 *
 * const error = new MailboxFull("Counter-1", 10);
 * console.assert(error.message.includes("capacity 10"));
 * ```
 */
export class MailboxFull extends Error {
  /** The actor's name. */
  readonly actorName: string;
  /** The mailbox's capacity. */
  readonly capacity: number;

  /**
   * Constructs the error.
   *
   * @param actorName The actor's name.
   * @param capacity The mailbox's capacity.
   */
  constructor(actorName: string, capacity: number) {
    super(
      `${actorName}'s mailbox is full (capacity ${capacity}); ` +
        "send with wait: true (the default) to wait for room, or give it a larger capacity",
    );
    this.name = "MailboxFull";
    this.actorName = actorName;
    this.capacity = capacity;
  }
}

/**
 * A supervisor gave up: its children needed more restarts than its
 * `intensity` allows within `periodMs`. It stopped every child and failed with
 * this error, which its own supervisor (if any) sees as an abnormal exit.
 *
 * @example
 * ```ts
 * import { EscalationError } from "@troupe/troupe";
 *
 * const reason = { code: 1, error: null, normal: false, description: "crashed" };
 * const error = new EscalationError("Supervisor-1", "counter", reason, 2, 5000);
 * console.assert(error.message.includes("child 'counter' crashed"));
 * ```
 */
export class EscalationError extends Error {
  /** The supervisor that gave up. */
  readonly supervisorName: string;
  /** The child whose exit was one restart too many. */
  readonly childId: string;
  /** How that child ended. */
  readonly reason: ExitReason;

  /**
   * Constructs the error.
   *
   * @param supervisorName The supervisor that gave up.
   * @param childId The child whose exit was one restart too many.
   * @param reason How that child ended.
   * @param restarts Restarts within the period, counting the one refused.
   * @param periodMs The supervisor's period.
   */
  constructor(
    supervisorName: string,
    childId: string,
    reason: ExitReason,
    restarts: number,
    periodMs: number,
  ) {
    super(
      `${supervisorName} gave up after ${restarts} restart${
        restarts === 1 ? "" : "s"
      } within ${periodMs} ms (more than its intensity allows): ` +
        `child '${childId}' ${reason.description}`,
      reason.error ? { cause: reason.error } : undefined,
    );
    this.name = "EscalationError";
    this.supervisorName = supervisorName;
    this.childId = childId;
    this.reason = reason;
  }
}
