// The pool engine: warm workers and a FIFO of jobs. Each worker holds a few
// jobs at once, as many as keep it busy for about a millisecond (measured from
// its answers), so tiny tasks are not paced by round trips while long ones
// still spread over every worker. Jobs dispatched together travel in one
// message. A worker that dies is replaced; the job it was running fails with
// how it died, and the jobs queued behind it move to other workers.
import { type _Outbox, _outbox, _prepare } from "../actors/_clone.ts";
import { _nextIdentity, _nextPid } from "../actors/_context.ts";
import { type _Endpoint, _initMessage, _spawnWorker } from "../actors/_worker_host.ts";
import { RemoteError } from "../actors/errors.ts";
import { _describe } from "../actors/_util.ts";
import {
  _assertApplicable,
  type _DenoPermissions,
  _normalizePermissions,
  type Permissions,
} from "../actors/permissions.ts";
import { cpuCount } from "../actors/process.ts";
import { _requireTaskRef } from "../actors/task.ts";
import {
  RESULT_ERROR,
  RESULT_NUMBERS,
  type ResultsMessage,
  TASK_SPREAD,
  TASK_WIRED,
  type TasksMessage,
  type ToParent,
  type WireError,
  type WireTaskRef,
} from "../actors/protocol.ts";

/** How to run one job: cancel it with a signal or a time limit. */
export interface _JobOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** A submitted job, for {@linkcode _PoolEngine.cancelIfQueued}. */
export type _JobHandle = object;

/** Told once how a job ended: its error, or one value per call. */
export type _JobDone = (error: unknown, values?: unknown[]) => void;

interface Job {
  id: number;
  ref: WireTaskRef;
  calls: unknown[];
  spread: boolean;
  wired: boolean;
  /** Every call is one number: they travel as a Float64Array. */
  numeric: boolean;
  /** Modules the worker must have imported: the task's and those of objects in the calls. */
  modules: string[];
  transfer: Transferable[];
  done: _JobDone;
  /** Clears the job's timer and signal listener, when it has them. */
  cleanup: (() => void) | undefined;
  slot: Slot | undefined;
  settled: boolean;
}

interface Slot {
  endpoint: _Endpoint;
  name: string;
  pid: number;
  modules: Set<string>;
  ready: boolean;
  /** Jobs sent and not answered, oldest (the running one) first. */
  inflight: Map<number, Job>;
  sent: number;
  ended: boolean;
}

/** Settings fixed when the engine is made. */
export interface _EngineSettings {
  size: number;
  initializer: WireTaskRef | undefined;
  initArgs: unknown[];
  maxTasksPerChild: number | undefined;
  permissions: _DenoPermissions | undefined;
}

/** The options `Pool` and `ProcessPoolExecutor` share, as users give them. */
export interface _PoolUserOptions {
  // deno-lint-ignore no-explicit-any
  initializer?: (...args: any[]) => unknown;
  initArgs?: unknown[];
  maxTasksPerChild?: number;
  permissions?: Permissions;
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
// Jobs of at least this many one-number calls travel as a Float64Array.
const PACK_MIN = 64;
const NO_TRANSFER: Transferable[] = [];

/** Whether a value may hold something to check or swap before it is posted. */
function needsWalk(value: unknown): boolean {
  const type = typeof value;
  return (type === "object" && value !== null) || type === "function" || type === "symbol";
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
  #dispatchScheduled = false;
  /** `[module]` for each task module, shared by the jobs that need nothing else. */
  #taskModules = new Map<string, string[]>();
  /** Smoothed time one job takes in a worker, in ms (undefined until measured). */
  #jobMs: number | undefined;

  #initArgs: { args: unknown[]; wired: boolean };

  constructor(settings: _EngineSettings) {
    this.#settings = settings;
    if (settings.initializer) this.#modules.add(settings.initializer.module);
    _assertApplicable(settings.permissions, "Pool permissions");
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
    const { initializer, initArgs = [], maxTasksPerChild, permissions } = options;
    const processes = _positiveInt(
      size ?? cpuCount(),
      what === "Pool" ? "processes" : "maxWorkers",
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
    });
  }

  /** Number of workers the pool keeps. */
  get size(): number {
    return this.#settings.size;
  }

