// A pool's worker: the behaviour registered for "pool" specs, with the user's
// tasks as the callbacks. The parent half is pool/_engine.ts; the messages
// between them are encoded and decoded in runtime/protocol.ts.
import { _revive } from "../runtime/wire.ts";
import { _toWireError } from "../runtime/errors.ts";
import { _defineBehaviour, type _WorkerSide } from "../runtime/entry.ts";
import { _Link, _WOULD_WAIT } from "../runtime/link.ts";
import { _sendApart } from "../runtime/rpc.ts";
import {
  ANSWER_FIELDS,
  decodeTasks,
  encodeResults,
  isTasks,
  type PoolSpec,
  type PoolTakeBackMessage,
  RESULT_ERROR,
  RESULT_IN_PLACE,
  RESULT_NUMBERS,
  RESULT_VALUES,
  type TaskJob,
  type TasksMessage,
} from "../runtime/protocol.ts";
import { _resolveTask } from "../runtime/task.ts";
import { _context } from "../runtime/context.ts";
import { _adoptSelf } from "../actors/process.ts";
import { _inChildSpan } from "../runtime/trace.ts";

/** The module a pool's worker imports for its behaviour: this one. */
export const _POOL_BEHAVIOUR: string = import.meta.url;

// Jobs run one at a time in arrival order, each claimed first in shared
// memory: the pool may take back a job the worker has not started (to cancel
// it, or to give it to an idle worker), and whichever side swaps the job's
// claim first has it. A worker reached by bytes alone has no claims (every
// job it gets runs there) and no links: jobs and answers go by message. Answers are batched: sent when the worker runs out of
// jobs, once a millisecond while it stays busy, and before a job that may
// take that long (by its task's history), so tiny tasks cost one message per
// batch instead of one per task and their answers do not wait behind a long
// one. A task's first long call still holds the answers gathered before it:
// nothing told the worker it could be long.

const FLUSH_MS = 1;
type PoolJob = TaskJob;
// Per task (module → key): its smoothed time per call, and its longest call
// lately, to tell which jobs may be long. The peak decays by PEAK_DECAY a job,
// so a task whose calls are mostly tiny but sometimes long still counts as
// maybe long for ~100 jobs after a long one (from 100 ms to under 1).
interface CallTimes {
  mean: number;
  peak: number;
}
const PEAK_DECAY = 0.95;

/** The worker's side of one pool: its jobs, its answers, and how long its tasks take. */
class PoolWorker {
  readonly #side: _WorkerSide;
  readonly #pid: number;
  /** Where each job is claimed (see `PoolSpec.claims`). */
  readonly #claims: Int32Array | undefined;
  readonly #jobLink: _Link | undefined;
  readonly #answerLink: _Link | undefined;
  #jobs: PoolJob[] = [];
  #jobsHead = 0;
  readonly #callMs = new Map<string, Map<string, CallTimes>>();
  /** Answers not yet sent, flat as they travel: id, code, payload for each job. */
  #answers: unknown[] = [];
  #answersSince = 0;
  #busyMs = 0;
  #pumping = false;
  #serving = false;
  /** Jobs given back to the pool unstarted (see PoolTakeBackMessage): skipped. */
  readonly #given = new Set<number>();
  /** Tasks wait on this until the initializer has run. */
  readonly #ready = Promise.withResolvers<void>();

  constructor(spec: PoolSpec, side: _WorkerSide) {
    this.#side = side;
    this.#pid = _context().self.pid;
    if (spec.claims) this.#claims = new Int32Array(spec.claims);
    if (spec.jobs) this.#jobLink = new _Link(spec.jobs);
    if (spec.answers) this.#answerLink = new _Link(spec.answers);
  }

