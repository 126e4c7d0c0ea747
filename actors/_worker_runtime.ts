// The behaviour every Troupe worker runs: receive the init message, run the
// callback it names (a task, a Process subclass's run()), report how it ended,
// and close. User code is only ever the callback.
import { _runActor } from "./_actor_runtime.ts";
import { _revive } from "./_clone.ts";
import { _setContext } from "./_context.ts";
import { _markEnded } from "./_liveness.ts";
import { _Inbox } from "./_inbox.ts";
import { _toWireError } from "./errors.ts";
import { _adoptSelf, _endChildren, type Process } from "./process.ts";
import type {
  ExitMessage,
  InitMessage,
  PoolSpec,
  ResultItem,
  ResultsMessage,
  TaskItem,
  TasksMessage,
  ToChild,
  ToParent,
  WireError,
  WireTaskRef,
} from "./protocol.ts";
import { _resolveTask } from "./task.ts";

declare const self: {
  postMessage(message: ToParent, transfer?: Transferable[]): void;
  addEventListener(type: string, listener: (e: Event) => void): void;
  close(): void;
};

const post = (message: ToParent, transfer?: Transferable[]) => self.postMessage(message, transfer);
const realClose = self.close.bind(self);
const realExit = Deno.exit;
let exiting = false;
let selfPid: number | undefined;

/** Reports the exit to the parent once, then closes this worker. */
function exitNow(code: number, error?: WireError): never {
  if (!exiting) {
    exiting = true;
    // A task that called Deno.exit() must not take the answers before it along.
    flushAnswers();
    // Before the parent hears of it: a parent blocked in a lock's wait reads this, not messages.
    if (selfPid !== undefined) _markEnded(selfPid);
    const message: ExitMessage = error ? { t: "exit", code, error } : { t: "exit", code };
    post(message);
  }
  realClose();
  return realExit(code);
}

/** Ends this worker's own children first (they would otherwise die silently with it). */
async function finish(code: number, error?: unknown): Promise<void> {
  if (exiting) return;
  try {
    await _endChildren(code !== 0);
  } finally {
    if (code === 0 && typeof Deno.exitCode === "number" && Deno.exitCode !== 0) {
      code = Deno.exitCode;
    }
    exitNow(code, error === undefined ? undefined : _toWireError(error));
  }
}

/** Entry point called by the generated entry module, after the target's module loaded. */
export function _main(): void {
  // Deno gives the parent no event when a worker ends, so every way out of
  // the worker reports first: Deno.exit(n), self.close(), uncaught errors.
  Object.defineProperty(Deno, "exit", {
    value: (code = 0): never => exitNow(code),
    writable: true,
    configurable: true,
  });
  (self as { close(): void }).close = () => exitNow(0);
  self.addEventListener("error", (e) => {
    e.preventDefault();
    void finish(1, (e as ErrorEvent).error ?? new Error((e as ErrorEvent).message));
  });
  self.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    void finish(1, (e as PromiseRejectionEvent).reason);
  });
  // The handshake's first half. A worker's first postMessage is slow (~1 ms of
  // lazy set-up); sending it now overlaps that with the wait for "init".
  post({ t: "started" });
  const inbox = new _Inbox("this process");
  let started = false;
  self.addEventListener("message", (e) => {
    const message = (e as MessageEvent<ToChild>).data;
    if (message.t === "tasks") takeTasks(message);
    else if (message.t === "cancel") cancelTask(message.id);
    else if (message.t === "mail") inbox.deliver(message.data, message.wired);
    else if (message.t === "init" && !started) {
      started = true;
      void run(message, inbox);
    }
  });
}

async function run(init: InitMessage, inbox: _Inbox): Promise<void> {
  selfPid = init.self.pid;
  _setContext({
    self: init.self,
    parent: init.parent,
    postToParent: (message, transfer) => self.postMessage(message as ToParent, transfer),
    childPrefix: init.childPrefix,
    childCount: 0,
    pids: new Int32Array(init.pids),
    workerOptions: init.workerOptions,
    liveness: init.liveness && new Int32Array(init.liveness),
  });
  if (init.spec.kind === "pool") return servePool(init.spec, inbox);
  if (init.spec.kind === "actor") return _runActor(init.spec, inbox, finish);
  try {
    const { spec } = init;
    if (spec.wired) {
      _revive(spec.args);
      _revive(spec.fields);
    }
    const target = _resolveTask(spec.task);
    if (spec.mode === "subclass") {
      const instance = Object.assign(Object.create(target.prototype), spec.fields) as Process;
      _adoptSelf(instance, inbox);
      await instance.run();
    } else {
      _adoptSelf(undefined, inbox);
      await (target as (...args: unknown[]) => unknown)(...spec.args);
    }
  } catch (error) {
    return finish(1, error);
  }
  return finish(0);
}

