/**
 * `Process`: run a declared function, or a subclass's `run()`, in its own
 * permissioned Deno Worker; plus `currentProcess()`, `parentProcess()`,
 * `activeChildren()`, and the mailbox (`receive()`, `mailbox()`).
 *
 * @module
 */
import { _outbox, _prepare, _revive } from "../runtime/wire.ts";
import { _context, _nextIdentity, _nextPid, _refuseWhileImporting } from "../runtime/context.ts";
import { _Inbox, type ReceiveOptions } from "../runtime/inbox.ts";
import { _checkTimeout, _describe, _inspectable } from "../runtime/util.ts";
import { _after, _settledWithin, _waitWord } from "../runtime/wait.ts";
import { _initMessage, _reachedByBytes, _spawnWorker } from "../runtime/host.ts";
import type { _Endpoint } from "../runtime/endpoint.ts";
import { RemoteError } from "../runtime/errors.ts";
import {
  _assertApplicable,
  _normalizePermissions,
  type Permissions,
} from "../runtime/permissions.ts";
import {
  EXIT_CELL_BYTES,
  EXIT_CODE,
  EXIT_REPORTED,
  EXIT_RUNNING,
  EXIT_SEEN,
  EXIT_SENT,
  EXIT_STATE,
  EXIT_UNWATCHED,
  type MailMessage,
  type ProcessSpec,
  type ToParent,
  type WireError,
  type WireIdentity,
  type WireTaskRef,
} from "../runtime/protocol.ts";
import { _requireTaskRef, _resolveTask } from "../runtime/task.ts";
import { _startOptions, type StartMethod } from "../runtime/start.ts";
import type { _StartOptions } from "../runtime/host.ts";
import { _beforeExit, _defineBehaviour } from "../runtime/entry.ts";

export type { ReceiveOptions } from "../runtime/inbox.ts";

/**
 * Options for {@linkcode Process}.
 *
 * @typeParam A The target's parameter types.
 */
export interface ProcessOptions<A extends unknown[] = unknown[]> {
  /** The function to run in the child; it must be declared with `task()`. */
  target?: (...args: A) => unknown;
  /** Arguments for `target`; structured-cloned into the child. @default {[]} */
  args?: A;
  /** The process's name. @default {"Process-N"} */
  name?: string;
  /** A daemon child is terminated when its parent ends or is disposed. @default {false} */
  daemon?: boolean;
  /** What the child may do. @default {"inherit"} */
  permissions?: Permissions;
  /**
   * How the child starts: `"thread"`, a Deno Worker of this OS process, or
   * `"spawn"`, an OS process of its own (`deno run`), which `kill()` always
   * stops and whose `pid` is its OS pid. @default {getStartMethod()}
   */
  startMethod?: StartMethod;
  /**
   * The child's heap limit in MB (V8's `--max-old-space-size`); spawn only.
   * A child that reaches it ends alone, with a `RemoteError` named
   * `"MemoryError"`. @default {undefined} (V8's own limit)
   */
  memoryLimitMb?: number;
}

// A "worker" is a pool's: listed by activeChildren(), stopped through its pool.
type Role = "child" | "self" | "parent" | "main" | "worker";

interface State {
  role: Role;
  /** Python's `_identity`: `"1"`, or `"1:2"` for the second child of Process-1. */
  identity: string;
  name: string;
  daemon: boolean;
  pid: number | undefined;
  /** A spawn child's OS pid, which `pid` shows. */
  osPid: number | undefined;
  start: _StartOptions;
  target: ((...args: unknown[]) => unknown) | undefined;
  args: unknown[];
  permissions: Permissions;
  started: boolean;
  exitCode: number | null;
  error: RemoteError | null;
  endpoint: _Endpoint | undefined;
  ended: PromiseWithResolvers<void>;
  /** Where the child reports an exit without a message (see protocol.ts), while watched. */
  exitCell: Int32Array | undefined;
  /** Messages this side receives: from the child (role child) or from the parent (role self). */
  inbox: _Inbox | undefined;
  /** The parent's end of the child's port (see ProcessSpec.up), until all it sent was read. */
  up: MessagePort | undefined;
  /** The child's exit cell, whose EXIT_SENT counts what it posted on the port. */
  sent: Int32Array | undefined;
  /** Messages read from the port. */
  received: number;
  /** A pool worker's: asks its pool to end it with this exit code. */
  stop?: (code: number) => void;
}

