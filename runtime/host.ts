// The parent's side of a worker: how one is started, and the count of live
// ones. The rest of the runtime talks to a worker only through `_Endpoint`
// (runtime/endpoint.ts), so a process kind backed by a subprocess can be
// added without touching it. A worker is reached one of two ways (see
// `_Transport`): sharing this thread's memory, or by bytes alone over a byte
// link, as an OS process or a remote host is reached.
import { _context, _refuseWhileImporting, _reservePids, type _Transport } from "./context.ts";
import { _ByteLink, type _ByteStream, type _Endpoint, _portStream } from "./endpoint.ts";
import { _post } from "./util.ts";
import { _waitWord } from "./wait.ts";
import {
  _endedLog,
  _foreignEndings,
  _forwardEndings,
  _livenessTable,
  _markEnded,
  _markRangeEnded,
  _markStarted,
} from "./liveness.ts";
import type {
  InitMessage,
  ToChild,
  ToParent,
  WireError,
  WireIdentity,
  WorkerSpec,
} from "./protocol.ts";
import { type _DenoPermissions, _workerOptionsEnabled } from "./permissions.ts";
import { _OS_HEADROOM, type _OsProcess, _startOsProcess } from "./os_process.ts";

export type { _Endpoint };

/** What the parent hears from a worker. */
export interface _EndpointEvents {
  message(message: ToParent): void;
  /** The worker failed outside the runtime's reach, e.g. its modules did not load. */
  error(error: WireError): void;
  /**
   * An OS process ended without a word (a signal from outside, out of
   * memory, a crash): its exit code, and what ended it when that is known.
   * Without this handler it is reported as an `error`.
   */
  exit?(code: number, error?: WireError): void;
}

/** How a child is started (see `StartMethod`), and with how much memory. */
export interface _StartOptions {
  /** `"thread"` (a Worker, the default) or `"spawn"` (an OS process). */
  method?: "thread" | "spawn";
  /** The child's V8 heap limit in MB; spawn only. */
  memoryLimitMb?: number;
}

// The module a worker's entry imports `_main` from. From the sources it is the
// runtime's own file; the bundle points it at itself (build/entry.ts), so a
// worker loads one copy of everything. Worked out on first use: parsing a URL
// as the module loads would cost every worker ~40 µs.
let runtimeUrl: string | undefined;
const live = new Set<_Endpoint>();

/** Makes workers import `_main` from `url`, a module that exports it. */
export function _setRuntimeUrl(url: string): void {
  runtimeUrl = url;
}

/**
 * Makes the children this thread starts from now on be reached by `transport`
 * (and theirs too): the test suite runs its scenarios over bytes this way.
 * Returns the transport it replaces.
 */
export function _setTransport(transport: _Transport): _Transport {
  const ctx = _context();
  const was = ctx.transport;
  ctx.transport = transport;
  return was;
}

/** Whether a child started with `start` shares no memory with this thread. */
export function _reachedByBytes(start: _StartOptions): boolean {
  return start.method === "spawn" || _context().transport === "bytes";
}

/** How many workers this thread started that have not ended. */
export function _liveWorkerCount(): number {
  return live.size;
}

/**
 * The init message for a child of this thread: who it is, who its parent is,
 * and what it runs. `identity` is the child's `_nextIdentity()`.
 */
export function _initMessage(
  self: WireIdentity,
  identity: string,
  permissions: _DenoPermissions | undefined,
  spec: WorkerSpec,
): InitMessage {
  const ctx = _context();
  return {
    t: "init",
    self,
    parent: ctx.self,
    childPrefix: `${identity}:`,
    // A worker that got narrowed permissions proves the feature is on.
    workerOptions: permissions !== undefined ? true : _workerOptionsEnabled(),
    // What the worker shares with this thread is filled in as it is posted (see `_spawnWorker`).
    domain: ctx.domain,
    transport: ctx.transport,
    spec,
  };
}

// How a worker gets its modules. Under type checking (`deno test`, `deno run
// --check`) Deno checks the first module graph of every worker as it starts:
// seconds each on a cold cache, and every worker of a pool at once. It checks
// no later import, so a worker that may read its modules imports them from an
// entry that has none of its own. One whose permissions do not let it read
// them can only get them by static import; the first start of such an entry
// goes alone, and the others wait until it has loaded (and its check is in
// Deno's cache).
const loadedEntries = new Map<string, Promise<void> | true>();

/** Where an entry that imports its modules itself keeps the messages that came first. */
export const _EARLY_MESSAGES = "troupe.early-messages";

