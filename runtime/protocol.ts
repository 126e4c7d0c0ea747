/**
 * Every message that crosses a worker boundary in Troupe, in one place.
 *
 * A reader who opens this file learns the whole wire protocol between a parent
 * and the worker it started. Messages are tagged by `t`. Between threads that
 * share memory their values are structured-cloned (with any `MessagePort`s
 * transferred); to a child reached by bytes alone they are encoded by the
 * codec and carried by a byte link (see `runtime/endpoint.ts`), and the
 * fields that hold shared memory are left out: each says what takes its
 * place then.
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
  /** The error's own `cause`, if it had one. */
  cause?: WireError;
}

/** Who a process is: the part of its identity that its children and `currentProcess()` see. */
export interface WireIdentity {
  /** The process's name, such as `"Process-1"` or `"Process-1:2"`. */
  name: string;
  /** Unique within this run of the program. */
  pid: number;
  /** Whether the process is a daemon. */
  daemon: boolean;
  /** An OS process's own pid (the "spawn" start method); `pid` stays its pid within the run. */
  osPid?: number;
}

/** What a worker runs, as named by `task()`: a module URL and a key inside it. */
export interface WireTaskRef {
  /** URL of the module that declared the task. */
  module: string;
  /** The key `task()` registered it under in that module. */
  key: string;
}

/**
 * What a worker is started to do. The kernel reads only these fields: `kind`
 * picks the behaviour the worker's modules registered for it (see
 * `runtime/entry.ts`), which reads the rest of its spec.
 */
export interface WorkerSpec {
  kind: string;
  /** Where the worker reports how it ended (see {@linkcode ProcessSpec.exitCell}); shared memory only. */
  exitCell?: SharedArrayBuffer;
  /** Where the worker posts to its parent, instead of its own channel (see {@linkcode ProcessSpec.up}). */
  up?: MessagePort;
}

/** Runs one `Process`: a declared function called with `args`, or a subclass's `run()`. */
export interface ProcessSpec extends WorkerSpec {
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
  /**
   * Three Int32 words: `EXIT_STATE` and `EXIT_CODE`, where a process that
   * never posted to its parent reports how it ended, instead of an
   * `ExitMessage`, and `EXIT_SENT`, how many messages it posted on `up`.
   * Absent across a byte link: the exit always comes by message.
   */
  exitCell?: SharedArrayBuffer;
  /**
   * Where the child posts to its parent. A worker's own channel loses what it
   * posted when it is terminated; a port keeps it until the parent has read
   * every message (`EXIT_SENT` tells how many there are). Absent across a
   * byte link, whose own port keeps them the same way.
   */
  up?: MessagePort;
}

// A process's exit cell (ProcessSpec.exitCell). A worker's first postMessage
// costs it ~0.15 ms (Deno compiles its messaging code then) and the message
// ~0.35 ms more to reach the parent, against ~0.12 ms for a notify. Only a
// process that never posted may use it: no message of its can still be on the
// way, so its exit cannot overtake one. An exit with an error always goes by
// message, which carries the error.
/** {@linkcode ProcessSpec.exitCell} word: one of the `EXIT_` states below. */
export const EXIT_STATE = 0;
/** {@linkcode ProcessSpec.exitCell} word: the exit code, once the state is `EXIT_REPORTED`. */
export const EXIT_CODE = 1;
/** {@linkcode ProcessSpec.exitCell} word: messages the child posted on `up`, counted after each. */
export const EXIT_SENT = 2;
/** Bytes of a {@linkcode ProcessSpec.exitCell}. */
export const EXIT_CELL_BYTES = 12;
/** Exit cell state: the process runs (or ended unreported, and the parent did not see it yet). */
export const EXIT_RUNNING = 0;
/** Exit cell state: the process ended with the code in `EXIT_CODE`. */
export const EXIT_REPORTED = 1;
/** Exit cell state: the parent saw the end some other way and stopped watching the cell. */
export const EXIT_UNWATCHED = 2;
/** Exit cell state: the parent took the reported exit; the child may close. */
export const EXIT_SEEN = 3;
/**
 * Longest a child that reported its exit in the cell waits for the parent to
 * take it before it closes anyway. Until then its thread is blocked, so none
 * of its code runs, and its teardown does not slow the parent's wake-up (a
 * worker that closes at once after a notify is noticed ~1 ms late about a
 * third of the time, against ~0.15 ms while it stays).
 */