  /**
   * Runs `ref` once per entry of `calls` in one worker (each entry an argument
   * list when `spread`, else the one argument) and tells `done` the values or
   * the error. Returns a handle to cancel the job while it is queued. `done`
   * may be called before this returns, when the job is refused.
   */
  enqueue(
    ref: WireTaskRef,
    calls: unknown[],
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
    let numeric = !spread && calls.length >= PACK_MIN;
    try {
      if (spread) {
        const many = calls.length > 1;
        for (let i = 0; i < calls.length; i++) {
          const args = calls[i] as unknown[];
          if (!Array.isArray(args)) {
            throw new TypeError(
              `${many ? `item ${i}` : "args"} must be an array of arguments, got ${
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
              many ? `item ${i} args[${j}]` : `args[${j}]`,
              out ??= _outbox(),
            );
            if (sent !== arg) (copy ??= args.slice())[j] = sent;
          }
          if (copy) calls[i] = copy;
        }
      } else {
        for (let i = 0; i < calls.length; i++) {
          const item = calls[i];
          if (typeof item === "number") continue;
          numeric = false;
          if (needsWalk(item)) calls[i] = _prepare(item, `item ${i}`, out ??= _outbox());
        }
      }
    } catch (error) {
      return refuse(error);
    }
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return refuse(signal.reason);
    let modules = this.#taskModules.get(ref.module);
    if (!modules) this.#taskModules.set(ref.module, modules = [ref.module]);
    if (out && out.modules.size > 0) modules = [ref.module, ...out.modules];
    const job: Job = {
      id: this.#nextId++,
      ref,
      calls,
      spread,
      wired: out?.wired ?? false,
      numeric,
      modules,
      transfer: out?.transfer ?? NO_TRANSFER,
      done,
      slot: undefined,
      settled: false,
      cleanup: undefined,
    };
    if (signal || timeoutMs !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => this.#cancel(job, signal!.reason);
      job.cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () =>
            this.#cancel(
              job,
              new DOMException(
                `task '${ref.key}' did not finish within ${timeoutMs} ms`,
                "TimeoutError",
              ),
            ),
          timeoutMs,
        );
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    }
    for (const m of modules) this.#modules.add(m);
    this.#queue.push(job);
    this.#queued++;
    this.#scheduleDispatch();
    return job;
  }

  /** Whether a worker has the job (it runs, or waits in that worker's queue). */
  dispatched(handle: _JobHandle): boolean {
    const job = handle as Job;
    return job.settled === false && job.slot !== undefined;
  }

  /** Drops a job if no worker has it yet, failing it with `reason`; returns whether it did. */
  cancelIfQueued(handle: _JobHandle, reason: unknown): boolean {
    const job = handle as Job;
    if (job.settled !== false || job.slot) return false;
    this.#cancel(job, reason);
    return true;
  }

  #settle(job: Job, error: unknown, values?: unknown[]): void {
    if (job.settled) return;
    job.settled = true;
    job.cleanup?.();
    job.done(error, values);
  }

  #cancel(job: Job, reason: unknown): void {
    if (job.settled) return;
    const slot = job.slot;
    if (!slot) {
      // Still queued: it is skipped when its turn comes.
      this.#queued--;
    } else if (slot.inflight.keys().next().value === job.id) {
      // Running, and a call cannot be interrupted: end its worker; the jobs
      // queued behind it go to the other workers, and a new worker replaces it.
      slot.inflight.delete(job.id);
      this.#requeue(this.#retire(slot));
    } else {
      slot.inflight.delete(job.id);
      slot.endpoint.post({ t: "cancel", id: job.id });
    }
    this.#settle(job, reason);
    this.#scheduleDispatch();
    this.#checkIdle();
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
    if (slot.ended || slot.inflight.size >= depth) return false;
    const max = this.#settings.maxTasksPerChild;
    if (max !== undefined && slot.sent >= max) return false;
    for (const m of job.modules) if (!slot.modules.has(m)) return false;
    return true;
  }

  #dispatch(): void {
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
          this.#retire(stale);
          slot = this.#spawn();
        }
      }
      this.#shift();
      this.#queued--;
      job.slot = slot;
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
    if (!this.#post(slot, jobs)) {
      for (const job of jobs) if (!job.settled) this.#post(slot, [job]);
    }
  }

  #post(slot: Slot, jobs: Job[]): boolean {
    // Packed flat (see TasksMessage): the tasks named once, then each job.
    const refs: WireTaskRef[] = [];
    const index: number[] = [];
    for (const job of jobs) {
      let ref = refs.indexOf(job.ref);
      if (ref < 0) ref = refs.push(job.ref) - 1;
      index.push(ref);
    }
    const message: unknown[] = ["T", refs.length];
    for (const ref of refs) message.push(ref.module, ref.key);
    const transfer: Transferable[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i];
      // Packed at each post: a job moved to another worker is posted again.
      const calls = job.numeric ? Float64Array.from(job.calls as number[]) : job.calls;
      const flags = (job.spread ? TASK_SPREAD : 0) | (job.wired ? TASK_WIRED : 0);
      message.push(job.id, index[i], flags, calls);
      for (const t of job.transfer) transfer.push(t);
      if (calls instanceof Float64Array) transfer.push(calls.buffer as ArrayBuffer);
    }
    try {
      slot.endpoint.post(message as TasksMessage, transfer);
      return true;
    } catch (error) {
      if (jobs.length > 1) return false;
      const job = jobs[0];
      slot.inflight.delete(job.id);
      slot.sent--;
      this.#settle(
        job,
        new TypeError(`task arguments could not be sent: ${(error as Error).message}`),
      );
      return true;
    }
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
      modules,
      ready: false,
      inflight: new Map(),
      sent: 0,
      ended: false,
    };
    slot.endpoint = _spawnWorker(name, [...modules], this.#settings.permissions, {
      message: (m) => this.#onMessage(slot, m),
      error: (e) => this.#onDeath(slot, 1, e),
    });
    const init = _initMessage({ name, pid, daemon: true }, identity, this.#settings.permissions, {
      kind: "pool",
      initializer: this.#settings.initializer,
      initArgs: this.#initArgs.args,
      wired: this.#initArgs.wired,
    });
    slot.endpoint.post(init);
    this.#slots.add(slot);
    return slot;
  }

  #onMessage(slot: Slot, message: ToParent): void {
    if (Array.isArray(message)) return this.#onResults(slot, message);
    switch (message.t) {
      case "ready":
        slot.ready = true;
        return;
      case "exit":
        return this.#onDeath(slot, message.code, message.error);
    }
  }

  #onResults(slot: Slot, message: ResultsMessage): void {
    const busyMs = message[1] as number;
    const count = (message.length - 2) / 3;
    if (count > 0 && busyMs > 0) {
      const sample = busyMs / count;
      this.#jobMs = this.#jobMs === undefined ? sample : this.#jobMs * 0.7 + sample * 0.3;
    }
    for (let i = 2; i < message.length; i += 3) {
      const id = message[i] as number;
      const job = slot.inflight.get(id);
      if (!job) continue; // cancelled while it ran
      slot.inflight.delete(id);
      const code = message[i + 1];
      const payload = message[i + 2];
      if (code === RESULT_ERROR) {
        this.#settle(job, new RemoteError(slot.name, slot.pid, payload as WireError));
      } else if (code === RESULT_NUMBERS) {
        this.#settle(job, undefined, Array.from(payload as Float64Array));
      } else this.#settle(job, undefined, payload as unknown[]);
    }
    const max = this.#settings.maxTasksPerChild;
    if (max !== undefined && slot.sent >= max && slot.inflight.size === 0) this.#retire(slot);
    this.#scheduleDispatch();
    this.#checkIdle();
  }

  #onDeath(slot: Slot, code: number, error: WireError | undefined): void {
    if (slot.ended) return;
    const held = this.#retire(slot);
    if (!slot.ready && this.#settings.initializer && (code !== 0 || error)) {
      // Restarting would only fail again: fail every call with the initializer's error.
      this.#broken = error
        ? new RemoteError(slot.name, slot.pid, {
          ...error,
          message: `initializer failed: ${error.message}`,
        })
        : new Error(`${slot.name}: the pool initializer ended the worker (exit code ${code})`);
      for (const job of [...held, ...this.#queue.splice(this.#head)]) {
        this.#settle(job, this.#broken);
      }
      this.#queued = 0;
      this.#checkIdle();
      return;
    }
    const [running, ...waiting] = held;
    if (running) {
      const how = error ? `${error.name}: ${error.message}` : `exit code ${code}`;
      this.#settle(
        running,
        new Error(
          `${slot.name} (pid ${slot.pid}) died while running task '${running.ref.key}' (${how}); the pool replaced it`,
        ),
      );
    }
    this.#requeue(waiting);
    this.#scheduleDispatch();
    this.#checkIdle();
  }

  /** Ends a worker; returns the jobs it held (oldest first), which the caller must place. */
  #retire(slot: Slot): Job[] {
    if (slot.ended) return [];
    slot.ended = true;
    slot.endpoint.terminate();
    this.#slots.delete(slot);
    const held = [...slot.inflight.values()];
    slot.inflight.clear();
    return held;
  }

  #busy(): boolean {
    if (this.#queued > 0) return true;
    for (const s of this.#slots) if (s.inflight.size > 0) return true;
    return false;
  }

  #checkIdle(): void {
    if (this.#state === "closed" && !this.#busy()) {
      for (const slot of [...this.#slots]) this.#retire(slot);
      this.#idle.resolve();
    }
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
    for (const slot of [...this.#slots]) jobs.push(...this.#retire(slot));
    for (const job of jobs) this.#settle(job, error);
    this.#idle.resolve();
  }

  /** Resolves once the pool is closed (or terminated) and every worker has ended. */
  join(): Promise<void> {
    if (this.#state === "open") {
      return Promise.reject(new Error("Pool.join() needs close() or terminate() first"));
    }
    return this.#idle.promise;
  }
}
