// The manager's side: an actor whose worker holds the managed objects and
// serves calls arriving on connections (a pipe and a port per process holding proxies),
// not through its mailbox. Each call runs to completion before the next, so
// every call is atomic; waits (lock, queue) answer later.
//
// Objects are reference-counted. A reference is held by a connection (one per
// proxy in that process), by a managed object that stores a proxy in its
// values, or by a proxy in transit (see "travelling" in proxies.ts); an object
// is freed when its count reaches zero, and the references its values held go
// with it.
import { _after, type _Cancel, _timedOut } from "../runtime/wait.ts";
import { type _Outbox, _outbox, _prepare, _revive, _reviveLoading } from "../runtime/wire.ts";
import { _jsonExact, _packAnswers } from "../runtime/rpc.ts";
import { _InOrder } from "../runtime/rpc.ts";
import { Actor } from "../actors/actor.ts";
import { _toWireError } from "../runtime/errors.ts";
import { _endings, _isAlive, _nextEnding, _wakeEndingWaits } from "../runtime/liveness.ts";
import { _post } from "../runtime/util.ts";
import { _inChildSpan } from "../runtime/trace.ts";
import { task } from "../runtime/task.ts";
import type {
  FromManager,
  ManagerCalls,
  ManagerConnect,
  ManagerFailure,
  ManagerOrderedPayload,
  ToManager,
  TracedMethod,
} from "../runtime/protocol.ts";
import type { Connection } from "../channels/pipe.ts";
// Registers the reviver for the pipe end each connection's hello carries.
import "../channels/pipe.ts";
import { LockHolderDiedError } from "./errors.ts";
import { _hostManager, type _ProxyKind, _sendingFrom, _storedIds } from "./proxies.ts";

/** A connected process. */
interface Client {
  port: MessagePort;
  /** The connection's pipe (from its hello): calls in, answers out. */
  pipe: Connection<unknown, unknown> | undefined;
  /** Runs the connection's calls in the order they were made. */
  inOrder: _InOrder<ManagerOrderedPayload>;
  /** The process's pid (from its hello); 0 until known. */
  pid: number;
  open: boolean;
  /** Set while a call with Troupe objects is being revived: later calls wait behind it. */
  chain: Promise<void> | undefined;
  /** Calls waiting on a lock or queue, by call id: cancels them. */
  waits: Map<number, () => void>;
  /** The references it holds (one per proxy in its process), by object id. */
  held: Map<number, number>;
  /** A connection a proxy carried here: the token of the reference it carries, until taken. */
  lend: string | undefined;
  /** When its process was first seen ended. */
  endedAt?: number;
}

/** A process whose end the manager waits for, and when it first saw it ended. */
interface Watched {
  pid: number;
  endedAt?: number;
}

/** The reference a proxy carries in transit, until a process takes it over. */
interface Lend {
  obj: number;
  /** The process that sent it: once it has ended, what it sent has arrived by now, or never will. */
  sender: Watched;
  /** The process that will revive it, when the sender knew: once it has ended, it never will. */
  receiver: Watched | undefined;
  /** The connection the proxy's port opened here. */
  carried: Client;
}

/** A call waiting on a lock or a queue. */
interface Waiter {
  client: Client;
  id: number;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: _Cancel | undefined;
  /** For a put: the item. */
  item?: unknown;
}

/** What every managed object has: its references, and whether its values may hold proxies. */
interface Counted {
  refs: number;
  /** Set once a value holding a proxy of this manager was stored in it. */
  holds: boolean;
}

type Managed =
  & Counted
  & (
    | { kind: "dict"; map: Map<unknown, unknown> }
    | { kind: "list"; items: unknown[] }
    | { kind: "namespace"; fields: Map<string, unknown> }
    | { kind: "value"; value: unknown }
    | { kind: "lock"; holder: number; waiters: Waiter[] }
    | { kind: "queue"; items: unknown[]; maxsize: number; getters: Waiter[]; putters: Waiter[] }
  );

/**
 * How a call changes the references its object's values hold; given to an
 * operation only when a proxy may be involved (the call carried one, or the
 * object holds one).
 */
