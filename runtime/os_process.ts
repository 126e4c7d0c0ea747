// The "spawn" start method: a child that is an OS process of its own, a
// `deno run` started with `Deno.Command`, reached by bytes alone.
//
// Its standard streams are the link. The parent writes frames to the child's
// stdin, each in one piece (nobody else writes there); the child writes frames
// to its stderr, and its stdout is the terminal's, as a Python child's is. On
// stderr frames travel in chunks of at most PIPE_BUF bytes, each written by
// one write(2), which POSIX makes atomic on a pipe: text that other code
// writes to the child's stderr meanwhile (its console.error, its threads',
// Deno's own warnings, V8's last words) lands between chunks, never inside
// one, and the parent passes it on to its own stderr. A chunk starts with
// bytes no UTF-8 text holds.
//
// No file, socket or port is shared: a child with no permissions at all can
// still talk to its parent, and to nothing else. When the parent goes, the
// child's stdin ends, and so does the child.
import type { _ByteStream } from "./endpoint.ts";
import { type _DenoPermissions, _ownArgv, _PERMISSION_NAMES } from "./permissions.ts";
import type { WireError } from "./protocol.ts";

// ---- chunks ------------------------------------------------------------------------------------

/** Bytes a pipe writes atomically (POSIX PIPE_BUF on Linux and macOS). */
const PIPE_BUF = 4096;
const HEADER = 8;
/** The room a parent's stream wants before each frame it sends (see `_ByteStream.headroom`). */
export const _OS_HEADROOM = HEADER;
const MAX_PAYLOAD = PIPE_BUF - HEADER;
// 0xFF and 0xFE never occur in UTF-8.
const MARK0 = 0xff, MARK1 = 0xfe, MARK2 = 0x54, MARK3 = 0x52;
// A whole frame in one piece, its length in 32 bits: only on a stream with one writer (stdin).
const LONG3 = 0x4c;
const MORE = 1;
/** Frames a parent sends together, up to this size, go in one write. */
const COALESCE_BYTES = 1 << 16;
/** The largest frame a reader puts together from chunks: a child cannot make its parent hold more. */
const MAX_FRAME = 1 << 30;

function check(lo: number, hi: number, flags: number): number {
  return (lo ^ hi ^ flags ^ 0x5a) & 0xff;
}

/**
 * `frame` as the writes that carry it (see {@linkcode _writeChunked}): for a
 * frame longer than one chunk's payload, one chunk per write.
 */
export function _chunk(frame: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  _writeChunked([frame], new Uint8Array(PIPE_BUF), (bytes) => out.push(bytes.slice()));
  return out;
}

/**
 * `frame` in one piece with a header that gives its length: for a stream
 * that only one writer writes (the child's stdin), which needs no chunks.
 */
export function _whole(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + frame.length);
  out.set(frame, HEADER);
  return wholeInPlace(out);
}

/** `_whole` of what follows the first HEADER bytes of `bytes`, written there. */
function wholeInPlace(bytes: Uint8Array): Uint8Array {
  bytes[0] = MARK0;
  bytes[1] = MARK1;
  bytes[2] = MARK2;
  bytes[3] = LONG3;
  new DataView(bytes.buffer, bytes.byteOffset, HEADER).setUint32(4, bytes.length - HEADER, true);
  return bytes;
}

/**
 * Writes `frames` as chunks, each at most PIPE_BUF bytes with its header (so
 * that no other writer's bytes land inside one), through `stage`, one
 * PIPE_BUF-sized buffer: each write is whole chunks, as many as fit. No
 * buffer per chunk, and memory already touched: first touches of fresh pages
 * cost more here than the copy. `write` must be done with its bytes when it
 * returns.
 */
export function _writeChunked(
  frames: Uint8Array[],
  stage: Uint8Array,
  write: (bytes: Uint8Array) => void,
): void {
  let fill = 0;
  for (const frame of frames) {
    let at = 0;
    do {
      const n = Math.min(MAX_PAYLOAD, frame.length - at);
      if (fill + HEADER + n > PIPE_BUF) {
        write(stage.subarray(0, fill));
        fill = 0;
      }
      const flags = at + n < frame.length ? MORE : 0;
      stage[fill] = MARK0;
      stage[fill + 1] = MARK1;
      stage[fill + 2] = MARK2;
      stage[fill + 3] = MARK3;
      stage[fill + 4] = n & 0xff;
      stage[fill + 5] = n >> 8;
      stage[fill + 6] = flags;
      stage[fill + 7] = check(n & 0xff, n >> 8, flags);
      stage.set(frame.subarray(at, at + n), fill + HEADER);
      fill += HEADER + n;
      at += n;
    } while (at < frame.length);
  }
  if (fill > 0) write(stage.subarray(0, fill));
}

