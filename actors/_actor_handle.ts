// The parent's side of one actor incarnation: its worker, the calls awaiting
// replies, the bounded mailbox's room, and how it ended. `ActorRef` and the
// supervisor build on it; a restarted actor is a new handle.
import { _armWait, _settledWithin, _timeoutError, _waitWord } from "../runtime/wait.ts";
import { type Connection, Pipe } from "../channels/pipe.ts";
import { _outbox, _prepare, _reviveLoading } from "../runtime/wire.ts";
import { _Caller, _JSON_MAX, _jsonExact, _settlePacked } from "../runtime/rpc.ts";
import { _checkTimeout, _post } from "../runtime/util.ts";
import { _initMessage, _spawnWorker, type _StartOptions } from "../runtime/host.ts";
import { _ACTOR_BEHAVIOUR } from "./_actor_runtime.ts";
import { _exitReason, ActorExited, type ExitReason, MailboxFull } from "./errors.ts";
import { _remoteToWire, RemoteError } from "../runtime/errors.ts";
import { _endCall, _outcomeOf, _startCall, _traceparent, _TRACING } from "../runtime/trace.ts";
import type { _DenoPermissions } from "../runtime/permissions.ts";
import {
  type ActorError,
  type ActorSpec,
  type FromActor,
  type FromBridge,
  methodName,
  packCall,
  type ToActor,
  type ToBridge,
  type ToChild,
  unpackCalls,
  type WireError,
  type WireExit,
} from "../runtime/protocol.ts";

// Each spawned actor's pipe buffers, per direction; a bigger message takes the port.
const PIPE_BYTES = 1 << 18;

/** Options of one call or tell. */
export interface _SendOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  wait?: boolean;
}

interface Pending {
  method: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface RoomWaiter {
  method: string;
  go(): void;
  fail(error: unknown): void;
}

const RESOLVED = Promise.resolve();
const NONE: Transferable[] = [];

/** Whether a value can be posted as it is, with no walk (the common case). */
function plain(value: unknown): boolean {
  return value === null || (typeof value !== "object" && typeof value !== "function");
}

/** Where an actor's messages go: its worker, or a travelled reference's bridge. */
interface ActorEndpoint {
  post(message: ToActor | ToBridge, transfer?: Transferable[]): void;
  terminate(): void;
}

/** What the handle needs to start its worker. */
export interface _ActorStart {
  name: string;
  pid: number;
  identity: string;
  permissions: _DenoPermissions | undefined;
  /** Thread or OS process (see `_StartOptions`). */
  start: _StartOptions;
  spec: ActorSpec;
  modules: string[];
  transfer: Transferable[];
}

/** A reference that travelled here: its name, and the port to the owner's bridge. */
export interface _ActorPort {
  name: string;
  pid: number | undefined;
  port: MessagePort;
}

/**
 * One running actor, as the thread that spawned it sees it; or, over a port,
 * as a thread that received a reference to it sees it (`owner` false).
 */
export class _ActorHandle {
  readonly name: string;
  readonly pid: number | undefined;
  /** Whether this thread spawned the actor (and so may stop it). */
  readonly owner: boolean;
  /** Resolves once the actor is constructed and serves calls; rejects when it ends first. */
  readonly ready: Promise<void>;
  /** Resolves with how the actor ended. */
  readonly ended: Promise<ExitReason>;
  exit: ExitReason | undefined;
  #state: "starting" | "running" | "stopping" | "ended" = "starting";
  #endpoint: ActorEndpoint;
  #mailbox: Int32Array | undefined;
  /**
   * The actor is reached by bytes: `#mailbox` is this thread's own count,
   * lowered as the actor tells the room it freed (see ActorRoomMessage), and
   * `#room` wakes the senders waiting for it.
   */
  #roomByMessage = false;
  #room: PromiseWithResolvers<void> | undefined;
  #sharesMemory = true;
  #capacity: number;
  /** Calls in flight and the batch not yet posted, packed: id, method, argc, ...args. */
  #caller!: _Caller<Pending>;
  #waiters: RoomWaiter[] = [];
  #pumping = false;
  #ready = Promise.withResolvers<void>();
  #ended = Promise.withResolvers<ExitReason>();
  /** Calls out and answers in, for an actor this thread spawned (see ActorSpec.pipe). */
  #pipe: Connection<unknown, unknown> | undefined;
  #onEnd = new Set<(exit: ExitReason) => void>();
  /** Settles one call a packed answer answers (made once, not per message). */
  readonly #answered = (id: number, value: unknown) => this.#caller.settle(id, value, undefined);