  /** Runs the initializer, then takes jobs until the pool ends the worker. */
  async serve(spec: PoolSpec): Promise<void> {
    _adoptSelf(undefined, this.#side.inbox);
    if (spec.initializer) {
      try {
        const init = _resolveTask(spec.initializer) as (...args: unknown[]) => unknown;
        if (spec.wired) _revive(spec.initArgs);
        await init(...spec.initArgs);
      } catch (error) {
        return this.#side.finish(1, error);
      }
      // The pool tells an initializer that failed from a worker that died later
      // by this message. Without one, the worker posts nothing before its first
      // job: a worker's first postMessage costs it ~0.15 ms (Deno compiles its
      // messaging code then), and its answers go by the link.
      this.#side.post({ t: "ready" });
    }
    this.#serving = true;
    this.#ready.resolve();
    void this.#readJobs();
  }

  /** Takes the jobs of a message that came by port, and runs them in turn. */
  take(message: TasksMessage): void {
    this.#queue(message);
    if (!this.#pumping) void this.#pump();
  }

  /** Drops those of `ids` it has not started, and tells the pool which (after its answers). */
  giveBack(ids: number[]): void {
    const asked = new Set(ids);
    const given: number[] = [];
    for (let i = this.#jobsHead; i < this.#jobs.length; i++) {
      const id = this.#jobs[i].id;
      if (asked.has(id) && !this.#given.has(id)) {
        this.#given.add(id);
        given.push(id);
      }
    }
    this.flush();
    this.#side.post({ t: "given", ids: given });
  }

  /** Takes the jobs that come by the link, waiting (polling first) while there are none. */
  async #readJobs(): Promise<void> {
    const link = this.#jobLink;
    if (link === undefined) return;
    const take = () => {
      const message = link.tryTake();
      return message !== _WOULD_WAIT ? message : link.closed ? null : _WOULD_WAIT;
    };
    for (;;) {
      const message = await link.wait(take);
      if (message === null) return; // closed
      this.take(message as TasksMessage);
    }
  }

  /** Moves the jobs waiting in the link to the queue, without waiting. */
  #pullJobs(): void {
    const link = this.#jobLink;
    if (link === undefined) return;
    for (let m = link.tryTake(); m !== _WOULD_WAIT; m = link.tryTake()) {
      this.#queue(m as TasksMessage);
    }
  }

  #queue(message: TasksMessage): void {
    decodeTasks(message, this.#jobs);
  }