// Internal state lives here, not in fields, so that a subclass's own fields
// are exactly what gets sent to the child.
const states = new WeakMap<Process, State>();
const children = new Set<Process>();
let selfProcess: Process | undefined;
let parentHandle: Process | undefined;

function state(p: Process): State {
  const s = states.get(p);
  if (!s) {
    throw new TypeError(
      "this Process was not constructed (call super() in a subclass constructor)",
    );
  }
  return s;
}

/** The state of a process this one knows by its identity: itself, or its parent. */
function knownState(role: Role, who: WireIdentity): State {
  const s = newState(role, who.name, who.daemon, who.pid);
  s.osPid = who.osPid;
  return s;
}

function newState(role: Role, name: string, daemon: boolean, pid: number | undefined): State {
  return {
    role,
    identity: "",
    name,
    daemon,
    pid,
    osPid: undefined,
    start: {},
    target: undefined,
    args: [],
    permissions: "inherit",
    started: role !== "child",
    exitCode: null,
    error: null,
    endpoint: undefined,
    ended: Promise.withResolvers<void>(),
    exitCell: undefined,
    inbox: undefined,
    up: undefined,
    sent: undefined,
    received: 0,
  };
}

/**
 * A process: code running in its own Deno Worker, with its own permissions,
 * a pid and a mailbox. Python's `multiprocessing.Process`, with `await` where
 * Python blocks.
 *
 * Give it a `target` declared with `task()` and its `args`, or subclass it and
 * override `run()`: the subclass's own fields are structured-cloned into the
 * child, where `run()` sees them. Declare the subclass with `task()` too.
 *
 * `exitCode` is `null` while running, then `0` when the code returned, `1`
 * when it threw (and {@linkcode Process.error} holds the {@linkcode RemoteError}),
 * `n` after `Deno.exit(n)`, `-15` after `terminate()` and `-9` after `kill()`.
 *
 * @typeParam A The target's parameter types.
 *
 * @example A target function
 * ```ts
 * import { Process, task } from "@troupe/troupe";
 *
 * const greet = task(import.meta, function greet(who: string) {
 *   console.log(`hello, ${who}`);
 * });
 *
 * // Workers import this module too: guard the parent's work, as Python
 * // guards it with `if __name__ == "__main__"`.
 * if (import.meta.main) {
 *   const p = new Process({ target: greet, args: ["world"] });
 *   p.start();
 *   await p.join();
 *   console.assert(p.exitCode === 0);
 * }
 * ```
 *
 * @example A subclass with its own fields
 * ```ts
 * import { Process, task } from "@troupe/troupe";
 *
 * class Counter extends Process {
 *   constructor(public upTo: number) {
 *     super();
 *   }
 *   override run(): void {
 *     for (let i = 1; i <= this.upTo; i++) console.log(this.name, i);
 *   }
 * }
 * task(import.meta, Counter);
 *
 * if (import.meta.main) {
 *   await using p = new Counter(3);
 *   p.start();
 *   await p.join();
 * }
 * ```
 */
