// What every Troupe worker runs: take the init message, hand its spec to the
// behaviour registered for the spec's kind (a process, an actor, a pool's
// worker), report how the worker ended, and close. The kernel knows no kind:
// each folder registers its own with `_defineBehaviour`, in the module whose
// URL it gives `_spawnWorker`, and user code is only ever the callbacks a
// behaviour calls.
import {
  _endImports,
  _IN_WORKER,
  _setContext,
  _startImports,
  _THREAD_PID_BASE,
  _THREAD_PID_COUNT,
} from "./context.ts";
import { _forwardEndings, _markEnded, _markRangeEnded } from "./liveness.ts";
import { _Inbox } from "./inbox.ts";
import { _toWireError } from "./errors.ts";
import {
  EXIT_CODE,
  EXIT_REPORTED,
  EXIT_RUNNING,
  EXIT_SEEN_WAIT_MS,
  EXIT_SENT,
  EXIT_STATE,
  type ExitMessage,
  type InitMessage,
  type ToParent,
  type WireError,
} from "./protocol.ts";
import { _post } from "./util.ts";
import { _EARLY_MESSAGES } from "./host.ts";
import { _ByteLink, _portStream } from "./endpoint.ts";
import { _isSpawnedChild, _parentStream } from "./os_process.ts";

declare const self: {
  postMessage(message: ToParent, transfer?: Transferable[]): void;
  addEventListener(type: string, listener: (e: Event) => void): void;
  removeEventListener(type: string, listener: (e: Event) => void): void;
  close(): void;
};

/** What the kernel gives a behaviour: the worker's mailbox and its ways out. */
export interface _WorkerSide {
  /** The mailbox `receive()` reads in this worker. */
  inbox: _Inbox;
  /** Posts to the parent (by the spec's `up` port when it has one). */
  post(message: ToParent, transfer?: Transferable[]): void;
  /**
   * Ends the worker: its own children first (see `_beforeExit`), then the
   * exit report, then close. `error` is what it ended by, if anything.
   */
  finish(code: number, error?: unknown): Promise<void> | undefined;
  /**
   * Writes out now what was posted (a byte link to an OS process batches its
   * writes until the turn ends): after it, a crash loses none of it.
   */
  sendNow(): void;
}

/** A kind of worker: what it does with its spec, and with the messages that follow. */
export interface _Behaviour<S extends { kind: string }> {
  /** Serves `spec` until the worker ends; ends it with `worker.finish`. */
  run(spec: S, worker: _WorkerSide): Promise<void>;
  /** A message that is neither the init message nor mail; true when taken. */
  message?(message: unknown): boolean;
  /** Sends what the behaviour holds for the parent, as the worker exits. */
  flush?(): void;
}

const behaviours = new Map<string, _Behaviour<{ kind: string }>>();
let current: _Behaviour<{ kind: string }> | undefined;

/**
 * Registers what a worker whose spec has `kind` does. Call it at the top
 * level of the module whose URL the parent passes to `_spawnWorker` as the
 * behaviour, so that the worker has it before its init message is read.
 */
export function _defineBehaviour<S extends { kind: string }>(
  kind: S["kind"],
  behaviour: _Behaviour<S>,
): void {
  behaviours.set(kind, behaviour as unknown as _Behaviour<{ kind: string }>);
}

// Run before the exit report, with whether the worker failed; the process
// behaviour ends this worker's own children here.
const exitHooks: ((failed: boolean) => Promise<void> | undefined)[] = [];

/**
 * Runs `hook` as this worker finishes, before it reports its exit: the
 * report waits for the promise it returns.
 */
export function _beforeExit(hook: (failed: boolean) => Promise<void> | undefined): void {
  exitHooks.push(hook);
}

// Whether this worker posted anything to its parent: until it has, a process
// may report its exit in its exit cell (see protocol.ts).
let posted = false;
// A process's port to its parent and its count of what it posted there (see ProcessSpec.up).
let up: MessagePort | undefined;
let sent: Int32Array | undefined;
// The byte link to the parent, when this worker shares no memory with it: every message goes by it.
let link: _ByteLink | undefined;
const post = (message: ToParent, transfer?: Transferable[]) => {
  posted = true;
  if (link !== undefined) return link.send(message);
  if (up === undefined) return _post(self, message, transfer);
  _post(up, message, transfer);
  Atomics.add(sent!, EXIT_SENT, 1);
};
// A spawn child is the main thread of an OS process of its own: it exits, it has nothing to close.
const SPAWNED = _isSpawnedChild();
const realClose = SPAWNED ? () => {} : self.close.bind(self);
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
      current?.flush?.();
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
    // A byte link may hold what was sent this turn: out before the process goes.
    link?.flush();
  }
  realClose();
  return realExit(code);
}

/**
 * Runs the exit hooks (a process ends its own children, which would
 * otherwise die silently with it), then reports the exit. With nothing to
 * wait for it exits at once, in the same turn.
 */
function finish(code: number, error?: unknown): Promise<void> | undefined {
  if (exiting) return;
  const report = () => {
    if (code === 0 && typeof Deno.exitCode === "number" && Deno.exitCode !== 0) {
      code = Deno.exitCode;
    }
    exitNow(code, error === undefined ? undefined : _toWireError(error));
  };
  const pending: Promise<void>[] = [];
  try {
    for (const hook of exitHooks) {
      const ending = hook(code !== 0);
      if (ending !== undefined) pending.push(ending);
    }
  } finally {
    if (pending.length === 0) report();
  }
  if (pending.length === 0) return undefined;
  return Promise.all(pending).then(() => {}).finally(report);
}

