/**
 * `Supervisor`: starts children in order, restarts them by Erlang/OTP's rules
 * when they end, and gives up (failing upward) when they need too many restarts.
 *
 * @module
 */
import { _armWait, _settledWithin, _sleep, _timeoutError } from "../runtime/wait.ts";
import type { _ActorHandle } from "./_actor_handle.ts";
import {
  _affected,
  _backoffDelay,
  _recordRestart,
  _shouldRestart,
  type Backoff,
  type RestartType,
  type Strategy,
} from "./_supervision.ts";
import { _checkTimeout, _describe, _inspectable } from "../runtime/util.ts";
import { _Emitter } from "../runtime/events.ts";
import { _makeRef, _refHandle, type ActorRef } from "./actor.ts";
import { _exitReason, ActorExited, EscalationError, type ExitReason } from "./errors.ts";
import { Process } from "./process.ts";

export type { Backoff, RestartType, Strategy } from "./_supervision.ts";

/** What a child spec's `start` may return: an actor reference, a `Process`, or a `Supervisor`. */
export type Supervisable = ActorRef<unknown> | Process | Supervisor;

/** How to start and restart one child. */
export interface ChildSpec {
  /** Names the child within its supervisor. */
  id: string;
  /**
   * Starts the child: `() => spawn(MyActor)`, `() => new Process({ target })`
   * (started for you if it is not yet), or `() => new Supervisor({ ... })`
   * (likewise). Called again for every restart.
   */
  start: () => Supervisable | Promise<Supervisable>;
  /**
   * `"permanent"`: always restarted; `"transient"`: restarted only after an
   * abnormal exit (not code 0); `"temporary"`: never restarted.
   * @default {"permanent"}
   */
  restart?: RestartType;
  /**
   * How a stop goes: ask the child to stop, then terminate it after this many
   * ms (`Infinity`: wait as long as it takes), or `"brutal"`: terminate at once.
   * An actor is asked to stop through its mailbox (it runs `onStop()`); a
   * supervisor stops its own children; a `Process` has no way to be asked, so
   * it is terminated at once.
   * @default {5000} (`Infinity` for a supervisor child)
   */
  shutdownMs?: number | "brutal";
}

/** Options for {@linkcode Supervisor}. */
export interface SupervisorOptions {
  /** Which children are restarted with one that must be. @default {"one_for_one"} */
  strategy?: Strategy;
  /** Most restarts allowed within `periodMs`; one more and the supervisor gives up. @default {1} */
  intensity?: number;
  /** The window that `intensity` counts restarts in. @default {5000} */
  periodMs?: number;
  /** The children, started in this order and stopped in the reverse. @default {[]} */
  children?: ChildSpec[];
  /** Delay restarts in a crash loop (doubling from `minMs` up to `maxMs`). @default {undefined} (restart at once) */
  backoff?: Backoff;
  /** The supervisor's name, used in errors. @default {"Supervisor-N"} */
  name?: string;
}

/** A child as {@linkcode Supervisor.whichChildren} reports it. */
export interface ChildInfo {
  /** The child's id. */
  id: string;
  /** `"running"`, `"restarting"` (ended, a new incarnation is on its way) or `"stopped"`. */
  state: "running" | "restarting" | "stopped";
  /** What the running incarnation is; `null` when none runs. */
  kind: "actor" | "process" | "supervisor" | null;
  /** The child's restart type. */
  restart: RestartType;
  /** How many times this child was restarted. */
  restarts: number;
  /** The running incarnation's name. */
  name: string | undefined;
  /** The running incarnation's pid (an actor's or a process's; the OS pid of a `"spawn"` one). */
  pid: number | undefined;
  /** How long the running incarnation has run, in ms; `undefined` when none runs. */
  uptimeMs: number | undefined;
}

/** The events a supervisor emits, by type, with what each listener receives. */
export interface SupervisorEventMap {
  /** A child started (first start and each restart). */
  start: { id: string; name: string; pid: number | undefined };
  /** A child ended: by itself (`shutdown: false`) or stopped by the supervisor (`true`). */
  exit: { id: string; reason: ExitReason; shutdown: boolean };
  /** A child is about to be started again, after `delayMs` of backoff. */
  restart: { id: string; restarts: number; delayMs: number };
  /** The supervisor gave up; its children are being stopped and it fails with `error`. */
  escalate: { error: EscalationError };
}

