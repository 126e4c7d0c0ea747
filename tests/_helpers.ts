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
 * Runs the script at `url` with `deno run -A` and `args`, killed after `ms`:
 * its exit code (null when it had to be killed) and its output, stdout then
 * stderr.
 */
export async function runScript(
  url: URL,
  ms: number,
  args: string[] = [],
): Promise<{ code: number | null; out: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", url.pathname, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, ms);
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: killed ? null : code, out: dec.decode(stdout) + dec.decode(stderr) };
}
