// The pool engine: warm workers and a FIFO of jobs. Each worker holds a few
// jobs at once, as many as keep it busy for about a millisecond (measured from
// its answers), so tiny tasks are not paced by round trips while long ones
// still spread over every worker. Jobs dispatched together travel in one
// message. A job a worker holds is claimed in shared memory: the worker swaps
// its id for 0 as it starts it, the pool swaps it for TAKEN_BACK to take it
// back, and whichever swaps first has it. So a worker stuck in a long job
// gives the jobs queued behind it to idle workers, a cancelled job that has
// not started never runs, and a worker that dies fails the jobs it had
// started while the others move to other workers; no job runs twice.
import { _after, _armWait, type _Cancel, _timeoutError } from "../runtime/wait.ts";
import { type _Outbox, _outbox, _prepare } from "../runtime/wire.ts";
import { _nextIdentity, _nextPid, _refuseWhileImporting, cpuCount } from "../runtime/context.ts";
import { _encodeMessage } from "../runtime/codec.ts";
import {
  type _Endpoint,
  _initMessage,
  _reachedByBytes,
  _spawnWorker,
  type _StartOptions,
} from "../runtime/host.ts";
import { _startOptions, type StartMethod } from "../runtime/start.ts";
import { _POOL_BEHAVIOUR } from "./_worker.ts";
import { _sendApart } from "../runtime/rpc.ts";
import { RemoteError } from "../runtime/errors.ts";
import { _checkTimeout, _describe } from "../runtime/util.ts";
import { _Link, _WOULD_WAIT } from "../runtime/link.ts";
import {
  _assertApplicable,
  type _DenoPermissions,
  _normalizePermissions,
  type Permissions,
} from "../runtime/permissions.ts";
import { _poolWorkerProcess } from "../actors/process.ts";
import { _requireTaskRef } from "../runtime/task.ts";
import { _Emitter } from "../runtime/events.ts";
import {
  _endCall,
  type _Outcome,
  _outcomeOf,
  type _Span,
  _startCall,
  _traceparent,
  _TRACING,
} from "../runtime/trace.ts";
import { _Histogram, type PoolEventMap, type PoolStats, type WorkerExitReason } from "./stats.ts";
import {
  decodeResults,
  encodeTasks,
  isResults,
  type PoolSpec,
  RESULT_ERROR,
  RESULT_IN_PLACE,
  RESULT_NUMBERS,
  resultsBusyMs,
  type ResultsMessage,
  resultsPid,
  type ToParent,
  type WireError,
  type WireTaskRef,
} from "../runtime/protocol.ts";

/** How to run one job: cancel it with a signal or a time limit. */
export interface _JobOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Where the job's first call stands in the caller's input: errors name an item by its index there. */
  first?: number;
}

/** A submitted job, for {@linkcode _PoolEngine.cancel}. */
export type _JobHandle = object;

/** A job's values, one per call: a `Float64Array` when every one is a number. */
export type _Values = unknown[] | Float64Array;

/** Told once how a job ended: its error, or its values. */
export type _JobDone = (error: unknown, values?: _Values) => void;

interface Job {
  id: number;
  /** Its position in its worker's claims while a worker holds it. */
  claim: number;
  ref: WireTaskRef;
  calls: unknown[] | Float64Array;
  spread: boolean;
  wired: boolean;
  /** Every call is one number: `calls` is packed in shared memory (see `_packNumbers`). */
  numeric: boolean;
  /** Modules the worker must have imported: the task's and those of objects in the calls. */
  modules: string[];
  transfer: Transferable[];
  done: _JobDone;
  /** Clears the job's timer and signal listener, when it has them. */
  cleanup: (() => void) | undefined;
  slot: Slot | undefined;
  settled: boolean;
  /** When it was submitted (`performance.now()`), for its wait time. */
  queuedAt: number;
  /** The caller's span and its `traceparent`, when tracing is on. */
  span?: _Span;
  trace?: string;
}

/** A take-back sent to a worker without claims (see `PoolTakeBackMessage`). */
interface Ask {
  ids: number[];
  /** For a cancel: ends the worker when it does not answer in time (it is busy in that job). */
  timer: _Cancel | undefined;
}

interface Slot {
  endpoint: _Endpoint;
  name: string;
  pid: number;
  /** The worker as activeChildren() lists it; told how the worker ended. */
  process: ReturnType<typeof _poolWorkerProcess>;
  modules: Set<string>;
  /** The initializer ran (the worker says so only when there is one). */
  ready: boolean;
  /** Jobs sent and not answered, oldest (the running one) first. */
  inflight: Map<number, Job>;
  sent: number;
  ended: boolean;
  /**
   * Shared with the worker: a job's id while it waits there, 0 once it
   * started. Absent for a worker reached by bytes: a job sent there counts as
   * started (the pool cannot take it back).
   */
  claims: Int32Array | undefined;
  /** Jobs that need no transfer go by this link; the port carries the rest. Shared memory only. */
  jobs: _Link | undefined;
  nextClaim: number;
  /** When the worker last answered, or got work while it had none. */
  heardAt: number;
  /** Silent past STUCK_MS with jobs queued: gets no more until it answers. */
  stuck: boolean;
  /** Without claims: each take-back sent and not yet answered, in order. */
  asks: Ask[];
  /** Without claims: jobs settled (timed out, aborted) whose take-back is not answered yet. */
  cancelled: Set<number>;
  /** Settles one answer of this worker (made once, not per message). */
  answer: (id: number, code: number, payload: unknown, ms: number) => void;
  /** When it started (`Date.now()`), and the calls it finished. */
  startedAt: number;
  completed: number;
}

/** Settings fixed when the engine is made. */
export interface _EngineSettings {
  size: number;
  initializer: WireTaskRef | undefined;
  initArgs: unknown[];
  maxTasksPerChild: number | undefined;
  permissions: _DenoPermissions | undefined;
  /** How workers start (threads or OS processes), and their memory limit. */
  start: _StartOptions;
  /** Workers end after the pool has been idle this long; undefined: never. */
  idleTimeoutMs: number | undefined;
}