export class Process<A extends unknown[] = unknown[]> {
  /**
   * Creates a process; it runs once {@linkcode Process.start} is called.
   *
   * @param options What to run and how.
   */
  constructor(options: ProcessOptions<A> = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Process options must be an object, got ${_describe(options)}`);
    }
    const {
      target,
      args = [] as unknown as A,
      name,
      daemon = false,
      permissions = "inherit",
      startMethod,
      memoryLimitMb,
    } = options;
    if (target !== undefined && typeof target !== "function") {
      throw new TypeError(
        `Process target must be a function declared with task(), got ${_describe(target)}`,
      );
    }
    if (!Array.isArray(args)) {
      throw new TypeError(`Process args must be an array, got ${_describe(args)}`);
    }
    if (name !== undefined && typeof name !== "string") {
      throw new TypeError(`Process name must be a string, got ${_describe(name)}`);
    }
    if (typeof daemon !== "boolean") {
      throw new TypeError(`Process daemon must be a boolean, got ${_describe(daemon)}`);
    }
    _normalizePermissions(permissions);
    const start = _startOptions(startMethod, memoryLimitMb, "Process");
    const identity = _nextIdentity();
    const s = newState("child", name ?? `Process-${identity}`, daemon, undefined);
    s.start = start;
    s.identity = identity;
    s.target = target as State["target"];
    s.args = args;
    s.permissions = permissions;
    states.set(this, s);
  }

  /** The process's name: `"Process-1"`, `"Process-1:2"` for a child's child, or `"MainProcess"`. */
  get name(): string {
    return state(this).name;
  }
  set name(value: string) {
    if (typeof value !== "string") {
      throw new TypeError(`Process name must be a string, got ${_describe(value)}`);
    }
    state(this).name = value;
  }

  /** Whether the process is a daemon; can be changed only before `start()`. */
  get daemon(): boolean {
    return state(this).daemon;
  }
  set daemon(value: boolean) {
    const s = state(this);
    if (s.started) throw new Error(`cannot change daemon of ${s.name} after it started`);
    s.daemon = Boolean(value);
  }

  /**
   * Unique within this run of the program; `undefined` before `start()`. A
   * thread's pid is 1,000,000,000 plus its number in the run, above any OS's
   * pid range, so it never names an OS process; the main process's is `Deno.pid`.
   */
  get pid(): number | undefined {
    const s = state(this);
    return s.osPid ?? s.pid;
  }

  /**
   * How the process ended: `null` while it runs (or before it starts), `0`
   * when its code returned, `1` when it threw, `n` after `Deno.exit(n)`,
   * `-15` after `terminate()`, `-9` after `kill()`. Like Python's, it looks
   * at the child each time it is read: a process that ended while this
   * thread was busy shows its code without waiting for a turn of the loop.
   */
  get exitCode(): number | null {
    const s = state(this);
    if (s.role === "child") this.#poll(s);
    return s.exitCode;
  }

  /** The error that ended the process (exit code 1), or `null`. */
  get error(): RemoteError | null {
    return state(this).error;
  }

  /**
   * The code the child runs. The default calls `target(...args)`; a subclass
   * overrides it and uses its own fields. Runs in the child, not the parent.
   */
  run(): unknown {
    const s = state(this);
    return s.target?.(...s.args);
  }

  /**
   * Starts the process in a new worker. Throws, and starts nothing, when the
   * target was not declared with `task()`, an argument cannot be sent, the
   * permissions cannot be applied, or the process was already started.
   */
  start(): void {
    const s = state(this);
    if (s.role !== "child") {
      throw new Error(
        `${s.name} is ${
          s.role === "main" ? "the main process" : "already running"
        }; it cannot be started`,
      );
    }
    if (s.started) {
      throw new Error(
        `${s.name} was already started; a process can be started only once, so create a new Process to run it again`,
      );
    }
    _refuseWhileImporting(s.name);
    const spec = this.#spec(s);
    const perms = _normalizePermissions(s.permissions);
    _assertApplicable(perms, `${s.name} permissions`, s.start.method);
    const pid = _nextPid();
    const out = _outbox();
    out.to = pid;
    out.bytes = _reachedByBytes(s.start);
    if (spec.mode === "target") {
      spec.args = spec.args.map((arg, i) => _prepare(arg, `${s.name} args[${i}]`, out));
    } else {
      for (const [key, value] of Object.entries(spec.fields)) {
        spec.fields[key] = _prepare(value, `${s.name} field '${key}'`, out);
      }
    }
    if (out.wired) spec.wired = true;
    s.pid = pid;
    s.started = true;
    s.inbox = new _Inbox(s.name);
    const endpoint = _spawnWorker(
      s.name,
      PROCESS_BEHAVIOUR,
      [spec.task.module, ...out.modules],
      perms,
      {
        message: (m) => this.#onMessage(s, m),
        error: (e) => this.#end(s, 1, e),
        exit: (code, e) => this.#end(s, code, e),
      },
      s.start,
    );
    s.endpoint = endpoint;
    children.add(this);
    const transfer = out.transfer;
    // Across a byte link the exit comes by message, and the link's port keeps what came before it.
    if (endpoint.sharesMemory) {
      spec.exitCell = new SharedArrayBuffer(EXIT_CELL_BYTES);
      const cell = new Int32Array(spec.exitCell);
      this.#watchExitCell(s, cell);
      const channel = new MessageChannel();
      spec.up = channel.port2;
      s.up = channel.port1;
      s.sent = cell;
      s.up.onmessage = (e: MessageEvent<ToParent>) => {
        s.received++;
        this.#onMessage(s, e.data);
        if (s.exitCode !== null) this.#closeWhenRead(s);
      };
      transfer.push(channel.port2);
    }
    const init = _initMessage(
      { name: s.name, pid: s.pid, daemon: s.daemon },
      s.identity,
      perms,
      spec,
    );
    try {
      endpoint.post(init, transfer);
      s.osPid = endpoint.osPid;
    } catch (error) {
      // Nothing started: the process is as before start(), but cannot be started again.
      s.pid = undefined;
      this.#end(s, 1, undefined);
      throw new TypeError(
        `${s.name}'s arguments could not be sent to the worker: ${(error as Error).message}`,
      );
    }
  }

  #spec(s: State): ProcessSpec {
    const ctor = this.constructor as typeof Process;
    if (ctor !== Process && ctor.prototype.run !== Process.prototype.run) {
      const task: WireTaskRef = _requireTaskRef(ctor, "Process subclass");
      return {
        kind: "process",
        task,
        mode: "subclass",
        args: [],
        fields: { ...this } as Record<string, unknown>,
      };
    }
    if (s.target === undefined) {
      throw new TypeError(
        `${s.name} has nothing to run: pass new Process({ target, args }) with a target declared ` +
          "with task(), or subclass Process and override run()",
      );
    }
    const task = _requireTaskRef(s.target, "Process target");
    return {
      kind: "process",
      task,
      mode: "target",
      args: [...s.args],
      fields: {},
    };
  }

  #onMessage(s: State, message: ToParent): void {
    if (Array.isArray(message)) return; // pool answers; a Process gets none
    switch (message.t) {
      case "mail":
        s.inbox?.deliver(message.data, message.wired);
        break;
      case "exit":
        this.#end(s, message.code, message.error);
        break;
    }
  }

  /**
   * Takes an exit the child reported in its cell that this thread has not
   * seen yet (it was busy), as Python's `poll()` does: `exitCode`, `isAlive()`
   * and `terminate()` then see that the process already ended, and how.
   */
  #poll(s: State): void {
    const cell = s.exitCell;
    if (cell && Atomics.load(cell, EXIT_STATE) === EXIT_REPORTED) {
      this.#end(s, Atomics.load(cell, EXIT_CODE), undefined);
    }
  }

  /** Ends the process when its child reports the exit in `cell` instead of by message. */
  #watchExitCell(s: State, cell: Int32Array): void {
    s.exitCell = cell;
    // The worker keeps the program alive while it runs: no timer is needed.
    const wait = _waitWord(cell, EXIT_STATE, EXIT_RUNNING, Infinity, undefined, false);
    if (wait instanceof Promise) wait.then(() => this.#poll(s));
    else this.#poll(s);
  }

  #end(
    s: State,
    code: number,
    error: WireError | undefined,
    signal?: "SIGTERM" | "SIGKILL",
  ): void {
    if (s.exitCode !== null) return;
    s.exitCode = code;
    if (error) s.error = new RemoteError(s.name, s.osPid ?? s.pid, error);
    s.endpoint?.terminate(signal);
    this.#closeWhenRead(s);
    children.delete(this);
    // An OS process has ended once the system says so: join() then finds it gone.
    const gone = s.endpoint?.gone;
    if (gone) void gone.then(() => s.ended.resolve());
    else s.ended.resolve();
    const cell = s.exitCell;
    if (cell) {
      // The child, once it reported its end (in the cell or by message), waits
      // for this before it closes, and so does this side's watch of the cell.
      // Told on a later turn, so that the child's teardown, which slows this
      // thread (~1 ms a third of the time), comes after the code that awaited
      // the end has run.
      s.exitCell = undefined;
      const was = Atomics.compareExchange(cell, EXIT_STATE, EXIT_RUNNING, EXIT_UNWATCHED);
      _after(0, () => {
        if (was === EXIT_REPORTED) Atomics.store(cell, EXIT_STATE, EXIT_SEEN);
        Atomics.notify(cell, EXIT_STATE);
      });
    }
  }

  /**
   * Closes the inbox once every message the child posted before it ended has
   * been read (a terminated worker's port keeps them), then frees the port.
   * What it posts after it ended, while its thread stops, is not taken.
   */
  #closeWhenRead(s: State): void {
    if (s.up && s.received < Atomics.load(s.sent!, EXIT_SENT)) return;
    s.up?.close();
    s.up = undefined;
    s.inbox?.close(
      new Error(
        `${s.name} has ended (exit code ${s.exitCode}); no more messages will come from it`,
      ),
    );
  }

  /**
   * Waits for the process to end and resolves with its exit code, or with
   * `null` when `timeoutMs` passes first (the process keeps running).
   *
   * @param timeoutMs Longest time to wait. @default {undefined} (no limit)
   * @returns The exit code, or `null` on timeout.
   * @throws {RemoteError} When the process ended by an uncaught error (exit code 1).
   */
  async join(timeoutMs?: number): Promise<number | null> {
    const s = state(this);
    const limit = _checkTimeout(timeoutMs, "join() timeoutMs");
    if (s.role !== "child" && s.role !== "worker") {
      throw new Error(`${s.name} cannot join itself or its parent`);
    }
    if (!s.started) throw new Error(`${s.name} cannot be joined before it is started`);
    if (s.role === "child") this.#poll(s);
    // An OS process has ended once the system reaped it (see #end), not when it was signalled.
    if (s.exitCode === null || s.osPid !== undefined) {
      await (limit === undefined ? s.ended.promise : _settledWithin(s.ended.promise, limit));
    }
    if (s.error) throw s.error;
    return s.exitCode;
  }

  /** Whether the process has started and not yet ended. */
  isAlive(): boolean {
    const s = state(this);
    if (s.role === "worker") return s.exitCode === null;
    if (s.role !== "child") return true;
    this.#poll(s);
    return s.started && s.exitCode === null;
  }

  /**
   * Stops the process at once; its exit code becomes `-15`. Does nothing once
   * it has ended, even if this thread had not seen the end yet: the process
   * keeps its own exit code.
   */
  terminate(): void {
    if (!stopWorker(state(this), -15)) this.#stop(-15);
  }

  /** Stops the process at once; its exit code becomes `-9`. Does nothing once it has ended. */
  kill(): void {
    if (!stopWorker(state(this), -9)) this.#stop(-9);
  }

  #stop(code: number): void {
    const s = state(this);
    if (s.role !== "child") {
      throw new Error(`${s.name} cannot be stopped from here: it is not a child of this process`);
    }
    this.#poll(s);
    if (!s.started || s.exitCode !== null) return;
    this.#end(s, code, undefined, code === -15 ? "SIGTERM" : "SIGKILL");
  }

  /**
   * Sends a message. In the parent, `p.send(msg)` puts it in the child's
   * mailbox, where the child's `receive()` gets it; in a child,
   * `parentProcess().send(msg)` reaches the parent's `p.receive()`.
   *
   * @param message Any structured-cloneable value.
   */
  send(message: unknown): void {
    const s = state(this);
    if (s.role === "self" || s.role === "main") {
      throw new Error(
        `${s.name} cannot send to itself; use parentProcess().send() to reach the parent`,
      );
    }
    if (s.role === "worker") {
      throw new Error(
        `cannot send to ${s.name}: it is a pool's worker; give it work through its pool`,
      );
    }
    if (s.role === "child" && (!s.started || s.exitCode !== null)) {
      throw new Error(
        `cannot send to ${s.name}: it is ${s.started ? "no longer running" : "not started"}`,
      );
    }
    // Checked first: a message that cannot go must not send Troupe objects on their way.
    const out = _outbox();
    out.to = s.pid;
    if (s.role === "child") out.bytes = !s.endpoint!.sharesMemory;
    const data = _prepare(message, `message to ${s.name}`, out);
    const mail: MailMessage = out.wired ? { t: "mail", data, wired: true } : { t: "mail", data };
    if (s.role === "parent") _context().postToParent!(mail, out.transfer);
    else s.endpoint!.post(mail, out.transfer);
  }

  /**
   * Waits for the next message: in the parent, one the child sent with
   * `parentProcess().send()`; in the child (`currentProcess().receive()`), one
   * the parent sent with `send()`.
   *
   * @param options `timeoutMs` and `signal`.
   * @throws {DOMException} Named `"TimeoutError"` when `timeoutMs` passes first.
   */
  receive<T = unknown>(options?: ReceiveOptions): Promise<T> {
    const s = state(this);
    if (!s.inbox) {
      return Promise.reject(
        new Error(
          s.role === "child" ? `${s.name} has not been started` : `${s.name} has no mailbox here`,
        ),
      );
    }
    return s.inbox.receive(options) as Promise<T>;
  }

  /** Terminates the process if it still runs, and waits for it to end. */
  async [Symbol.asyncDispose](): Promise<void> {
    const s = state(this);
    if ((s.role !== "child" && s.role !== "worker") || !s.started) return;
    this.terminate();
    await s.ended.promise;
  }
}