interface Track {
  /** A value goes into the object. */
  keep(value: unknown): void;
  /** A value leaves the object and is gone. */
  drop(value: unknown): void;
  /** A value leaves the object as the answer: what to return. */
  out(value: unknown): unknown;
}

/** An answer taken out of an object: its references go once it has been sent. */
class Moved {
  constructor(readonly value: unknown, readonly ids: number[]) {}
}

const KINDS = new Set<string>(["dict", "list", "namespace", "value", "lock", "queue"]);
// How often the manager looks again while the references of a process that
// ended wait out their delay (it otherwise wakes only when a process ends).
const WATCH_MS = 50;
// How long after a process ended its references go: what it sent before it
// ended (a proxy it passed on) arrives first.
const SETTLE_MS = 200;
// How long after the sender of a proxy ended the reference it carries goes, if
// no process took it over: a receiver that is still running has revived the
// proxy by then, unless its event loop was blocked all that time.
const SENDER_GRACE_MS = 5000;

function named(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

/** Equality by content, for plain data (what `remove()`, `index()`, `compareAndSet()` compare). */
function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => equal(x, bb[i]));
  }
  if (a instanceof Map) {
    const bb = b as Map<unknown, unknown>;
    return a.size === bb.size && [...a].every(([k, v]) => bb.has(k) && equal(v, bb.get(k)));
  }
  if (Object.getPrototypeOf(a) !== Object.prototype && Object.getPrototypeOf(a) !== null) {
    return false;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length &&
    ka.every((k) => equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** A list index as Python reads it (negative: from the end); throws IndexError when out of range. */
function at(items: unknown[], index: number, what: string): number {
  const i = index < 0 ? index + items.length : index;
  if (i < 0 || i >= items.length) {
    throw named(
      "IndexError",
      `${what}: index ${index} is out of range for a list of length ${items.length}`,
    );
  }
  return i;
}

/** The manager: construct with its id, name and the first connection's port. */
export class ManagerServer extends Actor {
  #id: string;
  #name: string;
  #objects = new Map<number, Managed>();
  #next = 1;
  #clients = new Set<Client>();
  /** Whether some call may be waiting (a lock or queue wait began since the last check found none). */
  #waiting = false;
  /** References in transit, by token. */
  #lends = new Map<string, Lend>();
  /** Tokens claimed before their `connect` arrived (they come on different connections). */
  #early = new Set<string>();
  /** `_endings()` at the last sweep, and whether a sweep waits out a delay. */
  #endings = -1;
  #settling = false;
  #stopped = false;

  constructor(id: string, name: string, port: MessagePort) {
    super();
    this.#id = id;
    this.#name = name;
    _hostManager(id);
    this.#accept(port);
    void this.#watchEndings();
  }

  /**
   * Whenever a process of this run ends, fails the waits it held up and gives
   * back its references; looks again every WATCH_MS while those wait out their
   * delay. An idle manager does not wake up, and the manager's worker needs
   * no timer (its first would cost it ~3 ms: Deno loads node:timers then).
   */
  async #watchEndings(): Promise<void> {
    while (!this.#stopped) {
      const seen = _endings();
      this.#checkWaiters();
      this.#sweep();
      await _nextEnding(seen, this.#settling ? WATCH_MS : Infinity);
    }
  }

  override onStop(): void {
    for (const client of this.#clients) {
      // On the pipe after every answer sent there, and on the port.
      this.#post(client, { t: "stopped" } satisfies FromManager);
      client.port.postMessage({ t: "stopped" } satisfies FromManager);
      this.#drop(client);
    }
    this.#stopped = true;
    _wakeEndingWaits();
  }

  #accept(port: MessagePort): Client {
    const client: Client = {
      port,
      pipe: undefined,
      inOrder: new _InOrder((payload) => this.#run(client, payload)),
      pid: 0,
      open: true,
      chain: undefined,
      waits: new Map(),
      held: new Map(),
      lend: undefined,
    };
    this.#clients.add(client);
    port.onmessage = (e: MessageEvent<ToManager>) => this.#onMessage(client, e.data);
    return client;
  }

  /** Closes a connection and gives back the references it held. */
  #drop(client: Client): void {
    if (!client.open) return;
    client.open = false;
    for (const cancel of client.waits.values()) cancel();
    client.waits.clear();
    client.port.close();
    client.pipe?.close();
    this.#clients.delete(client);
    if (client.lend !== undefined) this.#giveBackLend(client.lend, true);
    const held = [...client.held];
    client.held.clear();
    for (const [id, n] of held) for (let i = 0; i < n; i++) this.#decref(id);
  }

  /**
   * Gives back what processes that ended held: their connections' references,
   * and the references in transit kept for them. Not at once: what a process
   * sent before it ended (a `connect` for a proxy it passed on, a `claim`)
   * arrives first.
   */
  #sweep(): void {
    const endings = _endings();
    if (endings === this.#endings && !this.#settling) return;
    this.#endings = endings;
    this.#settling = false;
    const now = performance.now();
    const ended = (process: Watched, delayMs: number) => {
      if (_isAlive(process.pid)) return false;
      process.endedAt ??= now;
      if (now - process.endedAt >= delayMs) return true;
      this.#settling = true;
      return false;
    };
    for (const client of this.#clients) {
      if (client.pid !== 0 && ended(client, SETTLE_MS)) this.#drop(client);
    }
    for (const [token, lend] of this.#lends) {
      if (lend.receiver && ended(lend.receiver, SETTLE_MS)) this.#giveBackLend(token, true);
      else if (ended(lend.sender, SENDER_GRACE_MS)) this.#giveBackLend(token, false);
    }
  }

  #onMessage(client: Client, message: ToManager): void {
    if (typeof message === "string" || Array.isArray(message)) return this.#run(client, message);
    switch (message.t) {
      case "ordered":
        return client.inOrder.take(message.seq, message.payload);
      case "calls":
        return this.#run(client, message);
      case "hello":
        client.pid = message.pid;
        if (message.pipe !== undefined) {
          client.pipe = _revive(message.pipe) as Connection<unknown, unknown>;
          void client.inOrder.read(client.pipe);
        }
        // A proxy's port, now this process's connection: it takes over the reference.
        if (client.lend !== undefined) {
          this.#claim(client, client.lend, this.#lends.get(client.lend)!.obj);
        }
        return;
      case "cancel":
      case "connect":
        // Without a pipe, ordered payloads come bare (see _Caller).
        return this.#run(client, message);
      case "bye":
        return this.#drop(client);
    }
  }

  #run(client: Client, message: ManagerOrderedPayload): void {
    let calls: ManagerCalls;
    if (typeof message === "string") calls = JSON.parse(message) as ManagerCalls;
    else if (Array.isArray(message)) calls = message;
    else if (message.t === "cancel") {
      client.waits.get(message.id)?.();
      client.waits.delete(message.id);
      return;
    } else if (message.t === "connect") {
      return this.#connect(client, message);
    } else {
      const wired = message.calls;
      client.chain = (client.chain ?? Promise.resolve())
        .then(() => _reviveLoading(wired))
        .then(
          (revived) => this.#runAll(client, revived as ManagerCalls, true),
          (error) => {
            for (const call of wired) this.#fail(client, call[0] as number, error);
          },
        );
      return;
    }
    if (client.chain) client.chain = client.chain.then(() => this.#runAll(client, calls, false));
    else this.#runAll(client, calls, false);
  }

  /** Answers on the pipe, or on the port when it must transfer or the pipe refuses. */
  #post(client: Client, message: FromManager, transfer: Transferable[] = []): void {
    const byPort = () => {
      if (client.open) _post(client.port, message, transfer);
    };
    if (client.pipe && transfer.length === 0) client.pipe.send(message).catch(byPort);
    else byPort();
  }

  /**
   * Prepares a value holding Troupe objects for `client`; the proxies of this
   * manager in it travel without a port, and the client's connection takes a
   * reference for each.
   */
  #prepare(client: Client, value: unknown, out: _Outbox): unknown {
    const sent: number[] = [];
    out.to = client.pid || undefined;
    const prepared = _sendingFrom(this.#id, () => _prepare(value, "the value", out), sent);
    for (const id of sent) this.#incref(id, client);
    return prepared;
  }

  /**
   * Runs the calls of one message in order (`wired`: revived, so they may
   * carry proxies), and answers those that finished at once in one message.
   */
  #runAll(client: Client, calls: ManagerCalls, wired: boolean): void {
    // Its process ended and what it held was given back: what it still sent is moot.
    if (!client.open) return;
    const values: unknown[] = [];
    const transfer: Transferable[] = [];
    let json = true;
    for (const call of calls) {
      const id = call[0] as number;
      let result: unknown;
      // A traced call carries its caller's span (see TracedMethod).
      const called = call[2] as string | TracedMethod;
      try {
        result = typeof called === "string"
          ? this.#dispatch(client, id, call[1] as number, called, call.slice(3), wired)
          : _inChildSpan(called[1], `manager.handle ${called[0]}`, {
            "troupe.manager": this.#name,
            "troupe.method": called[0],
          }, () => this.#dispatch(client, id, call[1] as number, called[0], call.slice(3), wired));
      } catch (error) {
        this.#fail(client, id, error);
        continue;
      }
      if (result instanceof Promise) {
        result.then((v) => this.#reply(client, id, v), (e) => this.#fail(client, id, e));
        continue;
      }
      if (result instanceof Moved) {
        this.#reply(client, id, result);
        continue;
      }
      if (id === 0 || !client.open) continue;
      if (result === undefined || _jsonExact(result)) {
        values.push(id, result);
        continue;
      }
      const out = _outbox();
      let sent: unknown;
      try {
        sent = this.#prepare(client, result, out);
      } catch (error) {
        this.#fail(client, id, error);
        continue;
      }
      if (out.wired) {
        _post(client.port, { t: "value", id, value: sent, wired: true }, out.transfer);
        continue;
      }
      json = false;
      values.push(id, sent);
      for (const t of out.transfer) transfer.push(t);
    }
    if (values.length === 0 || !client.open) return;
    if (!json) return this.#post(client, values, transfer);
    this.#post(client, _packAnswers(values, true));
  }

  #reply(client: Client, id: number, value: unknown): void {
    if (value instanceof Moved) {
      // The object's references to what it held go once the client's are taken.
      try {
        this.#reply(client, id, value.value);
      } finally {
        for (const objId of value.ids) this.#decref(objId);
      }
      return;
    }
    if (id === 0 || !client.open) return;
    if (value === undefined || _jsonExact(value)) {
      return this.#post(client, _packAnswers([id, value], true));
    }
    const out = _outbox();
    try {
      const sent = this.#prepare(client, value, out);
      const message: FromManager = out.wired
        ? { t: "value", id, value: sent, wired: true }
        : [id, sent];
      if (out.wired) _post(client.port, message, out.transfer);
      else this.#post(client, message, out.transfer);
    } catch (error) {
      this.#fail(client, id, error);
    }
  }

  #fail(client: Client, id: number, error: unknown): void {
    if (id === 0 || !client.open) return;
    const failure: ManagerFailure = { t: "error", id, error: _toWireError(error) };
    if (error instanceof LockHolderDiedError) failure.holderPid = error.holderPid;
    delete failure.error.stack;
    this.#post(client, failure);
  }

  #dispatch(
    client: Client,
    id: number,
    objId: number,
    op: string,
    args: unknown[],
    wired: boolean,
  ): unknown {
    if (objId === 0) return this.#managerOp(client, op, args, wired);
    const obj = this.#objects.get(objId);
    if (!obj) {
      throw new Error(
        `${this.#name} holds no object ${objId}: it was freed once no proxy and no stored ` +
          "value referred to it any more",
      );
    }
    const what = `${obj.kind}.${op}()`;
    const t = wired || obj.holds ? this.#track(obj) : undefined;
    switch (obj.kind) {
      case "dict":
        return dictOp(obj.map, op, args, what, t);
      case "list":
        return listOp(obj.items, op, args, what, t);
      case "namespace":
        return namespaceOp(obj.fields, op, args, what, t);
      case "value":
        return valueOp(obj, op, args, what, t);
      case "lock":
        return this.#lockOp(obj, client, id, op, args, what);
      case "queue":
        return this.#queueOp(obj, client, id, op, args, what, t);
    }
  }

  /** The operations of the manager itself (object 0); see `ManagerCall`. */
  #managerOp(client: Client, op: string, args: unknown[], wired: boolean): unknown {
    switch (op) {
      case "create": {
        if (!KINDS.has(args[0] as string)) break;
        const id = this.#create(args[0] as _ProxyKind, args[1], args[2]);
        if (wired) this.#track(this.#objects.get(id)!).keep(args[1]);
        this.#incref(id, client);
        return id;
      }
      case "decref":
        for (const id of args) this.#decref(id as number, client);
        return undefined;
      case "claim":
        return this.#claim(client, args[0] as string, args[1] as number);
      case "_count":
        return this.#objects.size;
    }
    throw new TypeError(`${this.#name} has no operation '${op}'`);
  }

  #create(kind: _ProxyKind, initial: unknown, extra: unknown): number {
    const id = this.#next++;
    const counted: Counted = { refs: 0, holds: false };
    let obj: Managed;
    switch (kind) {
      case "dict":
        obj = { ...counted, kind, map: new Map(initial as [unknown, unknown][] | undefined) };
        break;
      case "list":
        obj = { ...counted, kind, items: (initial as unknown[] | undefined) ?? [] };
        break;
      case "namespace":
        obj = { ...counted, kind, fields: new Map(initial as [string, unknown][] | undefined) };
        break;
      case "value":
        obj = { ...counted, kind, value: initial };
        break;
      case "lock":
        obj = { ...counted, kind, holder: 0, waiters: [] };
        break;
      case "queue":
        obj = {
          ...counted,
          kind,
          items: [],
          maxsize: (extra as number) ?? 0,
          getters: [],
          putters: [],
        };
        break;
    }
    this.#objects.set(id, obj);
    return id;
  }

  // ---- references ---------------------------------------------------------------

  /** Takes a reference to object `id` (for `client`, when given); false when it is gone. */
  #incref(id: number, client?: Client): boolean {
    const obj = this.#objects.get(id);
    if (!obj || client?.open === false) return false;
    obj.refs++;
    if (client) client.held.set(id, (client.held.get(id) ?? 0) + 1);
    return true;
  }

  /** Gives back a reference to object `id` (one `client` holds, when given); frees it at zero. */
  #decref(id: number, client?: Client): void {
    if (client) {
      const n = client.held.get(id);
      if (!n) return; // not one of its references: nothing to give back
      if (n === 1) client.held.delete(id);
      else client.held.set(id, n - 1);
    }
    const obj = this.#objects.get(id);
    if (obj && --obj.refs === 0) this.#free(id, obj);
  }

  /** Frees an object nothing refers to: what its values referred to loses a reference. */
  #free(id: number, obj: Managed): void {
    this.#objects.delete(id);
    const freed = () => new Error(`${this.#name} freed the ${obj.kind} the call waited on`);
    switch (obj.kind) {
      case "lock":
        for (const w of [...obj.waiters]) w.reject(freed());
        return;
      case "queue":
        for (const w of [...obj.getters, ...obj.putters]) w.reject(freed());
        return this.#track(obj).drop(obj.items);
      case "dict":
        return this.#track(obj).drop(obj.map);
      case "list":
        return this.#track(obj).drop(obj.items);
      case "namespace":
        return this.#track(obj).drop(obj.fields);
      case "value":
        return this.#track(obj).drop(obj.value);
    }
  }

  /** How an operation on `obj` keeps and drops the references its values hold. */
  #track(obj: Managed): Track {
    return {
      keep: (value) => {
        const ids = _storedIds(value, this.#id);
        if (ids.length > 0) obj.holds = true;
        for (const id of ids) this.#incref(id);
      },
      drop: (value) => {
        if (!obj.holds) return;
        for (const id of _storedIds(value, this.#id)) this.#decref(id);
      },
      out: (value) => {
        const ids = obj.holds ? _storedIds(value, this.#id) : [];
        return ids.length > 0 ? new Moved(value, ids) : value;
      },
    };
  }

  /**
   * A proxy is on its way to another process with `message.port`'s peer: a
   * reference travels with it until a process takes it over, or the receiver
   * (when known) or the sender has ended.
   */
  #connect(sender: Client, message: ManagerConnect): void {
    const { port, token, obj, holder } = message;
    if (this.#early.delete(token)) {
      // Its receiver already took it over on the connection it has; the port is not used.
      port.close();
      return;
    }
    const carried = this.#accept(port);
    if (!this.#incref(obj)) return;
    carried.lend = token;
    this.#lends.set(token, {
      obj,
      sender: { pid: sender.pid },
      receiver: holder === undefined ? undefined : { pid: holder },
      carried,
    });
  }

  /** `client` takes over the reference a proxy of object `obj` carried (token `token`). */
  #claim(client: Client, token: string, obj: number): void {
    if (!client.open) return;
    const lend = this.#lends.get(token);
    if (!lend) {
      // The claim outran its connect (or came after the reference was given back).
      this.#early.add(token);
      this.#incref(obj, client);
      return;
    }
    this.#lends.delete(token);
    lend.carried.lend = undefined;
    client.held.set(lend.obj, (client.held.get(lend.obj) ?? 0) + 1);
    if (lend.carried !== client) this.#drop(lend.carried); // its port is not used
  }

  /**
   * Gives back a reference in transit that no process took over. When the
   * proxy can no longer arrive (`lost`), its port goes too; else a receiver
   * that revives it late still gets a connection (to an object maybe freed).
   */
  #giveBackLend(token: string, lost: boolean): void {
    const lend = this.#lends.get(token);
    if (!lend) return;
    this.#lends.delete(token);
    lend.carried.lend = undefined;
    if (lost) this.#drop(lend.carried);
    this.#decref(lend.obj);
  }

  // ---- waits ------------------------------------------------------------------

  /** Parks a call until `resolve`/`reject`, a timeout, a cancel, or its process ending. */
  #wait(
    list: Waiter[],
    client: Client,
    id: number,
    timeoutMs: number | null,
    what: string,
    item?: unknown,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { client, id, resolve, reject, timer: undefined, item };
      const leave = () => {
        const i = list.indexOf(waiter);
        if (i >= 0) list.splice(i, 1);
        waiter.timer?.();
        client.waits.delete(id);
      };
      waiter.resolve = (v) => (leave(), resolve(v));
      waiter.reject = (e) => (leave(), reject(e));
      if (timeoutMs !== null) {
        waiter.timer = _after(timeoutMs, () => waiter.reject(_timedOut(what, timeoutMs)));
      }
      client.waits.set(id, () => waiter.reject(new DOMException("cancelled", "AbortError")));
      list.push(waiter);
      this.#watchWaiters();
    });
  }

  /** A call waits: from now on, each ending is checked against the waits (see `#checkWaiters`). */
  #watchWaiters(): void {
    this.#waiting = true;
  }

  /** Notices lock holders and waiting processes that ended; run when a process ends. */
  #checkWaiters(): void {
    if (!this.#waiting) return;
    let waiting = false;
    for (const obj of this.#objects.values()) {
      if (obj.kind === "lock" && obj.waiters.length > 0) {
        waiting = true;
        if (obj.holder !== 0 && !_isAlive(obj.holder)) this.#holderDied(obj);
      } else if (obj.kind === "queue") {
        for (const w of [...obj.getters, ...obj.putters]) {
          waiting = true;
          if (!alive(w.client)) w.reject(new Error("the waiting process ended"));
        }
      }
    }
    this.#waiting = waiting;
  }

  #holderDied(lock: Managed & { kind: "lock" }): void {
    for (const w of [...lock.waiters]) {
      w.reject(new LockHolderDiedError("manager Lock", lock.holder));
    }
  }

  #lockOp(
    lock: Managed & { kind: "lock" },
    client: Client,
    id: number,
    op: string,
    args: unknown[],
    what: string,
  ): unknown {
    switch (op) {
      case "acquire": {
        if (lock.holder === 0) {
          lock.holder = client.pid;
          return undefined;
        }
        if (!_isAlive(lock.holder)) throw new LockHolderDiedError("manager Lock", lock.holder);
        const timeoutMs = args[0] as number | null;
        if (timeoutMs === 0) throw _timedOut("lock.acquire()", 0);
        return this.#wait(lock.waiters, client, id, timeoutMs, "lock.acquire()");
      }
      case "release": {
        if (lock.holder === 0) {
          throw named("RuntimeError", "lock.release() of a manager Lock that is not held");
        }
        if (lock.holder !== client.pid && _isAlive(lock.holder)) {
          throw named(
            "RuntimeError",
            `lock.release() was called by process ${client.pid}, but process ${lock.holder} ` +
              "holds this manager Lock",
          );
        }
        lock.holder = 0;
        // Hand it to the first waiter whose process still runs.
        while (lock.waiters.length > 0) {
          const next = lock.waiters[0];
          if (!alive(next.client)) {
            next.reject(new Error("the waiting process ended"));
            continue;
          }
          lock.holder = next.client.pid;
          next.resolve(undefined);
          break;
        }
        return undefined;
      }
      case "locked":
        return lock.holder !== 0;
    }
    throw new TypeError(`${what}: a manager Lock has no method '${op}'`);
  }

  #queueOp(
    q: Managed & { kind: "queue" },
    client: Client,
    id: number,
    op: string,
    args: unknown[],
    what: string,
    t: Track | undefined,
  ): unknown {
    const full = () => q.maxsize > 0 && q.items.length >= q.maxsize;
    // Moves waiting puts into the queue and items to waiting gets, in order.
    const settle = () => {
      while (true) {
        const putter = q.putters[0];
        if (putter && !full()) {
          q.items.push(putter.item);
          putter.resolve(undefined);
          continue;
        }
        const getter = q.getters.find((g) => alive(g.client));
        if (getter && q.items.length > 0) {
          const item = q.items.shift();
          getter.resolve(t ? t.out(item) : item);
          continue;
        }
        return;
      }
    };
    switch (op) {
      case "put": {
        const [item, block, timeoutMs] = args as [unknown, boolean, number | null];
        if (!full() && q.putters.length === 0) {
          t?.keep(item);
          q.items.push(item);
          settle();
          return undefined;
        }
        if (!block) throw named("Full", `queue.put(): the queue is full (maxsize ${q.maxsize})`);
        t?.keep(item);
        const waiting = this.#wait(q.putters, client, id, timeoutMs, what, item);
        // A put that gives up waiting takes its item's references back.
        if (t) waiting.catch(() => t.drop(item));
        return waiting;
      }
      case "get": {
        const [block, timeoutMs] = args as [boolean, number | null];
        if (q.items.length > 0 && q.getters.length === 0) {
          const item = q.items.shift();
          settle();
          return t ? t.out(item) : item;
        }
        if (!block) throw named("Empty", "queue.get(): the queue is empty");
        return this.#wait(q.getters, client, id, timeoutMs, what);
      }
      case "qsize":
        return q.items.length;
      case "empty":
        return q.items.length === 0;
      case "full":
        return full();
    }
    throw new TypeError(`${what}: a manager Queue has no method '${op}'`);
  }
}
// Named explicitly: the task key does not depend on how the bundle names the class.
task(import.meta, ManagerServer, "ManagerServer");

