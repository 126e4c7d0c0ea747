/**
 * `getContext(method)`: Python's `multiprocessing.get_context()`, an object
 * whose process-starting names are bound to one start method.
 *
 * @module
 */
import { Process, type ProcessOptions } from "../actors/process.ts";
import { type ActorClass, type ActorRef, spawn, type SpawnOptions } from "../actors/actor.ts";
import { Pool, type PoolOptions } from "./pool.ts";
import { type ExecutorOptions, ProcessPoolExecutor } from "./executor.ts";
import { Manager, type ManagerOptions } from "../sync/manager.ts";
import { _checkMethod, type StartMethod } from "../runtime/start.ts";
import { JoinableQueue, Queue, SimpleQueue } from "../channels/queue.ts";
import { Pipe } from "../channels/pipe.ts";
import { Lock, RLock } from "../sync/lock.ts";
import { BoundedSemaphore, Semaphore } from "../sync/semaphore.ts";
import { Event } from "../sync/event.ts";
import { Condition } from "../sync/condition.ts";
import { Barrier } from "../sync/barrier.ts";
import { RawArray, RawValue, SynchronizedArray, Value } from "../sync/value.ts";

/**
 * Troupe's names with one start method: what `getContext(method)` returns.
 * `Process`, `Pool`, `ProcessPoolExecutor`, `spawn` and `Manager.start`
 * start their children with `startMethod` unless an option says otherwise;
 * the channels and shared-memory objects are the same classes as Troupe's
 * own, here so that code written against a context needs no other import.
 */
export interface TroupeContext {
  /** The start method this context's children get. */
  readonly startMethod: StartMethod;
  /** Returns `startMethod`, as Python's `ctx.get_start_method()`. */
  getStartMethod(): StartMethod;
  /** `Process`, started with this context's method unless told otherwise. */
  readonly Process: typeof Process;
  /** `Pool`, whose workers start with this context's method unless told otherwise. */
  readonly Pool: typeof Pool;
  /** `ProcessPoolExecutor`, likewise. */
  readonly ProcessPoolExecutor: typeof ProcessPoolExecutor;
  /** `spawn()`, likewise. */
  spawn<C extends ActorClass>(
    actor: C,
    options?: SpawnOptions<ConstructorParameters<C>>,
  ): Promise<ActorRef<InstanceType<C>>>;
  /** `Manager.start()`, likewise. */
  startManager(options?: ManagerOptions): Promise<Manager>;
  /** Troupe's `Queue`, the same for every start method. */
  readonly Queue: typeof Queue;
  /** Troupe's `JoinableQueue`, the same for every start method. */
  readonly JoinableQueue: typeof JoinableQueue;
  /** Troupe's `SimpleQueue`, the same for every start method. */
  readonly SimpleQueue: typeof SimpleQueue;
  /** Troupe's `Pipe`, the same for every start method. */
  readonly Pipe: typeof Pipe;
  /** Troupe's `Lock`, the same for every start method. */
  readonly Lock: typeof Lock;
  /** Troupe's `RLock`, the same for every start method. */
  readonly RLock: typeof RLock;
  /** Troupe's `Semaphore`, the same for every start method. */
  readonly Semaphore: typeof Semaphore;
  /** Troupe's `BoundedSemaphore`, the same for every start method. */
  readonly BoundedSemaphore: typeof BoundedSemaphore;
  /** Troupe's `Event`, the same for every start method. */
  readonly Event: typeof Event;
  /** Troupe's `Condition`, the same for every start method. */
  readonly Condition: typeof Condition;
  /** Troupe's `Barrier`, the same for every start method. */
  readonly Barrier: typeof Barrier;
  /** Troupe's `Value`, the same for every start method. */
  readonly Value: typeof Value;
  /** Troupe's `RawValue`, the same for every start method. */
  readonly RawValue: typeof RawValue;
  /** Troupe's `RawArray`, the same for every start method. */
  readonly RawArray: typeof RawArray;
  /** Troupe's `SynchronizedArray`, the same for every start method. */
  readonly SynchronizedArray: typeof SynchronizedArray;
}

const contexts = new Map<StartMethod, TroupeContext>();

/**
 * The context of start method `method`: Troupe's names, with every child
 * they start started that way (an option given to one call still wins).
 * The same object for the same method, as in Python.
 *
 * @example A pool whose workers are OS processes
 * ```ts
 * import { getContext } from "@troupe/troupe";
 *
 * const ctx = getContext("spawn");
 * console.assert(ctx.startMethod === "spawn");
 * // await using pool = new ctx.Pool({ processes: 2 }); // each worker is `deno run`
 * ```
 *
 * @throws {TypeError} When `method` is not a start method.
 */
export function getContext(method: StartMethod): TroupeContext {
  const m = _checkMethod(method, "getContext()");
  let ctx = contexts.get(m);
  if (ctx === undefined) contexts.set(m, ctx = makeContext(m));
  return ctx;
}

function makeContext(startMethod: StartMethod): TroupeContext {
  // A subclass that only fills in the option: a Process subclass that
  // overrides run() is one the user declares with task(), as ever.
  class ContextProcess<A extends unknown[] = unknown[]> extends Process<A> {
    constructor(options: ProcessOptions<A> = {}) {
      super({ startMethod, ...options });
    }
  }
  class ContextPool extends Pool {
    constructor(options: PoolOptions = {}) {
      super({ startMethod, ...options });
    }
  }
  class ContextExecutor extends ProcessPoolExecutor {
    constructor(options: ExecutorOptions = {}) {
      super({ startMethod, ...options });
    }
  }
  Object.defineProperty(ContextProcess, "name", { value: "Process" });
  Object.defineProperty(ContextPool, "name", { value: "Pool" });
  Object.defineProperty(ContextExecutor, "name", { value: "ProcessPoolExecutor" });
  return Object.freeze({
    startMethod,
    getStartMethod: () => startMethod,
    Process: ContextProcess as typeof Process,
    Pool: ContextPool,
    ProcessPoolExecutor: ContextExecutor,
    spawn: <C extends ActorClass>(actor: C, options: SpawnOptions<ConstructorParameters<C>> = {}) =>
      spawn(actor, { startMethod, ...options }),
    startManager: (options: ManagerOptions = {}) => Manager.start({ startMethod, ...options }),
    Queue,
    JoinableQueue,
    SimpleQueue,
    Pipe,
    Lock,
    RLock,
    Semaphore,
    BoundedSemaphore,
    Event,
    Condition,
    Barrier,
    Value,
    RawValue,
    RawArray,
    SynchronizedArray,
  });
}
