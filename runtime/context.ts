// The identity of the thread this code runs in: the main process, or a child
// worker as its parent described it in the init message.
import type { WireIdentity } from "./protocol.ts";

/**
 * How a parent reaches a child: `"shared"`, a Worker that shares its memory
 * (messages by structured clone, and the shared-memory fast paths);
 * `"bytes"`, a Worker reached by bytes alone, as an OS process or a remote
 * host is (see runtime/endpoint.ts).
 */
export type _Transport = "shared" | "bytes";

/** This thread's view of itself, its parent and its children. */
export interface _Context {
  /** This process: `MainProcess` in the main thread. */
  self: WireIdentity;
  /** The parent process; `undefined` in the main thread. */
  parent: WireIdentity | undefined;
  /** Posts to the parent's side of this worker (`undefined` in the main thread). */
  postToParent: ((message: unknown, transfer?: Transferable[]) => void) | undefined;
  /** Prefix for children's names: `""` in main, `"1:"` in `Process-1`. */
  childPrefix: string;
  /** How many children this thread has named. */
  childCount: number;
  /**
   * The pid counter of this memory domain (Int32 0 counts the pids given) and
   * its count of endings (Int32 1): run-wide for threads, which share it; a
   * child that shares no memory counts its own within the block its parent
   * gave it (see `pidBase`).
   */
  pids: Int32Array;
  /** Pids given here are `pidBase + 1` to `pidBase + pidCount`. */
  pidBase: number;
  /** How many pids this domain may give. */
  pidCount: number;
  /**
   * Which memory this thread shares: the same for a thread and every child
   * that shares its memory, different across a byte link. Shared-memory fast
   * paths (pipes) are taken only between threads of one domain.
   */
  domain: string;
  /** How this thread's children are reached unless asked otherwise (see runtime/host.ts). */
  transport: _Transport;
  /** `worker-options` unstable feature: known on/off, `undefined` unknown, `null` not yet checked. */
  workerOptions: boolean | undefined | null;
  /** The domain's liveness table (see `runtime/liveness.ts`); made on first use. */
  liveness?: Int32Array;
  /** The domain's log of the endings it knows of (see `_endedLog`); made on first use. */
  endedLog?: Int32Array;
  /** The domain's endings of pids its table does not record (see `_foreignEndings`). */
  foreign?: Int32Array;
  /**
   * A worker's: 1 while it holds a channel's lock. Its parent, stopping it,
   * waits (bounded) until it is 0, so that no operation it began completes
   * after `terminate()` or `kill()` returned (see runtime/ring.ts).
   */
  inChannel?: Int32Array;
}

/**
 * The version of what copies of Troupe share through globalThis (the context,
 * the task registry, the revivers) and through shared memory (the liveness
 * table, ring headers). Two copies of the same version (one from JSR, one
 * from a local path; the sources and the bundle) share one state; copies of
 * different versions keep theirs apart instead of misreading each other's.
 * Bump it whenever the shape of any of these changes.
 */
export const _SHARED_STATE_VERSION = 3;

/**
 * A thread's pid is this plus its number in the run (1, 2, ...): above any
 * OS's pid range (Linux's pid_max is at most 2^22), so it never names an OS
 * process, yet it fits the Int32 words that record holders in shared memory.
 */
export const _THREAD_PID_BASE = 1_000_000_000;

/** Thread pids run from `_THREAD_PID_BASE + 1` to 2^31 - 1: they are held in Int32 words. */
export const _THREAD_PID_COUNT: number = 0x7fff_ffff - _THREAD_PID_BASE;

/** Whether this thread is a worker (fixed per thread: a module is evaluated in the thread that uses it). */
export const _IN_WORKER: boolean =
  typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined";

const CONTEXT_KEY = Symbol.for(`troupe.context.v${_SHARED_STATE_VERSION}`);

/** This thread's context; in the main thread it is made on first use. */
export function _context(): _Context {
  const g = globalThis as unknown as Record<symbol, _Context | undefined>;
  return g[CONTEXT_KEY] ??= mainContext();
}

/** Installs the context a worker was given by its parent. */
export function _setContext(ctx: _Context): void {
  (globalThis as unknown as Record<symbol, _Context>)[CONTEXT_KEY] = ctx;
}

