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
//
// Across domains (children reached by bytes, see runtime/endpoint.ts) endings
// travel by message: each domain logs every ending it learns (`_endedLog`) and
// the host of each byte link forwards the log's new entries across it
// (`_forwardEndings`). An ending of a pid the table does not record (another
// domain's, or one in the pid block of a child reached by bytes, all of which
// end with it) goes in the domain's list of foreign endings, which
// `_isAlive` reads for such pids. Both are lists of `first, count` pid
// ranges over growable shared memory: word 0 counts the words written.
import { _context } from "./context.ts";
import { _waitWord } from "./wait.ts";

const ENDED = -1;
const INITIAL_BYTES = 4096;
// 16 M processes per run; pids beyond that read as "unknown" (assumed alive).
const MAX_BYTES = 64 << 20;

// Each list of ranges holds at most this many bytes; endings beyond read as unknown (alive).
const MAX_LIST_BYTES = 16 << 20;

function newList(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(INITIAL_BYTES, { maxByteLength: MAX_LIST_BYTES }));
}

/** The domain's log of every ending it knows of, forwarded across its byte links. */
export function _endedLog(): Int32Array {
  return _context().endedLog ??= newList();
}

/** The domain's endings of pids its table does not record. */
export function _foreignEndings(): Int32Array {
  return _context().foreign ??= newList();
}

/** Appends the range `first, count` to `list`; false when the list is full. */
function append(list: Int32Array, first: number, count: number): boolean {
  const at = Atomics.add(list, 0, 2) + 1;
  const buffer = list.buffer as SharedArrayBuffer;
  const needed = (at + 2) * 4;
  if (needed > buffer.byteLength) {
    if (needed > buffer.maxByteLength) return false;
    try {
      buffer.grow(Math.min(buffer.maxByteLength, Math.max(needed, buffer.byteLength * 2)));
    } catch {
      // Another thread grew it first (grow never shrinks).
    }
  }
  Atomics.store(list, at, first);
  // Written last: a reader skips a range whose count is still 0.
  Atomics.store(list, at + 1, count);
  return true;
}

/** Whether `pid` is in a range of `list`. */
function inList(list: Int32Array, pid: number): boolean {
  const end = Math.min(Atomics.load(list, 0) + 1, list.length - 1);
  for (let i = 1; i < end; i += 2) {
    const first = Atomics.load(list, i);
    if (pid >= first && pid < first + Atomics.load(list, i + 1)) return true;
  }
  return false;
}

/**
 * Records that the pids `first` to `first + count - 1` have ended: those of
 * another domain, or a block a child reached by bytes gave out. Returns
 * whether that was news (an ending heard twice is not forwarded again).
 */
export function _markRangeEnded(first: number, count: number): boolean {
  if (!(count >= 1) || !Number.isInteger(first) || !Number.isInteger(count)) return false;
  const foreign = _foreignEndings();
  if (inList(foreign, first) && inList(foreign, first + count - 1)) return false;
  if (count === 1) {
    const table = _livenessTable();
    const i = slot(first);
    if (i >= 2 && i < table.length && Atomics.load(table, i) !== 0) {
      _markEnded(first);
      return true;
    }
  }
  append(foreign, first, count);
  append(_endedLog(), first, count);
  const pids = _context().pids;
  Atomics.add(pids, ENDINGS, 1);
  Atomics.notify(pids, ENDINGS);
  return true;
}

/**
 * Sends each ending this domain learns of from now on with `send` (as
 * `first, count` ranges), until the returned function is called. The host of
 * a byte link runs one for each side.
 */
export function _forwardEndings(send: (ranges: number[]) => void): () => void {
  const log = _endedLog();
  let cursor = Atomics.load(log, 0) + 1;
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const seen = _endings();
      const ranges: number[] = [];
      const end = Math.min(Atomics.load(log, 0) + 1, log.length - 1);
      while (cursor < end) {
        const count = Atomics.load(log, cursor + 1);
        if (count === 0) break; // being written: next time
        ranges.push(Atomics.load(log, cursor), count);
        cursor += 2;
      }
      if (ranges.length > 0) send(ranges);
      await _nextEnding(seen, cursor < end ? 1 : Infinity);
    }
  })();
  return () => {
    stopped = true;
  };
}

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
    append(_endedLog(), pid, 1);
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
  // One context read: a waiter for a lock asks this each time it wakes.
  const ctx = _context();
  const table = ctx.liveness ?? _livenessTable();
  const base = ctx.pidBase;
  for (let depth = 0; depth < 10_000; depth++) {
    const i = slot(pid, base);
    const entry = i < 2 || i >= table.length ? 0 : Atomics.load(table, i);
    if (entry === ENDED) return false;
    // Not recorded here: ended only if another domain said so.
    if (entry === 0) return ctx.foreign === undefined || !inList(ctx.foreign, pid);
    pid = entry;
  }
  return true;
}
