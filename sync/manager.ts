/**
 * `Manager`: Python's `multiprocessing.Manager()`, a server that holds dicts,
 * lists, namespaces, values, locks and queues, and hands out proxies that any
 * process can use.
 *
 * @module
 */
import type { StartMethod } from "../runtime/start.ts";
import { _spawnHandle } from "../actors/actor.ts";

/** The manager's actor, as the thread that started it holds it. */
type _ActorHandle = Awaited<ReturnType<typeof _spawnHandle>>;
import { _checkTimeout, _describe, _inspectable } from "../runtime/util.ts";
import type { Permissions } from "../runtime/permissions.ts";
import { _context } from "../runtime/context.ts";
import { ManagerServer } from "./_manager_server.ts";
import {
  _connect,
  type _Connection,
  _makeProxy,
  type _ProxyKind,
  type DictProxy,
  type ListProxy,
  type LockProxy,
  type NamespaceProxy,
  type QueueProxy,
  type ValueProxy,
} from "./proxies.ts";

/** Options for {@linkcode Manager.start}. */
export interface ManagerOptions {
  /**
   * What the manager's worker may do. It needs no I/O, so `"none"` works
   * (with `--unstable-worker-options`, as for any narrowed worker).
   * @default {"inherit"}
   */
  permissions?: Permissions;
  /** The manager's name, used in errors. @default {"Manager-N"} */
  name?: string;
  /**
   * How the manager's server starts: `"thread"` or `"spawn"` (an OS process
   * of its own, reached by bytes; its proxies work the same).
   * @default {getStartMethod()}
   */
  startMethod?: StartMethod;
  /** The server's heap limit in MB; spawn only. */
  memoryLimitMb?: number;
}

/** Options for {@linkcode Manager.queue}. */
export interface ManagerQueueOptions {
  /** Most items the queue holds; `put()` waits while it is full. 0: no bound. @default {0} */
  maxsize?: number;
}

let managers = 0;
let objectCount: (manager: Manager) => Promise<number>;

/** How many objects `manager` holds now: for tests of their lifetimes. */
export function _objectCount(manager: Manager): Promise<number> {
  return objectCount(manager);
}

/**
 * A manager: an actor whose worker holds shared objects, Python's
 * `multiprocessing.Manager()`. `dict()`, `list()`, `namespace()`, `value()`,
 * `lock()` and `queue()` create an object in it and resolve with a proxy.
 * Proxies can be passed in `args` to processes, pool tasks and actors, sent
 * in messages, and stored inside other proxies (a list stored in a dict comes
 * back as a usable list proxy). Every call on a proxy, from any process, is
 * one message to the manager's worker and back, and runs atomically there.
 *
 * Objects are reference-counted, as in Python: each proxy, in any process,
 * holds one reference, and the manager frees an object once none is left. A
 * proxy gives its reference back when `[Symbol.dispose]()` is called (`using`
 * does it at the end of a scope), when it is garbage collected, or when the
 * process holding it ends; a proxy stored in another object is held by that
 * object until it is removed or overwritten, or the object is freed. A proxy
 * on its way to another process keeps its object alive until it arrives.
 *
 * `shutdown()` (or `await using`) stops the manager; later calls on its
 * proxies, anywhere, fail with a `ManagerStoppedError`, and so do calls when
 * the manager's worker is terminated or ends with the process that started it.
 *
 * @example Five processes write into one dict
 * ```ts
 * import { type DictProxy, Manager, Process, task } from "@troupe/troupe";
 *
 * const record = task(
 *   import.meta,
 *   async function record(d: DictProxy<string, number>, i: number) {
 *     await d.set(`key_${i}`, i);
 *   },
 * );
 *
 * if (import.meta.main) {
 *   await using manager = await Manager.start();
 *   const shared = await manager.dict<string, number>();
 *   const ps = [0, 1, 2, 3, 4].map((i) => new Process({ target: record, args: [shared, i] }));
 *   ps.forEach((p) => p.start());
 *   for (const p of ps) await p.join();
 *   console.assert((await shared.size()) === 5);
 * }
 * ```
 */
export class Manager {
  /** The manager's name, used in errors. */
  readonly name: string;
  #id: string;
  #handle: _ActorHandle;
  #conn: _Connection;

