// Test harness: real nats-server processes on 127.0.0.1, one node or a
// three-node JetStream cluster, that tests start and must stop. Every server
// is registered here so that a leaking test fails and the process never
// outlives the test run.

/** The nats-server binary; `NATS_SERVER` overrides it. */
const NATS_SERVER = Deno.env.get("NATS_SERVER") ?? "nats-server";
const HOST = "127.0.0.1";
/** How much of a server's stderr is kept for error messages. */
const STDERR_KEEP = 16_384;

/** One running nats-server process, as the registry sees it. */
interface Running {
  readonly label: string;
  readonly child: Deno.ChildProcess;
  /** Resolves once the process has exited and its stderr is drained. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** The temp directory of the server (or cluster) it belongs to. */
  readonly root: string;
  /** The last STDERR_KEEP characters it wrote to stderr. */
  stderr(): string;
}

const running = new Set<Running>();
/** Temp directories not yet removed by a stop(). */
const roots = new Set<string>();

function killAllSync(): void {
  for (const server of running) {
    try {
      server.child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  running.clear();
  for (const root of roots) {
    try {
      Deno.removeSync(root, { recursive: true });
    } catch {
      // already gone
    }
  }
  roots.clear();
}

/** Signals that end the test process, with the exit code a shell reports for each. */
const exitSignals: [Deno.Signal, number][] = [["SIGINT", 130], ["SIGTERM", 143]];
const onExitSignal = exitSignals.map(([signal, code]): [Deno.Signal, () => void] => [
  signal,
  () => {
    killAllSync();
    Deno.exit(code);
  },
]);

// Deno does not end child processes when it exits.
globalThis.addEventListener("unload", killAllSync);

// A signal listener is a pending op that Deno's test sanitizer reports, so
// the listeners are held only while some server runs.
function register(server: Running): void {
  if (running.size === 0) {
    for (const [signal, listener] of onExitSignal) Deno.addSignalListener(signal, listener);
  }
  running.add(server);
}

function unregister(server: Running): void {
  if (!running.delete(server)) return;
  if (running.size > 0) return;
  for (const [signal, listener] of onExitSignal) Deno.removeSignalListener(signal, listener);
}

function spawnServer(label: string, configFile: string, root: string): Running {
  const child = new Deno.Command(NATS_SERVER, {
    args: ["-c", configFile],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let tail = "";
  const drained = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-STDERR_KEEP);
    }
  })();
  const server: Running = {
    label,
    child,
    root,
    exited: Promise.all([child.status, drained]).then(([status]) => status),
    stderr: () => tail,
  };
  register(server);
  server.exited.then(() => unregister(server));
  return server;
}

/** Sends SIGTERM, then SIGKILL after `graceMs`, and waits for the exit. */
async function terminate(server: Running, graceMs = 3_000): Promise<void> {
  try {
    server.child.kill("SIGTERM");
  } catch {
    // already exited
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), graceMs));
  const outcome = await Promise.race([server.exited, late]);
  clearTimeout(timer);
  if (outcome === "late") {
    try {
      server.child.kill("SIGKILL");
    } catch {
      // exited meanwhile
    }
    await server.exited;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function removeRoot(root: string): Promise<void> {
  roots.delete(root);
  await Deno.remove(root, { recursive: true }).catch(() => {});
}

/** GET `url` and parse JSON; `undefined` when unreachable or not 200. */
async function getJson<T>(url: string, timeoutMs = 1_000): Promise<T | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    return await response.json() as T;
  } catch {
    return undefined;
  }
}

/**
 * Polls `/healthz` (with `query`) of the monitor that `locate()` names until
 * it answers 200; fails with the server's stderr if the server exits first
 * or `timeoutMs` passes, and then ends the server.
 */
async function waitHealthy(
  server: Running,
  locate: () => Promise<string | undefined>,
  query: string,
  timeoutMs: number,
): Promise<void> {
  let exited = false;
  server.exited.then(() => exited = true);
  const deadline = performance.now() + timeoutMs;
  let last = "no answer";
  while (performance.now() < deadline && !exited) {
    const base = await locate();
    if (base !== undefined) {
      try {
        const response = await fetch(`${base}/healthz${query}`, {
          signal: AbortSignal.timeout(1_000),
        });
        last = `${response.status} ${await response.text()}`;
        if (response.ok) return;
      } catch (error) {
        last = String(error);
      }
    }
    if (!exited) await sleep(50);
  }
  const why = exited
    ? `exited with code ${(await server.exited).code}`
    : `not ready after ${timeoutMs} ms (healthz${query}: ${last})`;
  await terminate(server);
  throw new Error(`nats-server ${server.label} ${why}; stderr:\n${server.stderr()}`);
}

