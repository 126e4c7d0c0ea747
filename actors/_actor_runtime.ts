// The actor behaviour, run inside the actor's worker: construct the instance,
// then take calls one at a time in arrival order and reply. The methods of the
// user's Actor subclass are the callbacks; everything else is here.
import { _outbox, _prepare, _revive, _reviveLoading } from "../runtime/wire.ts";
import { _InOrder } from "../runtime/rpc.ts";
import { _defineBehaviour, type _WorkerSide } from "../runtime/entry.ts";
import { _Replies } from "../runtime/rpc.ts";
import { _toWireError } from "../runtime/errors.ts";
import { _adoptSelf } from "./process.ts";
import type { Connection } from "../channels/pipe.ts";
import {
  type ActorOrderedPayload,
  type ActorSpec,
  type FromActor,
  type PackedCalls,
  type ToActor,
  type TracedMethod,
  unpackCalls,
} from "../runtime/protocol.ts";
import { _resolveTask } from "../runtime/task.ts";
import { _context } from "../runtime/context.ts";
import { _inChildSpan } from "../runtime/trace.ts";

let selfStop: (() => void) | undefined;

/**
 * The base class of actors. A subclass holds the actor's state in its fields;
 * its methods are what callers invoke through an {@linkcode ActorRef}, one call
 * at a time, in arrival order. A method may be async; while it awaits, the
 * next call waits. An error it throws rejects that call with a `RemoteError`,
 * and the actor keeps its state and goes on.
 *
 * Declare the subclass with `task(import.meta, MyActor)` at the top level of
 * its module, and start it with {@linkcode spawn}.
 *
 * @example A counter
 * ```ts
 * import { Actor, spawn, task } from "@troupe/troupe";
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
 *   await using counter = await spawn(Counter);
 *   console.assert((await counter.call.inc(2)) === 2);
 * }
 * ```
 */
export class Actor {
  /**
   * Runs in the actor's worker once it is constructed, before the first call;
   * `spawn()` resolves after it. An error here fails `spawn()`.
   */
  onStart(): void | Promise<void> {}

  /** Runs in the actor's worker when it is asked to stop, after the calls before the request. */
  onStop(): void | Promise<void> {}

  /**
   * From inside the actor: stop normally once the current call is answered
   * (exit code 0; a `transient` supervised actor is then not restarted). Calls
   * still queued are answered with an error.
   */
  stop(): void {
    if (!selfStop) {
      throw new Error(
        "Actor.stop() stops the actor from inside one of its methods; from outside, call ref.stop()",
      );
    }
    selfStop();
  }
}

/** Installs what `Actor.prototype.stop()` does in this worker. */
export function _setSelfStop(stop: () => void): void {
  selfStop = stop;
}

/** The error for a call to something that is not one of the actor's methods. */
export function _actorMethodError(actorName: string, instance: Actor, method: string): TypeError {
  const cls = Object.getPrototypeOf(instance)?.constructor?.name ?? "the actor";
  return new TypeError(
    method in Actor.prototype
      ? `${method}() belongs to Actor itself and cannot be called on ${actorName} by message`
      : `${cls} has no method '${method}' (called on ${actorName})`,
  );
}

// In the queue, a stop request takes the place of a call's id.
const STOP = -1;

// Takes an actor's messages once it runs; says whether it took this one.
let deliver: ((message: ToActor) => boolean) | undefined;

/**
 * Hands a message to the actor this worker runs; false when it runs none, or
 * the message is not an actor's (the worker runtime's one listener asks this
 * first, so an actor's calls cost no second listener).
 */
export function _deliverToActor(message: ToActor): boolean {
  return deliver !== undefined && deliver(message);
}

/** Whether a value can be posted as it is, with no walk (the common case). */
function plain(value: unknown): boolean {
  return value === null || (typeof value !== "object" && typeof value !== "function");
}