export const EXIT_SEEN_WAIT_MS = 50;

/**
 * Serves a pool: run the optional initializer once, then run `task` messages
 * one at a time until the parent ends the worker.
 */
export interface PoolSpec extends WorkerSpec {
  kind: "pool";
  /**
   * Where each job is claimed: the worker swaps a job's id for 0 at its
   * position just before running it, and skips a job the pool took back
   * (see {@linkcode TasksMessage}). Absent across a byte link: every job
   * sent there runs there.
   */
  claims?: SharedArrayBuffer;
  /** The link jobs come by when they need no transfer (see `_Link`); the port carries the rest. */
  jobs?: SharedArrayBuffer;
  /** The link answers go back by, shared by the pool's workers; the port carries the rest. */
  answers?: SharedArrayBuffer;
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
  /** Whether `--unstable-worker-options` is known to be on (`undefined`: unknown). */
  workerOptions: boolean | undefined;
  /** The memory domain the worker is in (see `_Context.domain`). */
  domain: string;
  /** How the worker reaches its own children unless asked otherwise. */
  transport: "shared" | "bytes";
  /** The pid counter of the domain, shared by its workers so pids never repeat; shared memory only. */
  pids?: SharedArrayBuffer;
  /** Across a byte link: the pids the worker's descendants may have (see `_reservePids`). */
  pidBlock?: [base: number, count: number];
  /** The domain's liveness table: which pids have ended (see `runtime/liveness.ts`). */
  liveness?: SharedArrayBuffer;
  /** The domain's log of the endings it knows of (see `runtime/liveness.ts`); shared memory only. */
  endedLog?: SharedArrayBuffer;
  /** The domain's endings of pids its table does not record; shared memory only. */
  foreign?: SharedArrayBuffer;
  /** Set to 1 (and notified) once the worker's modules have loaded, when the parent asks. */
  loaded?: SharedArrayBuffer;
  /** Across a byte link: post a {@linkcode LoadedMessage} once the modules have loaded. */
  tellLoaded?: boolean;
  /** The worker's in-channel word (see `_Context.inChannel`); shared memory only. */
  inChannel?: SharedArrayBuffer;
  spec: WorkerSpec;
}

/** Child → parent across a byte link: its modules have loaded (see {@linkcode InitMessage.tellLoaded}). */
export interface LoadedMessage {
  t: "loaded";
}

/** Parent → child: a message for the child's mailbox (`receive()` in the child). */
export interface MailMessage {
  t: "mail";
  data: unknown;
  /** Whether `data` holds Troupe objects to revive. */
  wired?: boolean;
}

/**
 * Parent → pool worker: jobs to run one at a time, in order, after any the
 * worker already holds. Packed flat, because one flat array clones several µs
 * faster than nested objects and a pool lives on round trips:
 *
 * `"T", n, module₁, key₁, …, moduleₙ, keyₙ`, then for each job
 * `id, task, flags, claim, calls` (and `traceparent` when `flags` has
 * {@linkcode TASK_TRACED}), where `task` indexes the n tasks named
 * first and `claim` is the job's position in the worker's claims;
 * `flags` has {@linkcode TASK_SPREAD} when each call is an argument list
 * (`apply`, `starmap`) rather than one item (`map`), and {@linkcode TASK_WIRED}
 * when the calls hold Troupe objects to revive; `calls` is a `Float64Array`
 * over shared memory when every call is one number, and the worker may
 * write the values over them (see {@linkcode RESULT_IN_PLACE}).
 */
export type TasksMessage = ["T", taskCount: number, ...tasksThenJobs: unknown[]];