  constructor(start: _ActorStart | _ActorPort) {
    this.name = start.name;
    this.pid = start.pid;
    this.ready = this.#ready.promise;
    this.ended = this.#ended.promise;
    this.#ready.promise.catch(() => {});
    if ("port" in start) {
      this.owner = false;
      this.#capacity = 0;
      const port = start.port;
      port.onmessage = (e: MessageEvent<FromBridge>) => this.#onMessage(e.data);
      this.#endpoint = {
        post: (message, transfer) => _post(port, message, transfer),
        terminate: () => {
          port.postMessage({ t: "release" });
          port.close();
        },
      };
      this.#caller = this.#makeCaller();
      this.#state = "running";
      this.#ready.resolve();
      return;
    }
    this.owner = true;
    this.#mailbox = start.spec.mailbox ? new Int32Array(start.spec.mailbox) : undefined;
    this.#capacity = start.spec.capacity;
    // A polled shared-memory pipe answers in a few µs where a port needs the
    // OS to wake a parked thread; the port stays for control and transfers.
    const [mine, theirs] = Pipe<unknown>({ bufferBytes: PIPE_BYTES });
    this.#pipe = mine;
    const out = _outbox();
    start.spec.pipe = _prepare(theirs, `${start.name}'s call pipe`, out);
    const worker = _spawnWorker(
      start.name,
      _ACTOR_BEHAVIOUR,
      [...start.modules, ...out.modules],
      start.permissions,
      {
        // The endpoint's types know what every worker exchanges; an actor's worker
        // also takes ToActor and sends FromActor (see protocol.ts).
        message: (m) => this.#onMessage(m as FromActor),
        error: (e) => this.#endAfterAnswers(1, e),
        // An OS process gone without a word: killed from outside, or out of memory.
        exit: (code, e) => this.#endAfterAnswers(code, e),
      },
      start.start,
    );
    this.#endpoint = {
      post: (message, transfer) => worker.post(message as unknown as ToChild, transfer),
      terminate: () => worker.terminate(),
    };
    if (!worker.sharesMemory) {
      // Reached by bytes alone: no pipe, and the mailbox is counted here.
      this.#sharesMemory = false;
      this.#pipe.close();
      this.#pipe = undefined;
      delete start.spec.pipe;
      if (start.spec.mailbox) {
        start.spec.mailbox = undefined;
        this.#mailbox = new Int32Array(1);
        this.#roomByMessage = true;
      }
    }
    this.#caller = this.#makeCaller();
    const init = _initMessage(
      { name: start.name, pid: start.pid, daemon: true },
      start.identity,
      start.permissions,
      start.spec,
    );
    try {
      worker.post(init, start.transfer);
    } catch (error) {
      this.#end(1, undefined, `could not be started: ${(error as Error).message}`);
      throw new TypeError(
        `${start.name}'s arguments could not be sent to the worker: ${(error as Error).message}`,
      );
    }
  }

  /**
   * Whether the actor's worker shares this thread's memory (false for one
   * reached by bytes, and for a reference that travelled here).
   */
  get sharesMemory(): boolean {
    return this.owner && this.#sharesMemory;
  }

  /** Whether the actor has not ended. */
  get alive(): boolean {
    return this.#state !== "ended";
  }

  /**
   * Calls `listener` synchronously when the actor ends (before any promise
   * settles). Returns a function that removes it.
   */
  onEnd(listener: (exit: ExitReason) => void): () => void {
    if (this.exit) {
      listener(this.exit);
      return () => {};
    }
    this.#onEnd.add(listener);
    return () => this.#onEnd.delete(listener);
  }

  /**
   * Sends a call (`wantReply`) or a tell. A call resolves with the method's
   * value; a tell resolves once it is posted to the actor.
   */
  send(
    method: string,
    args: unknown[],
    wantReply: boolean,
    options: _SendOptions | undefined,
    trace?: string,
  ): Promise<unknown> {
    if (_TRACING && trace === undefined && wantReply) return this.#traced(method, args, options);
    if (this.#state === "ended") {
      return Promise.reject(new ActorExited(this.name, this.pid, method, this.exit!, false));
    }
    if (this.#state === "stopping") {
      return Promise.reject(
        new ActorExited(
          this.name,
          this.pid,
          method,
          _exitReason(0, null, "is stopping and takes no new calls"),
          false,
        ),
      );
    }
    let transfer = NONE;
    let wired = false;
    if (!args.every(plain)) {
      const out = _outbox();
      // A reference from another thread posts to a bridge, which revives the args itself.
      if (this.owner) out.to = this.pid;
      // An OS process gets a Lock or a Queue as a relay served from here.
      if (this.owner && !this.#sharesMemory) out.bytes = true;
      try {
        args = _prepare(args, `${this.name}.${method}() args`, out) as unknown[];
      } catch (error) {
        return Promise.reject(error);
      }
      transfer = out.transfer;
      wired = out.wired;
    }
    if (options === undefined && this.#reserve()) {
      const id = wantReply ? this.#caller.nextId() : 0;
      const sent = this.#post(id, method, args, transfer, wired, trace);
      if (!wantReply) return sent;
      return new Promise((resolve, reject) =>
        this.#caller.pending.set(id, { method, resolve, reject })
      );
    }
    return this.#sendWithOptions(method, args, transfer, wired, wantReply, options ?? {}, trace);
  }

  /** A call as a span (tracing is on), whose handling in the actor is a span under it. */
  #traced(method: string, args: unknown[], options: _SendOptions | undefined): Promise<unknown> {
    const span = _startCall(`actor.call ${method}`, {
      "troupe.actor": this.name,
      "troupe.method": method,
    })!;
    if (this.pid !== undefined) span.setAttribute("troupe.worker.pid", this.pid);
    const call = this.send(method, args, true, options, _traceparent(span));
    call.then(() => _endCall(span, "ok"), (error) => _endCall(span, _outcomeOf(error), error));
    return call;
  }

  #sendWithOptions(
    method: string,
    args: unknown[],
    transfer: Transferable[],
    wired: boolean,
    wantReply: boolean,
    options: _SendOptions,
    trace: string | undefined,
  ): Promise<unknown> {
    const { signal, wait = true } = options;
    let timeoutMs: number | undefined;
    try {
      timeoutMs = _checkTimeout(options.timeoutMs, "timeoutMs");
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let waiter: RoomWaiter | undefined;
      let id = 0;
      const drop = (error: unknown) => {
        if (waiter) {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
        }
        if (id !== 0) this.#caller.pending.delete(id);
        reject(error);
      };
      const disarm = _armWait({ timeoutMs, signal }, drop, () => {
        const what = waiter ? "found no room in its mailbox" : "got no reply";
        return _timeoutError(`${this.name}.${method}() ${what} within ${timeoutMs} ms`);
      });
      const fail = (error: unknown) => {
        disarm();
        drop(error);
      };
      const go = () => {
        waiter = undefined;
        id = wantReply ? this.#caller.nextId() : 0;
        const sent = this.#post(id, method, args, transfer, wired, trace);
        if (!wantReply) {
          disarm();
          return resolve(sent);
        }
        this.#caller.pending.set(id, {
          method,
          resolve: (value) => {
            disarm();
            resolve(value);
          },
          reject: (error) => {
            disarm();
            reject(error);
          },
        });
      };
      if (this.#reserve()) return go();
      if (!wait) return fail(new MailboxFull(this.name, this.#capacity));
      waiter = { method, go, fail };
      this.#waiters.push(waiter);
      void this.#pump();
    });
  }

  /** Takes one place in a bounded mailbox, unless senders already wait for one (FIFO). */
  #reserve(): boolean {
    const box = this.#mailbox;
    if (!box) return true;
    if (this.#waiters.length > 0) return false;
    return this.#tryAdd(box);
  }

  #tryAdd(box: Int32Array): boolean {
    while (true) {
      const n = Atomics.load(box, 0);
      if (n >= this.#capacity) return false;
      if (Atomics.compareExchange(box, 0, n, n + 1) === n) return true;
    }
  }

  /** Lets waiting senders in, in order, as the actor frees room. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const box = this.#mailbox!;
    while (this.#waiters.length > 0 && this.#state !== "ended") {
      if (this.#tryAdd(box)) {
        this.#waiters.shift()!.go();
        continue;
      }
      const n = Atomics.load(box, 0);
      if (n < this.#capacity) continue;
      if (this.#roomByMessage) {
        this.#room = Promise.withResolvers<void>();
        await this.#room.promise;
        continue;
      }
      // Bounded so a lost wake-up costs a second, not forever; a pending
      // waitAsync does not keep the program alive.
      await _waitWord(box, 0, n, 1000, undefined, false);
    }
    this.#pumping = false;
  }

  #post(
    id: number,
    method: string,
    args: unknown[],
    transfer: Transferable[],
    wired: boolean,
    trace: string | undefined,
  ): Promise<void> {
    const caller = this.#caller;
    const batch = caller.batch();
    // Checked only while the batch may still go as JSON text.
    if (
      caller.json &&
      (wired || batch.length + 3 + args.length > _JSON_MAX || !_jsonExact(method) ||
        !args.every(_jsonExact))
    ) caller.notJson();
    packCall(batch, id, trace === undefined ? method : [method, trace], args);
    if (transfer.length > 0 || wired) caller.carry(transfer, wired);
    if (id !== 0) return RESOLVED;
    return caller.sent();
  }

  /**
   * The caller's side: the pipe an actor this thread spawned answers on (a
   * reference that travelled has only its port), and what the calls mean.
   */
  #makeCaller(): _Caller<Pending> {
    return new _Caller<Pending>({
      pipe: this.#pipe,
      post: (message, transfer) => this.#endpoint.post(message as ToActor, transfer),
      open: () => this.#state !== "ended",
      answer: (message) => this.#onMessage(message as FromActor),
      refused: (calls) =>
        this.#state === "ended"
          ? new ActorExited(this.name, this.pid, methodName(calls[1]), this.exit!, false)
          : undefined,
      split: (calls) => Array.from(unpackCalls(calls), (call) => [call.id, call.packed]),
      unsendable: (_id, single, error) =>
        new TypeError(
          `${this.name}.${methodName(single[1])}() could not be sent: ${error.message}`,
        ),
    });
  }

  /** Ends the handle once the answers the actor sent before ending are read. */
  #endAfterAnswers(code: number, error: WireError | undefined): void {
    if (!this.#pipe || this.#state === "ended") return this.#end(code, error);
    void this.#caller.drain().then(() => this.#end(code, error));
  }

  #onMessage(message: FromActor | FromBridge): void {
    if (_settlePacked(message, this.#answered)) return;
    switch (message.t) {
      case "replies": {
        const { values, errors, wired } = message;
        for (let i = 0; i < values.length; i += 2) {
          const id = values[i] as number;
          if (!wired) this.#caller.settle(id, values[i + 1], undefined);
          else {
            _reviveLoading(values[i + 1]).then(
              (v) => this.#caller.settle(id, v, undefined),
              (e) => this.#caller.settle(id, undefined, e),
            );
          }
        }
        for (const failure of errors ?? []) {
          const method = this.#caller.pending.get(failure.id)?.method ?? "a method";
          this.#caller.settle(failure.id, undefined, this.#rebuild(failure, method));
        }
        return;
      }
      case "gone": {
        const { code, error, description } = message.exit;
        return this.#end(code, error, description);
      }
      case "room":
        if (this.#roomByMessage && Number.isInteger(message.n) && message.n > 0) {
          Atomics.store(this.#mailbox!, 0, Math.max(0, this.#mailbox![0] - message.n));
          this.#room?.resolve();
        }
        return;
      case "actor-ready":
        if (this.#state === "starting") this.#state = "running";
        this.#ready.resolve();
        return;
      case "exit":
        return this.#endAfterAnswers(message.code, message.error);
    }
  }

  /** The error a failed call rejects with, as the thread that made it should see it. */
  #rebuild(failure: ActorError, method: string): Error {
    const { error, exit, local } = failure;
    if (exit) {
      const remote = exit.error ? new RemoteError(this.name, this.pid, exit.error) : null;
      const reason = _exitReason(exit.code, remote, exit.description);
      return new ActorExited(this.name, this.pid, method, reason, true);
    }
    if (local) return Object.assign(new Error(error.message), { name: error.name });
    return new RemoteError(this.name, this.pid, error);
  }

  #end(code: number, error: WireError | undefined, how?: string): void {
    if (this.#state === "ended") return;
    this.#state = "ended";
    this.#endpoint.terminate();
    this.#pipe?.close();
    this.#room?.resolve();
    const remote = error ? new RemoteError(this.name, this.pid, error) : null;
    const exit = _exitReason(code, remote, how);
    this.exit = exit;
    this.#caller.failAll((call) => new ActorExited(this.name, this.pid, call.method, exit, true));
    for (const waiter of this.#waiters.splice(0)) {
      waiter.fail(new ActorExited(this.name, this.pid, waiter.method, exit, false));
    }
    this.#ready.reject(
      remote ?? new Error(`${this.name} (pid ${this.pid}) ${exit.description} before it was ready`),
    );
    for (const listener of this.#onEnd) listener(exit);
    this.#onEnd.clear();
    this.#ended.resolve(exit);
  }

  /**
   * Asks the actor to stop after the calls already sent, and terminates it
   * when `timeoutMs` passes first. Resolves with how it ended.
   */
  async stop(timeoutMs: number | undefined): Promise<ExitReason> {
    if (this.#state === "ended") return this.exit!;
    if (this.#state !== "stopping") {
      this.#state = "stopping";
      this.#caller.flush();
      for (const waiter of this.#waiters.splice(0)) {
        waiter.fail(
          new ActorExited(
            this.name,
            this.pid,
            waiter.method,
            _exitReason(0, null, "is stopping and takes no new calls"),
            false,
          ),
        );
      }
      this.#caller.send({ t: "stop" });
    }
    if (timeoutMs === undefined) return await this.ended;
    await _settledWithin(this.ended, timeoutMs);
    if (this.alive) {
      this.#end(-15, undefined, `did not stop within ${timeoutMs} ms and was terminated`);
    }
    return this.exit!;
  }

  /** For a reference received from another thread: lets go of the actor (it keeps running). */
  release(): void {
    this.#end(0, undefined, "is out of reach here: this thread's reference to it was disposed");
  }

  /** Ends the actor at once with exit code -15 (`terminate`) or -9 (`kill`). */
  terminate(code: -15 | -9 = -15): void {
    this.#end(code, undefined);
  }
}

/** How an actor ended, for a travelling reference. */
export function _wireExit(exit: ExitReason): WireExit {
  const wire: WireExit = { code: exit.code, normal: exit.normal, description: exit.description };
  const error = exit.error;
  if (error instanceof RemoteError) {
    wire.error = _remoteToWire(error);
  } else if (error) wire.error = { name: error.name, message: error.message, stack: error.stack };
  return wire;
}