function alive(client: Client): boolean {
  return client.open && (client.pid === 0 || _isAlive(client.pid));
}

/** `value` replaces `old` in an object: kept first, so an object in both stays alive. */
function replace(t: Track, value: unknown, old: unknown): void {
  t.keep(value);
  t.drop(old);
}

function dictOp(
  map: Map<unknown, unknown>,
  op: string,
  args: unknown[],
  what: string,
  t: Track | undefined,
): unknown {
  const [key, value] = args;
  switch (op) {
    case "get":
      return map.has(key) || args.length < 2 ? map.get(key) : value;
    case "set":
      if (t) replace(t, value, map.get(key));
      map.set(key, value);
      return undefined;
    case "delete":
      t?.drop(map.get(key));
      return map.delete(key);
    case "has":
      return map.has(key);
    case "keys":
      return [...map.keys()];
    case "values":
      return [...map.values()];
    case "entries":
      return [...map.entries()];
    case "size":
      return map.size;
    case "clear":
      t?.drop(map);
      map.clear();
      return undefined;
    case "update":
      for (const [k, v] of key as [unknown, unknown][]) {
        if (t) replace(t, v, map.get(k));
        map.set(k, v);
      }
      return undefined;
    case "setDefault":
      if (!map.has(key)) {
        t?.keep(value);
        map.set(key, value);
      }
      return map.get(key);
    case "pop": {
      if (map.has(key)) {
        const found = map.get(key);
        map.delete(key);
        return t ? t.out(found) : found;
      }
      if (args.length > 1) return value;
      throw named(
        "KeyError",
        `${what}: the key ${JSON.stringify(key) ?? String(key)} is not in the dict`,
      );
    }
    case "toObject":
      return Object.fromEntries(map as Map<PropertyKey, unknown>);
    case "toMap":
      return new Map(map);
  }
  throw new TypeError(`${what}: a manager dict has no method '${op}'`);
}

