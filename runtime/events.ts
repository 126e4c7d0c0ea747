// The listeners of a Supervisor's or a Pool's events (`on()`).
import { _describe } from "./util.ts";

/** Listeners by event type, called in the order added; a listener's throw is reported, not rethrown. */
export class _Emitter<M> {
  readonly #listeners = new Map<keyof M, Set<(event: never) => void>>();
  readonly #what: string;
  readonly #types: readonly (keyof M)[];

  /** `what` names the owner's `on()` in errors (`"Pool.on()"`); `types` are its events. */
  constructor(what: string, types: readonly (keyof M)[]) {
    this.#what = what;
    this.#types = types;
  }

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof M>(type: K, listener: (event: M[K]) => void): () => void {
    const types = this.#types;
    if (!types.includes(type)) {
      throw new TypeError(
        `${this.#what} has no event ${JSON.stringify(String(type))}; the events are ${
          types.map((t) => JSON.stringify(String(t))).join(", ")
        }`,
      );
    }
    if (typeof listener !== "function") {
      throw new TypeError(`${this.#what} listener must be a function, got ${_describe(listener)}`);
    }
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, set = new Set());
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  /** Whether anything listens to `type` (so that an event nobody hears costs nothing to build). */
  has(type: keyof M): boolean {
    return (this.#listeners.get(type)?.size ?? 0) > 0;
  }

  /** Calls each listener of `type` with `event`. */
  emit<K extends keyof M>(type: K, event: M[K]): void {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as (event: M[K]) => void)(event);
      } catch (error) {
        reportError(error);
      }
    }
  }
}
