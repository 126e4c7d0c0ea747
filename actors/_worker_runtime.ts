// The behaviour every Troupe worker runs: receive the init message, run the
// callback it names (a task, a Process subclass's run()), report how it ended,
// and close. User code is only ever the callback.
import { _runActor } from "./_actor_runtime.ts";
import { _revive } from "./_clone.ts";
import { _setContext } from "./_context.ts";
import { _Inbox } from "./_inbox.ts";
import { _toWireError } from "./errors.ts";
import { _adoptSelf, _endChildren, type Process } from "./process.ts";
import type {
  ExitMessage,
  InitMessage,
  PoolSpec,
  TaskMessage,
  ToChild,
  ToParent,
  WireError,
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

/** Reports the exit to the parent once, then closes this worker. */
function exitNow(code: number, error?: WireError): never {
  if (!exiting) {
    exiting = true;
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
    if (message.t === "task") void runTask(message);
    else if (message.t === "mail") inbox.deliver(message.data, message.wired);
    else if (message.t === "init" && !started) {
      started = true;
      void run(message, inbox);
    }
  });
}

async function run(init: InitMessage, inbox: _Inbox): Promise<void> {
  _setContext({
    self: init.self,
    parent: init.parent,
    postToParent: (message, transfer) => self.postMessage(message as ToParent, transfer),
    childPrefix: init.childPrefix,
    childCount: 0,
    pids: new Int32Array(init.pids),
    workerOptions: init.workerOptions,
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
  poolReady.resolve();
}

async function runTask(message: TaskMessage): Promise<void> {
  await poolReady.promise;
  const values: unknown[] = [];
  try {
    const fn = _resolveTask(message.task) as (...args: unknown[]) => unknown;
    const { calls, spread } = message;
    if (message.wired) _revive(calls);
    for (let i = 0; i < calls.length; i++) {
      let value = spread ? fn(...(calls[i] as unknown[])) : fn(calls[i]);
      if (value instanceof Promise) value = await value;
      values.push(value);
    }
  } catch (error) {
    post({ t: "result", id: message.id, error: _toWireError(error) });
    return;
  }
  try {
    post({ t: "result", id: message.id, values });
  } catch (error) {
    post({ t: "result", id: message.id, error: _toWireError(error) });
  }
}