// console.log(p): Process { name: "Process-1", pid: 1000000001, state: "started", exitCode: null }.
// The exit cell is read, not taken (as `exitCode` does): printing changes nothing.
_inspectable(Process, (p) => {
  const s = state(p);
  const cell = s.exitCell;
  const exitCode = cell && Atomics.load(cell, EXIT_STATE) === EXIT_REPORTED
    ? Atomics.load(cell, EXIT_CODE)
    : s.exitCode;
  const status = (s.role !== "child" && s.role !== "worker") || (s.started && exitCode === null)
    ? "started"
    : s.started
    ? "stopped"
    : "initial";
  return {
    name: s.name,
    pid: s.osPid ?? s.pid,
    state: status,
    exitCode,
    ...(s.daemon ? { daemon: true } : {}),
  };
});

/**
 * The process this code runs in: `MainProcess` in the main thread, or the
 * child's own `Process` (with its name and pid) inside a worker.
 *
 * @example
 * ```ts
 * import { currentProcess } from "@troupe/troupe";
 *
 * console.assert(currentProcess().name === "MainProcess");
 * console.assert(currentProcess().pid === Deno.pid);
 * ```
 */
export function currentProcess(): Process {
  if (selfProcess) return selfProcess;
  const ctx = _context();
  selfProcess = Object.create(Process.prototype) as Process;
  states.set(selfProcess, knownState(ctx.parent ? "self" : "main", ctx.self));
  return selfProcess;
}