/** {@linkcode TasksMessage} flag: each call is an argument list. */
export const TASK_SPREAD = 1;
/** {@linkcode TasksMessage} flag: the calls hold Troupe objects to revive. */
export const TASK_WIRED = 2;
/** {@linkcode TasksMessage} flag: a W3C `traceparent` follows the calls (tracing is on). */
export const TASK_TRACED = 4;

/** One job of a {@linkcode TasksMessage}, as the pool sends it and its worker reads it. */
export interface TaskJob {
  id: number;
  /** The task to run. */
  ref: WireTaskRef;
  /** Each call is an argument list (`apply`, `starmap`), not one item (`map`). */
  spread: boolean;
  /** The calls hold Troupe objects to revive. */
  wired: boolean;
  /** The job's position in the worker's claims. */
  claim: number;
  calls: unknown[] | Float64Array;
  /** The caller's span, as a W3C `traceparent`, when tracing is on (see runtime/trace.ts). */
  trace?: string;
}

/** Packs `jobs` into one {@linkcode TasksMessage}: each task named once, then each job. */
export function encodeTasks(jobs: readonly TaskJob[]): TasksMessage {
  const refs: WireTaskRef[] = [];
  const index: number[] = [];
  for (const job of jobs) {
    let ref = refs.indexOf(job.ref);
    if (ref < 0) ref = refs.push(job.ref) - 1;
    index.push(ref);
  }
  const message: TasksMessage = ["T", refs.length];
  for (const ref of refs) message.push(ref.module, ref.key);
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i];
    const flags = (job.spread ? TASK_SPREAD : 0) | (job.wired ? TASK_WIRED : 0);
    if (job.trace === undefined) message.push(job.id, index[i], flags, job.claim, job.calls);
    else message.push(job.id, index[i], flags | TASK_TRACED, job.claim, job.calls, job.trace);
  }
  return message;
}

/** Whether `message` is a {@linkcode TasksMessage}. */
export function isTasks(message: unknown): message is TasksMessage {
  return Array.isArray(message) && message[0] === "T";
}

/**
 * The jobs of a {@linkcode TasksMessage}, in order: what {@linkcode encodeTasks}
 * packed, appended to `jobs` (a worker's queue), which is returned.
 */
export function decodeTasks(message: TasksMessage, jobs: TaskJob[] = []): TaskJob[] {
  const n = message[1] as number;
  const refs: WireTaskRef[] = [];
  let i = 2;
  for (let r = 0; r < n; r++, i += 2) {
    refs.push({ module: message[i] as string, key: message[i + 1] as string });
  }
  for (; i < message.length; i += 5) {
    const flags = message[i + 2] as number;
    const job: TaskJob = {
      id: message[i] as number,
      ref: refs[message[i + 1] as number],
      spread: (flags & TASK_SPREAD) !== 0,
      wired: (flags & TASK_WIRED) !== 0,
      claim: message[i + 3] as number,
      calls: message[i + 4] as unknown[] | Float64Array,
    };
    if ((flags & TASK_TRACED) !== 0) job.trace = message[++i + 4] as string;
    jobs.push(job);
  }
  return jobs;
}

/**
 * Parent → pool worker reached by bytes (which has no claims): give back
 * those of `ids` not started. The worker first sends the answers it holds,
 * then a {@linkcode PoolGivenMessage}; a job named here that neither came
 * back nor was answered by then is the one running.
 */
export interface PoolTakeBackMessage {
  t: "takeback";
  ids: number[];
}

/** Pool worker → parent: the jobs of a {@linkcode PoolTakeBackMessage} it dropped unstarted. */
export interface PoolGivenMessage {
  t: "given";
  ids: number[];
}

/**
 * Either way across a byte link: processes that ended, as `first, count` pid
 * ranges (see `runtime/liveness.ts`). A parent takes from a child only the
 * pids of the child's own block.
 */
export interface EndedMessage {
  t: "ended";
  ranges: number[];
}

/** Everything a parent may send to a worker. */
export type ToChild = InitMessage | MailMessage | TasksMessage | PoolTakeBackMessage | EndedMessage;

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