  static {
    objectCount = (m) => m.#conn.call(0, "_count", [], "manager._count()") as Promise<number>;
    // console.log(manager): Manager { name: "Manager-1", pid: 1000000003, alive: true }
    _inspectable(this, (m) => ({ name: m.name, pid: m.#handle.pid, alive: m.#handle.alive }));
  }

  private constructor(id: string, handle: _ActorHandle, conn: _Connection) {
    this.#id = id;
    this.name = handle.name;
    this.#handle = handle;
    this.#conn = conn;
  }

  /**
   * Starts a manager in its own worker and resolves once it serves.
   *
   * @param options `permissions` and `name`.
   * @returns The running manager.
   */
  static async start(options: ManagerOptions = {}): Promise<Manager> {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Manager.start() options must be an object, got ${_describe(options)}`);
    }
    const { permissions = "inherit", name = `Manager-${++managers}`, startMethod, memoryLimitMb } =
      options;
    if (typeof name !== "string") {
      throw new TypeError(`Manager.start() name must be a string, got ${_describe(name)}`);
    }
    const id = crypto.randomUUID();
    const { port1, port2 } = new MessageChannel();
    let handle: _ActorHandle;
    try {
      handle = await _spawnHandle(ManagerServer, {
        args: [id, name, port2],
        name,
        permissions,
        startMethod,
        memoryLimitMb,
      });
    } catch (error) {
      port1.close();
      throw error;
    }
    // A manager reached by bytes is in a memory domain of its own: no pipe reaches it.
    const domain = handle.sharesMemory ? _context().domain : `${id}:elsewhere`;
    const conn = _connect(id, name, handle.pid, port1, domain);
    handle.onEnd((exit) => {
      conn.stop(
        exit.code === 0 ? "was shut down" : `${exit.description} (exit code ${exit.code})`,
      );
    });
    return new Manager(id, handle, conn);
  }

  /** The pid of the manager's worker. */
  get pid(): number | undefined {
    return this.#handle.pid;
  }

  /** Whether the manager runs. */
  isAlive(): boolean {
    return this.#handle.alive;
  }

  async #create(kind: _ProxyKind, initial?: unknown, extra?: unknown): Promise<never> {
    const id = await this.#conn.call(0, "create", [kind, initial, extra], `manager.${kind}()`);
    return _makeProxy(kind, id as number, this.#id, this.name, this.pid, this.#conn) as never;
  }

  /**
   * Creates a dict in the manager.
   *
   * @typeParam K The keys: strings, numbers, bigints, booleans, null or undefined.
   * @typeParam V The values.
   * @param initial First entries: a `Map`, `[key, value]` pairs or a plain object.
   * @returns A proxy to it.
   */
  dict<K = string, V = unknown>(
    initial?: Map<K, V> | Iterable<readonly [K, V]> | Record<string, V>,
  ): Promise<DictProxy<K, V>> {
    let pairs: unknown[] | undefined;
    if (initial !== undefined) {
      if (initial instanceof Map || Symbol.iterator in Object(initial)) {
        pairs = Array.from(initial as Iterable<unknown>);
      } else if (typeof initial === "object" && initial !== null) {
        pairs = Object.entries(initial);
      } else {
        return Promise.reject(
          new TypeError(
            `manager.dict() initial must be a Map, [key, value] pairs or a plain object, got ${
              _describe(initial)
            }`,
          ),
        );
      }
    }
    return this.#create("dict", pairs);
  }

  /**
   * Creates a list in the manager.
   *
   * @typeParam T The items.
   * @param initial First items.
   * @returns A proxy to it.
   */
  list<T = unknown>(initial?: Iterable<T>): Promise<ListProxy<T>> {
    return this.#create("list", initial === undefined ? undefined : Array.from(initial));
  }

  /**
   * Creates a namespace (named fields) in the manager.
   *
   * @typeParam T The fields and their types.
   * @param initial First fields.
   * @returns A proxy to it.
   */
  namespace<T extends Record<string, unknown> = Record<string, unknown>>(
    initial?: Partial<T>,
  ): Promise<NamespaceProxy<T>> {
    if (initial !== undefined && (typeof initial !== "object" || initial === null)) {
      return Promise.reject(
        new TypeError(
          `manager.namespace() initial must be a plain object, got ${_describe(initial)}`,
        ),
      );
    }
    return this.#create("namespace", initial && Object.entries(initial));
  }

  /**
   * Creates a single value in the manager.
   *
   * @typeParam T The value's type.
   * @param initial The value.
   * @returns A proxy to it.
   */
  value<T>(initial: T): Promise<ValueProxy<T>> {
    return this.#create("value", initial);
  }

  /**
   * Creates a lock in the manager.
   *
   * @returns A proxy to it.
   */
  lock(): Promise<LockProxy> {
    return this.#create("lock");
  }

  /**
   * Creates a FIFO queue in the manager.
   *
   * @typeParam T The items.
   * @param options `maxsize`.
   * @returns A proxy to it.
   */
  queue<T = unknown>(options: ManagerQueueOptions = {}): Promise<QueueProxy<T>> {
    const maxsize = options.maxsize ?? 0;
    if (!Number.isInteger(maxsize) || maxsize < 0) {
      return Promise.reject(
        new RangeError(`manager.queue() maxsize must be a non-negative integer, got ${maxsize}`),
      );
    }
    return this.#create("queue", undefined, maxsize);
  }

  /**
   * Stops the manager: calls on its proxies, in every process, fail from now
   * on with a `ManagerStoppedError`. Waits at most `timeoutMs` for it to end,
   * then terminates it. Safe to call more than once.
   *
   * @param options `timeoutMs`. @default {{ timeoutMs: 5000 }}
   */
  async shutdown(options: { timeoutMs?: number } = {}): Promise<void> {
    const limit = _checkTimeout(options.timeoutMs, "shutdown() timeoutMs") ?? 5000;
    this.#conn.stop("was shut down");
    await this.#handle.stop(limit);
  }

  /** Ends the manager's worker at once; calls in flight fail with a `ManagerStoppedError`. */
  terminate(): void {
    this.#handle.terminate(-15);
  }

  /** Shuts the manager down (see {@linkcode Manager.shutdown}). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}
