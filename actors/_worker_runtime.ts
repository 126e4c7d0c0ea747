// The behaviour every Troupe worker runs: receive the init message, run the
// callback it names (a task, a Process subclass's run()), report how it ended,
// and close. User code is only ever the callback.
import { _deliverToActor, _runActor } from "./_actor_runtime.ts";
import { _revive } from "./_clone.ts";
import { _endImports, _IN_WORKER, _setContext, _startImports } from "./_context.ts";
import { _markEnded } from "./_liveness.ts";
import { _Inbox } from "./_inbox.ts";
import { _toWireError } from "./errors.ts";
import { _adoptSelf, _endChildren, type Process } from "./process.ts";
import {
  EXIT_CODE,
  EXIT_REPORTED,
  EXIT_RUNNING,
  EXIT_SEEN_WAIT_MS,
  EXIT_SENT,
  EXIT_STATE,
  type ExitMessage,
  type InitMessage,
  type PoolSpec,
  RESULT_ERROR,
  RESULT_IN_PLACE,
  RESULT_NUMBERS,
  RESULT_VALUES,
  type ResultsMessage,
  TASK_SPREAD,
  TASK_WIRED,
  type TasksMessage,
  type ToActor,
  type ToChild,
  type ToParent,
  type WireError,
  type WireTaskRef,
} from "./protocol.ts";
import { _resolveTask } from "./task.ts";
import { _post } from "./_util.ts";
import { _EARLY_MESSAGES } from "./_worker_host.ts";
import { _Link, _WOULD_WAIT } from "./_link.ts";

declare const self: {
  postMessage(message: ToParent, transfer?: Transferable[]): void;
  addEventListener(type: string, listener: (e: Event) => void): void;
  removeEventListener(type: string, listener: (e: Event) => void): void;
  close(): void;
};

// Whether this worker posted anything to its parent: until it has, a process
// may report its exit in its exit cell (see protocol.ts).
let posted = false;
// A process's port to its parent and its count of what it posted there (see ProcessSpec.up).
let up: MessagePort | undefined;
let sent: Int32Array | undefined;
const post = (message: ToParent, transfer?: Transferable[]) => {
  posted = true;
  if (up === undefined) return _post(self, message, transfer);
  _post(up, message, transfer);
  Atomics.add(sent!, EXIT_SENT, 1);
};
const realClose = self.close.bind(self);
const realExit = Deno.exit;
let exiting = false;
let selfPid: number | undefined;
let exitCell: Int32Array | undefined;

/** Reports the exit to the parent once, then closes this worker. */
function exitNow(code: number, error?: WireError): never {
  if (!exiting) {
    exiting = true;
    // A task that called Deno.exit() must not take the answers before it along.
    try {
      flushAnswers();
    } catch {
      // Its process has ended already (terminated): nothing more goes out.
    }
    // Before the parent hears of it: a parent blocked in a lock's wait reads this, not messages.
    if (selfPid !== undefined) _markEnded(selfPid);
    if (exitCell && !error && !posted) {
      Atomics.store(exitCell, EXIT_CODE, code);
      if (
        Atomics.compareExchange(exitCell, EXIT_STATE, EXIT_RUNNING, EXIT_REPORTED) === EXIT_RUNNING
      ) {
        Atomics.notify(exitCell, EXIT_STATE);
        Atomics.wait(exitCell, EXIT_STATE, EXIT_REPORTED, EXIT_SEEN_WAIT_MS);
      }
    } else {
      const message: ExitMessage = error ? { t: "exit", code, error } : { t: "exit", code };
      post(message);
      // As above: closing now would tear the worker down while the parent
      // takes this message and the ones before it.
      if (exitCell) Atomics.wait(exitCell, EXIT_STATE, EXIT_RUNNING, EXIT_SEEN_WAIT_MS);
    }
  }
  realClose();
  return realExit(code);
}

/**
 * Ends this worker's own children first (they would otherwise die silently
 * with it), then reports the exit. With no children left it exits at once,
 * in the same turn.
 */
function finish(code: number, error?: unknown): Promise<void> | undefined {
  if (exiting) return;
  const report = () => {
    if (code === 0 && typeof Deno.exitCode === "number" && Deno.exitCode !== 0) {
      code = Deno.exitCode;
    }
    exitNow(code, error === undefined ? undefined : _toWireError(error));
  };
  let ending: Promise<void> | undefined;
  try {
    ending = _endChildren(code !== 0);
  } finally {
    if (ending === undefined) report();
  }
  return ending?.finally(report);
}

// Deno gives the parent no event when a worker ends, so every way out of the
// worker reports first: Deno.exit(n) (node's process.exit calls it), close(),
// uncaught errors. The exits are taken over as this module loads, before the
// modules a worker runs are evaluated: one that keeps its own reference to
// `Deno.exit` then holds this one.
if (_IN_WORKER) {
  _startImports();
  Object.defineProperty(Deno, "exit", {
    value: (code = 0): never => exitNow(code),
    writable: true,
    configurable: true,
  });
  (self as { close(): void }).close = () => exitNow(0);
}

