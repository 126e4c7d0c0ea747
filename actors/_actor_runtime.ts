// The actor behaviour, run inside the actor's worker: construct the instance,
// then take calls one at a time in arrival order and reply. The methods of the
// user's Actor subclass are the callbacks; everything else is here.
import { _outbox, _prepare, _reviveLoading } from "./_clone.ts";
import type { _Inbox } from "./_inbox.ts";
import { _actorMethodError, _setSelfStop, Actor } from "./actor.ts";
import { _toWireError } from "./errors.ts";
import { _adoptSelf } from "./process.ts";
import type {
  ActorCall,
  ActorCallsMessage,
  ActorReply,
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

// Marks the place of a stop request in the queue.
const STOP: unique symbol = Symbol("stop");
type Item = ActorCall | typeof STOP;

/** Serves one actor until it stops or dies; `finish` reports the exit and closes the worker. */
export async function _runActor(spec: ActorSpec, inbox: _Inbox, finish: Finish): Promise<void> {
  _adoptSelf(undefined, inbox);
  const name = _context().self.name;
  const mailbox = spec.mailbox ? new Int32Array(spec.mailbox) : undefined;
  const queue: Item[] = [];
  let head = 0;
  let running = false;
  let stopping = false;
  let instance: Actor | undefined;
  let replies: ActorReply[] = [];
  let transfer: Transferable[] = [];
  let wired = false;
  // Calls whose arguments hold Troupe objects are revived (maybe importing a
  // module) before they join the queue; later messages wait their turn.
  let reviving: Promise<void> | undefined;

  const flush = () => {
    if (replies.length === 0) return;
    const message: ToParent = wired
      ? { t: "replies", replies, wired: true }
      : { t: "replies", replies };
    const sent = replies;
    const moved = transfer;
    replies = [];
    transfer = [];
    wired = false;
    try {
      self.postMessage(message, moved);
    } catch (error) {
      // One value structured clone refused: post them one by one so only its call fails.
      for (const reply of sent) {
        try {
          self.postMessage({ t: "replies", replies: [reply], wired: message.wired }, moved);
        } catch {
          self.postMessage({
            t: "replies",
            replies: [{ id: reply.id, error: _toWireError(error) }],
          });
        }
      }
    }
  };

  const reply = (id: number, method: string, value: unknown) => {
    const out = _outbox();
    try {
      value = _prepare(value, `the value ${name}.${method}() returned`, out);
    } catch (error) {
      replies.push({ id, error: _toWireError(error) });
      return;
    }
    if (out.wired) wired = true;
    for (const t of out.transfer) transfer.push(t);
    replies.push({ id, value });
  };

  const take = (): Item => {
    const item = queue[head];
    queue[head++] = undefined as unknown as Item;
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    if (mailbox && item !== STOP) {
      // The message leaves the mailbox: make room, and wake a waiting sender.
      if (Atomics.sub(mailbox, 0, 1) >= spec.capacity) Atomics.notify(mailbox, 0);
    }
    return item;
  };

  const stop = async (): Promise<void> => {
    flush();
    stopping = true;
    // Nothing should be queued behind a stop, but never leave a caller waiting.
    while (head < queue.length) {
      const item = take();
      if (item !== STOP && item.id !== 0) {
        replies.push({
          id: item.id,
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
      const item = take();
      if (item === STOP) return stop();
      const { id, method, args } = item;
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
        replies.push({ id, error: _toWireError(error) });
      }
      if (stopping) return stop();
    }
    running = false;
    flush();
  };

  const enqueue = (items: Item[]) => {
    for (const item of items) queue.push(item);
    if (!running && instance) void drain();
  };

  const revived = async (message: ActorCallsMessage): Promise<Item[]> => {
    if (!message.wired) return message.calls;
    const calls: ActorCall[] = [];
    for (const call of message.calls) {
      try {
        call.args = await _reviveLoading(call.args) as unknown[];
        calls.push(call);
      } catch (error) {
        if (call.id === 0) throw error;
        replies.push({ id: call.id, error: _toWireError(error) });
      }
    }
    flush();
    return calls;
  };

  self.addEventListener("message", (e) => {
    const message = (e as MessageEvent<ToChild>).data;
    if (message.t !== "stop" && message.t !== "calls") return;
    if (!reviving && (message.t === "stop" || !message.wired)) {
      return enqueue(message.t === "stop" ? [STOP] as Item[] : message.calls);
    }
    const next: Promise<void> = (reviving ?? Promise.resolve())
      .then(() => message.t === "stop" ? [STOP] as Item[] : revived(message))
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