interface Running {
  kind: "actor" | "process" | "supervisor";
  name: string;
  pid: number | undefined;
  actor: _ActorHandle | undefined;
  /** The supervisor is stopping it: its exit is not a failure. */
  byUs: boolean;
  /** When the supervisor saw it start (`performance.now()`). */
  startedAt?: number;
  ended: Promise<ExitReason>;
  shutdown(limit: number | "brutal"): Promise<ExitReason>;
}

type CheckedSpec = Required<Omit<ChildSpec, "shutdownMs">> & Pick<ChildSpec, "shutdownMs">;

interface Child {
  spec: CheckedSpec;
  state: "running" | "restarting" | "stopped";
  running: Running | undefined;
  restarts: number;
  waiters: Set<Waiter>;
}

interface Waiter {
  resolve(handle: _ActorHandle): void;
  reject(error: unknown): void;
}

type State = "new" | "starting" | "running" | "stopping" | "stopped" | "failed";

const STRATEGIES: readonly Strategy[] = ["one_for_one", "one_for_all", "rest_for_one"];
const RESTARTS: readonly RestartType[] = ["permanent", "transient", "temporary"];
let count = 0;

/**
 * A supervisor, as in Erlang/OTP: starts its children in order, watches them,
 * and when one ends restarts it (and, by `strategy`, its siblings) according
 * to its restart type. More than `intensity` restarts within `periodMs` and it
 * gives up: it stops every child in reverse start order, emits `"escalate"`,
 * and fails (`done` rejects with an `EscalationError`, which a parent
 * supervisor sees as this child's abnormal exit). Supervisors nest: a child
 * spec's `start` may return one.
 *
 * `sup.ref<MyActor>(id)` is a reference to an actor child that stays valid
 * across restarts.
 *
 * @example
 * ```ts
 * import { Actor, spawn, Supervisor, task } from "@troupe/troupe";
 *
 * export class Counter extends Actor {
 *   n = 0;
 *   inc(by: number): number {
 *     return (this.n += by);
 *   }
 * }
 * task(import.meta, Counter);
 *
 * if (import.meta.main) {
 *   await using sup = new Supervisor({
 *     strategy: "one_for_one",
 *     intensity: 3,
 *     periodMs: 5000,
 *     children: [{ id: "counter", start: () => spawn(Counter), restart: "permanent" }],
 *   });
 *   sup.on("restart", ({ id }) => console.log(`restarting ${id}`));
 *   await sup.start();
 *   const counter = sup.ref<Counter>("counter");
 *   console.assert((await counter.call.inc(2)) === 2);
 * }
 * ```
 */
