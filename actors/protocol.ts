/**
 * Every message that crosses a worker boundary in Troupe, in one place.
 *
 * A reader who opens this file learns the whole wire protocol between a parent
 * and the worker it started. Messages are tagged by `t`; values inside them are
 * structured-cloned (with any `MessagePort`s transferred).
 *
 * @module
 */

/** An error as it travels between workers: enough to rebuild a {@linkcode RemoteError}. */
export interface WireError {
  /** The error's class name in the child, such as `"TypeError"`. */
  name: string;
  /** The error's message. */
  message: string;
  /** The stack as printed in the child, if it had one. */
  stack?: string;
}

/** Who a process is: the part of its identity that its children and `currentProcess()` see. */
export interface WireIdentity {
  /** The process's name, such as `"Process-1"` or `"Process-1:2"`. */
  name: string;
  /** Unique within this run of the program. */
  pid: number;
  /** Whether the process is a daemon. */
  daemon: boolean;
}

/** What a worker runs, as named by `task()`: a module URL and a key inside it. */
export interface WireTaskRef {
  /** URL of the module that declared the task. */
  module: string;
  /** The key `task()` registered it under in that module. */
  key: string;
}

/** Runs one `Process`: a declared function called with `args`, or a subclass's `run()`. */
export interface ProcessSpec {
  kind: "process";
  /** The target function, or the `Process` subclass to revive. */
  task: WireTaskRef;
  /** `"target"`: call the function with `args`; `"subclass"`: revive the instance and call `run()`. */
  mode: "target" | "subclass";
  /** Arguments for the target (mode `"target"`). */
  args: unknown[];
  /** The subclass instance's own fields (mode `"subclass"`). */
  fields: Record<string, unknown>;
  /** Whether `args`/`fields` hold Troupe objects to revive (see `_prepare`). */
  wired?: boolean;
}

/**
 * Serves a pool: run the optional initializer once, then run `task` messages
 * one at a time until the parent ends the worker.
 */
export interface PoolSpec {
  kind: "pool";
  /** Called once with `initArgs` before the first task. */
  initializer: WireTaskRef | undefined;
  initArgs: unknown[];
  /** Whether `initArgs` hold Troupe objects to revive. */
  wired?: boolean;
}

/** The first message a worker receives: who it is and what to run. */
export interface InitMessage {
  t: "init";
  self: WireIdentity;
  parent: WireIdentity;
  /** Prefix for the names of this worker's own children (`"1:"` makes `"Process-1:1"`). */
  childPrefix: string;
  /** The run-wide pid counter, shared by every worker so pids never repeat. */
  pids: SharedArrayBuffer;
  /** Whether `--unstable-worker-options` is known to be on (`undefined`: unknown). */
  workerOptions: boolean | undefined;
  spec: ProcessSpec | PoolSpec;
}

/** Parent → child: a message for the child's mailbox (`receive()` in the child). */
export interface MailMessage {
  t: "mail";
  data: unknown;
  /** Whether `data` holds Troupe objects to revive. */
  wired?: boolean;
}

/**
 * Parent → pool worker: call `task` once per entry of `calls` (each an argument
 * list) and answer with one {@linkcode ResultMessage}.
 */
export interface TaskMessage {
  t: "task";
  /** Matches the answer to the call. */
  id: number;
  task: WireTaskRef;
  /** One entry per call: an argument list when `spread`, else the single argument. */
  calls: unknown[];
  /** Whether each entry of `calls` is an argument list (`starmap`, `apply`) or one item (`map`). */
  spread: boolean;
  /** Whether `calls` hold Troupe objects to revive. */
  wired?: boolean;
}

/** Everything a parent may send to a worker. */
export type ToChild = InitMessage | MailMessage | TaskMessage;

/** Child → parent: the worker loaded its modules and waits for `init` (already on its way). */
export interface StartedMessage {
  t: "started";
}

/**
 * Child → parent: the worker is ending, and how. Sent by the runtime before the
 * worker closes, whether the target returned, threw, or called `Deno.exit()`.
 */
export interface ExitMessage {
  t: "exit";
  /** 0 when the target returned, 1 when it threw, or the code given to `Deno.exit()`. */
  code: number;
  /** Present when the worker ended by an uncaught error. */
  error?: WireError;
}

/** Pool worker → parent: the values of a {@linkcode TaskMessage}'s calls, or the first error. */
export interface ResultMessage {
  t: "result";
  id: number;
  /** One value per call, when all of them returned. */
  values?: unknown[];
  /** The error of the first call that threw; later calls in the chunk did not run. */
  error?: WireError;
}

/** Pool worker → parent: the initializer ran and the worker takes tasks. */
export interface ReadyMessage {
  t: "ready";
}

/** Everything a worker may send to its parent (`mail` goes to the parent's `receive()`). */
export type ToParent = StartedMessage | MailMessage | ExitMessage | ResultMessage | ReadyMessage;

// ---- channels: what a channel end is on the wire ---------------------------
// A channel lives in SharedArrayBuffers, so its wire state is just its
// buffers and settings; see channels/_ring.ts for the buffer layout.

/** How a channel stores items: the structured tag codec, or one fixed-width number each. */
export type WireCodec = "structured" | "f64" | "i32";

/** A `Queue`, `JoinableQueue` or `SimpleQueue` as it travels to another worker. */
export interface QueueWire {
  /** The ring: header words, then the items. */
  buffer: SharedArrayBuffer;
  /** Largest number of items it holds (0: only the buffer's size limits it). */
  maxsize: number;
  codec: WireCodec;
}

/** One end of a `Pipe` as it travels: the ring it sends on and the one it receives from. */
export interface ConnectionWire {
  /** The ring this end writes (null: a one-way pipe's receiving end). */
  send: SharedArrayBuffer | null;
  /** The ring this end reads (null: a one-way pipe's sending end). */
  recv: SharedArrayBuffer | null;
  codec: WireCodec;
  /** Microseconds `recv()` polls before sleeping. */
  spinMicros: number;
}
