// The shared core of every channel: a byte ring in a SharedArrayBuffer that
// any worker (and the main thread) reads and writes directly, with no broker.
// A short lock guards each put/take; its critical sections are synchronous
// copies, so a worker cannot be stopped inside one (Deno ends a worker only
// between JavaScript turns) and a producer that crashes leaves its items
// whole. Waiting is Atomics.waitAsync (or Atomics.wait in *Sync calls inside
// workers) on sequence words, woken with Atomics.notify only when a waiter
// count says someone waits.
import { _context, _IN_WORKER } from "./context.ts";
import { _endings, _endingsWord, _isAlive } from "./liveness.ts";
import { _checkTimeout } from "./util.ts";
import { _armWait, _waitWord } from "./wait.ts";
import type { WireCodec } from "./protocol.ts";

// Header words (Int32 indices).
const LOCK = 0;
const HEAD = 1; // byte offset of the oldest record
const TAIL = 2; // byte offset where the next record goes
const USED = 3; // bytes in use
const COUNT = 4; // records in the ring
const CLOSED = 5; // 1 once closed
const PUT_SEQ = 6; // bumped after every put (consumers wait on it)
const TAKE_SEQ = 7; // bumped after every take (producers wait on it)
const TAKE_WAITERS = 8;
const PUT_WAITERS = 9;
const UNFINISHED = 10; // JoinableQueue: items put and not yet taskDone()
const JOIN_WAITERS = 11;
const READER_CLOSED = 12; // Pipe: the receiving end was closed
const UNTRACKED = 13; // Pipe: bit 1 (writers) or 2 (readers) set when a holder found no free slot
const OWNER = 14; // pid of the lock's holder, 0 when free
// Pid of a holder that died with the lock, until an operation has found the
// ring whole; WRITTEN once it was found broken by one that was alive.
const SUSPECT = 15;
const WRITTEN = -1;
// Pipe: pids of the processes that hold the writing end and the reading end.
const WRITERS = 16;
const READERS = 24;
const HOLDER_SLOTS = 8;
// Where each side's holders are, and its bit in UNTRACKED.
const SIDES = {
  writer: { base: WRITERS, untracked: 1 },
  reader: { base: READERS, untracked: 2 },
} as const;
const HEADER_BYTES = 128;

/** Bytes a ring gets unless told otherwise. */
export const _DEFAULT_BUFFER_BYTES = 1 << 20;

/** Returned by `tryPut`/`tryTake` when they would have to wait. */
export const _WOULD_WAIT: unique symbol = Symbol("would wait");
/** Returned by `tryPut`/`tryTake` when the ring is closed (and, for takes, drained). */
export const _CLOSED: unique symbol = Symbol("closed");

// Waiters of this thread, by buffer and word. A waitAsync woken by a notify
// from its own thread does not keep Deno's event loop alive (the loop may end
// with the promise pending), so this thread's own puts and takes wake this
// thread's waiters directly; other threads' wake them through Atomics.notify.
const localWaiters = new WeakMap<SharedArrayBuffer, Map<number, Set<() => void>>>();
let localWaiterCount = 0;

function wakeLocal(buffer: SharedArrayBuffer, word: number): void {
  if (localWaiterCount === 0) return;
  const set = localWaiters.get(buffer)?.get(word);
  if (set) { for (const wake of set) wake(); }
}

function addLocal(buffer: SharedArrayBuffer, word: number, wake: () => void): () => void {
  let words = localWaiters.get(buffer);
  if (!words) localWaiters.set(buffer, words = new Map());
  let set = words.get(word);
  if (!set) words.set(word, set = new Set());
  set.add(wake);
  localWaiterCount++;
  return () => {
    set.delete(wake);
    localWaiterCount--;
  };
}

// Blocking waits are allowed only inside workers.

// A worker whose process was terminated may still be running: Deno cannot
// stop a thread busy in synchronous code. Its process has ended all the same,
// so it takes nothing more from a channel and puts nothing in one. Checked
// under the lock, so once terminate() has returned no operation of its starts.
let aliveAtEndings = -1;
let endingsWord: Int32Array | undefined;
// This worker's in-channel word, once known; NO_WORD in the main thread.
let inChannel: Int32Array | undefined;
const NO_WORD = new Int32Array(0);