/**
 * The parent of this process, or `null` in the main process. Its `send()`
 * reaches the parent's `receive()` on this child's `Process` object.
 *
 * @example
 * ```ts
 * import { parentProcess } from "@troupe/troupe";
 *
 * console.assert(parentProcess() === null); // in the main process
 * ```
 */
export function parentProcess(): Process | null {
  const ctx = _context();
  if (!ctx.parent) return null;
  if (!parentHandle) {
    parentHandle = Object.create(Process.prototype) as Process;
    states.set(parentHandle, knownState("parent", ctx.parent));
  }
  return parentHandle;
}

/**
 * The children of this process that are still running, a pool's workers
 * (`PoolWorker-N`) among them, as Python lists them.
 *
 * @example
 * ```ts
 * import { activeChildren } from "@troupe/troupe";
 *
 * console.assert(activeChildren().length === 0);
 * ```
 */
export function activeChildren(): Process[] {
  return [...children];
}

/**
 * In a child: waits for the next message the parent sent with `p.send()`.
 * The same as `currentProcess().receive()`.
 *
 * @param options `timeoutMs` and `signal`.
 *
 * @example A child that echoes what its parent sends
 * ```ts
 * import { parentProcess, receive, task } from "@troupe/troupe";
 *
 * export const echo = task(import.meta, async function echo() {
 *   const message = await receive<string>();
 *   parentProcess()!.send(message.toUpperCase());
 * });
 * ```
 */