/**
 * Pool worker → parent: answers to jobs, in the order they ran, packed flat:
 * `"R", busyMs, pid`, then for each job `id, code, payload, ms` ({@linkcode ANSWER_FIELDS}
 * fields; `ms` is the time the job ran, for the pool's statistics). Code
 * {@linkcode RESULT_VALUES}: the payload holds one value per call;
 * {@linkcode RESULT_NUMBERS}: the same as a `Float64Array` (transferred), when
 * every value is a number; {@linkcode RESULT_IN_PLACE}: no payload, the values
 * are numbers written over the job's packed calls; {@linkcode RESULT_ERROR}: a {@linkcode WireError},
 * the first call that threw (later calls in the job did not run). `busyMs`
 * is the time spent running these jobs, which tells the parent how many to
 * keep queued, and `pid` names the worker (answers from every worker share one
 * link). A worker sends what it has when it runs out of jobs, or every
 * millisecond or so while it is busy.
 */
export type ResultsMessage = ["R", busyMs: number, pid: number, ...answers: unknown[]];

/** {@linkcode ResultsMessage} code: the payload is an array of values. */
export const RESULT_VALUES = 0;
/** {@linkcode ResultsMessage} code: the payload is a `WireError`. */
export const RESULT_ERROR = 1;
/** {@linkcode ResultsMessage} code: the payload is a `Float64Array` of values. */
export const RESULT_NUMBERS = 2;
/** {@linkcode ResultsMessage} code: the values are numbers written over the job's packed calls. */
export const RESULT_IN_PLACE = 3;

/** The fields of one answer in a {@linkcode ResultsMessage}: `id, code, payload, ms`. */
export const ANSWER_FIELDS = 4;

/**
 * Packs a worker's answers into one {@linkcode ResultsMessage}: `answers` is
 * `id, code, payload, ms` for each job, in the order they ran.
 */
export function encodeResults(
  busyMs: number,
  pid: number,
  answers: readonly unknown[],
): ResultsMessage {
  return ["R", busyMs, pid, ...answers];
}

/** Whether `message` is a {@linkcode ResultsMessage}. */
export function isResults(message: unknown): message is ResultsMessage {
  return Array.isArray(message) && message[0] === "R";
}

/** The worker a {@linkcode ResultsMessage} came from (answers of every worker share a link). */
export function resultsPid(message: ResultsMessage): number {
  return message[2] as number;
}

/** The time the worker spent running the jobs a {@linkcode ResultsMessage} answers. */
export function resultsBusyMs(message: ResultsMessage): number {
  return message[1] as number;
}

/**
 * Hands each answer of a {@linkcode ResultsMessage} to `each`, in order;
 * returns the count of answers.
 */
export function decodeResults(
  message: ResultsMessage,
  each: (id: number, code: number, payload: unknown, ms: number) => void,
): number {
  for (let i = 3; i < message.length; i += ANSWER_FIELDS) {
    each(message[i] as number, message[i + 1] as number, message[i + 2], message[i + 3] as number);
  }
  return (message.length - 3) / ANSWER_FIELDS;
}

/** Pool worker → parent: the pool's initializer ran and the worker takes tasks (sent only when there is one). */
export interface ReadyMessage {
  t: "ready";
}

/** Everything a worker may send to its parent (`mail` goes to the parent's `receive()`). */
export type ToParent =
  | MailMessage
  | ExitMessage
  | ResultsMessage
  | ReadyMessage
  | LoadedMessage
  | PoolGivenMessage
  | EndedMessage;

// ---- actors -----------------------------------------------------------------

/**
 * Runs one actor: construct the declared `Actor` subclass with `args`, await
 * its `onStart()`, answer with {@linkcode ActorReadyMessage}, then handle
 * {@linkcode ActorCallsMessage}s one call at a time, in arrival order.
 */