export class Supervisor {
  readonly #name: string;
  readonly #strategy: Strategy;
  readonly #intensity: number;
  readonly #periodMs: number;
  readonly #backoff: Backoff | undefined;
  #children: Child[] = [];
  #state: State = "new";
  #restartTimes: number[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #halt = new AbortController();
  #done = Promise.withResolvers<void>();
  #failure: Error | undefined;
  #events = new _Emitter<SupervisorEventMap>("Supervisor.on()", [
    "start",
    "exit",
    "restart",
    "escalate",
  ]);
  /** Told when the supervisor ends: references sent to other workers close then. */
  #gone = new Set<(exit: ExitReason) => void>();

  static {
    // console.log(sup): Supervisor { name: "Supervisor-1", strategy: "one_for_one",
    // state: "running", children: { counter: "running" } }
    _inspectable(this, (sup) => ({
      name: sup.#name,
      strategy: sup.#strategy,
      state: sup.#state,
      children: Object.fromEntries(sup.#children.map((c) => [c.spec.id, c.state])),
    }));
  }

  /**
   * Creates a supervisor; its children start with {@linkcode Supervisor.start}.
   *
   * @param options Strategy, intensity, period, children and backoff.
   */
  constructor(options: SupervisorOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Supervisor options must be an object, got ${_describe(options)}`);
    }
    const {
      strategy = "one_for_one",
      intensity = 1,
      periodMs = 5000,
      children = [],
      backoff,
      name,
    } = options;
    if (!STRATEGIES.includes(strategy)) {
      throw new TypeError(
        `Supervisor strategy must be one of ${STRATEGIES.join(", ")}, got ${String(strategy)}`,
      );
    }
    if (!Number.isInteger(intensity) || intensity < 0) {
      throw new RangeError(
        `Supervisor intensity must be a non-negative integer, got ${String(intensity)}`,
      );
    }
    if (typeof periodMs !== "number" || !(periodMs > 0)) {
      throw new RangeError(
        `Supervisor periodMs must be a positive number, got ${String(periodMs)}`,
      );
    }
    if (backoff !== undefined) checkBackoff(backoff);
    if (!Array.isArray(children)) {
      throw new TypeError(`Supervisor children must be an array, got ${_describe(children)}`);
    }
    this.#name = name ?? `Supervisor-${++count}`;
    this.#strategy = strategy;
    this.#intensity = intensity;
    this.#periodMs = periodMs;
    this.#backoff = backoff;
    for (const [i, spec] of children.entries()) this.#add(spec, `children[${i}]`);
    this.#done.promise.catch(() => {}); // failure is reported by done, events and refs
  }

  /** The supervisor's name. */
  get name(): string {
    return this.#name;
  }

  /**
   * Settles when the supervisor ends: resolves after {@linkcode Supervisor.stop},
   * rejects with an `EscalationError` when it gave up (or with the error that
   * failed `start()`).
   */
  get done(): Promise<void> {
    return this.#done.promise;
  }

  /**
   * Listens to an event: `"start"`, `"exit"`, `"restart"` or `"escalate"`.
   *
   * @param type The event.
   * @param listener Called with the event's details.
   * @returns A function that removes the listener.
   */
  on<K extends keyof SupervisorEventMap>(
    type: K,
    listener: (event: SupervisorEventMap[K]) => void,
  ): () => void {
    return this.#events.on(type, listener);
  }

  #emit<K extends keyof SupervisorEventMap>(type: K, event: SupervisorEventMap[K]): void {
    this.#events.emit(type, event);
  }

  /**
   * Starts the children in order. When one fails to start, the ones already
   * started are stopped in reverse order and `start()` rejects naming it.
   */
  start(): Promise<void> {
    if (this.#state !== "new") {
      return Promise.reject(new Error(`${this.#name} was already started`));
    }
    this.#state = "starting";
    return this.#act(async () => {
      for (const child of this.#children) {
        try {
          await this.#launch(child);
        } catch (error) {
          await this.#stopAll();
          const failure = new Error(
            `${this.#name} could not start child '${child.spec.id}': ${message(error)}`,
            { cause: error },
          );
          this.#end("failed", failure);
          throw failure;
        }
      }
      this.#state = "running";
    });
  }

  /**
   * Stops every child in reverse start order (each by its `shutdownMs`), then
   * resolves; `done` resolves too. Does nothing once stopped or failed.
   */
  stop(): Promise<void> {
    if (this.#state === "new") {
      this.#end("stopped", undefined);
      return Promise.resolve();
    }
    this.#halt.abort();
    return this.#act(async () => {
      if (this.#state === "stopped" || this.#state === "failed") return;
      this.#state = "stopping";
      await this.#stopAll();
      this.#end("stopped", undefined);
    });
  }

  /** Stops the supervisor (see {@linkcode Supervisor.stop}). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Adds a child at the end and starts it (when the supervisor runs).
   *
   * @param spec The child's spec; its `id` must be new.
   */
  startChild(spec: ChildSpec): Promise<void> {
    try {
      if (this.#state === "stopping" || this.#state === "stopped" || this.#state === "failed") {
        throw new Error(`${this.#name} is ${this.#state}; it takes no new children`);
      }
      const child = this.#add(spec, "startChild() spec");
      if (this.#state === "new") return Promise.resolve();
      return this.#act(async () => {
        try {
          await this.#launch(child);
        } catch (error) {
          this.#remove(child);
          throw new Error(
            `${this.#name} could not start child '${child.spec.id}': ${message(error)}`,
            { cause: error },
          );
        }
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Stops a child (by its `shutdownMs`) and keeps its spec, so that
   * `restartChild()` can start it again; a `temporary` child's spec is deleted.
   *
   * @param id The child's id.
   */
  terminateChild(id: string): Promise<void> {
    return this.#act(async () => {
      const child = this.#find(id);
      await this.#shutdown(child);
      this.#settleStopped(child, "was terminated by its supervisor");
      if (child.spec.restart === "temporary") this.#remove(child);
    });
  }

  /**
   * Starts a stopped child again (one ended by `terminateChild()`, or a
   * `transient` one that exited normally).
   *
   * @param id The child's id.
   */
  restartChild(id: string): Promise<void> {
    return this.#act(async () => {
      const child = this.#find(id);
      if (child.state !== "stopped") {
        throw new Error(`${this.#name}: child '${id}' is ${child.state}; terminate it first`);
      }
      this.#checkRunning();
      await this.#launch(child);
    });
  }

  /**
   * Deletes a stopped child's spec.
   *
   * @param id The child's id.
   */
  deleteChild(id: string): Promise<void> {
    return this.#act(() => {
      const child = this.#find(id);
      if (child.state !== "stopped") {
        throw new Error(
          `${this.#name}: child '${id}' is ${child.state}; terminateChild() it before deleting it`,
        );
      }
      this.#remove(child);
      return Promise.resolve();
    });
  }

  /** The children in start order, with their state, kind, pid, restart count and uptime. */
  whichChildren(): ChildInfo[] {
    return this.#children.map((c) => ({
      id: c.spec.id,
      state: c.state,
      kind: c.running?.kind ?? null,
      restart: c.spec.restart,
      restarts: c.restarts,
      name: c.running?.name,
      pid: c.running?.pid,
      uptimeMs: c.running?.startedAt === undefined
        ? undefined
        : performance.now() - c.running.startedAt,
    }));
  }

  /**
   * A reference to the actor child `id` that stays valid across restarts:
   * calls made while it restarts wait for the new incarnation (within their
   * `timeoutMs`), and a call in flight when it crashed fails with
   * `ActorExited`. Calls fail once the child is stopped for good or the
   * supervisor has stopped or given up.
   *
   * @typeParam T The actor class.
   * @param id The child's id.
   */
  ref<T>(id: string): ActorRef<T> {
    if (typeof id !== "string") {
      throw new TypeError(`Supervisor.ref() id must be a string, got ${_describe(id)}`);
    }
    return _makeRef<T>({
      current: () => {
        const child = this.#children.find((c) => c.spec.id === id);
        const handle = child?.state === "running" ? child.running?.actor : undefined;
        return handle?.alive ? handle : undefined;
      },
      next: (method, signal, timeoutMs) => this.#waitFor(id, method, signal, timeoutMs),
      label: `child '${id}' of ${this.#name}`,
      onGone: (listener) => {
        if (this.#state === "stopped" || this.#state === "failed") {
          listener(this.#goneReason());
          return () => {};
        }
        this.#gone.add(listener);
        return () => this.#gone.delete(listener);
      },
    });
  }

  // ---- the one place that acts: actions run one at a time, in order --------

  #act<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#chain.then(fn);
    this.#chain = result.catch(() => {});
    return result;
  }

  #add(spec: ChildSpec, where: string): Child {
    const checked = checkSpec(spec, where);
    if (this.#children.some((c) => c.spec.id === checked.id)) {
      throw new Error(`${this.#name} already has a child with id '${checked.id}'`);
    }
    const child: Child = {
      spec: checked,
      state: "stopped",
      running: undefined,
      restarts: 0,
      waiters: new Set(),
    };
    this.#children.push(child);
    return child;
  }

  #remove(child: Child): void {
    const i = this.#children.indexOf(child);
    if (i >= 0) this.#children.splice(i, 1);
    this.#rejectWaiters(child, `was removed from ${this.#name}`);
  }

  #find(id: string): Child {
    const child = this.#children.find((c) => c.spec.id === id);
    if (!child) throw new Error(`${this.#name} has no child with id '${id}'`);
    return child;
  }

  #checkRunning(): void {
    if (this.#state !== "running" && this.#state !== "starting") {
      throw new Error(`${this.#name} is ${this.#state}`);
    }
  }

  /** Starts one incarnation of `child` and watches it. */
  async #launch(child: Child): Promise<void> {
    const value = await child.spec.start();
    const running = value instanceof Supervisor
      ? await value.#asChild()
      : adopt(value, child.spec.id);
    if (this.#halt.signal.aborted && this.#state !== "starting") {
      // Stopped while this child was starting: it must not outlive us.
      running.byUs = true;
      await running.shutdown("brutal");
      throw new Error(`${this.#name} stopped while child '${child.spec.id}' was starting`);
    }
    running.startedAt = performance.now();
    child.running = running;
    child.state = "running";
    running.actor?.onEnd(() => {
      // Flip at once, so that calls made now wait for the restart.
      if (child.running === running && !running.byUs) child.state = "restarting";
    });
    void running.ended.then((reason) => this.#exited(child, running, reason));
    this.#emit("start", { id: child.spec.id, name: running.name, pid: running.pid });
    for (const waiter of [...child.waiters]) {
      if (running.actor) waiter.resolve(running.actor);
      else waiter.reject(notAnActor(child.spec.id, running.kind));
    }
    child.waiters.clear();
  }

  #exited(child: Child, running: Running, reason: ExitReason): void {
    if (child.running !== running || running.byUs) return;
    child.state = "restarting";
    void this.#act(() => this.#handleExit(child, running, reason));
  }

  async #handleExit(child: Child, running: Running, reason: ExitReason): Promise<void> {
    if (child.running !== running || this.#state !== "running") return;
    child.running = undefined;
    this.#emit("exit", { id: child.spec.id, reason, shutdown: false });
    if (!_shouldRestart(child.spec.restart, reason)) {
      this.#settleStopped(child, reason.description);
      if (child.spec.restart === "temporary") this.#remove(child);
      return;
    }
    await this.#restart(child, reason);
  }

  async #restart(failed: Child, reason: ExitReason): Promise<void> {
    const index = this.#children.indexOf(failed);
    // Siblings that are not running (terminated on purpose, or done) stay as they are.
    let group = _affected(this.#strategy, this.#children.length, index)
      .map((i) => this.#children[i])
      .filter((c) => c === failed || c.state !== "stopped");
    let cause = { child: failed, reason };
    while (true) {
      const { times, exceeded } = _recordRestart(
        this.#restartTimes,
        performance.now(),
        this.#intensity,
        this.#periodMs,
      );
      this.#restartTimes = times;
      if (exceeded) return this.#escalate(cause.child, cause.reason, times.length);
      for (const c of group) c.state = "restarting";
      for (const c of [...group].reverse()) await this.#shutdown(c);
      for (const c of group) {
        if (c.spec.restart === "temporary" && c !== cause.child) this.#remove(c);
      }
      group = group.filter((c) => this.#children.includes(c));
      const delayMs = _backoffDelay(this.#backoff, times.length, Math.random());
      for (const c of group) {
        c.restarts++;
        this.#emit("restart", { id: c.spec.id, restarts: c.restarts, delayMs });
      }
      if (delayMs > 0 && !(await this.#sleep(delayMs))) return;
      let failedAt = -1;
      for (const [i, c] of group.entries()) {
        try {
          await this.#launch(c);
        } catch (error) {
          if (this.#halt.signal.aborted) return;
          const why = _exitReason(1, asError(error), `failed to restart: ${message(error)}`);
          this.#emit("exit", { id: c.spec.id, reason: why, shutdown: false });
          cause = { child: c, reason: why };
          failedAt = i;
          break;
        }
      }
      if (failedAt < 0) return;
      group = group.slice(failedAt);
    }
  }

  async #escalate(child: Child, reason: ExitReason, restarts: number): Promise<void> {
    const error = new EscalationError(this.#name, child.spec.id, reason, restarts, this.#periodMs);
    this.#state = "stopping";
    this.#emit("escalate", { error });
    await this.#stopAll();
    this.#end("failed", error);
  }

  /** Stops the child's running incarnation, if any, by its `shutdownMs`. */
  async #shutdown(child: Child): Promise<void> {
    const running = child.running;
    if (!running) return;
    running.byUs = true;
    const limit = child.spec.shutdownMs ?? (running.kind === "supervisor" ? Infinity : 5000);
    const reason = await running.shutdown(limit);
    child.running = undefined;
    this.#emit("exit", { id: child.spec.id, reason, shutdown: true });
  }

  async #stopAll(): Promise<void> {
    for (const child of [...this.#children].reverse()) {
      await this.#shutdown(child);
      child.state = "stopped";
    }
  }

  #end(state: "stopped" | "failed", failure: Error | undefined): void {
    this.#state = state;
    this.#failure = failure;
    this.#halt.abort();
    for (const child of this.#children) {
      child.state = "stopped";
      this.#rejectWaiters(
        child,
        failure ? `is gone: ${failure.message}` : `is gone: ${this.#name} was stopped`,
      );
    }
    if (failure) this.#done.reject(failure);
    else this.#done.resolve();
    const reason = this.#goneReason();
    for (const listener of this.#gone) listener(reason);
    this.#gone.clear();
  }

  #goneReason(): ExitReason {
    const failure = this.#failure;
    return failure
      ? _exitReason(1, null, `is gone: ${failure.message}`)
      : _exitReason(0, null, `is gone: ${this.#name} was stopped`);
  }

  #settleStopped(child: Child, why: string): void {
    child.state = "stopped";
    this.#rejectWaiters(child, why);
  }

  #rejectWaiters(child: Child, why: string): void {
    for (const waiter of [...child.waiters]) {
      waiter.reject(gone(`child '${child.spec.id}' of ${this.#name}`, "a method", why));
    }
    child.waiters.clear();
  }

  /** Sleeps, unless the supervisor stops first; says whether it slept in full. */
  #sleep(ms: number): Promise<boolean> {
    const signal = this.#halt.signal;
    if (signal.aborted) return Promise.resolve(false);
    return _sleep(ms, signal);
  }

  /** For `ref()`: the next incarnation of actor child `id`, within the call's limits. */
  #waitFor(
    id: string,
    method: string,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
  ): Promise<_ActorHandle> {
    const label = `child '${id}' of ${this.#name}`;
    if (this.#state === "stopped" || this.#state === "failed") {
      const why = this.#failure ? `is gone: ${this.#failure.message}` : "is gone: it was stopped";
      return Promise.reject(gone(label, method, why));
    }
    const child = this.#children.find((c) => c.spec.id === id);
    if (!child) return Promise.reject(gone(label, method, "does not exist"));
    if (child.state === "stopped" && this.#state !== "new" && this.#state !== "starting") {
      return Promise.reject(gone(label, method, "is stopped"));
    }
    const running = child.running;
    if (child.state === "running" && running && !running.actor) {
      return Promise.reject(notAnActor(id, running.kind));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const fail = (error: unknown) => {
        child.waiters.delete(waiter);
        reject(
          error instanceof ActorExited ? gone(label, method, error.reason.description) : error,
        );
      };
      const disarm = _armWait(
        { timeoutMs, signal },
        fail,
        () =>
          _timeoutError(`${label} was not running again within ${timeoutMs} ms for ${method}()`),
      );
      const waiter: Waiter = {
        resolve: (handle) => {
          disarm();
          child.waiters.delete(waiter);
          resolve(handle);
        },
        reject: (error) => {
          disarm();
          fail(error);
        },
      };
      child.waiters.add(waiter);
    });
  }

  // ---- a Supervisor as another supervisor's child ----------------------------

  /** This supervisor seen as a child of another. */
  async #asChild(): Promise<Running> {
    if (this.#state === "new") await this.start();
    if (this.#state !== "running") throw new Error(`${this.#name} is ${this.#state}`);
    const ended = this.#done.promise.then(
      () => _exitReason(0, null, "stopped"),
      (error) => _exitReason(1, asError(error)),
    );
    return {
      kind: "supervisor",
      name: this.#name,
      pid: undefined,
      actor: undefined,
      byUs: false,
      ended,
      shutdown: async (limit) => {
        if (limit === "brutal") {
          this.#kill();
          return ended;
        }
        const stopped = this.stop();
        if (limit !== Infinity) {
          await _settledWithin(stopped, limit);
          if (this.#state !== "stopped" && this.#state !== "failed") {
            // Killed: its own stop, queued behind what it was doing, is not waited for.
            stopped.catch(() => {});
            this.#kill();
            await ended;
            return _exitReason(-15, null, `did not stop within ${limit} ms and was terminated`);
          }
        }
        await stopped;
        return ended;
      },
    };
  }

  /** Ends every child at once (brutal), without waiting for actions in progress. */
  #kill(): void {
    if (this.#state === "stopped" || this.#state === "failed") return;
    this.#halt.abort();
    for (const child of [...this.#children].reverse()) {
      const running = child.running;
      if (!running) continue;
      running.byUs = true;
      void running.shutdown("brutal");
      child.running = undefined;
    }
    this.#end("stopped", undefined);
  }
}