function addressInUse(error: unknown): boolean {
  return /address already in use/i.test(String(error));
}

/** A string in nats-server's config syntax. */
function quote(value: string): string {
  return JSON.stringify(value);
}

/** Options of {@linkcode startNats}. */
export interface NatsOptions {
  /** The largest message the server accepts, in bytes. @default 1048576 (the server's) */
  maxPayload?: number;
  /** How long to wait for connections and JetStream. @default 10000 */
  readyTimeoutMs?: number;
  /** Clients must log in as this user (the server's `authorization` block). */
  auth?: { user: string; pass: string };
  /** Clients must log in with the nkey whose public key (`U...`) this is. */
  nkey?: string;
  /** Clients must use TLS; the server presents this certificate. */
  tls?: { certFile: string; keyFile: string };
}

/** One JetStream-enabled nats-server started by {@linkcode startNats}. */
export interface NatsServer extends AsyncDisposable {
  /** `nats://127.0.0.1:PORT`; the same after restart(). */
  readonly url: string;
  readonly port: number;
  /** `http://127.0.0.1:PORT` of the monitoring endpoints. */
  readonly monitorUrl: string;
  /** The pid of the current process (a new one after restart()). */
  readonly pid: number;
  readonly storeDir: string;
  /** Sends `signal` to the process without waiting. @default "SIGKILL" */
  kill(signal?: Deno.Signal): void;
  /** SIGTERM, SIGKILL after 3 s, waits for the exit, removes the store. */
  stop(): Promise<void>;
  /** Stops the process if it runs and starts it again on the same port and store. */
  restart(): Promise<void>;
}

/** The ports a server wrote to its `ports_file_dir`. */
interface PortsFile {
  nats?: string[];
  monitoring?: string[];
}

async function readPorts(dir: string, pid: number): Promise<PortsFile | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/nats-server_${pid}.ports`));
  } catch {
    return undefined;
  }
}

/**
 * Starts one JetStream-enabled nats-server on 127.0.0.1 with its own store,
 * and waits until it accepts connections and JetStream is enabled.
 *
 * The server picks its client and monitor ports itself and reports them in
 * a ports file, so no other process can take them in between.
 */
export async function startNats(options: NatsOptions = {}): Promise<NatsServer> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const root = await Deno.makeTempDir({ prefix: "troupe-nats-" });
  roots.add(root);
  const storeDir = `${root}/store`;
  const portsDir = `${root}/ports`;
  const configFile = `${root}/nats.conf`;
  await Deno.mkdir(portsDir);
  const writeConfig = (port: number | -1, monitorPort: number | -1) =>
    Deno.writeTextFile(
      configFile,
      [
        `server_name: n0`,
        `listen: ${quote(`${HOST}:${port}`)}`,
        `http: ${quote(`${HOST}:${monitorPort}`)}`,
        ...(options.maxPayload === undefined ? [] : [`max_payload: ${options.maxPayload}`]),
        ...(options.auth === undefined ? [] : [
          `authorization { user: ${quote(options.auth.user)}, password: ${
            quote(options.auth.pass)
          } }`,
        ]),
        ...(options.nkey === undefined
          ? []
          : [`authorization { users = [ { nkey: ${quote(options.nkey)} } ] }`]),
        ...(options.tls === undefined ? [] : [
          `tls { cert_file: ${quote(options.tls.certFile)}, key_file: ${
            quote(options.tls.keyFile)
          } }`,
        ]),
        `ports_file_dir: ${quote(portsDir)}`,
        `jetstream { store_dir: ${quote(storeDir)} }`,
        "",
      ].join("\n"),
    );

  let port = 0;
  let monitorPort = 0;
  let server: Running;
  // The first run picks free ports itself and names them in its ports file;
  // later runs reuse them so that the URL stays the same.
  const boot = async (): Promise<void> => {
    server = spawnServer("n0", configFile, root);
    const pid = server.child.pid;
    const locate = async (): Promise<string | undefined> => {
      if (monitorPort === 0) {
        const ports = await readPorts(portsDir, pid);
        if (ports?.nats?.[0] === undefined || ports.monitoring?.[0] === undefined) return;
        port = Number(new URL(ports.nats[0]).port);
        monitorPort = Number(new URL(ports.monitoring[0]).port);
      }
      return `http://${HOST}:${monitorPort}`;
    };
    await waitHealthy(server, locate, "?js-enabled-only=true", readyTimeoutMs);
  };

  await writeConfig(-1, -1);
  try {
    await boot();
    await writeConfig(port, monitorPort);
  } catch (error) {
    await removeRoot(root);
    throw error;
  }

  const handle: NatsServer = {
    get url() {
      return `nats://${HOST}:${port}`;
    },
    get port() {
      return port;
    },
    get monitorUrl() {
      return `http://${HOST}:${monitorPort}`;
    },
    get pid() {
      return server.child.pid;
    },
    storeDir,
    kill(signal: Deno.Signal = "SIGKILL") {
      try {
        server.child.kill(signal);
      } catch {
        // already exited
      }
    },
    async stop() {
      await terminate(server);
      await removeRoot(root);
    },
    async restart() {
      await terminate(server);
      // The old process's ports can take a moment to be free again.
      for (let attempt = 1;; attempt++) {
        try {
          return await boot();
        } catch (error) {
          if (attempt >= 5 || !addressInUse(error)) throw error;
          await sleep(200);
        }
      }
    },
    async [Symbol.asyncDispose]() {
      await handle.stop();
    },
  };
  return handle;
}

