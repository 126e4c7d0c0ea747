/**
 * What a pool has done and is doing: {@linkcode PoolStats}, read with
 * `pool.stats()`, and the events `pool.on()` listens to.
 *
 * @module
 */
/** Percentiles of a time, in milliseconds, over every sample since the pool was made. */
export interface Percentiles {
  /** How many samples (task calls) the figures are over. */
  count: number;
  /** The median. */
  p50: number;
  /** 90% of samples took at most this long. */
  p90: number;
  /** 99% of samples took at most this long. */
  p99: number;
  /** The longest sample. */
  max: number;
}

/** A worker as {@linkcode PoolStats.workers} lists it. */
export interface PoolWorkerInfo {
  /** Its name, as `activeChildren()` lists it: `PoolWorker-N`. */
  name: string;
  /** Its pid: the OS pid of a `"spawn"` worker, Troupe's pid of a thread. */
  pid: number;
  /** Whether it holds a task (running, or queued in it behind the running one). */
  busy: boolean;
  /** Task calls it finished. */
  completed: number;
  /** When it started, as `Date.now()` read then. */
  startedAt: number;
}

/** Why a pool's worker ended, in {@linkcode PoolEventMap.workerExit} and {@linkcode PoolStats.replaced}. */
export type WorkerExitReason =
  /** It ended by itself, threw outside a task, or was killed from outside. */
  | "died"
  /** It reached its memory limit. */
  | "outOfMemory"
  /** The pool ended it to stop a task that timed out or was cancelled. */
  | "stopped"
  /** It had run `maxTasksPerChild` tasks. */
  | "maxTasksPerChild"
  /** It lacked a module the next task needed, and was idle: a fresh one replaced it. */
  | "modules"
  /** The pool was idle for `idleTimeoutMs`. */
  | "idle"
  /** The pool was closed and its work done. */
  | "close"
  /** The pool was terminated. */
  | "terminate";

/**
 * A snapshot of a pool (`pool.stats()`), as cheap to take as a few object
 * reads: read it as often as a display needs.
 *
 * Counts are of task calls: an `apply()` is one, a `map()` of 1,000 items is
 * 1,000 (a chunk that fails counts all its calls as failed). Times are per
 * call: a chunk's run time is shared among its calls.
 */
export interface PoolStats {
  /** The workers running now. */
  workers: PoolWorkerInfo[];
  /** Calls waiting for a worker. */
  queued: number;
  /** Calls a worker holds: running, or queued in it behind the running one. */
  running: number;
  /** Calls that returned a value. */
  completed: number;
  /** Calls that failed: threw, timed out, were cancelled, or their worker died. */
  failed: number;
  /**
   * Workers that ended while the pool went on, by reason (the pool starts a
   * new one when it has work for it). Ends by idleness, close and terminate
   * are not counted.
   */
  replaced: Record<"died" | "outOfMemory" | "stopped" | "maxTasksPerChild" | "modules", number>;
  /** Time running in a worker. */
  runTimeMs: Percentiles;
  /**
   * Time in the pool not running: queued, on its way to the worker and
   * back, waiting in the worker behind other calls.
   */
  waitTimeMs: Percentiles;
  /** Milliseconds since the pool was made. */
  uptimeMs: number;
}

/** The events a pool emits, by type, with what each listener receives. */
export interface PoolEventMap {
  /** A worker started. */
  workerStart: { name: string; pid: number };
  /** A worker ended, and why; `error` is what ended it when it died of one. */
  workerExit: {
    name: string;
    pid: number;
    reason: WorkerExitReason;
    exitCode: number;
    error: Error | undefined;
  };
  /** A call failed (one event per job: a failing chunk of a `map` is one event). */
  taskFail: { task: string; error: unknown; pid: number | undefined };
}

/**
 * Counts of samples in log-linear buckets of microseconds: exact below 16 µs,
 * then 16 buckets per power of two (within 3.2% of the true value), up to
 * 2^31 µs (35 minutes; longer counts as that). Recording is a few integer
 * operations; percentiles walk 448 counts.
 */
export class _Histogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #max = 0;

  /** Records `weight` samples of `ms` milliseconds each. */
  record(ms: number, weight = 1): void {
    if (!(ms >= 0)) ms = 0;
    this.#counts[bucketOf(ms)] += weight;
    this.#count += weight;
    if (ms > this.#max) this.#max = ms;
  }

  /** The percentiles of what was recorded (all 0 when nothing was). */
  percentiles(): Percentiles {
    return {
      count: this.#count,
      p50: this.#at(0.5),
      p90: this.#at(0.9),
      p99: this.#at(0.99),
      max: this.#max,
    };
  }

  #at(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i];
      if (seen >= rank) return Math.min(middleOf(i), this.#max);
    }
    return this.#max;
  }
}

const EXACT = 16;
const SUB = 16;
const BUCKETS = EXACT + (31 - 4) * SUB;

function bucketOf(ms: number): number {
  const us = Math.min(Math.round(ms * 1000), 2 ** 31 - 1);
  if (us < EXACT) return us;
  const e = 31 - Math.clz32(us); // 4..30
  return EXACT + (e - 4) * SUB + ((us >>> (e - 4)) & (SUB - 1));
}

/** The middle of bucket `i`, in ms. */
function middleOf(i: number): number {
  if (i < EXACT) return i / 1000;
  const e = Math.floor((i - EXACT) / SUB) + 4;
  const width = 2 ** (e - 4);
  const low = 2 ** e + ((i - EXACT) % SUB) * width;
  return (low + width / 2) / 1000;
}
