// The pool engine: warm workers, a FIFO of jobs, one job in flight per worker.
// A worker that dies is replaced; the job it held fails with how it died.
import { _outbox, _prepare } from "../actors/_clone.ts";
import { _nextIdentity, _nextPid } from "../actors/_context.ts";
import { type _Endpoint, _initMessage, _spawnWorker } from "../actors/_worker_host.ts";
import { RemoteError } from "../actors/errors.ts";
import { _assertApplicable, type _DenoPermissions } from "../actors/permissions.ts";
import type { ToParent, WireError, WireTaskRef } from "../actors/protocol.ts";

/** How to run one job: cancel it with a signal or a time limit. */
export interface _JobOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

interface Job {
  id: number;
  ref: WireTaskRef;
  calls: unknown[];
  spread: boolean;
  transfer: Transferable[];
  /** Modules the worker must have imported: the task's, and those reviving Troupe objects in `calls`. */
  modules: string[];
  /** Whether `calls` hold Troupe objects to revive. */
  wired: boolean;
  resolve(values: unknown[]): void;
  reject(error: unknown): void;
  cleanup(): void;
  slot: Slot | undefined;
}

interface Slot {
  endpoint: _Endpoint;
  name: string;
  pid: number;
  modules: Set<string>;
  ready: boolean;
  job: Job | undefined;
  done: number;
  ended: boolean;
}

/** Settings fixed when the engine is made. */
export interface _EngineSettings {
  size: number;
  initializer: WireTaskRef | undefined;
  initArgs: unknown[];
  maxTasksPerChild: number | undefined;
  permissions: _DenoPermissions | undefined;
}

/** The engine behind `Pool` and `ProcessPoolExecutor`. */
export class _PoolEngine {
  #settings: _EngineSettings;
  #queue: Job[] = [];
  #slots = new Set<Slot>();
  #modules = new Set<string>();
  #nextId = 1;
  #state: "open" | "closed" | "terminated" = "open";
  #broken: Error | undefined;
  #idle = Promise.withResolvers<void>();

  #initWired = false;

  constructor(settings: _EngineSettings) {
    if (settings.initializer) this.#modules.add(settings.initializer.module);
    _assertApplicable(settings.permissions, "Pool permissions");
    // Troupe objects in initArgs (a Queue for results...) travel as wire forms.
    const out = _outbox();
    const initArgs = settings.initArgs.map((arg, i) => _prepare(arg, `initArgs[${i}]`, out));
    for (const m of out.modules) this.#modules.add(m);
    this.#initWired = out.wired;
    this.#settings = { ...settings, initArgs };
  }

  /**
   * Runs `ref` once per entry of `calls` in one worker and resolves with the
   * values: each entry is an argument list when `spread`, else the one argument.
   */
  submit(
    ref: WireTaskRef,
    original: unknown[],
    spread: boolean,
    options: _JobOptions = {},
  ): Promise<unknown[]> {
    if (this.#state !== "open") {
      return Promise.reject(new Error(`Pool is ${this.#state}; it takes no new tasks`));
    }
    if (this.#broken) return Promise.reject(this.#broken);
    let calls = original;
    const out = _outbox();
    try {
      if (spread) {
        for (let i = 0; i < calls.length; i++) {
          const args = calls[i] as unknown[];
          let copy: unknown[] | undefined;
          for (let j = 0; j < args.length; j++) {
            const sent = _prepare(
              args[j],
              calls.length > 1 ? `item ${i} args[${j}]` : `args[${j}]`,
              out,
            );
            if (sent !== args[j]) (copy ??= args.slice())[j] = sent;
          }
          if (copy) (calls = calls === original ? calls.slice() : calls)[i] = copy;
        }
      } else {
        for (let i = 0; i < calls.length; i++) {
          const item = calls[i];
          if (typeof item === "object" || typeof item === "function" || typeof item === "symbol") {
            const sent = _prepare(item, `item ${i}`, out);
            if (sent !== item) (calls = calls === original ? calls.slice() : calls)[i] = sent;
          }
        }
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => this.#cancel(job, signal!.reason);
      const job: Job = {
        id: this.#nextId++,
        ref,
        calls,
        spread,
        transfer: out.transfer,
        modules: [ref.module, ...out.modules],
        wired: out.wired,
        resolve,
        reject,
        slot: undefined,
        cleanup: () => {
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        },
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () =>
            this.#cancel(
              job,
              new DOMException(
                `task '${ref.key}' did not finish within ${timeoutMs} ms`,
                "TimeoutError",
              ),
            ),
          timeoutMs,
        );
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      for (const m of job.modules) this.#modules.add(m);
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  #settle(job: Job, error: unknown, values?: unknown[]): void {
    job.cleanup();
    if (error === undefined) job.resolve(values!);
    else job.reject(error);
    this.#checkIdle();
  }

  #cancel(job: Job, reason: unknown): void {
    const i = this.#queue.indexOf(job);
    if (i >= 0) this.#queue.splice(i, 1);
    else if (job.slot && job.slot.job === job) {
      // A running call cannot be interrupted: end its worker; a new one replaces it.
      this.#retire(job.slot);
    } else return;
    this.#settle(job, reason);
    this.#dispatch();
  }

  #dispatch(): void {
    while (this.#queue.length > 0 && this.#state !== "terminated" && !this.#broken) {
      const job = this.#queue[0];
      let slot: Slot | undefined;
      let stale: Slot | undefined;
      for (const s of this.#slots) {
        if (s.job || s.ended) continue;
        if (job.modules.every((m) => s.modules.has(m))) {
          slot = s;
          break;
        }
        stale ??= s;
      }
      if (!slot) {
        if (this.#slots.size < this.#settings.size) slot = this.#spawn();
        else if (stale) {
          // A worker can only run tasks from modules its entry imported.
          this.#retire(stale);
          slot = this.#spawn();
        } else return;
      }
      this.#queue.shift();
      slot.job = job;
      job.slot = slot;
      try {
        slot.endpoint.post(
          job.wired
            ? {
              t: "task",
              id: job.id,
              task: job.ref,
              calls: job.calls,
              spread: job.spread,
              wired: true,
            }
            : { t: "task", id: job.id, task: job.ref, calls: job.calls, spread: job.spread },
          job.transfer,
        );
      } catch (error) {
        slot.job = undefined;
        this.#settle(
          job,
          new TypeError(`task arguments could not be sent: ${(error as Error).message}`),
        );
      }
    }
  }