/** Options of {@linkcode startNatsCluster}. */
export interface NatsClusterOptions {
  /** The largest message the servers accept, in bytes. @default 1048576 (the server's) */
  maxPayload?: number;
  /** How long to wait for every node and the meta leader. @default 30000 */
  readyTimeoutMs?: number;
}

/** What {@linkcode NatsNode.start} waits for. */
export interface NatsNodeStartOptions {
  /**
   * `"assets"`: `/healthz` answers ok — the node is current with the
   * JetStream meta leader and every stream and consumer replica it holds is
   * current (needs a majority running); `"meta"`: current with the meta
   * leader only; `"jetstream"`: it accepts connections and has JetStream
   * enabled.
   * @default "assets"
   */
  waitFor?: "assets" | "meta" | "jetstream";
  /** @default 15000 */
  timeoutMs?: number;
}

/** One node of a {@linkcode NatsCluster}. */
export interface NatsNode {
  /** Its `server_name`: `n1`, `n2`, … */
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly monitorUrl: string;
  /** The pid of its latest process. */
  readonly pid: number;
  /** Whether its latest process has not exited yet. */
  readonly running: boolean;
  /** Sends `signal` to the process without waiting. @default "SIGKILL" */
  kill(signal?: Deno.Signal): void;
  /** SIGTERM, SIGKILL after 3 s, waits for the exit; keeps the store. */
  stop(): Promise<void>;
  /** Starts the node again with the same config, ports and store. */
  start(options?: NatsNodeStartOptions): Promise<void>;
}

/** A JetStream cluster started by {@linkcode startNatsCluster}. */
export interface NatsCluster extends AsyncDisposable {
  /** The client URL of each node, in node order. */
  readonly urls: string[];
  readonly nodes: NatsNode[];
  /** All client URLs comma-separated, for a client's `servers`. */
  readonly servers: string;
  /** The node called `name`; throws for an unknown name. */
  node(name: string): NatsNode;
  /** Stops every node and removes the stores. */
  stop(): Promise<void>;
}

/** Reserves `count` distinct free ports on 127.0.0.1 (free when it returns, not guaranteed after). */
function reservePorts(count: number): number[] {
  const listeners = Array.from({ length: count }, () => Deno.listen({ hostname: HOST, port: 0 }));
  const ports = listeners.map((listener) => listener.addr.port);
  for (const listener of listeners) listener.close();
  return ports;
}

/**
 * Starts an `n`-node JetStream cluster on 127.0.0.1 (nodes `n1`…`nN`, each
 * with client, route and monitor ports and its own store, routes to all the
 * others) and waits until every node is current with an elected meta leader.
 *
 * Route ports must be known before any node starts, so they are reserved by
 * binding port 0; a start that loses one of them to another process is
 * retried with new ports.
 */
export async function startNatsCluster(
  n = 3,
  options: NatsClusterOptions = {},
): Promise<NatsCluster> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError("'n' must be a positive integer");
  for (let attempt = 1;; attempt++) {
    try {
      return await startClusterOnce(n, options);
    } catch (error) {
      if (attempt >= 3 || !addressInUse(error)) throw error;
    }
  }
}

