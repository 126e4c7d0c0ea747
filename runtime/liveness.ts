// Which processes of this run are still alive, readable from every worker
// without a message: a lock whose holder died must be reported even to a
// waiter blocked in Atomics.wait, which cannot receive messages.
//
// One Int32 table per memory domain over a growable SharedArrayBuffer, made by
// the domain's first thread (the main thread, or a child reached by bytes) and
// handed to every worker that shares its memory in its init message. The
// domain's pids are `pidBase + k` (see `_nextPid`); entry `k + 1` holds the parent's pid
// while the process runs, ENDED once it has ended, and 0 when nothing was recorded.
// A process counts as alive while it and all its ancestors are: a worker's
// workers end with it without a word to anyone. Entries 0 and 1 are not used.
import { _context } from "./context.ts";
import { _waitWord } from "./wait.ts";

const ENDED = -1;
const INITIAL_BYTES = 4096;
// 16 M processes per run; pids beyond that read as "unknown" (assumed alive).
const MAX_BYTES = 64 << 20;

/** This run's liveness table (created on first use in the main thread). */
export function _livenessTable(): Int32Array {
  const ctx = _context();
  if (!ctx.liveness) {
    // A worker always gets the table in its init message; this is the main thread.
    const buffer = new SharedArrayBuffer(INITIAL_BYTES, { maxByteLength: MAX_BYTES });
    ctx.liveness = new Int32Array(buffer);
  }
  return ctx.liveness;
}

// The count of endings lives in the run's pid buffer, word 1: an Atomics
// operation on a growable buffer such as the table costs ~50 ns more, and
// channels read the count on every put and take.
const ENDINGS = 1;

/** The run's count of endings, as a word of its own (see `_endings`). */
export function _endingsWord(): Int32Array {
  return _context().pids;
}

// Pids below this domain's base (its parent's, reached by bytes) read as unknown.
function slot(pid: number, base = _context().pidBase): number {
  return pid - base + 1;
}

/** How many processes of this run have been recorded as ended: a cheap "did anything end?". */
export function _endings(): number {
  return Atomics.load(_context().pids, ENDINGS);
}

/** Records that `pid`, a child of `parentPid`, has started. */
export function _markStarted(pid: number, parentPid: number): void {
  const table = _livenessTable();
  const i = slot(pid);
  if (i < 2) return;
  const buffer = table.buffer as SharedArrayBuffer;
  const needed = (i + 1) * 4;
  if (needed > buffer.byteLength) {
    if (needed > buffer.maxByteLength) return;
    const size = Math.min(buffer.maxByteLength, Math.max(needed, buffer.byteLength * 2));
    try {
      buffer.grow(size);
    } catch {
      // Another thread grew it first (grow never shrinks).
    }
  }
  Atomics.store(table, i, parentPid);
}

/** Records that `pid` has ended. Safe to call more than once, from any thread. */
export function _markEnded(pid: number): void {
  const table = _livenessTable();
  const i = slot(pid);
  if (i >= 2 && i < table.length && Atomics.exchange(table, i, ENDED) !== ENDED) {
    const pids = _context().pids;
    Atomics.add(pids, ENDINGS, 1);
    Atomics.notify(pids, ENDINGS);
  }
}

/**
 * Resolves once a process of this run ends after `_endings()` read `seen`, or
 * after `ms`, whichever comes first. For workers, whose event loop stays
 * alive on its own: on the main thread a pending wait does not keep it alive.
 */
export function _nextEnding(seen: number, ms: number): Promise<unknown> {
  return Promise.resolve(_waitWord(_context().pids, ENDINGS, seen, ms, undefined, false));
}

/** Wakes every `_nextEnding` wait of this run (they look again and wait anew). */
export function _wakeEndingWaits(): void {
  Atomics.notify(_context().pids, ENDINGS);
}

/**
 * Whether `pid` may still be running: `false` once it or one of its
 * ancestors has ended; `true` for the main process and for pids never recorded.
 */
export function _isAlive(pid: number): boolean {
  const table = _livenessTable();
  const base = _context().pidBase;
  for (let depth = 0; depth < 10_000; depth++) {
    const i = slot(pid, base);
    if (i < 2 || i >= table.length) return true;
    const entry = Atomics.load(table, i);
    if (entry === ENDED) return false;
    if (entry === 0) return true;
    pid = entry;
  }
  return true;
}