/** Adapts an actor reference or a `Process` to what the supervisor watches. */
function adopt(value: unknown, id: string): Running {
  const handle = _refHandle(value);
  if (handle && !handle.owner) {
    throw new TypeError(
      `child '${id}': start() returned a reference received from another thread, which this ` +
        "supervisor cannot stop or restart; spawn the actor in start() instead",
    );
  }
  if (handle) {
    if (!handle.alive) throw new Error(`child '${id}': the actor ${handle.name} already ended`);
    return {
      kind: "actor",
      name: handle.name,
      pid: handle.pid,
      actor: handle,
      byUs: false,
      ended: handle.ended,
      shutdown: (limit) => {
        if (limit !== "brutal") return handle.stop(limit === Infinity ? undefined : limit);
        handle.terminate(-9);
        return handle.ended;
      },
    };
  }
  if (value instanceof Process) {
    const p = value as Process;
    if (p.pid === undefined) p.start();
    else if (p.exitCode !== null) {
      throw new Error(`child '${id}': the process ${p.name} already ended`);
    }
    const ended = p.join().then(
      () => _exitReason(p.exitCode ?? 0, null),
      () => _exitReason(p.exitCode ?? 1, p.error),
    );
    return {
      kind: "process",
      name: p.name,
      pid: p.pid,
      actor: undefined,
      byUs: false,
      ended,
      shutdown: (limit) => {
        // A worker cannot be asked to stop: terminate (or kill, when brutal).
        if (limit === "brutal") p.kill();
        else p.terminate();
        return ended;
      },
    };
  }
  throw new TypeError(
    `child '${id}': start() must return an actor reference (spawn()), a Process or a ` +
      `Supervisor, got ${_describe(value)}`,
  );
}