function listOp(
  items: unknown[],
  op: string,
  args: unknown[],
  what: string,
  t: Track | undefined,
): unknown {
  switch (op) {
    case "get":
      return items[at(items, args[0] as number, what)];
    case "set": {
      const i = at(items, args[0] as number, what);
      if (t) replace(t, args[1], items[i]);
      items[i] = args[1];
      return undefined;
    }
    case "push":
      t?.keep(args);
      for (const item of args) items.push(item);
      return items.length;
    case "pop": {
      if (items.length === 0) throw named("IndexError", `${what}: the list is empty`);
      const item = items.splice(at(items, args[0] as number, what), 1)[0];
      return t ? t.out(item) : item;
    }
    case "length":
      return items.length;
    case "slice":
      return items.slice(args[0] as number, (args[1] as number | null) ?? undefined);
    case "toArray":
      return items.slice();
    case "insert": {
      const index = args[0] as number;
      const i = Math.max(0, Math.min(items.length, index < 0 ? index + items.length : index));
      t?.keep(args[1]);
      items.splice(i, 0, args[1]);
      return undefined;
    }
    case "remove":
    case "index": {
      const i = items.findIndex((item) => equal(item, args[0]));
      if (i < 0) throw named("ValueError", `${what}: the value is not in the list`);
      if (op === "index") return i;
      const removed = items.splice(i, 1);
      t?.drop(removed);
      return undefined;
    }
    case "extend":
      t?.keep(args[0]);
      for (const item of args[0] as unknown[]) items.push(item);
      return undefined;
    case "clear":
      t?.drop(items);
      items.length = 0;
      return undefined;
  }
  throw new TypeError(`${what}: a manager list has no method '${op}'`);
}

