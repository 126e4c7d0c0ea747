// A mailbox that received messages wait in until someone takes them.
import { _reviveLoading } from "./wire.ts";
import { _checkTimeout } from "./util.ts";
import { _armWait, _timeoutError } from "./wait.ts";

/** Options for waiting on a message. */
export interface ReceiveOptions {
  /** Give up after this many milliseconds with a `TimeoutError`. @default {undefined} (wait forever) */
  timeoutMs?: number;
  /** Give up when this signal aborts, with its reason. */
  signal?: AbortSignal;
}

// A message that could not be rebuilt: its receiver gets the error instead.
class Undeliverable {
  constructor(readonly error: unknown) {}
}

interface Waiter {
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

/** Messages in arrival order, handed to waiters one at a time. */
export class _Inbox {
  #items: unknown[] = [];
  #head = 0;
  #waiters: Waiter[] = [];
  #closed: Error | undefined;
  #pending: Promise<void> | undefined;
  #what: string;

  constructor(what: string) {
    this.#what = what;
  }

  /** Number of messages waiting. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: unknown): void {
    const waiter = this.#waiters.shift();
    if (!waiter) this.#items.push(item);
    else if (item instanceof Undeliverable) waiter.reject(item.error);
    else waiter.resolve(item);
  }

  /**
   * Adds a received message in arrival order; when `wired`, the Troupe objects
   * inside are rebuilt first (which may need a module import), and messages
   * behind it wait their turn.
   */
  deliver(data: unknown, wired: boolean | undefined): void {
    if (!wired && this.#pending === undefined) return this.push(data);
    const previous = this.#pending ?? Promise.resolve();
    const next: Promise<void> = previous
      .then(() => (wired ? _reviveLoading(data) : data))
      .then((item) => this.push(item), (error) => this.push(new Undeliverable(error)))
      .finally(() => {
        if (this.#pending === next) this.#pending = undefined;
      });
    this.#pending = next;
  }

  /** No more messages will come: waiters and later receivers get `reason` once the inbox is empty. */
  close(reason: Error): void {
    if (this.#pending) {
      void this.#pending.then(() => this.close(reason));
      return;
    }
    this.#closed ??= reason;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(reason);
  }

  receive(options: ReceiveOptions = {}): Promise<unknown> {
    const timeoutMs = _checkTimeout(options.timeoutMs, "receive() timeoutMs");
    if (this.size > 0) {
      const item = this.#items[this.#head];
      this.#items[this.#head++] = undefined;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      return item instanceof Undeliverable ? Promise.reject(item.error) : Promise.resolve(item);
    }
    if (this.#closed) return Promise.reject(this.#closed);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (v) => {
          disarm();
          resolve(v);
        },
        reject: (e) => {
          disarm();
          reject(e);
        },
      };
      const disarm = _armWait({ timeoutMs, signal }, (reason) => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(reason);
      }, () => _timeoutError(`no message for ${this.#what} within ${timeoutMs} ms`));
      this.#waiters.push(waiter);
    });
  }
}