async function startClusterOnce(n: number, options: NatsClusterOptions): Promise<NatsCluster> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const root = await Deno.makeTempDir({ prefix: "troupe-nats-cluster-" });
  roots.add(root);
  const ports = reservePorts(3 * n);
  const specs = Array.from({ length: n }, (_, i) => ({
    name: `n${i + 1}`,
    port: ports[3 * i],
    routePort: ports[3 * i + 1],
    monitorPort: ports[3 * i + 2],
    configFile: `${root}/n${i + 1}.conf`,
  }));
  for (const spec of specs) {
    const routes = specs.filter((other) => other !== spec)
      .map((other) => quote(`nats-route://${HOST}:${other.routePort}`));
    await Deno.writeTextFile(
      spec.configFile,
      [
        `server_name: ${spec.name}`,
        `listen: ${quote(`${HOST}:${spec.port}`)}`,
        `http: ${quote(`${HOST}:${spec.monitorPort}`)}`,
        ...(options.maxPayload === undefined ? [] : [`max_payload: ${options.maxPayload}`]),
        `jetstream { store_dir: ${quote(`${root}/${spec.name}`)} }`,
        `cluster {`,
        `  name: troupe`,
        `  listen: ${quote(`${HOST}:${spec.routePort}`)}`,
        `  routes = [${routes.join(", ")}]`,
        `}`,
        "",
      ].join("\n"),
    );
  }

  const nodes: NatsNode[] = specs.map((spec) => {
    let server: Running | undefined;
    const monitorUrl = `http://${HOST}:${spec.monitorPort}`;
    const locate = () => Promise.resolve(monitorUrl);
    return {
      name: spec.name,
      url: `nats://${HOST}:${spec.port}`,
      port: spec.port,
      monitorUrl,
      get pid() {
        return server?.child.pid ?? 0;
      },
      get running() {
        return server !== undefined && running.has(server);
      },
      kill(signal: Deno.Signal = "SIGKILL") {
        try {
          server?.child.kill(signal);
        } catch {
          // already exited
        }
      },
      async stop() {
        if (server !== undefined) await terminate(server);
      },
      async start(start: NatsNodeStartOptions = {}) {
        if (this.running) throw new Error(`nats-server ${spec.name} is already running`);
        const query =
          { assets: "", meta: "?js-server-only=true", jetstream: "?js-enabled-only=true" }[
            start.waitFor ?? "assets"
          ];
        // A killed process's ports can take a moment to be free again.
        for (let attempt = 1;; attempt++) {
          server = spawnServer(spec.name, spec.configFile, root);
          try {
            return await waitHealthy(server, locate, query, start.timeoutMs ?? 15_000);
          } catch (error) {
            if (attempt >= 5 || !addressInUse(error)) throw error;
            await sleep(200);
          }
        }
      },
    };
  });
  const cluster: NatsCluster = {
    urls: nodes.map((node) => node.url),
    nodes,
    servers: nodes.map((node) => node.url).join(","),
    node(name: string): NatsNode {
      const node = nodes.find((candidate) => candidate.name === name);
      if (node === undefined) throw new Error(`no node '${name}' in this cluster`);
      return node;
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
      await removeRoot(root);
    },
    async [Symbol.asyncDispose]() {
      await this.stop();
    },
  };

  try {
    // All nodes first: none finds a meta leader until a majority runs.
    const started = nodes.map((node) => node.start({ waitFor: "meta", timeoutMs: readyTimeoutMs }));
    const outcomes = await Promise.allSettled(started);
    const failed = outcomes.find((outcome) => outcome.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    await waitFor(() => metaLeaderOf(cluster), "a JetStream meta leader", readyTimeoutMs);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Polls `probe` every 100 ms until it gives a value; fails naming `what` after `timeoutMs`. */
async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs: number,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (true) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(100);
  }
}

/**
 * The node that is the JetStream meta leader: the one whose
 * `/jsz?leader-only=true` answers 200 (the others answer 400 "not leader");
 * `undefined` while there is none, or more than one claims it.
 */
export async function metaLeaderOf(cluster: NatsCluster): Promise<NatsNode | undefined> {
  const live = cluster.nodes.filter((node) => node.running);
  const answers = await Promise.all(
    live.map((node) =>
      getJson<{ meta_cluster?: { leader?: string } }>(
        `${node.monitorUrl}/jsz?leader-only=true`,
      )
    ),
  );
  const leaders = live.filter((node, i) => answers[i]?.meta_cluster?.leader === node.name);
  return leaders.length === 1 ? leaders[0] : undefined;
}

/** The part of `/jsz?streams=true` this harness reads. */
interface JszStreams {
  account_details?: {
    stream_detail?: { name: string; cluster?: StreamCluster }[];
  }[];
}