function inChannelWord(): Int32Array {
  const ctx = _context();
  if (!_IN_WORKER) return inChannel = NO_WORD;
  // Known once the init message came (before the worker holds a ring).
  if (ctx.parent === undefined) return NO_WORD;
  return inChannel = ctx.inChannel ?? NO_WORD;
}

function endedHere(): boolean {
  if (!_IN_WORKER) return false;
  const endings = Atomics.load(endingsWord ?? endingsOfThisRun(), 1);
  if (endings === aliveAtEndings) return false;
  if (!_isAlive(_context().self.pid)) return true;
  aliveAtEndings = endings;
  return false;
}

function endingsOfThisRun(): Int32Array {
  const word = _endingsWord();
  // A worker has the run's count once its init message came (before it holds a ring).
  if (_context().parent !== undefined) endingsWord = word;
  return word;
}

function endedError(): Error {
  const { name, pid } = _context().self;
  return new Error(
    `${name} (pid ${pid}) has ended: it was terminated, so it may not use channels any more`,
  );
}

// The ring's hot paths are module functions rather than methods, so that the
// build can have V8 compile them with the module (build/eager.ts: methods
// cannot be marked) and every worker that uses a channel, a pool link or an
// actor's mailbox skips compiling them as it starts (~0.15 ms).

// A short spin lock on the header's LOCK word: 0 free, 1 held, 2 held with
// sleepers. Its critical sections are a few hundred nanoseconds of copying,
// so a lock held for a second is not a slow holder: the holder died in it
// (its lock is taken over, and the ring checked), or a process wrote the
// word by hand. Either way no thread, the main one least, waits longer.
const LOCK_HELD_MAX_MS = 1000;
let ownPid = 0;

function lock(h: Int32Array): void {
  let c = Atomics.compareExchange(h, LOCK, 0, 1);
  if (c !== 0) {
    for (let i = 0; i < 200 && c !== 0; i++) c = Atomics.compareExchange(h, LOCK, 0, 1);
    if (c !== 0) lockSlow(h, c);
  }
  // A plain store: the lock orders it, and a reader only needs a recent value.
  h[OWNER] = ownPid || pidOfThisThread();
}

function pidOfThisThread(): number {
  const ctx = _context();
  // A worker knows its pid once its init message came (before it holds a ring).
  if (ctx.parent !== undefined || !_IN_WORKER) ownPid = ctx.self.pid;
  return ctx.self.pid;
}

// Contended and the holder is slow (descheduled by the OS): sleep on the word.
function lockSlow(h: Int32Array, c: number): void {
  const since = performance.now();
  let unowned = true;
  if (c !== 2) c = Atomics.exchange(h, LOCK, 2);
  while (c !== 0) {
    Atomics.wait(h, LOCK, 2, 10);
    c = Atomics.exchange(h, LOCK, 2);
    if (c === 0) return;
    const owner = Atomics.load(h, OWNER);
    unowned &&= owner === 0;
    const long = performance.now() - since > LOCK_HELD_MAX_MS;
    // Its holder died, or nothing but the word held it all along: take the
    // lock over (it is ours now, in state 2), and have the ring checked.
    if ((owner !== 0 && !_isAlive(owner)) || (long && unowned)) {
      Atomics.compareExchange(h, SUSPECT, 0, owner === 0 ? WRITTEN : owner);
      return;
    }
    if (long) {
      throw new Error(
        `a channel's lock has been held for over ${LOCK_HELD_MAX_MS} ms by pid ${owner}, which ` +
          "is alive: no put or take holds it that long, so that process has written the " +
          "channel's shared memory directly",
      );
    }
  }
}

function unlock(h: Int32Array): void {
  h[OWNER] = 0;
  if (Atomics.sub(h, LOCK, 1) !== 1) {
    Atomics.store(h, LOCK, 0);
    Atomics.notify(h, LOCK, 1);
  }
  if (inChannel !== undefined && inChannel !== NO_WORD) Atomics.store(inChannel, 0, 0);
}

/** The error for a ring found broken, naming who broke it. */
function brokenError(h: Int32Array): Error {
  const suspect = Atomics.load(h, SUSPECT);
  return new Error(
    suspect === WRITTEN || suspect === 0
      ? "a channel's shared memory is corrupt: a process wrote it directly, so its items " +
        "cannot be trusted any more"
      : `a channel's shared memory was left half-written by pid ${suspect}, which ended in the ` +
        "middle of a put or take; its items cannot be trusted any more",
  );
}