  #spawn(): Slot {
    const identity = _nextIdentity();
    const name = `PoolWorker-${identity}`;
    const pid = _nextPid();
    const modules = new Set(this.#modules);
    const slot: Slot = {
      endpoint: undefined as unknown as _Endpoint,
      name,
      pid,
      modules,
      ready: false,
      job: undefined,
      done: 0,
      ended: false,
    };
    slot.endpoint = _spawnWorker(name, [...modules], this.#settings.permissions, {
      message: (m) => this.#onMessage(slot, m),
      error: (e) => this.#onDeath(slot, 1, e),
    });
    const init = _initMessage({ name, pid, daemon: true }, identity, this.#settings.permissions, {
      kind: "pool",
      initializer: this.#settings.initializer,
      initArgs: this.#settings.initArgs,
      ...(this.#initWired ? { wired: true } : {}),
    });
    slot.endpoint.post(init);
    this.#slots.add(slot);
    return slot;
  }

  #onMessage(slot: Slot, message: ToParent): void {
    switch (message.t) {
      case "ready":
        slot.ready = true;
        return;
      case "exit":
        return this.#onDeath(slot, message.code, message.error);
      case "result": {
        const job = slot.job;
        if (!job || job.id !== message.id) return;
        slot.job = undefined;
        slot.done++;
        const max = this.#settings.maxTasksPerChild;
        if (max !== undefined && slot.done >= max) this.#retire(slot);
        if (message.error) this.#settle(job, new RemoteError(slot.name, slot.pid, message.error));
        else this.#settle(job, undefined, message.values);
        this.#dispatch();
        return;
      }
    }
  }

  #onDeath(slot: Slot, code: number, error: WireError | undefined): void {
    if (slot.ended) return;
    this.#retire(slot);
    if (!slot.ready && this.#settings.initializer && (code !== 0 || error)) {
      // Restarting would only fail again: fail every call with the initializer's error.
      this.#broken = error
        ? new RemoteError(slot.name, slot.pid, {
          ...error,
          message: `initializer failed: ${error.message}`,
        })
        : new Error(`${slot.name}: the pool initializer ended the worker (exit code ${code})`);
      for (const job of this.#queue.splice(0)) this.#settle(job, this.#broken);
      if (slot.job) this.#settle(slot.job, this.#broken);
      return;
    }
    const job = slot.job;
    if (job) {
      const how = error ? `${error.name}: ${error.message}` : `exit code ${code}`;
      this.#settle(
        job,
        new Error(
          `${slot.name} (pid ${slot.pid}) died while running task '${job.ref.key}' (${how}); the pool replaced it`,
        ),
      );
    }
    this.#dispatch();
  }

  #retire(slot: Slot): void {
    if (slot.ended) return;
    slot.ended = true;
    slot.endpoint.terminate();
    this.#slots.delete(slot);
  }

  #busy(): boolean {
    if (this.#queue.length > 0) return true;
    for (const s of this.#slots) if (s.job) return true;
    return false;
  }

  #checkIdle(): void {
    if (this.#state === "closed" && !this.#busy()) {
      for (const slot of [...this.#slots]) this.#retire(slot);
      this.#idle.resolve();
    }
  }

  /** No new tasks; workers end once the queued ones are done. */
  close(): void {
    if (this.#state !== "open") return;
    this.#state = "closed";
    queueMicrotask(() => this.#checkIdle());
  }

  /** Ends every worker now; queued and running tasks fail. */
  terminate(): void {
    if (this.#state === "terminated") return;
    this.#state = "terminated";
    const error = new Error("Pool was terminated before the task finished");
    const jobs = [...this.#queue.splice(0)];
    for (const slot of [...this.#slots]) {
      if (slot.job) jobs.push(slot.job);
      this.#retire(slot);
    }
    for (const job of jobs) {
      job.cleanup();
      job.reject(error);
    }
    this.#idle.resolve();
  }

  /** Resolves once the pool is closed (or terminated) and every worker has ended. */
  join(): Promise<void> {
    if (this.#state === "open") {
      return Promise.reject(new Error("Pool.join() needs close() or terminate() first"));
    }
    return this.#idle.promise;
  }
}