/**
 * Reads a byte stream of chunks and text: whole frames go to `frame`, and
 * everything between chunks to `text`, in order. The frames it gives may be
 * views of what it was pushed: the stream must not reuse those buffers.
 */
export class _ChunkReader {
  #pending = new Uint8Array(0);
  #parts: Uint8Array[] = [];
  #partBytes = 0;
  // A frame in one piece being filled, and how much of it came.
  #long: Uint8Array | undefined;
  #longAt = 0;
  readonly #frame: (frame: Uint8Array) => void;
  readonly #text: (bytes: Uint8Array) => void;
  readonly #whole: boolean;
  readonly #tooLarge: (() => void) | undefined;

  /**
   * @param whole Whether frames in one piece (`_whole`) may come: only from
   * a stream one trusted writer writes. Elsewhere their header is text.
   * @param tooLarge Called, with the frame dropped, when chunks add up to
   * more than MAX_FRAME bytes.
   */
  constructor(
    frame: (frame: Uint8Array) => void,
    text: (bytes: Uint8Array) => void,
    whole = false,
    tooLarge?: () => void,
  ) {
    this.#frame = frame;
    this.#text = text;
    this.#whole = whole;
    this.#tooLarge = tooLarge;
  }

  push(bytes: Uint8Array): void {
    if (this.#long !== undefined) {
      const n = Math.min(bytes.length, this.#long.length - this.#longAt);
      this.#long.set(bytes.subarray(0, n), this.#longAt);
      this.#longAt += n;
      if (this.#longAt < this.#long.length) return;
      const whole = this.#long;
      this.#long = undefined;
      this.#frame(whole);
      if (n === bytes.length) return;
      bytes = bytes.subarray(n);
    }
    let buf = bytes;
    if (this.#pending.length > 0) {
      buf = new Uint8Array(this.#pending.length + bytes.length);
      buf.set(this.#pending);
      buf.set(bytes, this.#pending.length);
      this.#pending = new Uint8Array(0);
    }
    let at = 0;
    while (at < buf.length) {
      const mark = buf.indexOf(MARK0, at);
      if (mark === -1) {
        this.#text(buf.subarray(at));
        return;
      }
      if (mark > at) this.#text(buf.subarray(at, mark));
      if (buf.length - mark < HEADER) {
        // A header cut by the read: the rest comes with the next one.
        this.#pending = buf.slice(mark);
        return;
      }
      if (
        this.#whole && buf[mark + 1] === MARK1 && buf[mark + 2] === MARK2 && buf[mark + 3] === LONG3
      ) {
        const n = new DataView(buf.buffer, buf.byteOffset + mark + 4, 4).getUint32(0, true);
        const start = mark + HEADER;
        if (buf.length - start >= n) {
          this.#frame(buf.subarray(start, start + n));
          at = start + n;
          continue;
        }
        this.#long = new Uint8Array(n);
        this.#long.set(buf.subarray(start));
        this.#longAt = buf.length - start;
        return;
      }
      const lo = buf[mark + 4], hi = buf[mark + 5], flags = buf[mark + 6];
      const n = lo | (hi << 8);
      if (
        buf[mark + 1] !== MARK1 || buf[mark + 2] !== MARK2 || buf[mark + 3] !== MARK3 ||
        n > MAX_PAYLOAD || (flags & ~MORE) !== 0 || buf[mark + 7] !== check(lo, hi, flags)
      ) {
        // Not a chunk: a byte of somebody's output.
        this.#text(buf.subarray(mark, mark + 1));
        at = mark + 1;
        continue;
      }
      if (buf.length - mark < HEADER + n) {
        this.#pending = buf.slice(mark);
        return;
      }
      const payload = buf.subarray(mark + HEADER, mark + HEADER + n);
      at = mark + HEADER + n;
      if (flags & MORE || this.#parts.length > 0) {
        this.#parts.push(payload);
        this.#partBytes += n;
        if (this.#partBytes > MAX_FRAME) {
          this.#parts = [];
          this.#partBytes = 0;
          this.#tooLarge?.();
          continue;
        }
        if (flags & MORE) continue;
        const whole = concat(this.#parts, this.#partBytes);
        this.#parts = [];
        this.#partBytes = 0;
        this.#frame(whole);
      } else this.#frame(payload);
    }
  }

  /** What was left unread when the stream ended: text, as it was not a whole chunk. */
  end(): void {
    if (this.#pending.length > 0) this.#text(this.#pending);
    this.#pending = new Uint8Array(0);
  }
}

/** `parts` end to end (`size` bytes in all, when known); a single part as it is. */
function concat(parts: Uint8Array[], size?: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(size ?? parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// ---- the child's side --------------------------------------------------------------------------

const SPAWNED_KEY = Symbol.for("troupe.spawned");

/** Whether this program is a child started by the "spawn" method (its main module said so). */
export function _isSpawnedChild(): boolean {
  return (globalThis as Record<symbol, unknown>)[SPAWNED_KEY] === true;
}

/**
 * The child's end of its link: frames from stdin, frames to stderr (each
 * write one atomic chunk group). `parentGone` runs when stdin ends: the
 * parent has exited, or closed the link.
 */
export function _parentStream(parentGone: () => void): _ByteStream {
  let queue: Uint8Array[] = [];
  let scheduled = false;
  const stage = new Uint8Array(PIPE_BUF);
  const write = (bytes: Uint8Array) => {
    let at = 0;
    // A write to a pipe of at most PIPE_BUF bytes is whole; a loop all the same.
    while (at < bytes.length) at += Deno.stderr.writeSync(at === 0 ? bytes : bytes.subarray(at));
  };
  const flush = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    try {
      _writeChunked(batch, stage, write);
    } catch {
      // The parent is gone: its end of the pipe closed. Stdin tells the rest.
    }
  };
  return {
    send(bytes) {
      queue.push(bytes);
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    },
    flush,
    listen(receive) {
      const reader = new _ChunkReader(receive, () => {
        // Only the parent writes here: anything else is not ours to read.
      }, true);
      void (async () => {
        try {
          for await (const bytes of Deno.stdin.readable) reader.push(bytes);
        } catch {
          // The pipe broke: the parent is gone.
        }
        parentGone();
      })();
    },
    close() {
      flush();
    },
  };
}

// ---- the parent's side -------------------------------------------------------------------------

/** How an OS child ended, once it has and everything it wrote has been read. */
export interface _OsExit {
  /** Python's exit code: the status, or minus the signal's number. */
  code: number;
  /** Set when the child ran out of memory (its V8 heap reached its limit). */
  error?: WireError;
}

/** What `_startOsProcess` needs besides the stream's events. */
export interface _OsProcessOptions {
  /** The child's name, in errors. */
  name: string;
  /** The module the child runs: the kernel's entry and what it imports. */
  mainModule: string;
  permissions: _DenoPermissions | undefined;
  /** The V8 heap limit (`--max-old-space-size`), in MB. */
  memoryLimitMb?: number;
}

/** A started OS child: its pid, its link, its signals and its end. */
export interface _OsProcess {
  readonly pid: number;
  readonly stream: _ByteStream;
  /** Sends `signal`; nothing once it has exited. */
  kill(signal: "SIGTERM" | "SIGKILL"): void;
  /** Resolves once the process has exited and its output has all been read. */
  readonly exited: Promise<_OsExit>;
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

// What V8 writes as a heap runs out: the parent reads it to tell an OOM from another crash.
const OOM_TEXT = /out of memory|heap limit/i;
// Where V8's report of the last collections starts: not for the user's terminal.
const GC_REPORT = "<--- Last few GCs --->";

/** Starts `deno run` on `options.mainModule` with exactly the rights asked, and links to it. */
export function _startOsProcess(options: _OsProcessOptions): _OsProcess {
  const args = [
    "run",
    "--no-prompt",
    ...resolutionFlags(),
    ..._permissionFlags(options.permissions),
  ];
  if (options.memoryLimitMb !== undefined) {
    args.push(`--v8-flags=--max-old-space-size=${options.memoryLimitMb}`);
  }
  args.push(options.mainModule);
  const child = spawnTiedToThisThread(args);
  const writer = child.stdin.getWriter();
  let queue: Uint8Array[] = [];
  let scheduled = false;
  let closed = false;
  let writing: Promise<void> = Promise.resolve();
  const flush = () => {
    scheduled = false;
    if (closed || queue.length === 0) return;
    const batch = queue;
    queue = [];
    // Small frames in one write; large ones each as they are, not copied again.
    let size = 0;
    for (const bytes of batch) size += bytes.length;
    const parts = size <= COALESCE_BYTES ? [concat(batch, size)] : batch;
    // A child that exited takes nothing more: its end is reported by `exited`.
    for (const bytes of parts) writing = writer.write(bytes).catch(() => {});
  };
  let receive: ((bytes: Uint8Array) => void) | undefined;
  let oom = false;
  let muted = false;
  let tail = "";
  const text = new TextDecoder();
  const reader = new _ChunkReader(
    (frame) => receive?.(frame),
    (bytes) => {
      const s = text.decode(bytes, { stream: true });
      const seen = tail + s;
      if (!oom && OOM_TEXT.test(seen)) oom = true;
      const gc = seen.indexOf(GC_REPORT);
      if (!muted && gc !== -1) {
        muted = true;
        const before = s.slice(0, Math.max(0, gc - tail.length));
        if (before.trim() !== "") writeAll(new TextEncoder().encode(before));
      } else if (!muted) writeAll(bytes);
      tail = seen.slice(-GC_REPORT.length);
    },
    false,
    () => {
      tooLarge = true;
      child.kill("SIGKILL");
    },
  );
  let tooLarge = false;
  const drained = (async () => {
    try {
      for await (const bytes of child.stderr) reader.push(bytes);
    } catch {
      // Read to its end or broken: either way nothing more comes.
    }
    reader.end();
  })();
  const exited = Promise.all([child.status, drained]).then(([status]): _OsExit => {
    closed = true;
    void writing.then(() => writer.close()).catch(() => {});
    const code = status.signal !== null ? -(SIGNALS[status.signal] ?? 1) : status.code;
    if (tooLarge) {
      return {
        code,
        error: {
          name: "DataCloneError",
          message: `${options.name} sent a message of more than ${MAX_FRAME} bytes; it was killed`,
        },
      };
    }
    // V8 ends a process whose heap ran out with a trap: its words alone could be anybody's.
    const crashed = status.signal !== null || status.code >= 128;
    if (crashed && (oom || (options.memoryLimitMb !== undefined && status.signal === "SIGTRAP"))) {
      return {
        code,
        error: {
          name: "MemoryError",
          message: `${options.name} ran out of memory: its V8 heap reached ${
            options.memoryLimitMb === undefined
              ? "V8's default limit"
              : `its limit of ${options.memoryLimitMb} MB (memoryLimitMb)`
          }`,
        },
      };
    }
    return { code };
  });
  return {
    pid: child.pid,
    stream: {
      // The frame's header goes in the room the link leaves before it.
      headroom: _OS_HEADROOM,
      send(bytes) {
        if (closed) return;
        // The parent is the only writer of the child's stdin: no chunks needed.
        queue.push(wholeInPlace(bytes));
        if (!scheduled) {
          scheduled = true;
          queueMicrotask(flush);
        }
      },
      listen(r) {
        receive = r;
      },
      close() {
        flush();
        closed = true;
        // The child reads the end of its stdin as its parent's end.
        void writing.then(() => writer.close()).catch(() => {});
      },
    },
    kill(signal) {
      try {
        child.kill(signal);
      } catch {
        // Exited already.
      }
    },
    exited,
  };
}

// Linux's util-linux `setpriv --pdeathsig`: the kernel kills the child when
// the thread that started it ends, however it ends (SIGKILL included), even
// while the child spins in synchronous code and never reads the end of its
// stdin. Measured (Deno 2.9.6, 2 cores): 0.9 ms more per start, 11.4 -> 12.2 ms
// for a bare `deno run`. Where it is missing, or this program may not run it
// (`--allow-run` for some commands only), the child is started directly and
// leaves when its stdin ends, at its next turn of the event loop.
const SETPRIV = "/usr/bin/setpriv";
let tieWith: "setpriv" | "none" | undefined = Deno.build.os === "linux" ? undefined : "none";

/** Starts `deno <args>` piped as the link wants, killed by the kernel when this thread ends. */
function spawnTiedToThisThread(args: string[]): Deno.ChildProcess {
  const options = { stdin: "piped", stdout: "inherit", stderr: "piped" } as const;
  if (tieWith !== "none") {
    try {
      const child = new Deno.Command(SETPRIV, {
        ...options,
        args: ["--pdeathsig", "SIGKILL", "--", Deno.execPath(), ...args],
      }).spawn();
      tieWith = "setpriv";
      return child;
    } catch (error) {
      // Not there, or not ours to run: once is enough to know.
      if (tieWith === "setpriv") throw error;
      tieWith = "none";
    }
  }
  return new Deno.Command(Deno.execPath(), { ...options, args }).spawn();
}

function writeAll(bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) at += Deno.stderr.writeSync(bytes.subarray(at));
}

// ---- the command line --------------------------------------------------------------------------

type Name = typeof _PERMISSION_NAMES[number];

// The flags of this program's command line a child needs to resolve and load the same modules.
const SUBCOMMANDS = new Set(["run", "test", "bench", "serve", "eval", "repl", "jupyter"]);
const WITH_VALUE = new Set(["--config", "-c", "--import-map", "--lock"]);
const ALONE = new Set([
  "--no-config",
  "--no-lock",
  "--cached-only",
  "--no-remote",
  "--no-npm",
  "--frozen",
  "--vendor",
]);
const PREFIXED = [
  "--config=",
  "--import-map=",
  "--lock=",
  "--node-modules-dir",
  "--frozen=",
  "--vendor=",
];

function resolutionFlags(): string[] {
  const argv = _ownArgv();
  return argv ? _resolutionFlags(argv) : [];
}

/** The flags of the command line `argv` (deno's own, not its script's) that decide how modules resolve. */
export function _resolutionFlags(argv: string[]): string[] {
  const out: string[] = [];
  // argv[0] is deno, then its subcommand (`deno main.ts` has none); Deno's
  // flags end at the script, the first argument that is not one: what
  // follows is the script's own.
  const start = SUBCOMMANDS.has(argv[1] ?? "") ? 2 : 1;
  for (let i = start; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("-")) break;
    if (WITH_VALUE.has(arg) && i + 1 < argv.length) out.push(arg, argv[++i]);
    else if (ALONE.has(arg) || PREFIXED.some((p) => arg.startsWith(p))) out.push(arg);
  }
  return out;
}

/** The parent's own `--allow-<name>` lists, read from its command line. */
function ownAllowLists(): Map<Name, string> {
  const lists = new Map<Name, string>();
  for (const arg of _ownArgv() ?? []) {
    const m = /^--allow-([a-z]+)=(.+)$/.exec(arg);
    if (m && (_PERMISSION_NAMES as readonly string[]).includes(m[1])) lists.set(m[1] as Name, m[2]);
  }
  return lists;
}

/**
 * The `--allow-*` flags that give a child exactly `permissions`: nothing for
 * `"none"`; for `"inherit"` (all, or one kind) what this program holds of it.
 * A permission this program holds only for some items is inherited as the
 * list its own command line gave, or not at all when it cannot tell.
 */
export function _permissionFlags(permissions: _DenoPermissions | undefined): string[] {
  if (permissions === "none") return [];
  const flags: string[] = [];
  let lists: Map<Name, string> | undefined;
  for (const name of _PERMISSION_NAMES) {
    const value = permissions === undefined ? "inherit" : permissions[name];
    if (value === false) continue;
    if (value === true) flags.push(`--allow-${name}`);
    else if (Array.isArray(value)) {
      if (value.length > 0) flags.push(`--allow-${name}=${value.join(",")}`);
    } else if (
      Deno.permissions.querySync({ name } as Deno.PermissionDescriptor).state === "granted"
    ) {
      flags.push(`--allow-${name}`);
    } else {
      lists ??= ownAllowLists();
      const list = lists.get(name);
      if (list !== undefined) flags.push(`--allow-${name}=${list}`);
    }
  }
  return flags;
}