/**
 * After a takeover: whether the header and the records it describes are
 * whole (`fixed`: the record size, 0 for length-prefixed ones). A ring found
 * broken stays so: every operation on it throws.
 */
function checkWhole(h: Int32Array, w32: Int32Array, cap: number, fixed: number): void {
  const head = h[HEAD], tail = h[TAIL], used = h[USED], count = h[COUNT];
  const align = fixed || 4;
  let whole = head >= 0 && head < cap && head % align === 0 && tail >= 0 && tail < cap &&
    tail % align === 0 && used >= 0 && used <= cap && count >= 0;
  if (whole && fixed > 0) whole = used === count * fixed && (head + used) % cap === tail;
  else if (whole) {
    let at = head, sum = 0;
    for (let i = 0; i < count && whole; i++) {
      const n = w32[at >> 2];
      const need = (n + 7) & ~3;
      whole = n >= 0 && sum + need <= used;
      sum += need;
      at = (at + need) % cap;
    }
    whole &&= sum === used && at === tail;
  }
  if (whole) Atomics.store(h, SUSPECT, 0);
  else {
    unlock(h);
    throw brokenError(h);
  }
}

/**
 * Takes the lock for an operation of this thread's process on a ring of
 * `cap` data bytes: throws once that process has ended, or when the ring is
 * broken.
 */
function lockLive(h: Int32Array, w32: Int32Array, cap: number, fixed: number): void {
  lock(h);
  // Said before the check: a parent that marks this process ended after the
  // check passed waits for the unlock (see _Context.inChannel).
  const busy = inChannel ?? inChannelWord();
  if (busy !== NO_WORD) Atomics.store(busy, 0, 1);
  if (endedHere()) {
    unlock(h);
    throw endedError();
  }
  if (h[SUSPECT] !== 0) checkWhole(h, w32, cap, fixed);
}

/** Unlocks a ring found broken by a live writer, and throws. */
function corrupt(h: Int32Array): never {
  Atomics.compareExchange(h, SUSPECT, 0, WRITTEN);
  unlock(h);
  throw brokenError(h);
}

function afterPut(buffer: SharedArrayBuffer, h: Int32Array): void {
  Atomics.add(h, PUT_SEQ, 1);
  // Wake every waiter: one that was ended while waiting cannot pass a wake-up on.
  if (Atomics.load(h, TAKE_WAITERS) > 0) {
    Atomics.notify(h, PUT_SEQ);
    wakeLocal(buffer, PUT_SEQ);
  }
}

function afterTake(buffer: SharedArrayBuffer, h: Int32Array): void {
  Atomics.add(h, TAKE_SEQ, 1);
  if (Atomics.load(h, PUT_WAITERS) > 0) {
    Atomics.notify(h, TAKE_SEQ);
    wakeLocal(buffer, TAKE_SEQ);
  }
}

/** `_Ring.tryPut` on the ring's header `h`, its data seen as `w32` and `data`. */
function putRecord(
  buffer: SharedArrayBuffer,
  h: Int32Array,
  w32: Int32Array,
  data: Uint8Array,
  maxsize: number,
  bytes: Uint8Array,
  unfinished: boolean,
): boolean | typeof _CLOSED {
  const cap = data.length;
  const need = (bytes.length + 7) & ~3; // 4-byte length + payload, 4-aligned
  lockLive(h, w32, cap, 0);
  if (h[CLOSED] === 1 || h[READER_CLOSED] === 1) {
    unlock(h);
    return _CLOSED;
  }
  if ((maxsize > 0 && h[COUNT] >= maxsize) || cap - h[USED] < need) {
    unlock(h);
    return false;
  }
  let tail = h[TAIL];
  // Never trusted: another process may have written the header.
  if (!(tail >= 0 && tail < cap && (tail & 3) === 0 && h[USED] >= 0)) corrupt(h);
  w32[tail >> 2] = bytes.length;
  tail += 4;
  if (tail === cap) tail = 0;
  const first = cap - tail;
  if (bytes.length <= first) data.set(bytes, tail);
  else {
    data.set(bytes.subarray(0, first), tail);
    data.set(bytes.subarray(first), 0);
  }
  tail = (tail + ((bytes.length + 3) & ~3)) % cap;
  h[TAIL] = tail;
  h[USED] += need;
  h[COUNT]++;
  if (unfinished) h[UNFINISHED]++;
  unlock(h);
  afterPut(buffer, h);
  return true;
}