interface StreamCluster {
  leader?: string;
  replicas?: { name: string; current: boolean; offline?: boolean }[];
}

/** What each running node's `/jsz?streams=true` says of `stream`'s raft group. */
async function streamViews(
  cluster: NatsCluster,
  stream: string,
): Promise<{ node: NatsNode; view: StreamCluster | "no answer" | "no stream" }[]> {
  const live = cluster.nodes.filter((node) => node.running);
  const answers = await Promise.all(
    live.map((node) => getJson<JszStreams>(`${node.monitorUrl}/jsz?streams=true`)),
  );
  return live.map((node, i) => {
    const answer = answers[i];
    if (answer === undefined) return { node, view: "no answer" };
    const detail = (answer.account_details ?? []).flatMap((account) => account.stream_detail ?? [])
      .find((detail) => detail.name === stream);
    return { node, view: detail?.cluster ?? "no stream" };
  });
}

function leaderIn(views: Awaited<ReturnType<typeof streamViews>>): NatsNode | undefined {
  const leaders = views.filter(({ node, view }) =>
    typeof view === "object" && view.leader === node.name
  );
  return leaders.length === 1 ? leaders[0].node : undefined;
}

/**
 * The node leading the raft group of `stream` (in any account), from each
 * running node's `/jsz?streams=true`: the one that reports itself as the
 * stream's leader; `undefined` while none does, or more than one.
 */
export async function leaderOf(
  cluster: NatsCluster,
  stream: string,
): Promise<NatsNode | undefined> {
  return leaderIn(await streamViews(cluster, stream));
}

/** Options of {@linkcode waitForLeader}. */
export interface WaitForLeaderOptions {
  /** A node that does not count, e.g. the leader just killed. */
  except?: NatsNode | string;
  /** @default 20000 */
  timeoutMs?: number;
}

/**
 * Waits until {@linkcode leaderOf} names a leader of `stream` other than
 * `except`; on timeout the error shows what each node last reported.
 */
export async function waitForLeader(
  cluster: NatsCluster,
  stream: string,
  options: WaitForLeaderOptions = {},
): Promise<NatsNode> {
  const except = typeof options.except === "string" ? options.except : options.except?.name;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = performance.now() + timeoutMs;
  while (true) {
    const views = await streamViews(cluster, stream);
    const leader = leaderIn(views);
    if (leader !== undefined && leader.name !== except) return leader;
    if (performance.now() > deadline) {
      const seen = views.map(({ node, view }) => `${node.name}: ${JSON.stringify(view)}`);
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for a leader of stream '${stream}'${
          except === undefined ? "" : ` other than ${except}`
        }; ${seen.join("; ")}`,
      );
    }
    await sleep(100);
  }
}

/** How many nats-server processes this harness started are still running. */
export function liveNatsServers(): number {
  return running.size;
}

/** Sanitizer switches of {@linkcode natsTest}, Deno.test's defaults when left out. */
export interface NatsTestOptions {
  sanitizeOps?: boolean;
  sanitizeResources?: boolean;
  sanitizeExit?: boolean;
  ignore?: boolean;
}

/**
 * Registers a test (with Deno.test's sanitizers unless `options` turns them
 * off) that fails when it leaves a nats-server running. Leftover servers are
 * killed and their stores removed, so one leaking test does not break the
 * next. A test that fails and also leaks reports both.
 */
export function natsTest(
  name: string,
  fn: () => Promise<void> | void,
  options: NatsTestOptions = {},
): void {
  Deno.test({
    name,
    ...options,
    async fn() {
      const serversBefore = new Set(running);
      const rootsBefore = new Set(roots);
      let failed = false;
      let failure: unknown;
      try {
        await fn();
      } catch (error) {
        failed = true;
        failure = error;
      }
      const leaked = [...running].filter((server) => !serversBefore.has(server));
      for (const server of leaked) {
        try {
          server.child.kill("SIGKILL");
        } catch {
          // exited meanwhile
        }
      }
      await Promise.all(leaked.map((server) => server.exited));
      for (const root of [...roots]) if (!rootsBefore.has(root)) await removeRoot(root);
      const leak = `${name}: left ${leaked.length} nats-server(s) running (${
        leaked.map((server) => `${server.label} pid ${server.child.pid}`).join(", ")
      })`;
      if (failed && leaked.length > 0) {
        throw new AggregateError(
          [failure, new Error(leak)],
          `${leak}, and failed: ${String(failure)}`,
        );
      }
      if (failed) throw failure;
      if (leaked.length > 0) throw new Error(leak);
    },
  });
}