export interface ActorSpec extends WorkerSpec {
  kind: "actor";
  /** The `Actor` subclass. */
  task: WireTaskRef;
  /** Constructor arguments. */
  args: unknown[];
  /** Whether `args` hold Troupe objects to revive. */
  wired?: boolean;
  /**
   * A bounded mailbox: Int32 at index 0 counts the messages sent and not yet
   * taken up. Senders add one before posting (waiting while it is at
   * `capacity`); the actor subtracts one as it takes each message up and
   * notifies when it frees room. `undefined`: unbounded, or across a byte
   * link, where the actor tells the room it frees by {@linkcode ActorRoomMessage}.
   */
  mailbox: SharedArrayBuffer | undefined;
  /** The mailbox capacity (0: unbounded). */
  capacity: number;
  /**
   * The actor's end of a `Pipe` (its wire form), when the spawning thread
   * made one: calls come in on it as `[seq, payload]` and answers go out on
   * it, polled shared memory instead of a port (see {@linkcode ActorOrdered}).
   * Never across a byte link.
   */
  pipe?: unknown;
}

/**
 * Parent → actor, on the pipe as `[seq, payload]` or on the port as
 * {@linkcode ActorOrdered}: calls and the stop request are numbered, and the
 * actor takes them in that order whichever way each came.
 */
export type ActorOrderedPayload = PackedCalls | JsonPacked | ActorCallsMessage | ActorStopMessage;

/** Parent → actor on the port: an ordered payload that could not go on the pipe. */
export type ActorOrdered = Ordered<ActorOrderedPayload>;

/**
 * A numbered payload on a port. Calls to an actor or a manager travel on a
 * polled pipe as `[seq, payload]`, or on the port as this when they must (see
 * `runtime/rpc.ts`); the receiver runs them in `seq` order.
 */
export interface Ordered<P> {
  t: "ordered";
  seq: number;
  payload: P;
}

/**
 * Calls in the order they were made (batched per microtask), packed flat:
 * `id, method, argc, ...args` for each (`id` 0: a tell, no reply wanted). An
 * actor's round trip is dominated by structured clone, and one flat array
 * clones several µs faster than objects with nested argument arrays. With
 * tracing on, `method` is `[method, traceparent]` (see {@linkcode TracedMethod}).
 */
export type PackedCalls = unknown[];

/**
 * A call's method with the caller's span as a W3C `traceparent`, in place of
 * the method's name when tracing is on (runtime/trace.ts).
 */
export type TracedMethod = [method: string, traceparent: string];

/** Appends one call to `calls` in its packed form: `id, method, argc, ...args`. */
export function packCall(
  calls: PackedCalls,
  id: number,
  method: string | TracedMethod,
  args: readonly unknown[],
): void {
  calls.push(id, method, args.length);
  for (let i = 0; i < args.length; i++) calls.push(args[i]);
}

/** The name of a packed call's method, traced or not. */
export function methodName(method: unknown): string {
  return String(Array.isArray(method) ? method[0] : method);
}

/** One call of {@linkcode PackedCalls}, as {@linkcode unpackCalls} reads it. */
export interface PackedCall {
  id: number;
  method: string;
  /** The caller's span, when the call was traced. */
  trace: string | undefined;
  args: unknown[];
  /** The call alone, in its packed form. */
  packed: PackedCalls;
}

/** The calls of `calls`, in order: what {@linkcode packCall} appended. */
export function* unpackCalls(calls: PackedCalls): Generator<PackedCall> {
  for (let i = 0; i < calls.length;) {
    const end = i + 3 + (calls[i + 2] as number);
    const method = calls[i + 1];
    const traced = Array.isArray(method);
    yield {
      id: calls[i] as number,
      method: traced ? method[0] as string : method as string,
      trace: traced ? method[1] as string : undefined,
      args: calls.slice(i + 3, end),
      packed: calls.slice(i, end),
    };
    i = end;
  }
}

/**
 * Parent → actor: calls whose arguments hold Troupe objects to revive. Plain
 * calls travel as a bare {@linkcode PackedCalls} array (see {@linkcode ToActor}).
 */
export interface ActorCallsMessage {
  t: "calls";
  calls: PackedCalls;
  wired: true;
}

/**
 * Parent → actor: handle what came before, run `onStop()`, then exit with code
 * 0. Calls behind it are answered with an error.
 */
export interface ActorStopMessage {
  t: "stop";
}