/**
 * Starts a worker that runs the kernel's `_main` after importing `behaviour`
 * (the module that registers what the worker's spec kind does, see
 * `_defineBehaviour`) and `modules` (the user's, which declare its tasks).
 * A worker with `permissions: "none"` can load them this way, and still has
 * no read access once running.
 *
 * `start` says how (see `_StartOptions`): a thread reached as this thread's
 * `transport` says, or an OS process reached by bytes. The endpoint's
 * `sharesMemory` tells the caller which, before it builds its spec.
 */
export function _spawnWorker(
  name: string,
  behaviour: string,
  modules: string[],
  permissions: _DenoPermissions | undefined,
  events: _EndpointEvents,
  start: _StartOptions = {},
): _Endpoint {
  const spawn = start.method === "spawn";
  const bytes = _reachedByBytes(start);
  _refuseWhileImporting(name);
  runtimeUrl ??= new URL("./entry.ts", import.meta.url).href;
  // From the bundle, the behaviour is the bundle itself: one import.
  const imports = [...new Set([runtimeUrl, behaviour, ...modules])];
  const source = `import { _main } from ${JSON.stringify(runtimeUrl)};\n` +
    imports.slice(1).map((m) => `import ${JSON.stringify(m)};\n`).join("") + "_main();\n";
  let url = dataUrl(source);
  let gate: Promise<void> | true | undefined;
  let loaded: Int32Array | undefined;
  let loadedNotice: PromiseWithResolvers<void> | undefined;
  if (spawn) {
    // `deno run` loads its main module's graph itself, whatever the child may read, and checks none.
    url = dataUrl(`import ${JSON.stringify(dataUrl(SPAWNED_FLAG))};\n${source}`);
  } else if (mayImport(imports, permissions)) {
    // A literal import() would be part of the first graph, and checked. The
    // worker gets its messages from the start: they wait until `_main` runs.
    url = dataUrl(
      `const early = [], hold = (e) => early.push(e);\n` +
        `self.addEventListener("message", hold);\n` +
        `globalThis[Symbol.for(${JSON.stringify(_EARLY_MESSAGES)})] = { early, hold };\n` +
        `const entry = ${JSON.stringify(url)};\nawait import(entry);\n`,
    );
  } else {
    gate = loadedEntries.get(url);
    if (gate === undefined) {
      // The worker's start keeps the program alive meanwhile.
      let settled: Promise<unknown>;
      if (bytes) {
        // Told by message (see InitMessage.tellLoaded), or given up when the worker ends.
        loadedNotice = Promise.withResolvers<void>();
        settled = loadedNotice.promise;
      } else {
        loaded = new Int32Array(new SharedArrayBuffer(4));
        settled = Promise.resolve(_waitWord(loaded, 0, 0, Infinity, undefined, false));
      }
      const done = settled.then(() => {
        loadedEntries.set(url, true);
      });
      loadedEntries.set(url, done);
    }
  }
  const options: WorkerOptions & { deno?: { permissions: _DenoPermissions } } = {
    type: "module",
    name,
  };
  // Never pass the option for "inherit": without the unstable flag Deno ends
  // the whole process when it sees it.
  if (permissions !== undefined) options.deno = { permissions };
  let worker: Worker | undefined;
  let os: _OsProcess | undefined;
  // The OS process said it exits: a moment to do so before it is killed.
  let sawExit = false;
  // Across bytes: everything but the first message (which hands the worker its end) goes by it.
  let link: _ByteLink | undefined;
  let ended = false;
  // Retired with nothing to do: an OS process then exits by itself (see stopOs).
  let idle = false;
  // Messages posted while the worker waits for its entry's first load.
  let queued: [ToChild, Transferable[] | undefined][] | undefined;
  // The worker's pid, learnt from its init message: locks it holds when it ends are reported.
  let pid: number | undefined;
  // Across bytes: the pids the worker's domain gives out, and the forwarding of endings to it.
  let block: [base: number, count: number] | undefined;
  let stopForwarding: (() => void) | undefined;
  // 1 while the worker holds a channel's lock (see _Context.inChannel).
  let inChannel: Int32Array | undefined;
  const send = (message: ToChild, transfer: Transferable[] | undefined) => {
    // A byte link finds the ports inside the message itself, and copies the rest.
    if (link) link.send(message);
    else _post(worker!, message, transfer);
  };
  const endpoint: _Endpoint = {
    sharesMemory: !bytes,
    get osPid() {
      return os?.pid;
    },
    get gone() {
      return os?.exited.then(() => {});
    },
    post(message, transfer) {
      if (!Array.isArray(message) && message.t === "init") {
        _markStarted(pid = message.self.pid, message.parent.pid);
        if (bytes) {
          message.domain = crypto.randomUUID();
          message.pidBlock = block = _reservePids();
          if (loadedNotice) message.tellLoaded = true;
          queueMicrotask(() => {
            if (ended) return;
            stopForwarding = _forwardEndings((ranges) => {
              try {
                send({ t: "ended", ranges }, undefined);
              } catch {
                // Not started yet, or ended: it learns of nothing more.
              }
            });
          });
        } else {
          message.pids = _context().pids.buffer as SharedArrayBuffer;
          message.liveness = _livenessTable().buffer as SharedArrayBuffer;
          message.endedLog = _endedLog().buffer as SharedArrayBuffer;
          message.foreign = _foreignEndings().buffer as SharedArrayBuffer;
          if (loaded) message.loaded = loaded.buffer as SharedArrayBuffer;
          inChannel = new Int32Array(new SharedArrayBuffer(4));
          message.inChannel = inChannel.buffer as SharedArrayBuffer;
        }
      }
      if (worker || link) send(message, transfer);
      // A copy: a caller may reuse its list for the next message.
      else queued?.push([message, transfer && [...transfer]]);
    },
    retire() {
      if (!ended) idle = true;
      endpoint.terminate();
    },
    terminate(signal) {
      if (os) stopOs(os, signal);
      if (ended) return;
      ended = true;
      live.delete(endpoint);
      // Ended first: the worker's next channel operation refuses. One it is
      // inside finishes before this returns (see IN_CHANNEL_WAIT_MS), so none
      // completes after it.
      if (pid !== undefined) _markEnded(pid);
      // Everything in its domain ends with it.
      if (block) _markRangeEnded(block[0] + 1, block[1]);
      stopForwarding?.();
      if (inChannel) waitOutOfChannel(inChannel);
      worker?.terminate();
      // An OS process is told by its stdin's end, besides the signal.
      link?.close();
      // The ones waiting on this start go ahead.
      if (loaded) Atomics.notify(loaded, 0);
      loadedNotice?.resolve();
    },
  };
  const stopOs = (os: _OsProcess, signal: "SIGTERM" | "SIGKILL" | undefined) => {
    if ((!sawExit && !idle) || signal !== undefined) return os.kill(signal ?? "SIGKILL");
    // It reported its exit, or was retired idle and exits at its stdin's end: killed only if it lingers.
    const timer = setTimeout(() => os.kill("SIGKILL"), EXIT_GRACE_MS);
    Deno.unrefTimer(timer);
    void os.exited.then(() => clearTimeout(timer));
  };
  const fromWorker = (message: ToParent) => {
    if (!Array.isArray(message)) {
      if (message.t === "exit") sawExit = true;
      if (message.t === "loaded") return loadedNotice?.resolve();
      if (message.t === "ended") return takeEndings(message.ranges);
    }
    events.message(message);
  };
  // A child may say only that processes of its own domain ended: it cannot end another's in our eyes.
  const takeEndings = (ranges: unknown) => {
    if (!Array.isArray(ranges) || block === undefined) return;
    const [base, count] = block;
    for (let i = 0; i + 1 < ranges.length; i += 2) {
      const first = ranges[i], n = ranges[i + 1];
      if (typeof first !== "number" || typeof n !== "number") continue;
      const from = Math.max(first, base + 1), to = Math.min(first + n, base + count + 1);
      if (to > from) _markRangeEnded(from, to - from);
    }
  };
  // A child that ended by itself, without a word (a crash, a signal from
  // outside), or that wrote what no Troupe child writes: as if terminated,
  // and then told how.
  const endedBy = (code: number, error: WireError | undefined) => {
    if (ended) return;
    endpoint.terminate();
    if (events.exit) events.exit(code, error);
    else {
      events.error(
        error ?? {
          name: "Error",
          message: `${name}${os ? ` (pid ${os.pid})` : ""} exited with code ${code} before it ` +
            "finished",
        },
      );
    }
  };
  const corrupt = (error: WireError) => endedBy(1, error);
  // The OS process starts with the first frame the link could encode: a
  // message that cannot cross (shared memory, say) is refused with no process
  // started. Until then the link's frames go nowhere, and nothing else is sent.
  const startOs = () => {
    let frames: _ByteStream | undefined;
    let receive: ((bytes: Uint8Array) => void) | undefined;
    const open = (): _ByteStream => {
      os = _startOsProcess({
        name,
        mainModule: url,
        permissions,
        memoryLimitMb: start.memoryLimitMb,
      });
      os.stream.listen(receive!);
      void os.exited.then((exit) => endedBy(exit.code, exit.error));
      return os.stream;
    };
    link = new _ByteLink(
      {
        headroom: _OS_HEADROOM,
        send(bytes) {
          if (ended) return;
          (frames ??= open()).send(bytes);
        },
        listen(r) {
          receive = r;
        },
        flush() {
          frames?.flush?.();
        },
        close() {
          frames?.close();
        },
      },
      name,
      true,
      { message: (m) => fromWorker(m as ToParent), error: events.error, corrupt },
    );
  };
  const begin = () => {
    if (ended) return;
    if (spawn) return startOs();
    worker = new Worker(url, options);
    if (bytes) {
      const { port1, port2 } = new MessageChannel();
      worker.postMessage({ t: "link", port: port2 }, [port2]);
      link = new _ByteLink(_portStream(port1), name, true, {
        message: (m) => fromWorker(m as ToParent),
        error: events.error,
        corrupt,
      });
    } else worker.onmessage = (e: MessageEvent<ToParent>) => events.message(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      if (loaded) Atomics.notify(loaded, 0);
      loadedNotice?.resolve();
      events.error(loadError(e));
    };
    worker.onmessageerror = () => {
      events.error({
        name: "DataCloneError",
        message: "a message from the worker could not be read",
      });
    };
  };
  if (gate === undefined || gate === true) begin();
  else {
    queued = [];
    void gate.then(() => {
      begin();
      for (const [message, transfer] of queued!.splice(0)) {
        try {
          if (worker || link) send(message, transfer);
        } catch (error) {
          events.error({
            name: "DataCloneError",
            message: `a message to the worker could not be sent: ${(error as Error).message}`,
          });
        }
      }
      queued = undefined;
    });
  }
  live.add(endpoint);
  return endpoint;
}