/** Serves one actor until it stops or dies; `finish` reports the exit and closes the worker. */
export async function _runActor(spec: ActorSpec, worker: _WorkerSide): Promise<void> {
  const { inbox, finish } = worker;
  _adoptSelf(undefined, inbox);
  const name = _context().self.name;
  const mailbox = spec.mailbox ? new Int32Array(spec.mailbox) : undefined;
  // A bounded mailbox without shared memory (reached by bytes): the room freed is told by message.
  const roomByMessage = mailbox === undefined && spec.capacity > 0;
  let freed = 0;
  // Packed like the calls that arrive: id (or STOP), method, argc, ...args.
  let queue: unknown[] = [];
  let head = 0;
  let running = false;
  let stopping = false;
  let instance: Actor | undefined;
  // The answers of this turn, sent together.
  const replies = new _Replies();
  // Calls whose arguments hold Troupe objects are revived (maybe importing a
  // module) before they join the queue; later messages wait their turn.
  let reviving: Promise<void> | undefined;
  // Calls and answers on a pipe, when the spawning thread made one (see ActorSpec.pipe).
  const pipe = spec.pipe === undefined
    ? undefined
    : _revive(spec.pipe) as Connection<unknown, unknown>;
  // Troupe objects (`byPort`) may hold shared memory, which a pipe would copy.
  const toParent = worker.post as (message: FromActor, transfer?: Transferable[]) => void;
  const post = (message: FromActor, moved: Transferable[], byPort: boolean) => {
    if (pipe && !byPort && moved.length === 0) {
      pipe.send(message).catch(() => toParent(message));
    } else toParent(message, moved);
  };

  const flush = () => {
    replies.flush(post);
    if (freed > 0) {
      toParent({ t: "room", n: freed });
      freed = 0;
    }
  };

  const reply = (id: number, method: string, value: unknown) => {
    if (!plain(value)) {
      const out = _outbox();
      out.to = _context().parent?.pid;
      try {
        value = _prepare(value, `the value ${name}.${method}() returned`, out);
      } catch (error) {
        replies.error({ id, error: _toWireError(error) });
        return;
      }
      return replies.value(id, value, out.transfer, out.wired);
    }
    replies.value(id, value);
  };

  /** Takes the next entry off the queue. */
  const take = (): [id: number, method: string | TracedMethod, args: unknown[]] => {
    const id = queue[head] as number;
    const method = queue[head + 1] as string | TracedMethod;
    const argc = queue[head + 2] as number;
    const args = argc === 0 ? [] : queue.slice(head + 3, head + 3 + argc);
    queue.fill(undefined, head, head + 3 + argc);
    head += 3 + argc;
    if (head > 4096 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    if (mailbox && id !== STOP) {
      // The message leaves the mailbox: make room, and wake a waiting sender.
      if (Atomics.sub(mailbox, 0, 1) >= spec.capacity) Atomics.notify(mailbox, 0);
    } else if (roomByMessage && id !== STOP) freed++;
    return [id, method, args];
  };

  // Async function expressions, not async arrows: V8 takes the build's hint to
  // compile a function with the module (build/eager.ts) for the first only.
  const stop = async function stop(): Promise<void> {
    stopping = true;
    // Nothing should be queued behind a stop, but never leave a caller waiting.
    while (head < queue.length) {
      const [id] = take();
      if (id > 0) {
        replies.error({
          id,
          error: { name: "Error", message: `${name} stopped before handling this call` },
        });
      }
    }
    flush();
    try {
      await instance!.onStop();
    } catch (error) {
      return finish(1, error);
    }
    return finish(0);
  };

  const drain = async function drain(): Promise<void> {
    running = true;
    while (head < queue.length) {
      const [id, called, args] = take();
      if (id === STOP) return stop();
      // A traced call carries its caller's span (see TracedMethod).
      const method = typeof called === "string" ? called : called[0];
      try {
        const fn = (instance as unknown as Record<string, unknown>)[method];
        if (typeof fn !== "function" || method in Actor.prototype) {
          throw _actorMethodError(name, instance!, method);
        }
        let value = typeof called === "string"
          ? fn.apply(instance, args)
          : _inChildSpan(called[1], `actor.handle ${method}`, {
            "troupe.actor": name,
            "troupe.method": method,
          }, () => fn.apply(instance, args));
        if (value instanceof Promise) {
          // Answer the calls already handled before waiting on this one.
          flush();
          value = await value;
        }
        if (id !== 0) reply(id, method, value);
      } catch (error) {
        // A tell has nobody to answer: like an OTP cast that crashes, the actor dies.
        if (id === 0) {
          flush();
          return finish(1, error);
        }
        replies.error({ id, error: _toWireError(error) });
      }
      if (stopping) return stop();
    }
    running = false;
    flush();
  };

  const enqueue = (entries: unknown[]) => {
    for (let i = 0; i < entries.length; i++) queue.push(entries[i]);
    if (!running && instance) void drain();
  };

  const revived = async function revived(calls: PackedCalls): Promise<unknown[]> {
    const kept: unknown[] = [];
    for (const { id, packed } of unpackCalls(calls)) {
      try {
        kept.push(...await _reviveLoading(packed) as unknown[]);
      } catch (error) {
        if (id === 0) throw error;
        replies.error({ id, error: _toWireError(error) });
      }
    }
    flush();
    return kept;
  };

  const STOPPED: unknown[] = [STOP, "", 0];
  // Ordered payloads run in `seq` order, whether they came by pipe or port.
  const inOrder = new _InOrder<ActorOrderedPayload>((payload) => deliver!(payload));
  if (pipe) void inOrder.read(pipe);
  deliver = (message) => {
    let entries: unknown[] | undefined;
    let wiredCalls = false;
    if (typeof message === "string") entries = JSON.parse(message) as unknown[];
    else if (Array.isArray(message)) entries = message;
    else if (message.t === "stop") entries = STOPPED;
    else if (message.t === "ordered") {
      inOrder.take(message.seq, message.payload);
      return true;
    } else if (message.t === "calls") {
      entries = message.calls;
      wiredCalls = true;
    } else return false;
    if (!reviving && !wiredCalls) {
      enqueue(entries);
      return true;
    }
    const ready = entries;
    const next: Promise<void> = (reviving ?? Promise.resolve())
      .then(() => wiredCalls ? revived(ready) : ready)
      .then(enqueue, (error) => finish(1, error))
      .finally(() => {
        if (reviving === next) reviving = undefined;
      });
    reviving = next;
    return true;
  };

  _setSelfStop(() => {
    stopping = true;
  });
  try {
    if (spec.wired) await _reviveLoading(spec.args);
    const target = _resolveTask(spec.task) as unknown as new (...args: unknown[]) => Actor;
    instance = new target(...spec.args);
    await instance.onStart();
  } catch (error) {
    return finish(1, error);
  }
  toParent({ t: "actor-ready" });
  if (stopping) return stop();
  if (head < queue.length) void drain();
}

/** The module an actor's worker imports for its behaviour: this one. */
export const _ACTOR_BEHAVIOUR: string = import.meta.url;

_defineBehaviour<ActorSpec>("actor", {
  run: (spec, worker) => _runActor(spec, worker),
  message: (message) => _deliverToActor(message as ToActor),
});