function namespaceOp(
  fields: Map<string, unknown>,
  op: string,
  args: unknown[],
  what: string,
  t: Track | undefined,
): unknown {
  switch (op) {
    case "get":
      return fields.get(args[0] as string);
    case "set":
      if (t) replace(t, args[1], fields.get(args[0] as string));
      fields.set(args[0] as string, args[1]);
      return undefined;
    case "toObject":
      return Object.fromEntries(fields);
  }
  throw new TypeError(`${what}: a manager namespace has no method '${op}'`);
}

function valueOp(
  cell: Managed & { kind: "value" },
  op: string,
  args: unknown[],
  what: string,
  t: Track | undefined,
): unknown {
  switch (op) {
    case "get":
      return cell.value;
    case "set":
      if (t) replace(t, args[0], cell.value);
      cell.value = args[0];
      return undefined;
    case "add": {
      const [delta] = args;
      const v = cell.value;
      if (typeof v === "number" && typeof delta === "number") return cell.value = v + delta;
      if (typeof v === "bigint" && typeof delta === "bigint") return cell.value = v + delta;
      throw new TypeError(
        `${what} adds a number to a number or a bigint to a bigint; the value is a ${typeof v} ` +
          `and the delta a ${typeof delta}`,
      );
    }
    case "compareAndSet":
      if (!equal(cell.value, args[0])) return false;
      if (t) replace(t, args[1], cell.value);
      cell.value = args[1];
      return true;
  }
  throw new TypeError(`${what}: a manager value has no method '${op}'`);
}
