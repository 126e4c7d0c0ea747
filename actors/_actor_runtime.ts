// The actor behaviour, run inside the actor's worker: construct the instance,
// then take calls one at a time in arrival order and reply. The methods of the
// user's Actor subclass are the callbacks; everything else is here.
import { _outbox, _prepare, _reviveLoading } from "./_clone.ts";
import type { _Inbox } from "./_inbox.ts";
import { _actorMethodError, _setSelfStop, Actor } from "./actor.ts";
import { _toWireError } from "./errors.ts";
import { _adoptSelf } from "./process.ts";
import type {
  ActorCallsMessage,
  ActorError,
  ActorRepliesMessage,
  ActorSpec,
  ToChild,
  ToParent,
} from "./protocol.ts";
import { _resolveTask } from "./task.ts";
import { _context } from "./_context.ts";

declare const self: {
  postMessage(message: ToParent, transfer?: Transferable[]): void;
  addEventListener(type: string, listener: (e: Event) => void): void;
};

type Finish = (code: number, error?: unknown) => Promise<void>;

// In the queue, a stop request takes the place of a call's id.
const STOP = -1;

/** Whether a value can be posted as it is, with no walk (the common case). */
function plain(value: unknown): boolean {
  return value === null || (typeof value !== "object" && typeof value !== "function");
}

/** Serves one actor until it stops or dies; `finish` reports the exit and closes the worker. */
export async function _runActor(spec: ActorSpec, inbox: _Inbox, finish: Finish): Promise<void> {
  _adoptSelf(undefined, inbox);
  const name = _context().self.name;
  const mailbox = spec.mailbox ? new Int32Array(spec.mailbox) : undefined;
  // Flat triples: id (or STOP), method, args.
  let queue: unknown[] = [];
  let head = 0;
  let running = false;
  let stopping = false;
  let instance: Actor | undefined;
  let values: unknown[] = [];
  let errors: ActorError[] = [];
  let transfer: Transferable[] = [];
  let wired = false;
  // Calls whose arguments hold Troupe objects are revived (maybe importing a
  // module) before they join the queue; later messages wait their turn.
  let reviving: Promise<void> | undefined;

  const flush = () => {
    if (values.length === 0 && errors.length === 0) return;
    const message: ActorRepliesMessage = { t: "replies", values };
    if (errors.length > 0) message.errors = errors;
    if (wired) message.wired = true;
    const moved = transfer;
    values = [];
    errors = [];
    transfer = [];
    wired = false;
    try {
      self.postMessage(message, moved);
    } catch (error) {
      // Structured clone refused a value: post them one by one so only its call fails.
      const { values: sent, errors: failed = [] } = message;
      for (let i = 0; i < sent.length; i += 2) {
        try {
          self.postMessage(
            { t: "replies", values: [sent[i], sent[i + 1]], wired: message.wired },
            moved,
          );
        } catch {
          failed.push({ id: sent[i] as number, error: _toWireError(error) });
        }
      }
      if (failed.length > 0) self.postMessage({ t: "replies", values: [], errors: failed });
    }
  };

  const reply = (id: number, method: string, value: unknown) => {
    if (!plain(value)) {
      const out = _outbox();
      try {
        value = _prepare(value, `the value ${name}.${method}() returned`, out);
      } catch (error) {
        errors.push({ id, error: _toWireError(error) });
        return;
      }
      if (out.wired) wired = true;
      for (const t of out.transfer) transfer.push(t);
    }
    values.push(id, value);
  };

  /** Takes the next entry's id; its method and args are at head - 2 and head - 1. */
  const take = (): number => {
    const id = queue[head] as number;
    queue[head] = queue[head + 1] = queue[head + 2] = undefined;
    head += 3;
    if (head > 3072 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    if (mailbox && id !== STOP) {
      // The message leaves the mailbox: make room, and wake a waiting sender.
      if (Atomics.sub(mailbox, 0, 1) >= spec.capacity) Atomics.notify(mailbox, 0);
    }
    return id;
  };

  const stop = async (): Promise<void> => {
    stopping = true;
    // Nothing should be queued behind a stop, but never leave a caller waiting.
    while (head < queue.length) {
      const id = take();
      if (id > 0) {
        errors.push({
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

  const drain = async (): Promise<void> => {
    running = true;
    while (head < queue.length) {
      const method = queue[head + 1] as string;
      const args = queue[head + 2] as unknown[];
      const id = take();
      if (id === STOP) return stop();
      try {
        const fn = (instance as unknown as Record<string, unknown>)[method];
        if (typeof fn !== "function" || method in Actor.prototype) {
          throw _actorMethodError(name, instance!, method);
        }
        let value = fn.apply(instance, args);
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
        errors.push({ id, error: _toWireError(error) });
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

  const revived = async (message: ActorCallsMessage): Promise<unknown[]> => {
    if (!message.wired) return message.calls;
    const calls = message.calls;
    const kept: unknown[] = [];
    for (let i = 0; i < calls.length; i += 3) {
      const id = calls[i] as number;
      try {
        kept.push(id, calls[i + 1], await _reviveLoading(calls[i + 2]));
      } catch (error) {
        if (id === 0) throw error;
        errors.push({ id, error: _toWireError(error) });
      }
    }
    flush();
    return kept;
  };

  self.addEventListener("message", (e) => {
    const message = (e as MessageEvent<ToChild>).data;
    if (message.t !== "stop" && message.t !== "calls") return;
    if (!reviving && (message.t === "stop" || !message.wired)) {
      return enqueue(message.t === "stop" ? [STOP, "", []] : message.calls);
    }
    const next: Promise<void> = (reviving ?? Promise.resolve())
      .then(() => message.t === "stop" ? [STOP, "", []] : revived(message))
      .then(enqueue, (error) => finish(1, error))
      .finally(() => {
        if (reviving === next) reviving = undefined;
      });
    reviving = next;
  });

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
  self.postMessage({ t: "actor-ready" });
  if (stopping) return stop();
  if (head < queue.length) void drain();
}
