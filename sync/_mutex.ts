// The mutex under Lock, RLock and Condition: Drepper's three-state futex
// mutex ("Futexes Are Tricky", mutex 2) over one shared Int32 word, plus the
// holder's pid in the next word so that a waiter can tell when the holder
// has died. The state word is FREE, LOCKED (no one waits) or CONTENDED
// (someone may wait): release only notifies in the last case, so an
// uncontended acquire + release is two atomic operations and no system call.
import { _isAlive } from "../runtime/liveness.ts";
import { LockHolderDiedError } from "./errors.ts";
import { _myPid, _remaining, _timedOut, _waitSync, _waitWord } from "../runtime/wait.ts";

/** Index of the state word. */
export const _STATE = 0;
/** Index of the holder's pid (0: none, or not yet written). */
export const _OWNER = 1;
/** Index of an RLock's recursion count. */
export const _COUNT = 2;
/** Words a mutex needs. */
export const _MUTEX_WORDS = 3;

const FREE = 0;
const LOCKED = 1;
const CONTENDED = 2;

// How often a waiter looks whether the holder still lives. The holder's
// death is written to the liveness table, which cannot notify this word.
const CHECK_HOLDER_MS = 100;

/**
 * Takes the mutex if it is free, for this process or for `pid` (a relay
 * takes it for the child it serves); never waits.
 */
export function _tryLock(w: Int32Array, pid?: number): boolean {
  if (Atomics.compareExchange(w, _STATE, FREE, LOCKED) !== FREE) return false;
  take(w, pid);
  return true;
}

// Records the new holder in the same turn that took the mutex. Plain writes
// (a seq-cst store costs ~9 ns each way): the holder's pid is only advisory,
// and the atomic state operations around these writes order them. A reader
// sees 0, the holder's pid, or a later one; never a released holder's, since
// each holder writes 0 before the atomic release.
function take(w: Int32Array, pid = _myPid()): void {
  w[_OWNER] = pid;
  w[_COUNT] = 1;
}

function checkHolder(w: Int32Array, kind: string): void {
  const holder = _deadHolder(w);
  if (holder !== 0) throw new LockHolderDiedError(kind, holder);
}

/**
 * The pid of a holder that ended without releasing, or 0. The holder's word
 * is read again after the liveness table says it ended: a holder that
 * released (clearing the word) and then exited between the first read and
 * the table lookup must not be taken for a dead one. Its clear comes before
 * its release and its exit, so the second read sees it.
 */
export function _deadHolder(w: Int32Array): number {
  const holder = Atomics.load(w, _OWNER);
  if (holder === 0 || _isAlive(holder)) return 0;
  return Atomics.load(w, _OWNER) === holder ? holder : 0;
}

/**
 * Waits without blocking until the mutex is taken for this process, or for
 * `pid` (after a failed {@linkcode _tryLock}). The holder's pid (and an
 * RLock's count of 1) are written in the same turn that takes the mutex.
 */
export async function _lockAsync(
  w: Int32Array,
  kind: string,
  what: string,
  deadline: number,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  pid?: number,
): Promise<void> {
  while (Atomics.exchange(w, _STATE, CONTENDED) !== FREE) {
    checkHolder(w, kind);
    const left = _remaining(deadline);
    if (left === 0) throw _timedOut(what, timeoutMs);
    const r = _waitWord(w, _STATE, CONTENDED, Math.min(left, CHECK_HOLDER_MS), signal);
    if (typeof r !== "string") await r;
  }
  take(w, pid);
}

/** Blocks this worker until the mutex is taken for this process (after a failed {@linkcode _tryLock}). */
export function _lockSync(
  w: Int32Array,
  kind: string,
  what: string,
  deadline: number,
  timeoutMs: number | undefined,
): void {
  while (Atomics.exchange(w, _STATE, CONTENDED) !== FREE) {
    checkHolder(w, kind);
    const left = _remaining(deadline);
    if (left === 0) throw _timedOut(what, timeoutMs);
    _waitSync(w, _STATE, CONTENDED, Math.min(left, CHECK_HOLDER_MS));
  }
  take(w);
}

/** Frees the mutex and wakes one waiter if any may wait. */
export function _unlock(w: Int32Array): void {
  w[_OWNER] = 0;
  if (Atomics.sub(w, _STATE, 1) !== LOCKED) {
    Atomics.store(w, _STATE, FREE);
    Atomics.notify(w, _STATE, 1);
  }
}

/** Whether the mutex is held by anyone. */
export function _isLocked(w: Int32Array): boolean {
  return Atomics.load(w, _STATE) !== FREE;
}

/**
 * What `console.log()` shows of a mutex: whether it is held, by which pid,
 * and (`reentrant`) how many times. Reads only; the holder is advisory.
 */
export function _mutexFields(w: Int32Array, reentrant: boolean): Record<string, unknown> {
  if (!_isLocked(w)) return { locked: false };
  const holder = Atomics.load(w, _OWNER) || undefined;
  return reentrant
    ? { locked: true, holder, count: Atomics.load(w, _COUNT) }
    : { locked: true, holder };
}