/** The options `Pool` and `ProcessPoolExecutor` share, as users give them. */
export interface _PoolUserOptions {
  // deno-lint-ignore no-explicit-any
  initializer?: (...args: any[]) => unknown;
  initArgs?: unknown[];
  maxTasksPerChild?: number;
  permissions?: Permissions;
  idleTimeoutMs?: number;
  startMethod?: StartMethod;
  memoryLimitMb?: number;
}

/**
 * Reads any iterable or async iterable `chunksize` items at a time: each call
 * resolves with the next chunk, or `undefined` once the input is exhausted.
 */
export function _chunkReader<T>(
  iterable: Iterable<T> | AsyncIterable<T>,
  chunksize: number,
): () => Promise<T[] | undefined> {
  const boxed = Object(iterable ?? {});
  if (!(Symbol.iterator in boxed || Symbol.asyncIterator in boxed)) {
    throw new TypeError(`expected an iterable or async iterable, got ${_describe(iterable)}`);
  }
  const it = Symbol.asyncIterator in boxed
    ? (iterable as AsyncIterable<T>)[Symbol.asyncIterator]()
    : (iterable as Iterable<T>)[Symbol.iterator]();
  let exhausted = false;
  return async () => {
    const chunk: T[] = [];
    while (!exhausted && chunk.length < chunksize) {
      const next = await it.next();
      if (next.done) exhausted = true;
      else chunk.push(next.value);
    }
    return chunk.length > 0 ? chunk : undefined;
  };
}

/** Checks that `value` is a positive integer, naming the option when it is not. */
export function _positiveInt(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `'${what}' must be a positive integer, got ${
        typeof value === "number" ? value : _describe(value)
      }`,
    );
  }
  return value;
}

// Keep about QUEUED_MS of work in each worker, and no more than MAX_DEPTH
// jobs. Jobs shorter than SHORT_MS go at least two at a time, so a worker
// never idles for a round trip between them; longer ones go one at a time (a
// job waiting behind a long one while another worker idles would cost more).
// Until the first answers say how long jobs take, one at a time.
const QUEUED_MS = 1;
const SHORT_MS = 10;
const MAX_DEPTH = 512;
/** Jobs of at least this many one-number calls are packed (see `_packNumbers`). */
export const _PACK_MIN = 64;
// Claim positions per worker, reused in turn: more than MAX_DEPTH jobs held.
const CLAIM_SLOTS = 2 * MAX_DEPTH;
const TAKEN_BACK = -1;
// A worker that holds queued jobs and has not answered for this long (or for
// 4 of the pool's typical jobs, if longer) is in a long job: idle workers take
// its queued jobs. Busy workers answer at least every millisecond.
const STUCK_MS = 5;
// How long a worker reached by bytes has to answer the take-back of a cancelled job.
const GIVE_BACK_MS = 20;
const NO_TRANSFER: Transferable[] = [];
// A pool idle this long ends its workers, as Python's daemon workers let a
// program end; they start again on the next call.
const DEFAULT_IDLE_TIMEOUT_MS = 1000;

/** The most workers a pool may ask for: max(256, 4 × cpuCount()). */
function maxPoolSize(): number {
  return Math.max(256, 4 * cpuCount());
}

/** `job` with its packed calls copied out of shared memory, for a worker reached by bytes. */
function copyNumbers(job: Job): Job {
  return job.numeric ? { ...job, calls: new Float64Array(job.calls as Float64Array) } : job;
}

/** The pid users see for a worker: its OS pid when it is a "spawn" process. */
function pidOf(slot: Slot): number {
  return slot.process.process.pid ?? slot.pid;
}

/** Whether a value may hold something to check or swap before it is posted. */
function needsWalk(value: unknown): boolean {
  const type = typeof value;
  return (type === "object" && value !== null) || type === "function" || type === "symbol";
}

/**
 * `items` packed in a `Float64Array` over shared memory, when they are at least `_PACK_MIN`
 * numbers; otherwise undefined. A job's calls packed so (or a view of them) cross to the worker
 * without a copy, and the worker writes the values over them; a job moved to another worker still
 * has its calls.
 */
export function _packNumbers(items: unknown[]): Float64Array | undefined {
  if (items.length < _PACK_MIN || !allNumbers(items)) return undefined;
  const packed = new Float64Array(new SharedArrayBuffer(items.length * 8));
  // A builtin copy, fast before V8 has compiled anything of ours.
  packed.set(items as number[]);
  return packed;
}

/** A small function of its own, so that V8 compiles its loop quickly while a first map runs it. */
function allNumbers(items: unknown[]): boolean {
  for (let i = 0; i < items.length; i++) if (typeof items[i] !== "number") return false;
  return true;
}

/** The engine behind `Pool` and `ProcessPoolExecutor`. */
export class _PoolEngine {
  #settings: _EngineSettings;
  #queue: Job[] = [];
  #head = 0;
  #queued = 0;
  #slots = new Set<Slot>();
  #modules = new Set<string>();
  #nextId = 1;
  #state: "open" | "closed" | "terminated" = "open";
  #broken: Error | undefined;
  #idle = Promise.withResolvers<void>();
  // Retired OS processes not yet gone: join() waits for them.
  #exiting = new Set<Promise<void>>();
  #dispatchScheduled = false;
  /** `[module]` for each task module, shared by the jobs that need nothing else. */
  #taskModules = new Map<string, string[]>();
  /** Smoothed time one job takes in a worker, in ms (undefined until measured). */
  #jobMs: number | undefined;
  /** Looks for a stuck worker once one could be (see STUCK_MS). */
  #balanceTimer: _Cancel | undefined;
  /** Answers from every worker that need no transfer; the ports carry the rest. */
  #answers = new _Link(_Link.allocate());
  #reading = false;
  #byPid = new Map<number, Slot>();
  /** When the pool last ran out of work, and the timer that ends its workers after idleTimeoutMs. */
  #idleSince = 0;
  #idleTimer: _Cancel | undefined;