/** `_Ring.tryTake` on the ring's header `h`, its data seen as `w32` and `data`. */
function takeRecord(
  buffer: SharedArrayBuffer,
  h: Int32Array,
  w32: Int32Array,
  data: Uint8Array,
  into: { bytes: Uint8Array },
): number | typeof _WOULD_WAIT | typeof _CLOSED {
  const cap = data.length;
  lockLive(h, w32, cap, 0);
  if (h[COUNT] === 0 || h[READER_CLOSED] === 1) {
    const closed = h[CLOSED] === 1 || h[READER_CLOSED] === 1;
    unlock(h);
    return closed ? _CLOSED : _WOULD_WAIT;
  }
  let head = h[HEAD];
  if (!(head >= 0 && head < cap && (head & 3) === 0)) corrupt(h);
  const n = w32[head >> 2];
  if (!(n >= 0 && n + 4 <= h[USED])) corrupt(h);
  head += 4;
  if (head === cap) head = 0;
  if (into.bytes.length < n) into.bytes = new Uint8Array(Math.max(n, into.bytes.length * 2));
  const first = cap - head;
  if (n <= 64 && n <= first) {
    // Small records: a loop beats making a view to copy from.
    const out = into.bytes;
    for (let i = 0; i < n; i++) out[i] = data[head + i];
  } else if (n <= first) into.bytes.set(data.subarray(head, head + n));
  else {
    into.bytes.set(data.subarray(head, cap));
    into.bytes.set(data.subarray(0, n - first), first);
  }
  h[HEAD] = (head + ((n + 3) & ~3)) % cap;
  h[USED] -= (n + 7) & ~3;
  h[COUNT]--;
  unlock(h);
  afterTake(buffer, h);
  return n;
}

/** A byte ring over a SharedArrayBuffer, usable from any thread that holds the buffer. */
export class _Ring {
  readonly buffer: SharedArrayBuffer;
  readonly #h: Int32Array;
  readonly #data: Uint8Array;
  readonly #w32: Int32Array;
  readonly #f64: Float64Array;
  readonly #cap: number;
  /** 0 for variable-size records (length-prefixed), else the fixed record size. */
  readonly #fixed: number;
  readonly #maxsize: number;
  // `_endings()` when a side's holders were last seen alive: until another
  // process ends, they still are, and `holdersEnded` need not look again.
  #aliveAt = { writer: -1, reader: -1 };

  constructor(buffer: SharedArrayBuffer, codec: WireCodec, maxsize: number) {
    this.buffer = buffer;
    this.#h = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.#cap = buffer.byteLength - HEADER_BYTES;
    this.#data = new Uint8Array(buffer, HEADER_BYTES, this.#cap);
    this.#w32 = new Int32Array(buffer, HEADER_BYTES, this.#cap / 4);
    this.#f64 = new Float64Array(buffer, HEADER_BYTES, this.#cap / 8);
    this.#fixed = codec === "f64" ? 8 : codec === "i32" ? 4 : 0;
    this.#maxsize = maxsize;
  }

  /** A new buffer for a ring of `bytes` data bytes (rounded up to 8). */
  static allocate(bytes: number): SharedArrayBuffer {
    return new SharedArrayBuffer(HEADER_BYTES + Math.ceil(bytes / 8) * 8);
  }

  /** Data bytes: the largest record (with its 4-byte length) that fits. */
  get capacity(): number {
    return this.#cap;
  }