// Deno gives the parent no event when a worker ends, so every way out of the
// worker reports first: Deno.exit(n) (node's process.exit calls it), close(),
// uncaught errors. The exits are taken over as this module loads, before the
// modules a worker runs are evaluated: one that keeps its own reference to
// `Deno.exit` then holds this one.
if (_IN_WORKER || SPAWNED) {
  _startImports();
  Object.defineProperty(Deno, "exit", {
    value: (code = 0): never => exitNow(code),
    writable: true,
    configurable: true,
  });
  (self as { close(): void }).close = () => exitNow(0);
}

/** Entry point called by the generated entry module, after the worker's modules loaded. */
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
  /** Handles one message from the parent; true when the behaviour took it. */
  const take = (message: unknown): boolean => {
    if (current?.message?.(message)) return true;
    if (Array.isArray(message) || typeof message !== "object" || message === null) return false;
    const m = message as { t?: unknown; data?: unknown; wired?: boolean; ranges?: unknown };
    if (m.t === "mail") inbox.deliver(m.data, m.wired);
    else if (m.t === "ended" && link !== undefined && started && Array.isArray(m.ranges)) {
      // From the parent, across bytes: processes of other domains that ended.
      for (let i = 0; i + 1 < m.ranges.length; i += 2) {
        _markRangeEnded(m.ranges[i], m.ranges[i + 1]);
      }
    } else if (m.t === "init" && !started) {
      started = true;
      void run(message as InitMessage, inbox);
    }
    return false;
  };
  if (SPAWNED) {
    // Reached by its stdin and stderr (see runtime/os_process.ts). Its parent gone, it goes too.
    link = new _ByteLink(_parentStream(parentGone), "its parent", false, {
      message: take,
      error: (error) => console.error(`Troupe: ${error.message}`),
    });
    return;
  }
  const onMessage = (e: Event) => {
    const message = (e as MessageEvent).data;
    if (link === undefined && message?.t === "link" && message.port instanceof MessagePort) {
      // The parent reaches this worker by bytes alone (see runtime/host.ts).
      link = new _ByteLink(_portStream(message.port), "its parent", false, {
        message: take,
        error: (error) => console.error(`Troupe: ${error.message}`),
      });
      return e.stopImmediatePropagation();
    }
    // Taken by the behaviour: user code's own listeners do not see it.
    if (take(message)) e.stopImmediatePropagation();
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

/**
 * A spawn child whose parent has gone ends at once: nobody can read its
 * results, and no OS process outlives its parent. Its own OS children see
 * their stdin end in turn.
 */
function parentGone(): void {
  exiting = true;
  realExit(1);
}

interface Held {
  early: Event[];
  hold: (e: Event) => void;
}

function run(init: InitMessage, inbox: _Inbox): Promise<void> | undefined {
  selfPid = init.self.pid;
  // An OS process of its own: the parent learns its pid as it starts, the child from the OS.
  if (SPAWNED) init.self.osPid = Deno.pid;
  if (init.loaded) {
    const loaded = new Int32Array(init.loaded);
    Atomics.store(loaded, 0, 1);
    Atomics.notify(loaded, 0);
  }
  if (init.tellLoaded) post({ t: "loaded" });
  if (init.pidBlock) {
    // Tells the parent of the endings in this domain (its pids are this block's).
    const [base, count] = init.pidBlock;
    queueMicrotask(() =>
      _forwardEndings((ranges) => {
        const own: number[] = [];
        for (let i = 0; i < ranges.length; i += 2) {
          if (ranges[i] > base && ranges[i] <= base + count) own.push(ranges[i], ranges[i + 1]);
        }
        if (own.length > 0 && !exiting) post({ t: "ended", ranges: own });
      })
    );
  }
  // A worker reached by bytes starts a memory domain of its own, with the pids its parent reserved.
  const [pidBase, pidCount] = init.pidBlock ?? [_THREAD_PID_BASE, _THREAD_PID_COUNT];
  _setContext({
    self: init.self,
    parent: init.parent,
    postToParent: post as (message: unknown, transfer?: Transferable[]) => void,
    childPrefix: init.childPrefix,
    childCount: 0,
    pids: new Int32Array(init.pids ?? new SharedArrayBuffer(8)),
    pidBase,
    pidCount,
    domain: init.domain,
    transport: init.transport,
    workerOptions: init.workerOptions,
    liveness: init.liveness && new Int32Array(init.liveness),
    endedLog: init.endedLog && new Int32Array(init.endedLog),
    foreign: init.foreign && new Int32Array(init.foreign),
    inChannel: init.inChannel && new Int32Array(init.inChannel),
  });
  const { spec } = init;
  if (spec.exitCell) {
    exitCell = new Int32Array(spec.exitCell);
    if (spec.up) {
      sent = exitCell;
      up = spec.up;
    }
  }
  current = behaviours.get(spec.kind);
  if (current === undefined) {
    return finish(1, new Error(`this worker has no behaviour for a "${spec.kind}" spec`));
  }
  return current.run(spec, { inbox, post, finish, sendNow: () => link?.flush() });
}