  /**
   * Whether `job` may take `FLUSH_MS` or more: its task never ran here, its
   * calls average that much, or one of them lately took that long.
   */
  #mayBeLong(job: PoolJob): boolean {
    const times = this.#callMs.get(job.ref.module)?.get(job.ref.key);
    return times === undefined || times.mean * job.calls.length >= FLUSH_MS ||
      times.peak >= FLUSH_MS;
  }

  #recordMs(job: PoolJob, ms: number): void {
    let keys = this.#callMs.get(job.ref.module);
    if (!keys) this.#callMs.set(job.ref.module, keys = new Map());
    const sample = ms / Math.max(1, job.calls.length);
    const old = keys.get(job.ref.key);
    if (old === undefined) keys.set(job.ref.key, { mean: sample, peak: sample });
    else {
      old.mean = old.mean * 0.7 + sample * 0.3;
      old.peak = Math.max(sample, old.peak * PEAK_DECAY);
    }
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    if (!this.#serving) await this.#ready.promise;
    const jobs = this.#jobs;
    while (this.#jobsHead < jobs.length || (this.#pullJobs(), this.#jobsHead < jobs.length)) {
      const job = jobs[this.#jobsHead];
      jobs[this.#jobsHead++] = undefined as never;
      // Taken back by the pool (cancelled, or moved to another worker): skip it.
      const claims = this.#claims;
      if (claims && Atomics.compareExchange(claims, job.claim, job.id, 0) !== job.id) continue;
      if (this.#given.size > 0 && this.#given.delete(job.id)) continue;
      if (this.#answers.length > 0) {
        if (!claims) {
          // Reached by bytes: the pool knows no claims, so it learns what ran
          // from the answers. All of them out before the next job starts: if
          // this one never ends (killed, out of memory), the pool knows it was
          // the one running, and that those after it never started.
          this.flush();
          this.#side.sendNow();
        } else if (performance.now() - this.#answersSince > FLUSH_MS || this.#mayBeLong(job)) {
          this.flush();
        }
      }
      const t0 = performance.now();
      let answer = job.trace === undefined ? runJob(job) : this.#traced(job);
      if (answer instanceof Promise) answer = await answer;
      const ms = performance.now() - t0;
      this.#busyMs += ms;
      this.#recordMs(job, ms);
      if (this.#answers.length === 0) this.#answersSince = t0;
      this.#answers.push(job.id, answer[0], answer[1], ms);
    }
    jobs.length = 0;
    this.#jobsHead = 0;
    this.#pumping = false;
    this.flush();
  }

  /** Runs a job as a span under its caller's (tracing is on). */
  #traced(job: PoolJob): Answer | Promise<Answer> {
    const { key } = job.ref;
    const self = _context().self;
    return _inChildSpan(
      job.trace!,
      `pool.run ${key}`,
      { "troupe.task": key, "troupe.worker.pid": self.osPid ?? self.pid },
      () => runJob(job),
      (answer) => answer[0] === RESULT_ERROR ? answer[1] : undefined,
    );
  }

  /** Sends the answers gathered so far (also before the worker exits). */
  flush(): void {
    if (this.#answers.length === 0) return;
    const flat = this.#answers;
    this.#answers = [];
    const message = encodeResults(this.#busyMs, this.#pid, flat);
    this.#busyMs = 0;
    const transfer: Transferable[] = [];
    for (let i = 1; i < flat.length; i += ANSWER_FIELDS) {
      if (flat[i] === RESULT_NUMBERS) {
        transfer.push((flat[i + 1] as Float64Array).buffer as ArrayBuffer);
      }
    }
    if (transfer.length === 0 && this.#answerLink?.trySend(message)) return;
    const side = this.#side;
    try {
      return side.post(message, transfer);
    } catch {
      // Some value could not be cloned: the answers go one by one.
    }
    const pid = this.#pid;
    const jobs: number[] = [];
    for (let i = 0; i < flat.length; i += ANSWER_FIELDS) jobs.push(i);
    // Only the jobs whose values cannot travel fail.
    _sendApart(
      jobs,
      (i) => side.post(encodeResults(0, pid, flat.slice(i, i + ANSWER_FIELDS))),
      (i, error) =>
        side.post(encodeResults(0, pid, [flat[i], RESULT_ERROR, _toWireError(error), flat[i + 3]])),
    );
  }
}

// Jobs of at least this many calls answer all-number values as a Float64Array.
const PACK_MIN = 64;

/** A job's answer: a result code and its payload (see `ResultsMessage`). */
type Answer = [code: number, payload: unknown];

function runJob(job: PoolJob): Answer | Promise<Answer> {
  const { calls } = job;
  const { spread } = job;
  const n = calls.length;
  // Packed calls in shared memory: their values go over them (see RESULT_IN_PLACE).
  // Ones that came by bytes are a copy: the values go back in it.
  const numbers = calls instanceof Float64Array ? calls : undefined;
  const inPlace = numbers !== undefined && numbers.buffer instanceof SharedArrayBuffer;
  let packed = numbers ?? (n >= PACK_MIN ? new Float64Array(n) : undefined);
  let values: unknown[] = [];
  let i = 0;
  try {
    const fn = _resolveTask(job.ref) as (...args: unknown[]) => unknown;
    if (job.wired) _revive(calls);
    // Synchronous tasks never touch the microtask queue.
    for (; i < n; i++) {
      const value = spread ? fn(...(calls[i] as unknown[])) : fn(calls[i]);
      if (packed) {
        if (typeof value === "number") {
          packed[i] = value;
          continue;
        }
        values = Array.from(packed.subarray(0, i));
        packed = undefined;
      }
      if (value instanceof Promise) return finishAsync(job, fn, values, value, i);
      values.push(value);
    }
  } catch (error) {
    return [RESULT_ERROR, _toWireError(error)];
  }
  if (!packed) return [RESULT_VALUES, values];
  return inPlace ? [RESULT_IN_PLACE, undefined] : [RESULT_NUMBERS, packed];
}

async function finishAsync(
  job: PoolJob,
  fn: (...args: unknown[]) => unknown,
  values: unknown[],
  pending: Promise<unknown>,
  i: number,
): Promise<Answer> {
  const { calls, spread } = job;
  try {
    values.push(await pending);
    for (i++; i < calls.length; i++) {
      values.push(await (spread ? fn(...(calls[i] as unknown[])) : fn(calls[i])));
    }
  } catch (error) {
    return [RESULT_ERROR, _toWireError(error)];
  }
  return [RESULT_VALUES, values];
}

function isTakeBack(message: unknown): message is PoolTakeBackMessage {
  const m = message as PoolTakeBackMessage;
  return typeof m === "object" && m !== null && m.t === "takeback" && Array.isArray(m.ids);
}

// The pool this worker serves, once its init message came.
let serving: PoolWorker | undefined;

_defineBehaviour<PoolSpec>("pool", {
  run(spec, side) {
    serving = new PoolWorker(spec, side);
    return serving.serve(spec);
  },
  message(message) {
    if (serving === undefined) return false;
    if (isTasks(message)) serving.take(message);
    else if (isTakeBack(message)) serving.giveBack(message.ids);
    else return false;
    return true;
  },
  flush: () => serving?.flush(),
});
