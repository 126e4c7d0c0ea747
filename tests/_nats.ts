// Real nats-server processes for tests, on 127.0.0.1: each with its own
// ports and store, stopped and removed when disposed; none may outlive its test.

/** A running single JetStream node. */
export interface NatsServer extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

const running = new Set<Deno.ChildProcess>();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts `nats-server -js` on free ports; resolves once JetStream answers /healthz. */
export async function startNats(): Promise<NatsServer> {
  for (let attempt = 0;; attempt++) {
    const port = freePort();
    const monitor = freePort();
    const store = await Deno.makeTempDir({ prefix: "troupe-nats-" });
    const child = new Deno.Command("nats-server", {
      args: ["-js", "-a", "127.0.0.1", "-p", `${port}`, "-m", `${monitor}`, "-sd", store],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    running.add(child);
    let log = "";
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) log += decoder.decode(chunk);
    })().catch(() => {});
    let exited = false;
    void child.status.then(() => exited = true);
    const deadline = performance.now() + 10_000;
    let ready = false;
    while (!exited && performance.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`);
        await res.body?.cancel();
        if (res.ok) {
          ready = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const stop = async () => {
      if (!running.delete(child)) return;
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
      }, 3000);
      await child.status;
      clearTimeout(timer);
      await Deno.remove(store, { recursive: true }).catch(() => {});
    };
    if (ready) {
      return {
        url: `nats://127.0.0.1:${port}`,
        port,
        pid: child.pid,
        stop,
        [Symbol.asyncDispose]: stop,
      };
    }
    await stop();
    if (attempt >= 2 || !/address already in use/.test(log)) {
      throw new Error(`nats-server did not become ready on port ${port}: ${log}`);
    }
  }
}

/** `Deno.test`, failing a test that leaves a nats-server running (and stopping it). */
export function natsTest(name: string, fn: () => Promise<void>): void {
  Deno.test(name, async () => {
    let failure: unknown;
    try {
      await fn();
    } catch (error) {
      failure = error;
    }
    const left = running.size;
    for (const child of [...running]) {
      running.delete(child);
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
      await child.status;
    }
    if (failure !== undefined) throw failure;
    if (left > 0) throw new Error(`${name}: left ${left} nats-server(s) running`);
  });
}