function mainContext(): _Context {
  const pids = new Int32Array(new SharedArrayBuffer(8));
  return {
    self: { name: "MainProcess", pid: Deno.pid, daemon: false },
    parent: undefined,
    postToParent: undefined,
    childPrefix: "",
    childCount: 0,
    pids,
    pidBase: _THREAD_PID_BASE,
    pidCount: _THREAD_PID_COUNT,
    domain: crypto.randomUUID(),
    transport: transportFromEnv(),
    workerOptions: null,
  };
}

/**
 * `TROUPE_TRANSPORT=bytes` runs every child of the program over the byte
 * link, as an OS process would be reached: how the test suite proves the
 * kernel needs no shared memory to cross to a child. Read only when the
 * program may read it, so it never prompts.
 */
function transportFromEnv(): _Transport {
  try {
    const variable = "TROUPE_TRANSPORT";
    if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") return "shared";
    return Deno.env.get(variable) === "bytes" ? "bytes" : "shared";
  } catch {
    return "shared";
  }
}

/** The next child's identity, Python's `_identity`: `"3"` in main, `"1:3"` in Process-1. */
export function _nextIdentity(): string {
  const ctx = _context();
  return `${ctx.childPrefix}${++ctx.childCount}`;
}

/** A pid no other process of this run has had (see `_THREAD_PID_BASE`). */
export function _nextPid(): number {
  const ctx = _context();
  const k = Atomics.add(ctx.pids, 0, 1) + 1;
  if (k > ctx.pidCount) throw pidsExhausted(ctx);
  return ctx.pidBase + k;
}

/**
 * Reserves a block of pids for a child that shares no memory with this
 * thread, and counts its own: its descendants' pids then never repeat one of
 * this run's. Returns `[base, count]` (see `_Context.pidBase`).
 */
export function _reservePids(): [base: number, count: number] {
  const ctx = _context();
  const used = Atomics.load(ctx.pids, 0);
  const count = Math.min(PID_BLOCK, Math.floor((ctx.pidCount - used) / 8));
  if (count < 16) throw pidsExhausted(ctx);
  const start = Atomics.add(ctx.pids, 0, count);
  if (start + count > ctx.pidCount) throw pidsExhausted(ctx);
  return [ctx.pidBase + start, count];
}

// Pids a child reached by bytes may give to its own descendants.
const PID_BLOCK = 1 << 16;

function pidsExhausted(ctx: _Context): Error {
  return new Error(
    `${ctx.self.name} cannot start another process: it has given all ${ctx.pidCount} pids ` +
      "its parent reserved for it. Start long-lived pools or actors instead of a new process " +
      "per job",
  );
}

// Whether this worker is still evaluating the modules its entry imports:
// from when the runtime loads until `_main` runs. Shared by every copy of
// Troupe in the thread, like the context.
const IMPORTING_KEY = Symbol.for(`troupe.importing.v${_SHARED_STATE_VERSION}`);

/** Marks this worker as importing its modules (the runtime does, as it loads). */
export function _startImports(): void {
  (globalThis as unknown as Record<symbol, boolean>)[IMPORTING_KEY] = true;
}

/** Marks this worker's modules as loaded: it may start processes from now on. */
export function _endImports(): void {
  delete (globalThis as unknown as Record<symbol, boolean>)[IMPORTING_KEY];
}

/**
 * Throws when `what` (a process, a pool) is started while this worker is
 * still importing its modules: a module that starts processes at its top
 * level would start them again in every worker that imports it.
 */
export function _refuseWhileImporting(what: string): void {
  if (!(globalThis as unknown as Record<symbol, boolean>)[IMPORTING_KEY]) return;
  throw new Error(
    `${what} was started while a worker was still importing its modules: a module's ` +
      "top-level code runs again in every worker that imports it, so the module that " +
      "declares the tasks must not start processes or pools at its top level. Put that code " +
      "under `if (import.meta.main) { ... }`, as Python guards it with " +
      '`if __name__ == "__main__":`',
  );
}

/**
 * The number of logical CPU cores, the default size of a `Pool`.
 *
 * @example
 * ```ts
 * import { cpuCount } from "@troupe/troupe";
 *
 * console.assert(cpuCount() >= 1);
 * ```
 */
export function cpuCount(): number {
  return navigator.hardwareConcurrency || 1;
}