/** Actor → parent: constructed and `onStart()` done; calls are served. */
export interface ActorReadyMessage {
  t: "actor-ready";
}

/**
 * Actor → parent across a byte link: `n` more messages left a bounded
 * mailbox. Between threads the count lives in shared memory instead (see
 * `ActorSpec.mailbox`).
 */
export interface ActorRoomMessage {
  t: "room";
  n: number;
}

/** A call an actor answered with an error: the error its method threw. */
export interface ActorError {
  id: number;
  error: WireError;
  /** From a bridge: the call failed because the actor ended (an `ActorExited`), and how. */
  exit?: WireExit;
  /** From a bridge: Troupe raised the error (say, an argument could not be sent), not the method. */
  local?: boolean;
}

/** Answers packed flat, `id, value` for each call answered with a value. */
export type PackedValues = unknown[];

/**
 * Actor → parent: answers in the order the calls were handled, when some call
 * failed or some value holds Troupe objects. Plain values travel as a bare
 * {@linkcode PackedValues} array (see {@linkcode FromActor}).
 */
export interface ActorRepliesMessage {
  t: "replies";
  values: PackedValues;
  errors?: ActorError[];
  /** Whether some value holds Troupe objects to revive. */
  wired?: boolean;
}

/**
 * A small batch whose values are all exact in JSON (finite numbers, short
 * strings, booleans, null) travels as the JSON text of its packed array: a
 * string crosses a worker boundary ~2 µs faster than an array. In JSON values,
 * a negative id `-id` stands for the value `undefined` (which JSON lacks).
 */
export type JsonPacked = string;

/** Everything a parent may send to an actor's worker (besides {@linkcode ToChild}). */
export type ToActor =
  | ToChild
  | ActorCallsMessage
  | ActorStopMessage
  | ActorOrdered
  | PackedCalls
  | JsonPacked;

/** Everything an actor's worker may send to its parent (besides {@linkcode ToParent}). */
export type FromActor =
  | ToParent
  | ActorReadyMessage
  | ActorRoomMessage
  | ActorRepliesMessage
  | PackedValues
  | JsonPacked;

// ---- actor references that travel --------------------------------------------
//
// An `ActorRef` sent to another worker becomes a MessagePort to a bridge in the
// thread that holds the actor: the holder posts packed calls to it, the bridge
// makes them through its own reference (so a supervisor's restarts, mailbox
// capacity and exits apply) and posts the answers back.

/** How an actor ended, as a travelling reference learns it. */
export interface WireExit {
  code: number;
  normal: boolean;
  description: string;
  error?: WireError;
}

/** Bridge → holder: the actor is gone for good; calls in flight fail and the port closes. */
export interface RefGoneMessage {
  t: "gone";
  exit: WireExit;
}

/** Holder → bridge: the holder let go of the reference; the bridge closes its port. */
export interface RefReleaseMessage {
  t: "release";
}

/** What a travelling reference's port carries to the bridge. */
export type ToBridge = PackedCalls | JsonPacked | ActorCallsMessage | RefReleaseMessage;

/** What the bridge sends back on a travelling reference's port. */
export type FromBridge = PackedValues | JsonPacked | ActorRepliesMessage | RefGoneMessage;

// ---- channels: what a channel end is on the wire ---------------------------
// A channel lives in SharedArrayBuffers, so its wire state is just its
// buffers and settings; see runtime/ring.ts for the buffer layout.

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

// ---- manager proxies ----------------------------------------------------------
//
// A `Manager` is an actor that holds dicts, lists, namespaces, values, locks and
// queues. Proxies do not go through the actor's mailbox: each process that
// holds proxies of a manager has one MessagePort straight to the manager's
// worker (its connection). A proxy sent to another process carries a fresh
// port, whose other end the sender passes to the manager over its own
// connection, so every call is one hop from any process.
//
// Objects are reference-counted: every proxy holds one reference, counted
// for the connection of the process it lives in; see sync/proxies.ts for how
// a reference travels with a proxy.