export function receive<T = unknown>(options?: ReceiveOptions): Promise<T> {
  return currentProcess().receive<T>(options);
}

/**
 * In a child: the messages the parent sends, as an endless async iterable.
 * Break out of the loop when done.
 *
 * @example
 * ```ts
 * import { mailbox, task } from "@troupe/troupe";
 *
 * export const logger = task(import.meta, async function logger() {
 *   for await (const line of mailbox<string>()) {
 *     if (line === "stop") break;
 *     console.log(line);
 *   }
 * });
 * ```
 */
export async function* mailbox<T = unknown>(): AsyncGenerator<T, void, undefined> {
  while (true) yield await receive<T>();
}

// ---- in the worker ------------------------------------------------------------

// The module a process's worker imports for its behaviour: this one.
const PROCESS_BEHAVIOUR = import.meta.url;

// A process's worker: call the target with its arguments, or revive the
// subclass instance and call its run(); the worker ends when that settles.
_defineBehaviour<ProcessSpec>("process", {
  async run(spec, worker) {
    try {
      if (spec.wired) {
        _revive(spec.args);
        _revive(spec.fields);
      }
      const target = _resolveTask(spec.task);
      let result: unknown;
      if (spec.mode === "subclass") {
        const instance = Object.assign(Object.create(target.prototype), spec.fields) as Process;
        _adoptSelf(instance, worker.inbox);
        result = instance.run();
      } else {
        _adoptSelf(undefined, worker.inbox);
        result = (target as (...args: unknown[]) => unknown)(...spec.args);
      }
      // Awaited even when it is not a promise: the microtasks the target queued
      // before it returned (a `.then` it did not wait for) run before the exit.
      await result;
    } catch (error) {
      return worker.finish(1, error);
    }
    return worker.finish(0);
  },
});

