// The parent's side of a worker: how one is started, and the count of live
// ones. The rest of the runtime talks to a worker only through `_Endpoint`, so
// a process kind backed by a subprocess can be added without touching it.
import { _context } from "./_context.ts";
import { _post } from "./_util.ts";
import { _livenessTable, _markEnded, _markStarted } from "./_liveness.ts";
import type {
  ActorSpec,
  InitMessage,
  PoolSpec,
  ProcessSpec,
  ToChild,
  ToParent,
  WireError,
  WireIdentity,
} from "./protocol.ts";
import { type _DenoPermissions, _workerOptionsEnabled } from "./permissions.ts";

/** A started worker as the parent sees it: post to it, or end it. */
export interface _Endpoint {
  post(message: ToChild, transfer?: Transferable[]): void;
  /** Ends the worker at once. Safe to call more than once. */
  terminate(): void;
}

/** What the parent hears from a worker. */
export interface _EndpointEvents {
  message(message: ToParent): void;
  /** The worker failed outside the runtime's reach, e.g. its modules did not load. */
  error(error: WireError): void;
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
  spec: ProcessSpec | PoolSpec | ActorSpec,
): InitMessage {
  const ctx = _context();
  return {
    t: "init",
    self,
    parent: ctx.self,
    childPrefix: `${identity}:`,
    pids: ctx.pids.buffer as SharedArrayBuffer,
    // A worker that got narrowed permissions proves the feature is on.
    workerOptions: permissions !== undefined ? true : _workerOptionsEnabled(),
    liveness: _livenessTable().buffer as SharedArrayBuffer,
    spec,
  };
}

/**
 * Starts a worker whose entry module statically imports the runtime and
 * `modules`: a worker with `permissions: "none"` can load them that way, and
 * still has no read access once running.
 */
export function _spawnWorker(
  name: string,
  modules: string[],
  permissions: _DenoPermissions | undefined,
  events: _EndpointEvents,
): _Endpoint {
  runtimeUrl ??= new URL("./_worker_runtime.ts", import.meta.url).href;
  const source = `import { _main } from ${JSON.stringify(runtimeUrl)};\n` +
    modules.map((m) => `import ${JSON.stringify(m)};\n`).join("") + "_main();\n";
  const url = `data:application/javascript;base64,${btoa(unescape(encodeURIComponent(source)))}`;
  const options: WorkerOptions & { deno?: { permissions: _DenoPermissions } } = {
    type: "module",
    name,
  };
  // Never pass the option for "inherit": without the unstable flag Deno ends
  // the whole process when it sees it.
  if (permissions !== undefined) options.deno = { permissions };
  const worker = new Worker(url, options);
  let ended = false;
  // The worker's pid, learnt from its init message: locks it holds when it ends are reported.
  let pid: number | undefined;
  const endpoint: _Endpoint = {
    post(message, transfer) {
      if (!Array.isArray(message) && message.t === "init") {
        _markStarted(pid = message.self.pid, message.parent.pid);
      }
      _post(worker, message, transfer);
    },
    terminate() {
      if (ended) return;
      ended = true;
      live.delete(endpoint);
      worker.terminate();
      if (pid !== undefined) _markEnded(pid);
    },
  };
  worker.onmessage = (e: MessageEvent<ToParent>) => events.message(e.data);
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    const error = e.error instanceof Error ? e.error : undefined;
    events.error({
      name: error?.name ?? "Error",
      message: (error?.message ?? e.message ?? "worker failed").replace(
        /^Uncaught (\(in promise\) )?/,
        "",
      ),
      stack: error?.stack,
    });
  };
  worker.onmessageerror = () => {
    events.error({
      name: "DataCloneError",
      message: "a message from the worker could not be read",
    });
  };
  live.add(endpoint);
  return endpoint;
}

/** Ends every worker this thread started that is still running; returns how many there were. */
export function _terminateAllWorkers(): number {
  const n = live.size;
  for (const endpoint of [...live]) endpoint.terminate();
  return n;
}
