// Offline stand-in for the parts of jsr:@std/async that Troupe uses.
// Same names and documented behaviour as @std/async 1.x; see offline/README.md.

/** Options for {@linkcode delay}. */
export interface DelayOptions {
  /** Signal used to abort the delay. */
  signal?: AbortSignal;
  /** Whether the timer keeps the event loop alive. @default {true} */
  persistent?: boolean;
}

/** Resolves after `ms` milliseconds; rejects with `signal.reason` when aborted. */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal, persistent = true } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const abort = () => {
      clearTimeout(id);
      reject(signal?.reason);
    };
    const done = () => {
      signal?.removeEventListener("abort", abort);
      resolve();
    };
    const id = setTimeout(done, ms);
    signal?.addEventListener("abort", abort, { once: true });
    if (!persistent) Deno.unrefTimer(id);
  });
}

/** Makes a promise abortable: rejects with `signal.reason` once the signal aborts. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const { promise, reject } = Promise.withResolvers<never>();
  const abort = () => reject(signal.reason);
  signal.addEventListener("abort", abort, { once: true });
  return Promise.race([promise, p]).finally(() => signal.removeEventListener("abort", abort));
}

/** Options for {@linkcode deadline}. */
export interface DeadlineOptions {
  /** Signal used to abort the deadline. */
  signal?: AbortSignal;
}

/**
 * Rejects with a `DOMException` named `"TimeoutError"` when `p` has not settled
 * within `ms` milliseconds.
 */
export function deadline<T>(p: Promise<T>, ms: number, options: DeadlineOptions = {}): Promise<T> {
  const signals = [AbortSignal.timeout(ms)];
  if (options.signal) signals.push(options.signal);
  return abortable(p, AbortSignal.any(signals));
}
