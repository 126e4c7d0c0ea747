/**
 * Troupe's source entry: every public name, from the modules that define it.
 *
 * Users import `mod.ts`, which loads the same code as one bundled module
 * (`dist/troupe.js`, built from this file by `deno task build`): a worker loads
 * one file instead of 38 TypeScript modules, which is most of what a process
 * costs to start. Tests import this file, so they run against the sources.
 *
 * @example
 * ```ts
 * import { cpuCount } from "@troupe/troupe";
 *
 * console.log(cpuCount() > 0);
 * ```
 *
 * @module
 */
export { task, type TaskTarget } from "./runtime/task.ts";
export { cpuCount } from "./runtime/context.ts";
export {
  activeChildren,
  currentProcess,
  mailbox,
  parentProcess,
  Process,
  type ProcessOptions,
  receive,
  type ReceiveOptions,
} from "./actors/process.ts";
export { PermissionError, RemoteError } from "./runtime/errors.ts";
export { getContext, type TroupeContext } from "./pool/context.ts";
export {
  getAllStartMethods,
  getStartMethod,
  setStartMethod,
  type StartMethod,
} from "./runtime/start.ts";
export { ActorExited, EscalationError, type ExitReason, MailboxFull } from "./actors/errors.ts";
export {
  Actor,
  type ActorCallOptions,
  type ActorClass,
  type ActorMethodName,
  ActorRef,
  type Calls,
  type MailboxOptions,
  spawn,
  type SpawnOptions,
  type Tells,
} from "./actors/actor.ts";
export {
  type AsyncCallbacks,
  AsyncResult,
  type CallOptions,
  type MapOptions,
  Pool,
  type PoolOptions,
  type Progress,
  type TaskFunction,
  type TaskResult,
} from "./pool/pool.ts";
export type {
  Percentiles,
  PoolEventMap,
  PoolStats,
  PoolWorkerInfo,
  WorkerExitReason,
} from "./pool/stats.ts";
export type { Permissions, PermissionSet, PermissionValue } from "./runtime/permissions.ts";
export {
  asCompleted,
  CancelledError,
  type Completed,
  type ExecutorMapOptions,
  type ExecutorOptions,
  Future,
  type FutureWaitOptions,
  ProcessPoolExecutor,
  type ReturnWhen,
  type ShutdownOptions,
  wait,
  type WaitResult,
} from "./pool/executor.ts";
export { Lock, type LockGuard, RLock } from "./sync/lock.ts";
export { BoundedSemaphore, Semaphore } from "./sync/semaphore.ts";
export { Event } from "./sync/event.ts";
export { Condition } from "./sync/condition.ts";
export { Barrier } from "./sync/barrier.ts";
export {
  type ElementOf,
  type NumericType,
  type NumericTypeOf,
  RawArray,
  RawValue,
  type SharedTypedArray,
  SynchronizedArray,
  type SynchronizedArrayOptions,
  type TypeCode,
  Value,
  type ValueOptions,
} from "./sync/value.ts";
export { BrokenBarrierError, LockHolderDiedError } from "./sync/errors.ts";
export {
  type Backoff,
  type ChildInfo,
  type ChildSpec,
  type RestartType,
  type Strategy,
  type Supervisable,
  Supervisor,
  type SupervisorEventMap,
  type SupervisorOptions,
} from "./actors/supervisor.ts";
export {
  JoinableQueue,
  Queue,
  type QueueOptions,
  SimpleQueue,
  type SimpleQueueOptions,
} from "./channels/queue.ts";
export { Connection, Pipe, type PipeOptions } from "./channels/pipe.ts";
// Queues, Pipe ends and the shared-memory primitives reach processes that
// share no memory with them through a relay.
import "./channels/relay.ts";
import "./sync/relay.ts";
export { ChannelClosedError, Empty, EOFError, Full } from "./channels/errors.ts";
export type { StandardSchemaV1 } from "./channels/schema.ts";
export type { SyncWaitOptions, WaitOptions } from "./runtime/wait_options.ts";
export { Manager, type ManagerOptions, type ManagerQueueOptions } from "./sync/manager.ts";
export {
  type AnyProxy,
  DictProxy,
  ListProxy,
  LockProxy,
  type ManagerLockGuard,
  NamespaceProxy,
  QueueProxy,
  type QueueWaitOptions,
  ValueProxy,
} from "./sync/proxies.ts";
export { ManagerStoppedError } from "./sync/errors.ts";