  #initArgs: { args: unknown[]; wired: boolean };

  // What stats() reports: calls submitted and not settled, their outcomes, workers replaced.
  #pending = 0;
  #completed = 0;
  #failed = 0;
  #replaced: PoolStats["replaced"] = {
    died: 0,
    outOfMemory: 0,
    stopped: 0,
    maxTasksPerChild: 0,
    modules: 0,
  };
  #runTimes = new _Histogram();
  #waitTimes = new _Histogram();
  #madeAt = performance.now();
  /**
   * The time read for the jobs submitted since the last dispatch (-1: none
   * read): calls made in one turn share one clock read (~0.1 µs each).
   */
  #now = -1;
  readonly events: _Emitter<PoolEventMap>;

  constructor(settings: _EngineSettings, what = "Pool") {
    this.#settings = settings;
    this.events = new _Emitter(`${what}.on()`, ["workerStart", "workerExit", "taskFail"]);
    if (settings.initializer) this.#modules.add(settings.initializer.module);
    _assertApplicable(settings.permissions, "Pool permissions", settings.start.method);
    // Prepared once: every worker gets the same initArgs.
    const out = _outbox();
    const args = settings.initArgs.map((arg, i) => _prepare(arg, `initArgs[${i}]`, out));
    if (out.transfer.length > 0) {
      throw new TypeError(
        "initArgs cannot hold a MessagePort: each worker would need its own. Pass a Troupe " +
          "channel (Queue, Pipe) instead",
      );
    }
    for (const m of out.modules) this.#modules.add(m);
    this.#initArgs = { args, wired: out.wired };
    // Workers reached by bytes get initArgs encoded: what cannot cross is refused now, not as
    // the first worker starts.
    if (_reachedByBytes(settings.start)) {
      try {
        _encodeMessage(0, args, "each worker", () => 0);
      } catch (error) {
        throw new TypeError(`initArgs cannot be sent: ${(error as Error).message}`);
      }
    }
  }

  /**
   * Validates what a user gave `Pool` or `ProcessPoolExecutor` and makes the
   * engine; `what` names the class in errors.
   */
  static from(
    options: _PoolUserOptions,
    size: number | undefined,
    what: string,
  ): _PoolEngine {
    _refuseWhileImporting(`a ${what}`);
    const { initializer, initArgs = [], maxTasksPerChild, permissions } = options;
    const sizeName = what === "Pool" ? "processes" : "maxWorkers";
    const processes = _positiveInt(size ?? cpuCount(), sizeName);
    const most = maxPoolSize();
    if (processes > most) {
      throw new RangeError(
        `'${sizeName}' is ${processes}, above the limit of ${most} workers ` +
          `(max(256, 4 × cpuCount())): each worker is a thread with its own V8 heap. ` +
          `Ask for at most ${most}; a pool queues the jobs beyond its workers`,
      );
    }
    const idleTimeoutMs = _checkTimeout(
      options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      "idleTimeoutMs",
    );
    if (maxTasksPerChild !== undefined) _positiveInt(maxTasksPerChild, "maxTasksPerChild");
    if (!Array.isArray(initArgs)) {
      throw new TypeError(`'initArgs' must be an array, got ${_describe(initArgs)}`);
    }
    return new _PoolEngine({
      size: processes,
      initializer: initializer === undefined
        ? undefined
        : _requireTaskRef(initializer, `${what} initializer`),
      initArgs,
      maxTasksPerChild,
      permissions: _normalizePermissions(permissions, `${what} permissions`),
      start: _startOptions(options.startMethod, options.memoryLimitMb, what),
      idleTimeoutMs,
    }, what);
  }

  /** Number of workers the pool keeps. */
  get size(): number {
    return this.#settings.size;
  }

  /** What `console.log()` shows of the pool: whether it takes calls, and how many are unfinished. */
  summary(): {
    state: "running" | "closed" | "terminated" | "broken";
    workers: number;
    pending: number;
    completed: number;
    failed: number;
  } {
    const state = this.#state === "open" ? (this.#broken ? "broken" : "running") : this.#state;
    return {
      state,
      workers: this.#slots.size,
      pending: this.#pending,
      completed: this.#completed,
      failed: this.#failed,
    };
  }

  /** The pool's figures now (see {@linkcode PoolStats}); reads counters, walks no queue. */
  stats(): PoolStats {
    let running = 0;
    const workers = [];
    for (const slot of this.#slots) {
      let held = 0;
      for (const job of slot.inflight.values()) if (!job.settled) held += job.calls.length;
      running += held;
      workers.push({
        name: slot.name,
        pid: pidOf(slot),
        busy: held > 0,
        completed: slot.completed,
        startedAt: slot.startedAt,
      });
    }
    return {
      workers,
      queued: this.#pending - running,
      running,
      completed: this.#completed,
      failed: this.#failed,
      replaced: { ...this.#replaced },
      runTimeMs: this.#runTimes.percentiles(),
      waitTimeMs: this.#waitTimes.percentiles(),
      uptimeMs: performance.now() - this.#madeAt,
    };
  }

  /**
   * Runs `ref` once per entry of `calls` in one worker (each entry an argument
   * list when `spread`, else the one argument) and tells `done` the values or
   * the error. `calls` becomes the engine's; it may come packed by
   * {@linkcode _packNumbers}. Returns a handle to cancel the job while it is
   * queued. `done` may be called before this returns, when the job is refused.
   */
  enqueue(
    ref: WireTaskRef,
    calls: unknown[] | Float64Array,
    spread: boolean,
    options: _JobOptions,
    done: _JobDone,
  ): _JobHandle {
    const refuse = (error: unknown): _JobHandle => {
      done(error);
      return {};
    };
    if (this.#state !== "open") {
      return refuse(new Error(`Pool is ${this.#state}; it takes no new tasks`));
    }
    if (this.#broken) return refuse(this.#broken);
    // Made only when an argument is an object: plain numbers and strings need no walk.
    let out: _Outbox | undefined;
    let packed = calls instanceof Float64Array ? calls : undefined;
    const items = calls as unknown[];
    const at = options.first ?? 0;
    try {
      if (packed) {
        // Numbers only: nothing to walk.
      } else if (spread) {
        const many = items.length > 1 || options.first !== undefined;
        for (let i = 0; i < items.length; i++) {
          const args = items[i] as unknown[];
          if (!Array.isArray(args)) {
            throw new TypeError(
              `${many ? `item ${at + i}` : "args"} must be an array of arguments, got ${
                _describe(args)
              }`,
            );
          }
          let copy: unknown[] | undefined;
          for (let j = 0; j < args.length; j++) {
            const arg = args[j];
            if (!needsWalk(arg)) continue;
            const sent = _prepare(
              arg,
              many ? `item ${at + i} args[${j}]` : `args[${j}]`,
              out ??= this.#outbox(),
            );
            if (sent !== arg) (copy ??= args.slice())[j] = sent;
          }
          if (copy) items[i] = copy;
        }
      } else if (!(packed = _packNumbers(items))) {
        for (let i = 0; i < items.length; i++) {
          const item = items[i];
          if (needsWalk(item)) items[i] = _prepare(item, `item ${at + i}`, out ??= this.#outbox());
        }
      }
    } catch (error) {
      return refuse(error);
    }
    const { signal } = options;
    let timeoutMs: number | undefined;
    try {
      timeoutMs = _checkTimeout(options.timeoutMs, "timeoutMs");
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        throw new TypeError(`signal must be an AbortSignal, got ${_describe(signal)}`);
      }
    } catch (error) {
      return refuse(error);
    }
    if (signal?.aborted) return refuse(signal.reason);
    let modules = this.#taskModules.get(ref.module);
    if (!modules) this.#taskModules.set(ref.module, modules = [ref.module]);
    if (out && out.modules.size > 0) modules = [ref.module, ...out.modules];
    const job: Job = {
      id: this.#nextId++,
      claim: -1,
      ref,
      calls: packed ?? calls,
      spread,
      wired: out?.wired ?? false,
      numeric: packed !== undefined,
      modules,
      transfer: out?.transfer ?? NO_TRANSFER,
      done,
      slot: undefined,
      settled: false,
      cleanup: undefined,
      queuedAt: this.#now >= 0 ? this.#now : (this.#now = performance.now()),
    };
    if (signal || timeoutMs !== undefined) {
      job.cleanup = _armWait(
        { timeoutMs, signal },
        (reason) => this.#cancel(job, reason),
        () => _timeoutError(`task '${ref.key}' did not finish within ${timeoutMs} ms`),
      );
    }
    if (_TRACING) this.#trace(job);
    for (const m of modules) this.#modules.add(m);
    this.#pending += job.calls.length;
    this.#queue.push(job);
    this.#queued++;
    this.#scheduleDispatch();
    return job;
  }

  /**
   * A walk's outbox for a job's calls: for workers reached by bytes, a Queue
   * in them goes as a relay its sender serves (channels/relay.ts).
   */
  #outbox(): _Outbox {
    const out = _outbox();
    if (_reachedByBytes(this.#settings.start)) out.bytes = true;
    return out;
  }

  /** Whether a worker has started the job (and it has not settled). */
  started(handle: _JobHandle): boolean {
    const job = handle as Job;
    const claims = job.slot?.claims;
    return !job.settled && job.slot !== undefined &&
      (claims === undefined || Atomics.load(claims, job.claim) === 0);
  }

  /**
   * `Future.cancel()`: drops a job no worker has started; on a pool whose
   * workers are OS processes, a started one too, by killing its worker's
   * process (replaced as after a timeout). A thread worker cannot be stopped
   * that surely, so there a started job runs on, as in Python. Returns
   * whether the job was cancelled.
   */
  cancel(handle: _JobHandle, reason: unknown): boolean {
    return this.#cancel(handle as Job, reason, _reachedByBytes(this.#settings.start));
  }

  /** Takes back a job its worker has not started; false once it has. */
  #takeBack(slot: Slot, job: Job): boolean {
    const claims = slot.claims;
    if (!claims || Atomics.compareExchange(claims, job.claim, job.id, TAKEN_BACK) !== job.id) {
      return false;
    }
    slot.inflight.delete(job.id);
    slot.sent--;
    job.slot = undefined;
    return true;
  }

  /** Starts the span of a job: the work in its worker will be a span under it. */
  #trace(job: Job): void {
    const span = _startCall(`pool.task ${job.ref.key}`, {
      "troupe.task": job.ref.key,
      "troupe.calls": job.calls.length,
    });
    if (!span) return;
    job.span = span;
    job.trace = _traceparent(span);
  }

  #settle(job: Job, error: unknown, values?: _Values, outcome?: _Outcome): void {
    if (job.settled) return;
    job.settled = true;
    job.cleanup?.();
    if (job.span) {
      if (job.slot) job.span.setAttribute("troupe.worker.pid", pidOf(job.slot));
      _endCall(job.span, error === undefined ? "ok" : outcome ?? _outcomeOf(error), error);
    }
    const n = job.calls.length;
    this.#pending -= n;
    if (error === undefined) this.#completed += n;
    else {
      this.#failed += n;
      if (this.events.has("taskFail")) {
        this.events.emit("taskFail", {
          task: job.ref.key,
          error,
          pid: job.slot && pidOf(job.slot),
        });
      }
    }
    job.done(error, values);
  }

  /**
   * Fails `job` with `reason` and returns true, unless it settled already or
   * it has started and `stopRunning` is false (then returns false). A started
   * job is stopped by ending its worker.
   */
  #cancel(job: Job, reason: unknown, stopRunning = true): boolean {
    if (job.settled) return false;
    const slot = job.slot;
    if (!slot) {
      // In the pool's queue: skipped when its turn comes.
      this.#queued--;
    } else if (!slot.claims) {
      // Reached by bytes: whether it started is the worker's to say. The
      // call fails now; the worker gives the job back, or is ended if it runs it.
      if (!stopRunning) return false;
      slot.cancelled.add(job.id);
      // Only the oldest job it holds may be running; one queued behind waits to be given back.
      const head = slot.inflight.values().next().value === job;
      // Meanwhile it gets no more jobs: they would end with it.
      if (head) slot.stuck = true;
      this.#askBack(slot, [job.id], head ? job : undefined);
    } else if (!this.#takeBack(slot, job)) {
      if (!stopRunning) return false;
      // It may have just finished: its answer would win.
      this.#takeAnswers();
      if (job.settled) return false;
      this.#stopRunning(slot, job);
    }
    // Otherwise taken back from its worker before it started: it never runs.
    this.#settle(job, reason);
    this.#scheduleDispatch();
    this.#checkIdle();
    return true;
  }

  /**
   * Ends the worker running `job`, which a call cannot interrupt (a new one
   * replaces it). The jobs it had not started go to the other workers.
   */
  #stopRunning(slot: Slot, job: Job): void {
    const { started, waiting } = this.#retire(slot, -15, "stopped");
    for (const other of started) {
      if (other === job) continue;
      this.#settle(
        other,
        new Error(
          `${slot.name} (pid ${slot.pid}) was ended to stop task '${job.ref.key}' before it ` +
            `sent the result of task '${other.ref.key}'`,
        ),
      );
    }
    this.#requeue(waiting);
  }

  /** Puts jobs a worker held back at the front of the queue, in their order. */
  #requeue(jobs: Job[]): void {
    if (jobs.length === 0) return;
    for (const job of jobs) job.slot = undefined;
    this.#queue.splice(this.#head, 0, ...jobs);
    this.#queued += jobs.length;
  }

  #scheduleDispatch(): void {
    if (this.#dispatchScheduled) return;
    this.#dispatchScheduled = true;
    queueMicrotask(() => {
      this.#dispatchScheduled = false;
      this.#dispatch();
    });
  }

  #depth(): number {
    const ms = this.#jobMs;
    if (ms === undefined) return 1;
    const least = ms < SHORT_MS ? 2 : 1;
    return Math.max(least, Math.min(MAX_DEPTH, Math.floor(QUEUED_MS / Math.max(ms, 1e-4))));
  }

  #accepts(slot: Slot, job: Job, depth: number): boolean {
    if (slot.ended || slot.stuck || slot.inflight.size >= depth) return false;
    const max = this.#settings.maxTasksPerChild;
    if (max !== undefined && slot.sent >= max) return false;
    for (const m of job.modules) if (!slot.modules.has(m)) return false;
    return true;
  }

  #dispatch(): void {
    this.#now = -1;
    const batches = new Map<Slot, Job[]>();
    const depth = this.#depth();
    while (this.#queued > 0 && this.#state !== "terminated" && !this.#broken) {
      const job = this.#queue[this.#head];
      if (job.settled) {
        this.#shift();
        continue;
      }
      let slot: Slot | undefined;
      for (const s of this.#slots) {
        if (this.#accepts(s, job, depth) && (!slot || s.inflight.size < slot.inflight.size)) {
          slot = s;
        }
      }
      if (!slot) {
        if (this.#slots.size < this.#settings.size) slot = this.#spawn();
        else {
          // A worker can only run tasks from modules its entry imported:
          // replace an idle one that lacks them.
          const stale = [...this.#slots].find((s) =>
            s.inflight.size === 0 && job.modules.some((m) => !s.modules.has(m))
          );
          if (!stale) break;
          this.#retire(stale, 0, "modules");
          slot = this.#spawn();
        }
      }
      this.#shift();
      this.#queued--;
      job.slot = slot;
      if (slot.inflight.size === 0) slot.heardAt = performance.now();
      slot.inflight.set(job.id, job);
      slot.sent++;
      let batch = batches.get(slot);
      if (!batch) batches.set(slot, batch = []);
      batch.push(job);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    for (const [slot, jobs] of batches) this.#send(slot, jobs);
    if (this.#queued === 0) this.#balance();
  }

  /**
   * Moves the jobs a worker stuck in a long job has not started to workers
   * with nothing to do (see STUCK_MS); when a worker may become stuck, looks
   * again then.
   */
  #balance(): void {
    if (this.#balanceTimer !== undefined) {
      this.#balanceTimer();
      this.#balanceTimer = undefined;
    }
    if (this.#state === "terminated" || this.#broken || this.#queued > 0) return;
    let waiting = false;
    let free = this.#slots.size < this.#settings.size;
    for (const s of this.#slots) {
      if (s.stuck) continue;
      if (s.inflight.size >= 2) waiting = true;
      else if (s.inflight.size === 0) free = true;
    }
    if (!waiting || !free) return;
    const now = performance.now();
    const after = Math.max(STUCK_MS, 4 * (this.#jobMs ?? 0));
    let next = Infinity;
    const moved: Job[] = [];
    for (const s of this.#slots) {
      if (s.stuck || s.inflight.size < 2) continue;
      if (s.heardAt + after > now) {
        next = Math.min(next, s.heardAt + after);
        continue;
      }
      if (!s.claims) {
        // Reached by bytes: ask for the jobs behind the first; it gives back those not started.
        const ids = [...s.inflight.values()].slice(1).filter((job) => job.transfer.length === 0)
          .map((job) => job.id);
        if (ids.length > 0) {
          this.#askBack(s, ids);
          s.stuck = true;
        }
        continue;
      }
      // In a long job only if it has started one (a worker slow to wake is not).
      const head = s.inflight.values().next().value!;
      if (Atomics.load(s.claims, head.claim) !== 0) {
        next = Math.min(next, now + STUCK_MS);
        continue;
      }
      const before = moved.length;
      // Jobs that moved ports into this worker stay: the ports cannot follow.
      for (const job of s.inflight.values()) {
        if (job.transfer.length === 0 && this.#takeBack(s, job)) moved.push(job);
      }
      if (moved.length > before) s.stuck = true;
    }
    if (moved.length > 0) {
      this.#requeue(moved);
      this.#scheduleDispatch();
    } else if (next !== Infinity) {
      this.#balanceTimer = _after(next - now, () => {
        this.#balanceTimer = undefined;
        this.#balance();
      });
    }
  }

  #shift(): void {
    this.#queue[this.#head++] = undefined as never;
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    }
  }

  /** Posts jobs to a worker in one message; when that fails, one by one so only the bad ones fail. */
  #send(slot: Slot, jobs: Job[]): void {
    try {
      return this.#post(slot, jobs);
    } catch (error) {
      // One job alone is not sent again: it would fail the same way.
      if (jobs.length === 1) return this.#unsendable(slot, jobs[0], error as Error);
    }
    _sendApart(
      jobs,
      (job) => {
        if (!job.settled) this.#post(slot, [job]);
      },
      (job, error) => this.#unsendable(slot, job, error),
    );
  }

  /** Fails a job whose arguments structured clone refused; the worker never got it. */
  #unsendable(slot: Slot, job: Job, error: Error): void {
    slot.inflight.delete(job.id);
    slot.sent--;
    this.#settle(job, new TypeError(`task arguments could not be sent: ${error.message}`));
  }

  /** Posts jobs to a worker in one message; throws, with nothing sent, when the port refuses them. */
  #post(slot: Slot, jobs: Job[]): void {
    const transfer: Transferable[] = [];
    const claims = slot.claims;
    // The link's codec does not carry shared memory: packed jobs take the port.
    let shared = false;
    for (const job of jobs) {
      job.claim = slot.nextClaim;
      slot.nextClaim = (slot.nextClaim + 1) % CLAIM_SLOTS;
      if (claims) Atomics.store(claims, job.claim, job.id);
      for (const t of job.transfer) transfer.push(t);
      if (job.numeric) shared = true;
    }
    if (!slot.jobs) {
      // Reached by bytes: packed calls go as a copy, and the values come back in a message.
      return slot.endpoint.post(encodeTasks(shared ? jobs.map(copyNumbers) : jobs), transfer);
    }
    const message = encodeTasks(jobs);
    if (transfer.length > 0 || shared || !slot.jobs.trySend(message)) {
      slot.endpoint.post(message, transfer);
    }
    this.#readAnswers();
  }

  #spawn(): Slot {
    const identity = _nextIdentity();
    const name = `PoolWorker-${identity}`;
    const pid = _nextPid();
    const modules = new Set(this.#modules);
    const slot: Slot = {
      endpoint: undefined as unknown as _Endpoint,
      name,
      pid,
      process: undefined as unknown as Slot["process"],
      modules,
      ready: false,
      inflight: new Map(),
      sent: 0,
      ended: false,
      claims: undefined,
      jobs: undefined,
      nextClaim: 0,
      heardAt: 0,
      stuck: false,
      asks: [],
      cancelled: new Set(),
      answer: (id, code, payload, ms) => this.#onAnswer(slot, id, code, payload, ms),
      startedAt: Date.now(),
      completed: 0,
    };
    slot.endpoint = _spawnWorker(name, _POOL_BEHAVIOUR, [...modules], this.#settings.permissions, {
      message: (m) => this.#onMessage(slot, m),
      // The runtime reports every error it can reach by message: this one
      // came from outside it, typically the worker's modules failing to load.
      error: (e) => {
        this.#takeAnswers();
        this.#onDeath(slot, 1, e, true);
      },
      // An OS process gone without a word: killed from outside, or out of memory.
      exit: (code, e) => {
        this.#takeAnswers();
        this.#onDeath(slot, code, e);
      },
    }, this.#settings.start);
    // terminate() and kill() on the listed Process end the worker as a death would.
    slot.process = _poolWorkerProcess(name, pid, (code) => {
      this.#takeAnswers();
      this.#onDeath(slot, code, undefined);
    });
    const spec: PoolSpec = {
      kind: "pool",
      initializer: this.#settings.initializer,
      initArgs: this.#initArgs.args,
      wired: this.#initArgs.wired,
    };
    if (slot.endpoint.sharesMemory) {
      slot.claims = new Int32Array(new SharedArrayBuffer(CLAIM_SLOTS * 4));
      slot.jobs = new _Link(_Link.allocate());
      spec.claims = slot.claims.buffer as SharedArrayBuffer;
      spec.jobs = slot.jobs.buffer;
      spec.answers = this.#answers.buffer;
    }
    const init = _initMessage(
      { name, pid, daemon: true },
      identity,
      this.#settings.permissions,
      spec,
    );
    slot.endpoint.post(init);
    slot.process.setOsPid(slot.endpoint.osPid);
    this.#slots.add(slot);
    this.#byPid.set(pid, slot);
    this.events.emit("workerStart", { name, pid: pidOf(slot) });
    return slot;
  }

  #onMessage(slot: Slot, message: ToParent): void {
    if (isResults(message)) return this.#onResults(slot, message);
    switch (message.t) {
      case "ready":
        slot.ready = true;
        return;
      case "exit":
        // Its last answers went by the link before it said so: take them first.
        this.#takeAnswers();
        return this.#onDeath(slot, message.code, message.error);
      case "given":
        return this.#onGiven(slot, message.ids);
    }
  }

  /** Asks a worker without claims to give back those of `ids` it has not started. */
  #askBack(slot: Slot, ids: number[], cancelled?: Job): void {
    const ask: Ask = { ids, timer: undefined };
    slot.asks.push(ask);
    slot.endpoint.post({ t: "takeback", ids });
    if (cancelled === undefined) return;
    // A worker whose event loop is free answers within a millisecond or so;
    // one that does not is running synchronous code, which only its end stops.
    ask.timer = _after(GIVE_BACK_MS, () => {
      ask.timer = undefined;
      if (slot.ended || !slot.asks.includes(ask)) return;
      this.#stopRunning(slot, cancelled);
      this.#scheduleDispatch();
      this.#checkIdle();
    });
  }

  /**
   * A worker without claims gave back `ids`: they go to other workers (or,
   * settled meanwhile, are dropped). A cancelled job it neither gave back nor
   * answered is running: its worker is ended to stop it.
   */
  #onGiven(slot: Slot, ids: number[]): void {
    const ask = slot.asks.shift();
    if (ask === undefined || slot.ended) return;
    ask.timer?.();
    const asked = ask.ids;
    const moved: Job[] = [];
    for (const id of ids) {
      const job = slot.inflight.get(id);
      if (!job || !asked.includes(id)) continue;
      slot.inflight.delete(id);
      slot.sent--;
      slot.cancelled.delete(id);
      if (!job.settled) moved.push(job);
    }
    this.#requeue(moved);
    const running = asked.find((id) => slot.cancelled.has(id) && slot.inflight.has(id));
    if (running !== undefined) {
      this.#stopRunning(slot, slot.inflight.get(running)!);
    }
    this.#scheduleDispatch();
    this.#checkIdle();
  }

  /** Hands every answer waiting in the link to its worker's slot; returns whether there were any. */
  #takeAnswers(): boolean {
    let any = false;
    for (let m = this.#answers.tryTake(); m !== _WOULD_WAIT; m = this.#answers.tryTake()) {
      any = true;
      const message = m as ResultsMessage;
      const slot = this.#byPid.get(resultsPid(message));
      if (slot && !slot.ended) this.#onResults(slot, message);
    }
    return any;
  }

  /**
   * Reads the answers link while workers hold jobs, polling briefly before
   * each sleep: a quick answer is taken in a few µs. Started when jobs go
   * out; ends once no worker holds any.
   */
  #readAnswers(): void {
    if (this.#reading) return;
    this.#reading = true;
    const read = () => {
      this.#takeAnswers();
      if (this.#state !== "terminated" && this.#busy()) return _WOULD_WAIT;
      // Decided here, not when the wait settles: a job posted meanwhile starts a new reader.
      this.#reading = false;
      return undefined;
    };
    // While waiting, looks again every so often: answers may also come by port.
    this.#answers.wait(read, () => true).catch((error) => {
      this.#reading = false;
      reportError(error);
    });
  }

  /** One of `slot`'s answers: settles its job, unless that was cancelled while it ran. */
  #onAnswer(slot: Slot, id: number, code: number, payload: unknown, ms: number): void {
    const job = slot.inflight.get(id);
    if (!job) return; // cancelled while it ran
    slot.inflight.delete(id);
    if (slot.cancelled.size > 0) slot.cancelled.delete(id);
    // Its calls share its run time; each waited as long as the job did.
    const n = job.calls.length;
    this.#runTimes.record(ms / n, n);
    this.#waitTimes.record(slot.heardAt - job.queuedAt - ms, n);
    if (code !== RESULT_ERROR) slot.completed += n;
    if (code === RESULT_ERROR) {
      this.#settle(job, new RemoteError(slot.name, slot.pid, payload as WireError));
    } else if (code === RESULT_IN_PLACE) {
      this.#settle(job, undefined, job.calls as Float64Array);
    } else if (code === RESULT_NUMBERS) {
      this.#settle(job, undefined, payload as Float64Array);
    } else this.#settle(job, undefined, payload as unknown[]);
  }

  #onResults(slot: Slot, message: ResultsMessage): void {
    slot.heardAt = performance.now();
    slot.stuck = false;
    const count = decodeResults(message, slot.answer);
    const busyMs = resultsBusyMs(message);
    if (count > 0 && busyMs > 0) {
      const sample = busyMs / count;
      this.#jobMs = this.#jobMs === undefined ? sample : this.#jobMs * 0.7 + sample * 0.3;
    }
    const max = this.#settings.maxTasksPerChild;
    if (max !== undefined && slot.sent >= max && slot.inflight.size === 0) {
      this.#retire(slot, 0, "maxTasksPerChild");
    }
    this.#scheduleDispatch();
    this.#checkIdle();
  }

  #onDeath(slot: Slot, code: number, error: WireError | undefined, unloaded = false): void {
    if (slot.ended) return;
    const died = error && new RemoteError(slot.name, pidOf(slot), error);
    const reason = error?.name === "MemoryError" ? "outOfMemory" : "died";
    const { started, waiting } = this.#retire(slot, code, reason, died);
    const initFailed = !slot.ready && this.#settings.initializer && (code !== 0 || error);
    if (initFailed || (unloaded && error)) {
      // Restarting would only fail again: fail every call with the error.
      this.#broken = error
        ? new RemoteError(slot.name, slot.pid, {
          ...error,
          message: `${
            initFailed ? "initializer failed" : "a worker failed to start"
          }: ${error.message}`,
        })
        : new Error(`${slot.name}: the pool initializer ended the worker (exit code ${code})`);
      for (const job of [...started, ...waiting, ...this.#queue.splice(this.#head)]) {
        this.#settle(job, this.#broken);
      }
      this.#queued = 0;
      this.#checkIdle();
      return;
    }
    // The last job it started was running; any before it had run, but their
    // results died with it.
    const how = error ? `${error.name}: ${error.message}` : `exit code ${code}`;
    started.forEach((job, i) => {
      const what = i === started.length - 1
        ? `died while running task '${job.ref.key}'`
        : `died before sending the result of task '${job.ref.key}'`;
      this.#settle(
        job,
        new Error(
          `${slot.name} (pid ${pidOf(slot)}) ${what} (${how}); the pool replaced it`,
        ),
        undefined,
        "died",
      );
    });
    // A job whose arguments moved ports into the dead worker cannot follow
    // them elsewhere: the ports went with it.
    const movable = waiting.filter((job) => job.transfer.length === 0);
    for (const job of waiting) {
      if (job.transfer.length === 0) continue;
      this.#settle(
        job,
        new Error(
          `${slot.name} (pid ${slot.pid}) died (${how}) before it started task '${job.ref.key}', ` +
            "whose arguments had moved MessagePorts (or Troupe objects holding them) into it; " +
            "they ended with it, so the call cannot run on another worker. Submit it again",
        ),
      );
    }
    this.#requeue(movable);
    this.#scheduleDispatch();
    this.#checkIdle();
  }

  /**
   * Ends a worker. Returns the jobs it held, oldest first, which the caller
   * must place: those it had started (running, or run with their results
   * lost), and those it had not, taken back so that they never run there.
   */
  #retire(
    slot: Slot,
    code: number,
    reason: WorkerExitReason,
    error?: Error,
  ): { started: Job[]; waiting: Job[] } {
    const started: Job[] = [];
    const waiting: Job[] = [];
    if (slot.ended) return { started, waiting };
    slot.ended = true;
    if (reason in this.#replaced) this.#replaced[reason as keyof PoolStats["replaced"]]++;
    this.events.emit("workerExit", {
      name: slot.name,
      pid: pidOf(slot),
      reason,
      exitCode: code,
      error,
    });
    for (const ask of slot.asks.splice(0)) ask.timer?.();
    // A worker with nothing to do exits by itself (an OS process flushes what
    // it holds); one in the middle of a job ends at once.
    if (slot.inflight.size === 0 && GRACEFUL.has(reason)) slot.endpoint.retire();
    else slot.endpoint.terminate();
    const gone = slot.endpoint.gone;
    if (gone) {
      this.#exiting.add(gone);
      void gone.then(() => this.#exiting.delete(gone));
    }
    slot.process.end(code);
    this.#slots.delete(slot);
    this.#byPid.delete(slot.pid);
    for (const job of [...slot.inflight.values()]) {
      if (this.#takeBack(slot, job)) waiting.push(job);
      else if (!slot.claims && started.length > 0) {
        // Without claims: a worker sends every answer before it starts a job
        // and runs them in order, so the oldest unanswered job is the one it
        // ran (or died in), and those after it never started.
        job.slot = undefined;
        waiting.push(job);
      } else started.push(job);
    }
    slot.inflight.clear();
    return { started, waiting };
  }

  #busy(): boolean {
    if (this.#queued > 0) return true;
    for (const s of this.#slots) if (s.inflight.size > 0) return true;
    return false;
  }

  #checkIdle(): void {
    if (this.#state === "open") {
      if (this.#settings.idleTimeoutMs !== undefined && !this.#busy()) this.#restLater();
      return;
    }
    if (this.#state === "terminated" || this.#busy()) return;
    for (const slot of [...this.#slots]) this.#retire(slot, 0, "close");
    this.#stopTimers();
    this.#answers.close(); // ends the reader
    this.#idle.resolve();
  }

  /**
   * The pool ran out of work: its workers end once it stays idle for
   * idleTimeoutMs (and start again on the next call), so a program that
   * forgets close() still ends. One timer, re-armed only when it fires early.
   */
  #restLater(): void {
    const ms = this.#settings.idleTimeoutMs!;
    if (this.#slots.size === 0) return;
    this.#idleSince = performance.now();
    this.#idleTimer ??= _after(ms, () => this.#rest(ms));
  }

  #rest(ms: number): void {
    this.#idleTimer = undefined;
    if (this.#state !== "open" || this.#busy() || this.#slots.size === 0) return;
    const left = this.#idleSince + ms - performance.now();
    if (left > 0) {
      this.#idleTimer = _after(left, () => this.#rest(ms));
      return;
    }
    for (const slot of [...this.#slots]) this.#retire(slot, 0, "idle");
    this.#balance(); // clears its timer
  }

  #stopTimers(): void {
    this.#balance(); // clears its timer
    this.#idleTimer?.();
    this.#idleTimer = undefined;
  }

  /** No new tasks; workers end once the queued ones are done. */
  close(): void {
    if (this.#state !== "open") return;
    this.#state = "closed";
    queueMicrotask(() => this.#checkIdle());
  }

  /** Ends every worker now; queued and running tasks fail with `error`. */
  terminate(error: Error = new Error("Pool was terminated before the task finished")): void {
    if (this.#state === "terminated") return;
    this.#state = "terminated";
    const jobs = this.#queue.splice(this.#head);
    this.#queued = 0;
    for (const slot of [...this.#slots]) {
      const { started, waiting } = this.#retire(slot, -15, "terminate");
      jobs.push(...started, ...waiting);
    }
    for (const job of jobs) this.#settle(job, error);
    this.#stopTimers();
    this.#answers.close(); // ends the reader
    this.#idle.resolve();
  }

  /** Resolves once the pool is closed (or terminated) and every worker has ended. */
  join(): Promise<void> {
    if (this.#state === "open") {
      return Promise.reject(new Error("Pool.join() needs close() or terminate() first"));
    }
    return this.#idle.promise.then(() => Promise.all(this.#exiting)).then(() => {});
  }
}

/** The reasons a worker is retired for that let an idle one exit by itself. */
const GRACEFUL: ReadonlySet<WorkerExitReason> = new Set<WorkerExitReason>([
  "close",
  "idle",
  "terminate",
  "maxTasksPerChild",
  "modules",
]);