// Every worker ends its own children before it reports its exit.
_beforeExit((failed) => _endChildren(failed));

/** Makes `p` this worker's own process object (a revived subclass instance, or a fresh one). */
export function _adoptSelf(p: Process | undefined, inbox: _Inbox): Process {
  const ctx = _context();
  const target = p ?? Object.create(Process.prototype) as Process;
  const s = knownState("self", ctx.self);
  s.inbox = inbox;
  states.set(target, s);
  selfProcess = target;
  return target;
}

/**
 * Ends this worker's children before it exits: daemons are terminated, the
 * others joined (as Python does) unless `all` asks to terminate every one.
 */
export function _endChildren(all: boolean): Promise<void> | undefined {
  // A pool's workers end with the thread: stopping them one by one would
  // only have their pool start others.
  const own = [...children].filter((child) => state(child).role !== "worker");
  for (const child of own) {
    if (all || child.daemon) child.terminate();
  }
  // An OS process is waited for until the system reaped it, even once signalled.
  const left = own.filter((child) => {
    const s = state(child);
    return s.exitCode === null || s.osPid !== undefined;
  });
  if (left.length === 0) return undefined;
  return Promise.all(left.map((child) => state(child).ended.promise)).then(() => {});
}

/** Stops a pool's worker through its pool; false for other processes. */
function stopWorker(s: State, code: number): boolean {
  if (s.role !== "worker") return false;
  if (s.exitCode === null) s.stop!(code);
  return true;
}

/**
 * A pool's worker as a `Process`, listed by `activeChildren()` while it runs,
 * as Python lists its pools' workers: `terminate()` and `kill()` end it
 * through its pool (`stop`), which replaces it as after any death; the pool
 * calls `end(code)` once the worker has ended, however it did.
 */
export function _poolWorkerProcess(
  name: string,
  pid: number,
  stop: (code: number) => void,
): { process: Process; end(code: number): void; setOsPid(pid: number | undefined): void } {
  const process = Object.create(Process.prototype) as Process;
  const s = newState("worker", name, true, pid);
  s.stop = stop;
  states.set(process, s);
  children.add(process);
  return {
    process,
    end(code) {
      if (s.exitCode !== null) return;
      s.exitCode = code;
      children.delete(process);
      s.ended.resolve();
    },
    setOsPid(pid) {
      s.osPid = pid;
    },
  };
}
