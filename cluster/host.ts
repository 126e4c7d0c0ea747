/**
 * A host of a Troupe cluster: a `deno run` process that runs a local `Pool`
 * and takes the cluster's tasks from NATS JetStream, one per idle worker.
 *
 * ```sh
 * deno run -A jsr:@troupe/troupe/host --servers nats://127.0.0.1:4222 --name jobs \
 *   --module ./tasks.ts --processes 4
 * ```
 *
 * It runs only the tasks declared (with `task()`) in the modules it was
 * started with: a task naming any other module or name is refused, and the
 * caller gets a `RemoteError` that says so. While a task runs, the host's
 * main thread tells the server it is working on it (never the busy worker);
 * it publishes the result before it acknowledges the task. On SIGTERM or
 * SIGINT it takes no more tasks, finishes those it holds (for `--drain-ms`
 * at most), hands back the rest, and exits 0.
 *
 * @example Started from code
 * ```ts ignore
 * import { startHost } from "@troupe/troupe/host";
 *
 * const host = await startHost({
 *   servers: "nats://127.0.0.1:4222",
 *   name: "jobs",
 *   modules: [new URL("./tasks.ts", import.meta.url).href],
 *   processes: 2,
 * });
 * await host.stop();
 * ```
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Pool, RemoteError, type StartMethod, type TaskFunction } from "../mod.ts";
import { _remoteToWire, _toWireError } from "../runtime/errors.ts";
import { _taskRef } from "../runtime/task.ts";
import { type _Delivery, _Puller } from "./_pull.ts";
import { _connect, type ConnectOptions } from "./_connect.ts";
import { _ensureStreams, _settings } from "./_streams.ts";
import {
  type _Names,
  _names,
  _pack,
  _readTask,
  type _ResultMessage,
  type _TaskMessage,
} from "./_protocol.ts";
import type { WireError } from "../runtime/protocol.ts";
import type { ClusterOptions } from "./mod.ts";
export type { StartMethod } from "../mod.ts";

/** Options for {@linkcode startHost}. */
export interface HostOptions extends ConnectOptions, Omit<ClusterOptions, keyof ConnectOptions> {
  /** The modules whose tasks this host runs (URLs or paths): nothing else runs. */
  modules: string[];
  /** Workers in the host's local pool. @default {navigator.hardwareConcurrency} */
  processes?: number;
  /** How the local workers start. @default {"thread"} */
  startMethod?: StartMethod;
  /** On stop, how long to wait for the tasks it holds before handing them back. @default {30000} */
  drainMs?: number;
}

/** A running host: `stop()` it, or wait for `closed`. */
export interface Host extends AsyncDisposable {
  /** `hostname:pid`, as results name it. */
  readonly id: string;
  /** Tasks it has finished (with a value or an error). */
  readonly completed: number;
  /** Resolves when the host has stopped. */
  readonly closed: Promise<void>;
  /** Takes no more tasks, finishes those it holds (within `drainMs`), hands back the rest. */
  stop(): Promise<void>;
}

interface Running {
  msg: _Delivery;
  abort: AbortController;
}

/** Starts a host; resolves once it is connected and its modules are loaded. */
export async function startHost(options: HostOptions): Promise<Host> {
  const names = _names(options?.name);
  const settings = _settings(options);
  const tasks = await loadModules(options.modules);
  const processes = options.processes ?? navigator.hardwareConcurrency;
  if (!Number.isInteger(processes) || processes < 1) {
    throw new RangeError(`'processes' must be a positive integer, got ${String(processes)}`);
  }
  const id = `${Deno.hostname()}:${Deno.pid}`;
  const nc = await _connect(options, `troupe host ${id}`);
  try {
    const jsm = await jetstreamManager(nc);
    await _ensureStreams(jsm, names, settings);
  } catch (error) {
    await nc.close();
    throw error;
  }
  const pool = new Pool({ processes, startMethod: options.startMethod, idleTimeoutMs: Infinity });
  return new HostImpl(id, nc, names, settings.ackWaitMs, pool, processes, tasks, options)
    .start();
}