function checkSpec(spec: ChildSpec, where: string): CheckedSpec {
  if (typeof spec !== "object" || spec === null) {
    throw new TypeError(`${where} must be a child spec object, got ${_describe(spec)}`);
  }
  const { id, start, restart = "permanent", shutdownMs } = spec;
  if (typeof id !== "string" || id.length === 0) {
    throw new TypeError(`${where}.id must be a non-empty string, got ${_describe(id)}`);
  }
  if (typeof start !== "function") {
    throw new TypeError(
      `${where}.start must be a function that starts the child, e.g. () => spawn(MyActor), ` +
        `got ${_describe(start)}`,
    );
  }
  if (!RESTARTS.includes(restart)) {
    throw new TypeError(
      `${where}.restart must be one of ${RESTARTS.join(", ")}, got ${String(restart)}`,
    );
  }
  if (shutdownMs !== undefined && shutdownMs !== "brutal") {
    _checkTimeout(shutdownMs, `${where}.shutdownMs`);
  }
  return { id, start, restart, shutdownMs };
}

function checkBackoff(backoff: Backoff): void {
  if (typeof backoff !== "object" || backoff === null) {
    throw new TypeError(`Supervisor backoff must be an object, got ${_describe(backoff)}`);
  }
  const { minMs, maxMs, jitter = 0 } = backoff;
  if (typeof minMs !== "number" || !(minMs >= 0)) {
    throw new RangeError(`backoff.minMs must be a non-negative number, got ${String(minMs)}`);
  }
  if (typeof maxMs !== "number" || !(maxMs >= minMs)) {
    throw new RangeError(`backoff.maxMs must be a number >= minMs, got ${String(maxMs)}`);
  }
  if (typeof jitter !== "number" || !(jitter >= 0 && jitter <= 1)) {
    throw new RangeError(`backoff.jitter must be between 0 and 1, got ${String(jitter)}`);
  }
}

function gone(label: string, method: string, why: string): ActorExited {
  return new ActorExited(label, undefined, method, _exitReason(0, null, why), false);
}

function notAnActor(id: string, kind: string): TypeError {
  return new TypeError(
    `child '${id}' is a ${kind}, not an actor: Supervisor.ref() only reaches actor children`,
  );
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