// ---- pool workers: the same behaviour, with tasks as the callbacks ---------
// Jobs run one at a time in arrival order. Answers are batched: sent when the
// worker runs out of jobs, or once a millisecond while it stays busy, so tiny
// tasks cost one message per batch instead of one per task.

const FLUSH_MS = 1;
const jobs: { item: TaskItem; ref: WireTaskRef }[] = [];
let jobsHead = 0;
const cancelled = new Set<number>();
const answers: ResultItem[] = [];
let answersSince = 0;
let busyMs = 0;
let pumping = false;
let poolServing = false;
// Tasks wait on this until the initializer has run.
const poolReady = Promise.withResolvers<void>();

async function servePool(spec: PoolSpec, inbox: _Inbox): Promise<void> {
  _adoptSelf(undefined, inbox);
  if (spec.initializer) {
    try {
      const init = _resolveTask(spec.initializer) as (...args: unknown[]) => unknown;
      if (spec.wired) _revive(spec.initArgs);
      await init(...spec.initArgs);
    } catch (error) {
      return finish(1, error);
    }
  }
  post({ t: "ready" });
  poolServing = true;
  poolReady.resolve();
}

function takeTasks(message: TasksMessage): void {
  for (const item of message.items) jobs.push({ item, ref: message.refs[item.ref] });
  if (!pumping) void pump();
}

function cancelTask(id: number): void {
  cancelled.add(id);
}

async function pump(): Promise<void> {
  pumping = true;
  if (!poolServing) await poolReady.promise;
  while (jobsHead < jobs.length) {
    const { item, ref } = jobs[jobsHead];
    jobs[jobsHead++] = undefined as never;
    if (cancelled.delete(item.id)) continue;
    if (answers.length > 0 && performance.now() - answersSince > FLUSH_MS) flushAnswers();
    const t0 = performance.now();
    let answer = runJob(item, ref);
    if (answer instanceof Promise) answer = await answer;
    busyMs += performance.now() - t0;
    if (answers.length === 0) answersSince = t0;
    answers.push(answer);
  }
  jobs.length = 0;
  jobsHead = 0;
  // Messages arrive in order, so a cancel still listed was for a job that had already run.
  cancelled.clear();
  pumping = false;
  flushAnswers();
}

// Jobs of at least this many calls answer all-number values as a Float64Array.
const PACK_MIN = 64;

function runJob(item: TaskItem, ref: WireTaskRef): ResultItem | Promise<ResultItem> {
  const { calls, spread } = item;
  const n = calls.length;
  let packed = n >= PACK_MIN ? new Float64Array(n) : undefined;
  let values: unknown[] = [];
  let i = 0;
  try {
    const fn = _resolveTask(ref) as (...args: unknown[]) => unknown;
    if (item.wired) _revive(calls);
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
      if (value instanceof Promise) return finishAsync(item, fn, values, value, i);
      values.push(value);
    }
  } catch (error) {
    return { id: item.id, error: _toWireError(error) };
  }
  return { id: item.id, values: packed ?? values };
}

async function finishAsync(
  item: TaskItem,
  fn: (...args: unknown[]) => unknown,
  values: unknown[],
  pending: Promise<unknown>,
  i: number,
): Promise<ResultItem> {
  const { calls, spread } = item;
  try {
    values.push(await pending);
    for (i++; i < calls.length; i++) {
      values.push(await (spread ? fn(...(calls[i] as unknown[])) : fn(calls[i])));
    }
  } catch (error) {
    return { id: item.id, error: _toWireError(error) };
  }
  return { id: item.id, values };
}

/** Sends the answers gathered so far (also before the worker exits). */
function flushAnswers(): void {
  if (answers.length === 0) return;
  const items = answers.splice(0);
  const message: ResultsMessage = { t: "results", items, busyMs };
  busyMs = 0;
  const transfer: Transferable[] = [];
  for (const item of items) {
    if (item.values instanceof Float64Array) transfer.push(item.values.buffer as ArrayBuffer);
  }
  try {
    post(message, transfer);
  } catch {
    // Some value could not be cloned: send the answers one by one, so only
    // the jobs whose values cannot travel fail.
    for (const item of items) {
      try {
        post({ t: "results", items: [item], busyMs: 0 });
      } catch (error) {
        post({ t: "results", items: [{ id: item.id, error: _toWireError(error) }], busyMs: 0 });
      }
    }
  }
}
