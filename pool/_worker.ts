// A pool's worker: the behaviour registered for "pool" specs, with the user's
// tasks as the callbacks. The parent half is pool/_engine.ts; the messages
// between them are encoded and decoded in runtime/protocol.ts.
import { _revive } from "../runtime/wire.ts";
import { _toWireError } from "../runtime/errors.ts";
import { _defineBehaviour, type _WorkerSide } from "../runtime/entry.ts";
import { _Link, _WOULD_WAIT } from "../runtime/link.ts";
import {
  decodeTasks,
  encodeResults,
  isTasks,
  type PoolSpec,
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

/** The module a pool's worker imports for its behaviour: this one. */
export const _POOL_BEHAVIOUR: string = import.meta.url;

// Jobs run one at a time in arrival order, each claimed first in shared
// memory: the pool may take back a job the worker has not started (to cancel
// it, or to give it to an idle worker), and whichever side swaps the job's
// claim first has it. Answers are batched: sent when the worker runs out of
// jobs, once a millisecond while it stays busy, and before a job that may
// take that long (by its task's history), so tiny tasks cost one message per
// batch instead of one per task and their answers do not wait behind a long
// one. A task's first long call still holds the answers gathered before it:
// nothing told the worker it could be long.

const FLUSH_MS = 1;
type PoolJob = TaskJob;
const jobs: PoolJob[] = [];
let jobsHead = 0;
let claims: Int32Array | undefined;
let jobLink: _Link | undefined;
let answerLink: _Link | undefined;
// Per task (module → key): its smoothed time per call, and its longest call
// lately, to tell which jobs may be long. The peak decays by PEAK_DECAY a job,
// so a task whose calls are mostly tiny but sometimes long still counts as
// maybe long for ~100 jobs after a long one (from 100 ms to under 1).
interface CallTimes {
  mean: number;
  peak: number;
}
const PEAK_DECAY = 0.95;
const callMs = new Map<string, Map<string, CallTimes>>();
// Answers not yet sent, flat as they travel: id, code, payload for each job.
let answers: unknown[] = [];
let answersSince = 0;
let busyMs = 0;
let pumping = false;
let poolServing = false;
// Tasks wait on this until the initializer has run.
const poolReady = Promise.withResolvers<void>();

let worker: _WorkerSide | undefined;
let selfPid: number | undefined;

async function servePool(spec: PoolSpec, side: _WorkerSide): Promise<void> {
  worker = side;
  selfPid = _context().self.pid;
  _adoptSelf(undefined, side.inbox);
  claims = new Int32Array(spec.claims);
  jobLink = new _Link(spec.jobs);
  answerLink = new _Link(spec.answers);
  if (spec.initializer) {
    try {
      const init = _resolveTask(spec.initializer) as (...args: unknown[]) => unknown;
      if (spec.wired) _revive(spec.initArgs);
      await init(...spec.initArgs);
    } catch (error) {
      return side.finish(1, error);
    }
    // The pool tells an initializer that failed from a worker that died later
    // by this message. Without one, the worker posts nothing before its first
    // job: a worker's first postMessage costs it ~0.15 ms (Deno compiles its
    // messaging code then), and its answers go by the link.
    side.post({ t: "ready" });
  }
  poolServing = true;
  poolReady.resolve();
  void readJobs(jobLink);
}

/** Takes the jobs that come by the link, waiting (polling first) while there are none. */
async function readJobs(link: _Link): Promise<void> {
  const take = () => {
    const message = link.tryTake();
    return message !== _WOULD_WAIT ? message : link.closed ? null : _WOULD_WAIT;
  };
  for (;;) {
    const message = await link.wait(take);
    if (message === null) return; // closed
    takeTasks(message as TasksMessage);
  }
}

/** Moves the jobs waiting in the link to the queue, without waiting. */
function pullJobs(): void {
  for (let m = jobLink?.tryTake(); m !== undefined && m !== _WOULD_WAIT; m = jobLink!.tryTake()) {
    queueTasks(m as TasksMessage);
  }
}

function takeTasks(message: TasksMessage): void {
  queueTasks(message);
  if (!pumping) void pump();
}

function queueTasks(message: TasksMessage): void {
  for (const job of decodeTasks(message)) jobs.push(job);
}

/**
 * Whether `job` may take `FLUSH_MS` or more: its task never ran here, its
 * calls average that much, or one of them lately took that long.
 */
function mayBeLong(job: PoolJob): boolean {
  const times = callMs.get(job.ref.module)?.get(job.ref.key);
  return times === undefined || times.mean * job.calls.length >= FLUSH_MS ||
    times.peak >= FLUSH_MS;
}

function recordMs(job: PoolJob, ms: number): void {
  let keys = callMs.get(job.ref.module);
  if (!keys) callMs.set(job.ref.module, keys = new Map());
  const sample = ms / Math.max(1, job.calls.length);
  const old = keys.get(job.ref.key);
  if (old === undefined) keys.set(job.ref.key, { mean: sample, peak: sample });
  else {
    old.mean = old.mean * 0.7 + sample * 0.3;
    old.peak = Math.max(sample, old.peak * PEAK_DECAY);
  }
}

async function pump(): Promise<void> {
  pumping = true;
  if (!poolServing) await poolReady.promise;
  while (jobsHead < jobs.length || (pullJobs(), jobsHead < jobs.length)) {
    const job = jobs[jobsHead];
    jobs[jobsHead++] = undefined as never;
    // Taken back by the pool (cancelled, or moved to another worker): skip it.
    if (Atomics.compareExchange(claims!, job.claim, job.id, 0) !== job.id) continue;
    if (
      answers.length > 0 &&
      (performance.now() - answersSince > FLUSH_MS || mayBeLong(job))
    ) flushAnswers();
    const t0 = performance.now();
    let answer = runJob(job);
    if (answer instanceof Promise) answer = await answer;
    const ms = performance.now() - t0;
    busyMs += ms;
    recordMs(job, ms);
    if (answers.length === 0) answersSince = t0;
    answers.push(job.id, answer[0], answer[1]);
  }
  jobs.length = 0;
  jobsHead = 0;
  pumping = false;
  flushAnswers();
}

// Jobs of at least this many calls answer all-number values as a Float64Array.
const PACK_MIN = 64;

/** A job's answer: a result code and its payload (see `ResultsMessage`). */
type Answer = [code: number, payload: unknown];

function runJob(job: PoolJob): Answer | Promise<Answer> {
  const { calls } = job;
  const { spread } = job;
  const n = calls.length;
  // Packed calls are in shared memory: their values go over them (see RESULT_IN_PLACE).
  const inPlace = calls instanceof Float64Array;
  let packed = inPlace ? calls : n >= PACK_MIN ? new Float64Array(n) : undefined;
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

/** Sends the answers gathered so far (also before the worker exits). */
function flushAnswers(): void {
  if (answers.length === 0) return;
  const flat = answers;
  answers = [];
  const message = encodeResults(busyMs, selfPid!, flat);
  busyMs = 0;
  const transfer: Transferable[] = [];
  for (let i = 1; i < flat.length; i += 3) {
    if (flat[i] === RESULT_NUMBERS) {
      transfer.push((flat[i + 1] as Float64Array).buffer as ArrayBuffer);
    }
  }
  if (transfer.length === 0 && answerLink?.trySend(message)) return;
  try {
    worker!.post(message, transfer);
  } catch {
    // Some value could not be cloned: send the answers one by one, so only
    // the jobs whose values cannot travel fail.
    for (let i = 0; i < flat.length; i += 3) {
      try {
        worker!.post(encodeResults(0, selfPid!, [flat[i], flat[i + 1], flat[i + 2]]));
      } catch (error) {
        worker!.post(encodeResults(0, selfPid!, [flat[i], RESULT_ERROR, _toWireError(error)]));
      }
    }
  }
}

_defineBehaviour<PoolSpec>("pool", {
  run: servePool,
  message(message) {
    if (!isTasks(message)) return false;
    takeTasks(message);
    return true;
  },
  flush: flushAnswers,
});