// The first module a spawn child evaluates: it tells the kernel it is one (see `_isSpawnedChild`).
const SPAWNED_FLAG = `globalThis[Symbol.for("troupe.spawned")] = true;\n`;

/** How long an OS process that reported its exit has to end before it is killed. */
const EXIT_GRACE_MS = 2000;

function dataUrl(source: string): string {
  return `data:application/javascript;base64,${btoa(unescape(encodeURIComponent(source)))}`;
}

function loadError(e: ErrorEvent): WireError {
  const error = e.error instanceof Error ? e.error : undefined;
  return {
    name: error?.name ?? "Error",
    message: (error?.message ?? e.message ?? "worker failed").replace(
      /^Uncaught (\(in promise\) )?/,
      "",
    ),
    stack: error?.stack,
  };
}

/**
 * Whether a worker with `permissions` may `import()` every one of `urls`
 * itself: read access to local files, import access to remote hosts, each
 * its parent's own (`"inherit"`) or all of it, and held by this thread.
 */
function mayImport(urls: string[], permissions: _DenoPermissions | undefined): boolean {
  if (permissions === "none") return false;
  for (const href of urls) {
    const url = new URL(href);
    if (url.protocol === "data:" || url.protocol === "blob:") continue;
    const name = url.protocol === "file:" ? "read" : "import";
    const given = permissions?.[name] ?? "inherit";
    if (given !== "inherit" && given !== true) return false;
    const descriptor: Deno.PermissionDescriptor = name === "read"
      ? { name, path: url }
      : { name, host: url.host };
    try {
      if (Deno.permissions.querySync(descriptor).state !== "granted") return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Longest a parent waits for a worker it stops to leave a channel operation.
 * The operation takes under a microsecond, but on busy cores the worker's
 * thread may be off its core for a few ms while it holds the lock (2 ms was
 * too short at load 2.5); a worker that writes the word itself costs its
 * parent this long once, when stopped.
 */
const IN_CHANNEL_WAIT_MS = 25;

function waitOutOfChannel(word: Int32Array): void {
  if (Atomics.load(word, 0) === 0) return;
  const until = performance.now() + IN_CHANNEL_WAIT_MS;
  while (Atomics.load(word, 0) !== 0 && performance.now() < until) {
    // A channel operation holds its lock for well under a microsecond.
  }
}

/** Ends every worker this thread started that is still running; returns how many there were. */
export function _terminateAllWorkers(): number {
  const n = live.size;
  for (const endpoint of [...live]) endpoint.terminate();
  return n;
}