/** Entry point called by the generated entry module, after the target's module loaded. */
export function _main(): void {
  _endImports();
  self.addEventListener("error", (e) => {
    e.preventDefault();
    void finish(1, (e as ErrorEvent).error ?? new Error((e as ErrorEvent).message));
  });
  self.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    void finish(1, (e as PromiseRejectionEvent).reason);
  });
  const inbox = new _Inbox("this process");
  let started = false;
  const onMessage = (e: Event) => {
    const message = (e as MessageEvent<ToChild>).data;
    if (_deliverToActor(message as ToActor)) return e.stopImmediatePropagation();
    if (Array.isArray(message)) takeTasks(message);
    else if (message.t === "mail") inbox.deliver(message.data, message.wired);
    else if (message.t === "init" && !started) {
      started = true;
      void run(message, inbox);
    }
  };
  self.addEventListener("message", onMessage);
  // Messages that came while the entry imported this worker's modules.
  const g = globalThis as unknown as Record<symbol, Held | undefined>;
  const key = Symbol.for(_EARLY_MESSAGES);
  const held = g[key];
  if (held) {
    delete g[key];
    self.removeEventListener("message", held.hold);
    for (const e of held.early) onMessage(e);
  }
}

interface Held {
  early: Event[];
  hold: (e: Event) => void;
}

async function run(init: InitMessage, inbox: _Inbox): Promise<void> {
  selfPid = init.self.pid;
  if (init.loaded) {
    const loaded = new Int32Array(init.loaded);
    Atomics.store(loaded, 0, 1);
    Atomics.notify(loaded, 0);
  }
  _setContext({
    self: init.self,
    parent: init.parent,
    postToParent: post as (message: unknown, transfer?: Transferable[]) => void,
    childPrefix: init.childPrefix,
    childCount: 0,
    pids: new Int32Array(init.pids),
    workerOptions: init.workerOptions,
    liveness: init.liveness && new Int32Array(init.liveness),
    inChannel: init.inChannel && new Int32Array(init.inChannel),
  });
  if (init.spec.kind === "pool") return servePool(init.spec, inbox);
  if (init.spec.kind === "actor") return _runActor(init.spec, inbox, finish);
  try {
    const { spec } = init;
    exitCell = new Int32Array(spec.exitCell);
    if (spec.up) {
      sent = exitCell;
      up = spec.up;
    }
    if (spec.wired) {
      _revive(spec.args);
      _revive(spec.fields);
    }
    const target = _resolveTask(spec.task);
    let result: unknown;
    if (spec.mode === "subclass") {
      const instance = Object.assign(Object.create(target.prototype), spec.fields) as Process;
      _adoptSelf(instance, inbox);
      result = instance.run();
    } else {
      _adoptSelf(undefined, inbox);
      result = (target as (...args: unknown[]) => unknown)(...spec.args);
    }
    // Awaited even when it is not a promise: the microtasks the target queued
    // before it returned (a `.then` it did not wait for) run before the exit.
    await result;
  } catch (error) {
    return finish(1, error);
  }
  return finish(0);
}

// ---- pool workers: the same behaviour, with tasks as the callbacks ---------
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
interface PoolJob {
  id: number;
  ref: WireTaskRef;
  flags: number;
  claim: number;
  calls: unknown[] | Float64Array;
}
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

async function servePool(spec: PoolSpec, inbox: _Inbox): Promise<void> {
  _adoptSelf(undefined, inbox);
  claims = new Int32Array(spec.claims);
  jobLink = new _Link(spec.jobs);
  answerLink = new _Link(spec.answers);
  if (spec.initializer) {
    try {
      const init = _resolveTask(spec.initializer) as (...args: unknown[]) => unknown;
      if (spec.wired) _revive(spec.initArgs);
      await init(...spec.initArgs);
    } catch (error) {
      return finish(1, error);
    }
    // The pool tells an initializer that failed from a worker that died later
    // by this message. Without one, the worker posts nothing before its first
    // job: a worker's first postMessage costs it ~0.15 ms (Deno compiles its
    // messaging code then), and its answers go by the link.
    post({ t: "ready" });
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
  const n = message[1] as number;
  const refs: WireTaskRef[] = [];
  let i = 2;
  for (let r = 0; r < n; r++, i += 2) {
    refs.push({ module: message[i] as string, key: message[i + 1] as string });
  }
  for (; i < message.length; i += 5) {
    jobs.push({
      id: message[i] as number,
      ref: refs[message[i + 1] as number],
      flags: message[i + 2] as number,
      claim: message[i + 3] as number,
      calls: message[i + 4] as unknown[] | Float64Array,
    });
  }
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
  const spread = (job.flags & TASK_SPREAD) !== 0;
  const n = calls.length;
  // Packed calls are in shared memory: their values go over them (see RESULT_IN_PLACE).
  const inPlace = calls instanceof Float64Array;
  let packed = inPlace ? calls : n >= PACK_MIN ? new Float64Array(n) : undefined;
  let values: unknown[] = [];
  let i = 0;
  try {
    const fn = _resolveTask(job.ref) as (...args: unknown[]) => unknown;
    if (job.flags & TASK_WIRED) _revive(calls);
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
  const { calls } = job;
  const spread = (job.flags & TASK_SPREAD) !== 0;
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
  const message = ["R", busyMs, selfPid, ...flat] as ResultsMessage;
  busyMs = 0;
  const transfer: Transferable[] = [];
  for (let i = 1; i < flat.length; i += 3) {
    if (flat[i] === RESULT_NUMBERS) {
      transfer.push((flat[i + 1] as Float64Array).buffer as ArrayBuffer);
    }
  }
  if (transfer.length === 0 && answerLink?.trySend(message)) return;
  try {
    post(message, transfer);
  } catch {
    // Some value could not be cloned: send the answers one by one, so only
    // the jobs whose values cannot travel fail.
    for (let i = 0; i < flat.length; i += 3) {
      try {
        post(["R", 0, selfPid, flat[i], flat[i + 1], flat[i + 2]]);
      } catch (error) {
        post(["R", 0, selfPid, flat[i], RESULT_ERROR, _toWireError(error)]);
      }
    }
  }
}