/** Imports each module and lists the tasks it declares: what the host may run, by module URL. */
async function loadModules(modules: unknown): Promise<Map<string, Map<string, TaskFunction>>> {
  if (!Array.isArray(modules) || modules.length === 0) {
    throw new TypeError(
      "a host needs the modules whose tasks it runs: --module ./tasks.ts (one or more); " +
        "it runs nothing else",
    );
  }
  const byModule = new Map<string, Map<string, TaskFunction>>();
  for (const spec of modules) {
    if (typeof spec !== "string") {
      throw new TypeError(`a module must be a URL or a path, got ${spec}`);
    }
    const url = /^[a-z][a-z0-9+.-]*:/i.test(spec)
      ? spec
      : new URL(spec, `file://${Deno.cwd()}/`).href;
    const exports = await import(url) as Record<string, unknown>;
    const keys = new Map<string, TaskFunction>();
    for (const value of Object.values(exports)) {
      const ref = typeof value === "function" ? _taskRef(value as TaskFunction) : undefined;
      if (ref && ref.module === url) keys.set(ref.key, value as TaskFunction);
    }
    if (keys.size === 0) {
      throw new TypeError(
        `${url} exports no task declared with task(): a host runs only the exported tasks of ` +
          "its modules",
      );
    }
    byModule.set(url, keys);
  }
  return byModule;
}

class HostImpl implements Host {
  readonly id: string;
  completed = 0;
  readonly #nc: NatsConnection;
  readonly #names: _Names;
  readonly #ackWaitMs: number;
  readonly #pool: Pool;
  readonly #slots: number;
  readonly #tasks: Map<string, Map<string, TaskFunction>>;
  readonly #drainMs: number;
  readonly #js;
  readonly #running = new Map<string, Running>();
  /** Results being published: a slot pulls its next task meanwhile (its worker is idle). */
  readonly #answering = new Set<Promise<void>>();
  readonly #cancelled = new Set<string>();
  #stopping = false;
  #loops: Promise<void>[] = [];
  readonly #closed = Promise.withResolvers<void>();
  #stopped: Promise<void> | undefined;

  constructor(
    id: string,
    nc: NatsConnection,
    names: _Names,
    ackWaitMs: number,
    pool: Pool,
    slots: number,
    tasks: Map<string, Map<string, TaskFunction>>,
    options: HostOptions,
  ) {
    this.id = id;
    this.#nc = nc;
    this.#names = names;
    this.#ackWaitMs = ackWaitMs;
    this.#pool = pool;
    this.#slots = slots;
    this.#tasks = tasks;
    this.#drainMs = options.drainMs ?? 30_000;
    this.#js = jetstream(nc);
  }

  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  start(): this {
    this.#nc.subscribe(this.#names.cancelSubject, {
      callback: (error, m) => {
        if (error) return;
        const id = m.string();
        const running = this.#running.get(id);
        if (running) running.abort.abort(new DOMException("cancelled by its caller", "AbortError"));
        else if (this.#cancelled.size < 10_000) this.#cancelled.add(id);
      },
    });
    for (let i = 0; i < this.#slots; i++) this.#loops.push(this.#loop());
    return this;
  }

  /** One worker's share: pull a task when idle, run it, answer, repeat. */
  async #loop(): Promise<void> {
    const puller = new _Puller(this.#nc, this.#names.tasks, this.#names.consumer);
    try {
      await this.#pull(puller);
    } finally {
      puller.close();
    }
  }

  async #pull(puller: _Puller): Promise<void> {
    while (!this.#stopping) {
      let msg: _Delivery | null;
      try {
        msg = await puller.next(1000);
      } catch {
        // The server is away (an election, a restart): try again shortly.
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      if (msg === null) continue;
      if (this.#stopping) {
        msg.nak();
        return;
      }
      await this.#run(msg);
    }
  }

