// The supervisor's decisions, as pure functions over plain data: whether a
// child is restarted, which siblings go with it, whether the restart intensity
// is exceeded, and how long to back off. `Supervisor` acts on them.
import type { ExitReason } from "./errors.ts";

/** Restart strategy: which children are restarted when one of them must be. */
export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one";

/** When a child is restarted: always, only after an abnormal exit, or never. */
export type RestartType = "permanent" | "transient" | "temporary";

/** Whether a child that ended with `reason` (not by the supervisor's hand) is restarted. */
export function _shouldRestart(restart: RestartType, reason: ExitReason): boolean {
  if (restart === "permanent") return true;
  if (restart === "transient") return !reason.normal;
  return false;
}

/**
 * The positions (in start order) of the children restarted when the child at
 * `failed` of `count` children is: itself, every child, or itself and those
 * started after it.
 */
export function _affected(strategy: Strategy, count: number, failed: number): number[] {
  if (strategy === "one_for_one") return [failed];
  const from = strategy === "one_for_all" ? 0 : failed;
  return Array.from({ length: count - from }, (_, i) => from + i);
}

/**
 * Adds a restart at `now` to the recent restart times and says whether that
 * makes more than `intensity` restarts within the last `periodMs` (OTP's rule).
 */
export function _recordRestart(
  times: readonly number[],
  now: number,
  intensity: number,
  periodMs: number,
): { times: number[]; exceeded: boolean } {
  const recent = times.filter((t) => now - t < periodMs);
  recent.push(now);
  return { times: recent, exceeded: recent.length > intensity };
}

/** Restart backoff for crash loops. */
export interface Backoff {
  /** Delay before the first restart in a period. */
  minMs: number;
  /** The delay doubles with each recent restart, up to this. */
  maxMs: number;
  /**
   * Spread each delay by up to this fraction, either way, so that children
   * restarting together do not start in lock step.
   * @default {0}
   */
  jitter?: number;
}

/**
 * The delay before a restart: `minMs` doubled for each earlier restart still
 * in the period, capped at `maxMs`, then spread by `jitter` (`random` in [0, 1)).
 */
export function _backoffDelay(
  backoff: Backoff | undefined,
  recentRestarts: number,
  random: number,
): number {
  if (!backoff) return 0;
  const base = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.max(0, recentRestarts - 1));
  const jitter = backoff.jitter ?? 0;
  return Math.max(0, Math.min(backoff.maxMs, base * (1 + jitter * (2 * random - 1))));
}