/**
 * One call on a managed object: `[id, object, op, ...args]` (id 0: no answer
 * wanted). Object 0 is the manager itself: `create` (kind, initial, extra)
 * makes an object and answers its id, with one reference for the caller;
 * `decref` (...object ids) gives back one reference per id;
 * `claim` (token, object) takes the reference a proxy carried in transit
 * (see {@linkcode ManagerConnect}).
 */
export type ManagerCall = [id: number, object: number, op: string, ...args: unknown[]];

/**
 * Client → manager: the calls made in one microtask, in order. Travels as
 * JSON text (see {@linkcode JsonPacked}) when every part is exact in JSON.
 */
export type ManagerCalls = ManagerCall[];

/** Client → manager: calls whose arguments hold Troupe objects (nested proxies) to revive. */
export interface ManagerWiredCalls {
  t: "calls";
  calls: ManagerCalls;
  wired: true;
}

/**
 * Client → manager: the first message on a connection: which process holds
 * it (lock owners), and the manager's end of a `Pipe` (its wire form) that
 * carries the connection's calls and answers from then on. A polled
 * SharedArrayBuffer ring answers in a few µs where a port needs the OS to
 * wake a parked thread (~80 µs on an idle machine); the port stays for what
 * must be transferred and for control.
 */
export interface ManagerHello {
  t: "hello";
  pid: number;
  pipe?: unknown;
}

/**
 * Client → manager, on the pipe as `[seq, payload]` or on the port as
 * {@linkcode ManagerOrdered}: calls, wired calls, connects and cancels are
 * numbered per connection, and the manager runs them in that order whichever
 * way each came.
 */
export type ManagerOrderedPayload =
  | ManagerCalls
  | JsonPacked
  | ManagerWiredCalls
  | ManagerConnect
  | ManagerCancel;

/** Client → manager on the port: an ordered payload that could not go on the pipe. */
export type ManagerOrdered = Ordered<ManagerOrderedPayload>;

/**
 * Client → manager, ordered: serve this port too; a proxy of object `obj` is
 * on its way to another process with its peer. It carries one reference to
 * `obj` (taken here, in order before any release the sender makes later),
 * which the process that revives the proxy takes over: by saying hello on the
 * peer, or by a `claim` of `token` on its own connection. Until then it is
 * given back once process `holder` (the receiver, when the sender knew it)
 * has ended, or a grace period after the sender has.
 */
export interface ManagerConnect {
  t: "connect";
  port: MessagePort;
  token: string;
  obj: number;
  holder?: number;
}

/** Client → manager: the caller stopped waiting for call `id` (its signal aborted); drop its wait. */
export interface ManagerCancel {
  t: "cancel";
  id: number;
}

/**
 * Client → manager: this connection is no longer used; the manager closes its
 * end and gives back the references it held.
 */
export interface ManagerBye {
  t: "bye";
}

/** Everything a process may send on its connection to a manager. */
export type ToManager =
  | ManagerCalls
  | JsonPacked
  | ManagerWiredCalls
  | ManagerOrdered
  | ManagerHello
  | ManagerCancel
  | ManagerConnect
  | ManagerBye;

/**
 * Manager → client: the values of the calls of one message that answered at
 * once, packed flat `id, value, id, value...`; as JSON text when every value
 * is exact in JSON, where a negative id `-id` stands for the value `undefined`.
 */
export type ManagerValues = unknown[];

/** Manager → client: a value that holds Troupe objects (nested proxies) to revive. */
export interface ManagerWiredValue {
  t: "value";
  id: number;
  value: unknown;
  wired: true;
}

/** Manager → client: call `id` failed. */
export interface ManagerFailure {
  t: "error";
  id: number;
  error: WireError;
  /** For a `LockHolderDiedError`: the pid of the process that died holding the lock. */
  holderPid?: number;
}

/** Manager → client: the manager is shutting down; calls in flight fail and the port closes. */
export interface ManagerStoppedMessage {
  t: "stopped";
}

/** Everything a manager sends back on a connection. */
export type FromManager =
  | ManagerValues
  | JsonPacked
  | ManagerWiredValue
  | ManagerFailure
  | ManagerStoppedMessage;
