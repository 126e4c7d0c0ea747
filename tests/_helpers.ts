// Test helpers: every test that starts workers must leave none running.
import { _liveWorkerCount, _terminateAllWorkers } from "../runtime/host.ts";

/**
 * Registers a test that fails when it leaves a worker running (Deno's test
 * sanitizers do not see workers). Leftover workers are terminated so that
 * one leaking test does not break the next. A test that fails and also
 * leaks reports both.
 */
export function workerTest(name: string, fn: () => Promise<void> | void): void {
  Deno.test(name, async () => {
    let failed = false;
    let failure: unknown;
    try {
      await fn();
    } catch (error) {
      failed = true;
      failure = error;
    }
    const leaked = _terminateAllWorkers();
    const leak = `${name}: left ${leaked} worker(s) running`;
    if (failed && leaked > 0) {
      throw new AggregateError(
        [failure, new Error(leak)],
        `${leak}, and failed: ${String(failure)}`,
      );
    }
    if (failed) throw failure;
    if (leaked > 0) throw new Error(leak);
  });
}

/** How many workers this thread started that are still running. */
export const liveWorkers = _liveWorkerCount;

/** Waits until `ready()` is true, checking every 2 ms; fails naming `what` after `timeoutMs`. */
export async function until(ready: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Runs the script at `url` with `deno run -A` and `args` (and `env` added to
 * this process's), killed after `ms`: its exit code (null when it had to be
 * killed), its stdout and stderr, and `out`, the two one after the other.
 */
export async function runScript(
  url: URL,
  ms: number,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", url.pathname, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, ms);
  try {
    const { code, stdout, stderr } = await child.output();
    const dec = new TextDecoder();
    const [out, err] = [dec.decode(stdout), dec.decode(stderr)];
    return { code: killed ? null : code, out: out + err, stdout: out, stderr: err };
  } finally {
    clearTimeout(timer);
  }
}