  async #run(msg: _Delivery): Promise<void> {
    let task;
    try {
      task = _readTask(msg.data);
    } catch (error) {
      // Not a task any caller of ours sent: dropped, with nobody to tell.
      console.error(`troupe host ${this.id}: dropped a message: ${(error as Error).message}`);
      msg.term();
      return;
    }
    const fn = this.#resolve(task.module, task.key);
    if (typeof fn === "string") {
      await this.#answer(msg, {
        id: task.id,
        ok: false,
        error: _toWireError(new TypeError(fn)),
        host: this.id,
        worker: undefined,
      });
      return;
    }
    const left = task.deadline === undefined ? undefined : task.deadline - Date.now();
    if ((left !== undefined && left <= 0) || this.#cancelled.delete(task.id)) {
      // Its caller has stopped waiting: nothing to run, nobody to answer.
      msg.term();
      return;
    }
    const abort = new AbortController();
    this.#running.set(task.id, { msg, abort });
    // The server hears from this thread while the task runs, never from the busy worker.
    const beat = setInterval(() => msg.working(), Math.max(50, this.#ackWaitMs / 3));
    try {
      if (task.each) return await this.#runEach(msg, task, fn, abort.signal);
      const values = task.spread
        ? await this.#pool.starmap(fn, task.calls as unknown[][], {
          chunksize: task.calls.length,
          timeoutMs: left,
          signal: abort.signal,
        })
        : await this.#pool.map(fn as (x: unknown) => unknown, task.calls, {
          chunksize: task.calls.length,
          timeoutMs: left,
          signal: abort.signal,
        });
      this.#answerLater(msg, { id: task.id, ok: true, values, host: this.id });
    } catch (error) {
      if (error instanceof RemoteError) {
        // The task threw: that is its result, not a reason to run it again.
        this.#answerLater(msg, {
          id: task.id,
          ok: false,
          error: _remoteToWire(error),
          host: this.id,
          worker: error.processName,
        });
      } else if (abort.signal.reason === STOPPING) {
        // Handed back by stop() already: another host runs it.
      } else if (abort.signal.aborted || (error as Error)?.name === "TimeoutError") {
        // Its caller gave up on it: nobody waits for a result.
        msg.term();
      } else {
        // Its worker died under it: another delivery may fare better, up to the limit.
        msg.nak(500);
      }
    } finally {
      clearInterval(beat);
      this.#running.delete(task.id);
    }
  }

  /**
   * Runs the gathered `apply()` calls of one message, spread over the local
   * workers, each with its own outcome. A call whose worker died hands the
   * whole message back (the server delivers it again): the others' values
   * are not kept, since a message is acknowledged whole.
   */
  async #runEach(msg: _Delivery, task: _TaskMessage, fn: TaskFunction, signal: AbortSignal) {
    const outcomes = await Promise.allSettled(
      (task.calls as unknown[][]).map((args) => this.#pool.apply(fn, args as never, { signal })),
    );
    const values: unknown[] = [];
    const failed: [number, WireError, string | undefined][] = [];
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i];
      if (outcome.status === "fulfilled") {
        values.push(outcome.value);
        continue;
      }
      const error = outcome.reason;
      if (!(error instanceof RemoteError)) throw error;
      values.push(undefined);
      failed.push([
        i,
        _remoteToWire(error),
        error.processName,
      ]);
    }
    this.#answerLater(msg, {
      id: task.id,
      ok: true,
      values,
      host: this.id,
      ...(failed.length > 0 ? { failed } : {}),
    });
  }

  /** The task a message names, or why it is refused. */
  #resolve(module: string, key: string): TaskFunction | string {
    let keys = this.#tasks.get(module);
    if (!keys && module.startsWith("file:")) {
      // The same code at another path: a host module with the same file name, if only one.
      const name = module.slice(module.lastIndexOf("/"));
      const same = [...this.#tasks.keys()].filter((m) => m.startsWith("file:") && m.endsWith(name));
      if (same.length === 1) keys = this.#tasks.get(same[0]);
    }
    const fn = keys?.get(key);
    if (fn) return fn;
    return `host ${this.id} refuses task '${key}' of ${module}: it runs only the tasks its ` +
      `modules export (${[...this.#tasks.keys()].join(", ")}). Start hosts with --module for ` +
      "every module whose tasks they should run";
  }

  #answerLater(msg: _Delivery, result: _ResultMessage): void {
    const answered = this.#answer(msg, result);
    this.#answering.add(answered);
    void answered.finally(() => this.#answering.delete(answered));
  }

  /**
   * Publishes a result (again, while the server is away, telling it the task
   * is still in hand), then acknowledges the task: a lost ack only brings a
   * second run, whose result the stream drops by its id. A result that could
   * not be published is handed back, never acknowledged: another delivery
   * publishes it, or the delivery limit fails the call at its caller.
   */
  async #answer(msg: _Delivery, result: _ResultMessage): Promise<void> {
    const subject = this.#names.resultSubject(result.id);
    const data = this.#resultBytes(result);
    for (let attempt = 0; attempt < PUBLISH_TRIES; attempt++) {
      try {
        await this.#js.publish(subject, data, { msgID: `r.${result.id}`, timeout: 5000 });
        this.completed++;
        msg.ack();
        return;
      } catch {
        if (this.#nc.isClosed()) return;
        msg.working();
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 1000)));
      }
    }
    console.error(
      `troupe host ${this.id}: could not publish the result of task ${result.id} ` +
        `${PUBLISH_TRIES} times; it is handed back`,
    );
    msg.nak();
  }

  /**
   * The result's bytes; for a value that cannot be encoded, or whose bytes
   * the server would refuse (over its max_payload), an error result that says
   * so: the caller learns why, and the task is not run again for nothing.
   */
  #resultBytes(result: _ResultMessage): Uint8Array {
    let why: string;
    try {
      const data = _pack(result, "result");
      const max = this.#nc.info?.max_payload;
      if (max === undefined || data.length <= max) return data;
      why = `the task's result is ${data.length} bytes encoded, above the server's max_payload ` +
        `of ${max}: return less (a smaller chunksize, or store the data and return its key)`;
    } catch (error) {
      why = `the task's value cannot be sent: ${(error as Error).message}`;
    }
    return _pack(
      {
        id: result.id,
        ok: false,
        error: _toWireError(new TypeError(why)),
        host: this.id,
        worker: undefined,
      } satisfies _ResultMessage,
      "result",
    );
  }

  stop(): Promise<void> {
    return this.#stopped ??= this.#stop();
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = Promise.all(this.#loops);
    const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), this.#drainMs));
    if (await Promise.race([drained, late]) === "late") {
      // Handed back: another host runs them.
      for (const { msg, abort } of this.#running.values()) {
        msg.nak();
        abort.abort(STOPPING);
      }
    }
    clearTimeout(timer);
    await Promise.allSettled([...this.#answering]);
    this.#pool.terminate();
    await this.#pool.join();
    await this.#nc.drain().catch(() => {});
    this.#closed.resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

// Tries to publish a result (about a minute in all) before it is handed back.
const PUBLISH_TRIES = 60;

// The reason stop() aborts the tasks it handed back with.
const STOPPING = new DOMException("the host is stopping", "AbortError");

const USAGE = `usage: deno run -A jsr:@troupe/troupe/host --servers <url[,url...]> --name <cluster>
       --module <path or URL> [--module ...] [--processes N] [--start-method thread|spawn]
       [--ack-wait-ms 30000] [--max-deliver 4] [--replicas 1] [--drain-ms 30000]
       [--user U --pass P | --token T | --nkey-seed SEED] [--tls] [--tls-ca FILE]`;

/** Reads the host's command line into {@linkcode HostOptions}; throws a `TypeError` with the usage. */
export function parseHostArgs(args: string[]): HostOptions {
  const flags = parseArgs(args, {
    string: [
      "servers",
      "name",
      "module",
      "processes",
      "start-method",
      "ack-wait-ms",
      "max-deliver",
      "replicas",
      "drain-ms",
      "user",
      "pass",
      "token",
      "nkey-seed",
      "tls-ca",
    ],
    boolean: ["tls", "help"],
    collect: ["module"],
    unknown: (arg) => {
      throw new TypeError(`unknown argument ${arg}\n${USAGE}`);
    },
  });
  if (flags.help) throw new TypeError(USAGE);
  if (!flags.servers || !flags.name) {
    throw new TypeError(`--servers and --name are required\n${USAGE}`);
  }
  const number = (value: string | undefined, flag: string) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) {
      throw new TypeError(`--${flag} must be a positive integer, got ${value}`);
    }
    return n;
  };
  const method = flags["start-method"];
  if (method !== undefined && method !== "thread" && method !== "spawn") {
    throw new TypeError(`--start-method must be thread or spawn, got ${method}`);
  }
  return {
    servers: flags.servers,
    name: flags.name,
    modules: flags.module as string[],
    processes: number(flags.processes, "processes"),
    startMethod: method as StartMethod | undefined,
    ackWaitMs: number(flags["ack-wait-ms"], "ack-wait-ms"),
    maxDeliver: number(flags["max-deliver"], "max-deliver"),
    replicas: number(flags.replicas, "replicas"),
    drainMs: number(flags["drain-ms"], "drain-ms"),
    user: flags.user,
    pass: flags.pass,
    token: flags.token,
    nkeySeed: flags["nkey-seed"],
    tls: flags["tls-ca"] ? { caFile: flags["tls-ca"] } : flags.tls || undefined,
  };
}

if (import.meta.main) {
  let options: HostOptions;
  try {
    options = parseHostArgs(Deno.args);
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(2);
  }
  let host: Host;
  try {
    host = await startHost(options);
  } catch (error) {
    console.error(`troupe host: ${(error as Error).message}`);
    Deno.exit(1);
  }
  console.error(`troupe host ${host.id}: serving cluster ${options.name}`);
  const stop = () => void host.stop();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  await host.closed;
  Deno.exit(0);
}