  get count(): number {
    return Atomics.load(this.#h, COUNT);
  }

  get closed(): boolean {
    return Atomics.load(this.#h, CLOSED) === 1;
  }

  get readerClosed(): boolean {
    return Atomics.load(this.#h, READER_CLOSED) === 1;
  }

  /** Whether a put must wait now: at maxsize, or no room even for the smallest record. */
  get full(): boolean {
    const h = this.#h;
    const n = Atomics.load(h, COUNT);
    if (this.#maxsize > 0 && n >= this.#maxsize) return true;
    return this.#cap - Atomics.load(h, USED) < (this.#fixed || 8);
  }

  /** Stores one encoded record; `unfinished` also counts it for JoinableQueue. */
  tryPut(bytes: Uint8Array, unfinished: boolean): boolean | typeof _CLOSED {
    return putRecord(this.buffer, this.#h, this.#w32, this.#data, this.#maxsize, bytes, unfinished);
  }

  /**
   * Takes the oldest record into `into` (grown when too small) and returns its
   * length; `_CLOSED` once closed and drained, or at once when the reader closed.
   */
  tryTake(into: { bytes: Uint8Array }): number | typeof _WOULD_WAIT | typeof _CLOSED {
    return takeRecord(this.buffer, this.#h, this.#w32, this.#data, into);
  }

  /** Puts numbers from `values[from..]` (fixed codecs); returns how many fit. */
  tryPutNumbers(
    values: ArrayLike<number>,
    from: number,
    unfinished: boolean,
  ): number | typeof _CLOSED {
    const h = this.#h;
    const size = this.#fixed;
    lockLive(h, this.#w32, this.#cap, size);
    if (h[CLOSED] === 1 || h[READER_CLOSED] === 1) {
      unlock(h);
      return _CLOSED;
    }
    let room = ((this.#cap - h[USED]) / size) | 0;
    if (this.#maxsize > 0) room = Math.min(room, this.#maxsize - h[COUNT]);
    const n = Math.min(room, values.length - from);
    if (n <= 0) {
      unlock(h);
      return 0;
    }
    const tail = h[TAIL];
    if (!(tail >= 0 && tail < this.#cap && tail % size === 0 && h[USED] >= 0)) corrupt(h);
    let slot = tail / size;
    const slots = this.#cap / size;
    if (size === 8) {
      const f64 = this.#f64;
      for (let i = 0; i < n; i++) {
        f64[slot++] = values[from + i];
        if (slot === slots) slot = 0;
      }
    } else {
      const w32 = this.#w32;
      for (let i = 0; i < n; i++) {
        w32[slot++] = values[from + i];
        if (slot === slots) slot = 0;
      }
    }
    h[TAIL] = slot * size;
    h[USED] += n * size;
    h[COUNT] += n;
    if (unfinished) h[UNFINISHED] += n;
    unlock(h);
    afterPut(this.buffer, h);
    return n;
  }

  /** Takes up to `max` numbers into `out` (fixed codecs); returns how many. */
  tryTakeNumbers(out: number[], max: number): number | typeof _WOULD_WAIT | typeof _CLOSED {
    const h = this.#h;
    const size = this.#fixed;
    lockLive(h, this.#w32, this.#cap, size);
    const n = Math.min(max, h[COUNT]);
    if (n === 0) {
      const closed = h[CLOSED] === 1;
      unlock(h);
      return closed ? _CLOSED : _WOULD_WAIT;
    }
    const head = h[HEAD];
    if (!(head >= 0 && head < this.#cap && head % size === 0 && n * size <= h[USED])) corrupt(h);
    let slot = head / size;
    const slots = this.#cap / size;
    const src = size === 8 ? this.#f64 : this.#w32;
    for (let i = 0; i < n; i++) {
      out.push(src[slot++]);
      if (slot === slots) slot = 0;
    }
    h[HEAD] = slot * size;
    h[USED] -= n * size;
    h[COUNT] -= n;
    unlock(h);
    afterTake(this.buffer, h);
    return n;
  }

  /**
   * Puts `records` back in front of the oldest, in order (`records[0]`
   * becomes the oldest), all under one lock, or none when they do not all
   * fit: items that were taken and are given back as if never taken (no
   * maxsize, no unfinished count, and a closed queue takes them too).
   */
  tryPutFront(records: readonly Uint8Array[]): boolean {
    const h = this.#h;
    const data = this.#data;
    const w32 = this.#w32;
    const cap = this.#cap;
    let need = 0;
    for (const r of records) need += (r.length + 7) & ~3;
    lockLive(h, w32, cap, 0);
    if (cap - h[USED] < need) {
      unlock(h);
      return false;
    }
    const head = h[HEAD];
    if (!(head >= 0 && head < cap && (head & 3) === 0 && h[USED] >= 0)) corrupt(h);
    // Laid out as puts at the tail would have, ending where the oldest begins.
    let at = head - need;
    if (at < 0) at += cap;
    h[HEAD] = at;
    for (const bytes of records) {
      w32[at >> 2] = bytes.length;
      at += 4;
      if (at === cap) at = 0;
      const first = cap - at;
      if (bytes.length <= first) data.set(bytes, at);
      else {
        data.set(bytes.subarray(0, first), at);
        data.set(bytes.subarray(first), 0);
      }
      at = (at + ((bytes.length + 3) & ~3)) % cap;
    }
    h[USED] += need;
    h[COUNT] += records.length;
    unlock(h);
    afterPut(this.buffer, h);
    return true;
  }

  /** {@linkcode _Ring.tryPutFront} for the numeric codecs. */
  tryPutNumbersFront(values: readonly number[]): boolean {
    const h = this.#h;
    const size = this.#fixed;
    const n = values.length;
    lockLive(h, this.#w32, this.#cap, size);
    if (((this.#cap - h[USED]) / size | 0) < n) {
      unlock(h);
      return false;
    }
    const head = h[HEAD];
    if (!(head >= 0 && head < this.#cap && head % size === 0 && h[USED] >= 0)) corrupt(h);
    const slots = this.#cap / size;
    let slot = head / size;
    const dst = size === 8 ? this.#f64 : this.#w32;
    for (let i = n - 1; i >= 0; i--) {
      slot = slot === 0 ? slots - 1 : slot - 1;
      dst[slot] = values[i];
    }
    h[HEAD] = slot * size;
    h[USED] += n * size;
    h[COUNT] += n;
    unlock(h);
    afterPut(this.buffer, h);
    return true;
  }

  // ---- holders (Pipe) -----------------------------------------------------
  // A pipe end can be in several processes. Each process that receives an end
  // or uses it records its pid here; once every recorded holder of one side
  // has ended, the other side is told (EOFError, ChannelClosedError) instead
  // of waiting forever, as when a process's pipe handles close with it.

  /** Records `pid` as a holder of the writing side (`"writer"`) or the reading side. */
  hold(side: "writer" | "reader", pid: number): void {
    const h = this.#h;
    const { base, untracked } = SIDES[side];
    if (pid === 0) return;
    for (let i = base; i < base + HOLDER_SLOTS; i++) if (Atomics.load(h, i) === pid) return;
    for (let i = base; i < base + HOLDER_SLOTS; i++) {
      if (Atomics.compareExchange(h, i, 0, pid) === 0) return;
    }
    // Full: take the slot of a holder that has ended.
    for (let i = base; i < base + HOLDER_SLOTS; i++) {
      const other = Atomics.load(h, i);
      if (!_isAlive(other) && Atomics.compareExchange(h, i, other, pid) === other) return;
    }
    // More live holders than slots: this side's end is no longer inferred.
    Atomics.or(h, UNTRACKED, untracked);
  }

  /** Whether `side` has recorded holders whose ending can be seen (see {@linkcode holdersEnded}). */
  tracked(side: "writer" | "reader"): boolean {
    const h = this.#h;
    const { base, untracked } = SIDES[side];
    if ((Atomics.load(h, UNTRACKED) & untracked) !== 0) return false;
    for (let i = base; i < base + HOLDER_SLOTS; i++) if (Atomics.load(h, i) !== 0) return true;
    return false;
  }

  /**
   * The pids of the holders of `side` when every one recorded has ended, or
   * undefined: while one lives, when none was recorded, or when there were
   * more than could be recorded.
   */
  holdersEnded(side: "writer" | "reader"): number[] | undefined {
    const endings = _endings();
    if (endings === this.#aliveAt[side]) return undefined;
    const h = this.#h;
    const { base, untracked } = SIDES[side];
    const ended: number[] = [];
    if ((Atomics.load(h, UNTRACKED) & untracked) === 0) {
      for (let i = base; i < base + HOLDER_SLOTS; i++) {
        const pid = Atomics.load(h, i);
        if (pid === 0) continue;
        if (_isAlive(pid)) {
          ended.length = 0;
          break;
        }
        ended.push(pid);
      }
    }
    if (ended.length > 0) return ended;
    // A holder recorded later, alive or not, makes no difference until something ends.
    this.#aliveAt[side] = endings;
    return undefined;
  }

  /** Marks the ring closed and wakes everyone who waits on it. */
  close(): void {
    Atomics.store(this.#h, CLOSED, 1);
    this.#wakeAll();
  }

  /** Pipe: the receiving end was closed; senders fail from now on. */
  closeReader(): void {
    Atomics.store(this.#h, READER_CLOSED, 1);
    this.#wakeAll();
  }

  #wakeAll(): void {
    const h = this.#h;
    Atomics.add(h, PUT_SEQ, 1);
    Atomics.add(h, TAKE_SEQ, 1);
    for (const word of [PUT_SEQ, TAKE_SEQ, UNFINISHED]) {
      Atomics.notify(h, word);
      wakeLocal(this.buffer, word);
    }
  }

  // ---- JoinableQueue ------------------------------------------------------

  get unfinished(): number {
    return Atomics.load(this.#h, UNFINISHED);
  }

  /** Counts one item done; false when none was left to count. */
  taskDone(): boolean {
    const h = this.#h;
    for (;;) {
      const n = Atomics.load(h, UNFINISHED);
      if (n <= 0) return false;
      if (Atomics.compareExchange(h, UNFINISHED, n, n - 1) === n) {
        if (n === 1 && Atomics.load(h, JOIN_WAITERS) > 0) {
          Atomics.notify(h, UNFINISHED);
          wakeLocal(this.buffer, UNFINISHED);
        }
        return true;
      }
    }
  }

  // ---- waiting ------------------------------------------------------------

  /** Waits (async) until `attempt` returns something other than `_WOULD_WAIT`. */
  waitForTake<R>(attempt: () => R | typeof _WOULD_WAIT, limits: _Limits): Promise<R> {
    return waitAsync(this.buffer, this.#h, PUT_SEQ, TAKE_WAITERS, attempt, limits);
  }

  /** Waits (async) until `attempt`, a put, stops returning `_WOULD_WAIT`. */
  waitForPut<R>(attempt: () => R | typeof _WOULD_WAIT, limits: _Limits): Promise<R> {
    return waitAsync(this.buffer, this.#h, TAKE_SEQ, PUT_WAITERS, attempt, limits);
  }

  /** Waits (async) until no item is unfinished. */
  waitForJoin(limits: _Limits): Promise<void> {
    const h = this.#h;
    return waitAsync(
      this.buffer,
      h,
      UNFINISHED,
      JOIN_WAITERS,
      () => (Atomics.load(h, UNFINISHED) <= 0 ? undefined : _WOULD_WAIT),
      limits,
    );
  }

  /** `waitForTake`, blocking the thread (workers only). */
  waitForTakeSync<R>(attempt: () => R | typeof _WOULD_WAIT, limits: _SyncLimits): R {
    return waitSync(this.#h, PUT_SEQ, TAKE_WAITERS, attempt, limits);
  }

  /** `waitForPut`, blocking the thread (workers only). */
  waitForPutSync<R>(attempt: () => R | typeof _WOULD_WAIT, limits: _SyncLimits): R {
    return waitSync(this.#h, TAKE_SEQ, PUT_WAITERS, attempt, limits);
  }
}

/** How long an async wait may last, and what ends it early. */
export interface _Limits {
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  /** The error to throw when `timeoutMs` passes. */
  onTimeout: () => Error;
  /** Polling before sleeping (see {@linkcode _Spin}). */
  spin?: _Spin;
  /**
   * While this returns true, asleep waits run `attempt` again every so often
   * (50 ms, doubling up to 1 s), for what no notify reports: a holder that
   * ended. Such a wait keeps the event loop alive.
   */
  recheck?: () => boolean;
}

const FIRST_RECHECK_MS = 50;
const LAST_RECHECK_MS = 1000;

/**
 * Polling before sleeping, kept per channel end. Waking a sleeping thread
 * costs ~40 µs on a quiet machine (its core has gone idle), so a brief poll
 * catches a quick answer far sooner. On a busy machine the poll takes the
 * core the other side needs and misses; after 3 misses in a row the end
 * skips polling for the next 64 waits, then tries again, which bounds what
 * polling can waste to a few percent.
 */
export interface _Spin {
  /** Longest poll, in microseconds (0: never poll). */
  micros: number;
  /** Polls in a row that caught nothing. */
  misses: number;
  /** Waits left that skip polling. */
  skip: number;
}

/** How long a blocking wait may last. */
export interface _SyncLimits {
  timeoutMs: number | undefined;
  onTimeout: () => Error;
  /** Names the call, for the main-thread refusal. */
  what: string;
  /** Polling before sleeping (see {@linkcode _Spin}). */
  spin?: _Spin;
  /** As in {@linkcode _Limits}. */
  recheck?: () => boolean;
}

/** Polls `word` until it moves from `seen` (true) or the spin's time is up (false). */
function polled(h: Int32Array, word: number, seen: number, spin: _Spin): boolean {
  if (spin.micros <= 0) return false;
  if (spin.skip > 0) {
    spin.skip--;
    return false;
  }
  const until = performance.now() + spin.micros / 1000;
  while (Atomics.load(h, word) === seen && performance.now() < until);
  if (Atomics.load(h, word) !== seen) {
    spin.misses = 0;
    return true;
  }
  if (++spin.misses >= 3) {
    spin.misses = 0;
    spin.skip = 64;
  }
  return false;
}

async function waitAsync<R>(
  buffer: SharedArrayBuffer,
  h: Int32Array,
  word: number,
  waiters: number,
  attempt: () => R | typeof _WOULD_WAIT,
  limits: _Limits,
): Promise<R> {
  const { signal, timeoutMs } = limits;
  let stop: { reason: unknown } | undefined;
  // Resolves the current wait: a notify from another thread, a put or take
  // on this thread (see localWaiters), a timeout or an abort.
  let wake: (() => void) | undefined;
  const halt = (reason: unknown) => {
    stop ??= { reason };
    wake?.();
    Atomics.notify(h, word); // frees the pending waitAsync too
  };
  // The main thread times its waits with timers, which also keep its event
  // loop alive (a pending waitAsync does not). A worker's loop stays alive
  // anyway, and its first timer call costs ~3 ms (Deno loads node:timers
  // then), so there each waitAsync carries the time left instead.
  const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
  const disarm = _armWait(
    { timeoutMs: _IN_WORKER ? undefined : timeoutMs, signal },
    halt,
    limits.onTimeout,
  );
  let recheckMs = FIRST_RECHECK_MS;
  try {
    for (;;) {
      const seen = Atomics.load(h, word);
      const result = attempt();
      if (result !== _WOULD_WAIT) return result;
      if (stop) throw stop.reason;
      const left = deadline === undefined ? Infinity : deadline - performance.now();
      if (_IN_WORKER && left <= 0) throw limits.onTimeout();
      if (limits.spin && polled(h, word, seen, limits.spin)) continue;
      Atomics.add(h, waiters, 1);
      const woken = Promise.withResolvers<void>();
      wake = woken.resolve;
      const removeLocal = addLocal(buffer, word, wake);
      const sleepMs = limits.recheck?.() ? recheckMs : undefined;
      if (sleepMs !== undefined) recheckMs = Math.min(recheckMs * 2, LAST_RECHECK_MS);
      const recheck = sleepMs === undefined || _IN_WORKER ? undefined : setTimeout(wake, sleepMs);
      const waitMs = _IN_WORKER ? Math.min(sleepMs ?? Infinity, left) : sleepMs;
      try {
        // With a recheck the wait times out too, so none is left pending per recheck.
        const wait = _waitWord(h, word, seen, waitMs, undefined, false);
        if (wait instanceof Promise) {
          wait.then(wake);
          await woken.promise;
        }
      } finally {
        if (recheck !== undefined) clearTimeout(recheck);
        wake = undefined;
        removeLocal();
        Atomics.sub(h, waiters, 1);
      }
    }
  } finally {
    disarm();
  }
}

function waitSync<R>(
  h: Int32Array,
  word: number,
  waiters: number,
  attempt: () => R | typeof _WOULD_WAIT,
  limits: _SyncLimits,
): R {
  if (!_IN_WORKER) {
    throw new Error(
      `${limits.what} blocks its thread, which the main thread must not do; ` +
        "use the async form (await) there, or call it inside a worker",
    );
  }
  const deadline = limits.timeoutMs === undefined ? Infinity : performance.now() + limits.timeoutMs;
  let recheckMs = FIRST_RECHECK_MS;
  for (;;) {
    const seen = Atomics.load(h, word);
    const result = attempt();
    if (result !== _WOULD_WAIT) return result;
    const left = deadline - performance.now();
    if (left <= 0) throw limits.onTimeout();
    if (limits.spin && polled(h, word, seen, limits.spin)) continue;
    Atomics.add(h, waiters, 1);
    try {
      let sleepMs = left;
      if (limits.recheck?.()) {
        sleepMs = Math.min(left, recheckMs);
        recheckMs = Math.min(recheckMs * 2, LAST_RECHECK_MS);
      }
      Atomics.wait(h, word, seen, sleepMs);
    } finally {
      Atomics.sub(h, waiters, 1);
    }
  }
}

/** Checks a call's `timeoutMs`, naming the call ("Queue", "get()") only when it is wrong. */
export function _timeoutOf(
  timeoutMs: number | undefined,
  owner: string,
  call: string,
): number | undefined {
  return timeoutMs === undefined
    ? undefined
    : _checkTimeout(timeoutMs, `${owner}.${call} timeoutMs`);
}
