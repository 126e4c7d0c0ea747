/**
 * Channels, measured in one run: Queue throughput for small structured
 * messages (worker → worker, main → worker, worker → main), the numeric fast
 * path, Pipe round trips, raw postMessage as the baseline, and Python's
 * multiprocessing Queue/Pipe when `python3` is on the PATH. Prints a markdown
 * table.
 *
 *   deno run -A bench/channels_bench.ts [scale] [rounds]
 */
import v8 from "node:v8";
import { Pipe, Process, Queue } from "../mod.ts";
import { _decode, _encode } from "../runtime/codec.ts";
import { rawWorker } from "./fixtures/raw.ts";
import {
  message,
  numConsume,
  numProduce,
  pipeEcho,
  pipeEchoSync,
  qConsume,
  qProduce,
  rawConsume,
  rawProduce,
} from "./fixtures/channel_targets.ts";

const scale = Number(Deno.args[0] ?? 1);
const N = Math.round(300_000 * scale);
const NUM = Math.round(20_000_000 * scale);
const RTT = Math.round(5_000 * scale);

const go = () => new Int32Array(new SharedArrayBuffer(4));
function release(flag: Int32Array): number {
  const t0 = performance.now();
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  return t0;
}

/** Messages per second from `go` to the consumer's "done". */
async function oneWay(
  producer: Process,
  consumer: Process,
  flag: Int32Array,
  n: number,
): Promise<number> {
  consumer.start();
  producer.start();
  await consumer.receive();
  await producer.receive();
  const t0 = release(flag);
  await consumer.receive();
  const rate = n / ((performance.now() - t0) / 1000);
  await producer.join();
  await consumer.join();
  return rate;
}

async function queueWorkerToWorker(): Promise<number> {
  const q = new Queue<unknown>({ maxsize: 100_000 });
  const flag = go();
  const rate = await oneWay(
    new Process({ target: qProduce, args: [q, N, flag] }),
    new Process({ target: qConsume, args: [q, N] }),
    flag,
    N,
  );
  q.close();
  return rate;
}

async function queueMainToWorker(): Promise<number> {
  const q = new Queue<unknown>({ maxsize: 100_000 });
  const consumer = new Process({ target: qConsume, args: [q, N] });
  consumer.start();
  await consumer.receive();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await q.put(message(i));
  await consumer.receive();
  const rate = N / ((performance.now() - t0) / 1000);
  await consumer.join();
  q.close();
  return rate;
}

async function queueWorkerToMain(): Promise<number> {
  const q = new Queue<unknown>({ maxsize: 100_000 });
  const flag = go();
  const producer = new Process({ target: qProduce, args: [q, N, flag] });
  producer.start();
  await producer.receive();
  const t0 = release(flag);
  for (let i = 0; i < N; i++) await q.get();
  const rate = N / ((performance.now() - t0) / 1000);
  await producer.join();
  q.close();
  return rate;
}

async function numeric(batch: number): Promise<number> {
  const q = new Queue<number>({ codec: "f64", bufferBytes: 1 << 20 });
  const flag = go();
  const rate = await oneWay(
    new Process({ target: numProduce, args: [q, NUM, batch, flag] }),
    new Process({ target: numConsume, args: [q, NUM, batch] }),
    flag,
    NUM,
  );
  q.close();
  return rate;
}

async function rawWorkerToWorker(): Promise<number> {
  const { port1, port2 } = new MessageChannel();
  const flag = go();
  return await oneWay(
    new Process({ target: rawProduce, args: [port1, N, flag] }),
    new Process({ target: rawConsume, args: [port2, N] }),
    flag,
    N,
  );
}

async function rawRoundTrip(): Promise<number> {
  const w = await rawWorker();
  const ping = message(1);
  const once = () =>
    new Promise<void>((resolve) => {
      w.onmessage = () => resolve();
      w.postMessage(ping);
    });
  for (let i = 0; i < 200; i++) await once();
  const t0 = performance.now();
  for (let i = 0; i < RTT; i++) await once();
  const us = (performance.now() - t0) * 1000 / RTT;
  w.terminate();
  return us;
}

async function pipeRoundTrip(sync: boolean, spinMicros?: number): Promise<number> {
  const [mine, theirs] = Pipe<unknown>(spinMicros === undefined ? {} : { spinMicros });
  const p = new Process({ target: sync ? pipeEchoSync : pipeEcho, args: [theirs] });
  p.start();
  const ping = message(1);
  for (let i = 0; i < 200; i++) {
    await mine.send(ping);
    await mine.recv();
  }
  const t0 = performance.now();
  for (let i = 0; i < RTT; i++) {
    await mine.send(ping);
    await mine.recv();
  }
  const us = (performance.now() - t0) * 1000 / RTT;
  mine.close();
  await p.join();
  theirs.close();
  return us;
}

/** Encode + decode of one message, in one thread: the codec choice, measured. */
function codecs(): Record<string, number> {
  const n = Math.round(500_000 * scale);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  // One loop per codec, so each stays monomorphic; the first pass warms up.
  const time = (loop: () => void) => {
    loop();
    const t0 = performance.now();
    loop();
    return n / ((performance.now() - t0) / 1000);
  };
  return {
    "Troupe tag codec": time(() => {
      // As a queue does: encode, copy into the ring, copy out to a reused buffer, decode.
      const scratch = new Uint8Array(256);
      for (let i = 0; i < n; i++) {
        const bytes = _encode(message(i), "bench", "put()");
        scratch.set(bytes);
        _decode(scratch.subarray(0, bytes.length));
      }
    }),
    "JSON + TextEncoder": time(() => {
      for (let i = 0; i < n; i++) {
        JSON.parse(decoder.decode(encoder.encode(JSON.stringify(message(i)))));
      }
    }),
    "node:v8 serialize": time(() => {
      for (let i = 0; i < n / 10; i++) v8.deserialize(v8.serialize(message(i)));
    }) / 10,
  };
}

interface Peer {
  python: string;
  queue_msgs_per_s: number;
  pipe_rtt_us: number;
}

async function python(): Promise<Peer | undefined> {
  const script = new URL("./peers/python_channels.py", import.meta.url).pathname;
  try {
    const out = await new Deno.Command("python3", {
      args: [script, String(Math.round(200_000 * scale)), String(RTT)],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) return undefined;
    return JSON.parse(new TextDecoder().decode(out.stdout)) as Peer;
  } catch {
    return undefined; // no python3 here
  }
}

const k = (rate: number) => `${Math.round(rate / 1000).toLocaleString("en-US")}k msgs/s`;
const m = (rate: number) => `${(rate / 1e6).toFixed(1)}M msgs/s`;
const us = (x: number) => `${x.toFixed(1)} µs`;

// Every case runs `rounds` times, interleaved so that machine noise hits all
// alike; the table shows medians.
const rounds = Number(Deno.args[1] ?? 3);
const cases = {
  py: python,
  rawOneWay: rawWorkerToWorker,
  qww: queueWorkerToWorker,
  qmw: queueMainToWorker,
  qwm: queueWorkerToMain,
  num1k: () => numeric(1024),
  num64: () => numeric(64),
  rawRtt: rawRoundTrip,
  pipeAsync: () => pipeRoundTrip(false),
  pipeSync: () => pipeRoundTrip(true),
  pipeNoSpin: () => pipeRoundTrip(false, 0),
  codecs: () => Promise.resolve(codecs()),
};
type Name = keyof typeof cases;
const samples = new Map<Name, unknown[]>();
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(cases) as [Name, () => Promise<unknown>][]) {
    samples.set(name, [...samples.get(name) ?? [], await run()]);
  }
}
const median = (name: Name): number => {
  const xs = (samples.get(name) as number[]).toSorted((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
};
const peers = (samples.get("py") as (Peer | undefined)[]).filter((p) => p !== undefined);
const mid = <K extends "queue_msgs_per_s" | "pipe_rtt_us">(key: K) =>
  peers.map((p) => p[key]).toSorted((a, b) => a - b)[Math.floor(peers.length / 2)];
const py: Peer | undefined = peers.length === 0 ? undefined : {
  python: peers[0].python,
  queue_msgs_per_s: mid("queue_msgs_per_s"),
  pipe_rtt_us: mid("pipe_rtt_us"),
};
const [rawOneWay, qww, qmw, qwm, num1k, num64, rawRtt, pipeAsync, pipeSync, pipeNoSpin] = [
  median("rawOneWay"),
  median("qww"),
  median("qmw"),
  median("qwm"),
  median("num1k"),
  median("num64"),
  median("rawRtt"),
  median("pipeAsync"),
  median("pipeSync"),
  median("pipeNoSpin"),
];

const rows: [string, string, string][] = [];
const vsPy = (rate: number) => py ? `${(rate / py.queue_msgs_per_s).toFixed(1)}x Python` : "";
const vsRaw = (rate: number) => `${(rate / rawOneWay).toFixed(1)}x raw`;
rows.push(["raw postMessage, worker → worker (MessagePort)", k(rawOneWay), vsPy(rawOneWay)]);
rows.push(["Queue put/get, worker → worker", k(qww), `${vsRaw(qww)}, ${vsPy(qww)}`]);
rows.push(["Queue put/get, main → worker", k(qmw), `${vsRaw(qmw)}, ${vsPy(qmw)}`]);
rows.push(["Queue put/get, worker → main", k(qwm), `${vsRaw(qwm)}, ${vsPy(qwm)}`]);
rows.push(['Queue<number> "f64" putMany/getMany ×1024', m(num1k), vsRaw(num1k)]);
rows.push(['Queue<number> "f64" putMany/getMany ×64', m(num64), vsRaw(num64)]);
if (py) rows.push([`Python ${py.python} multiprocessing.Queue`, k(py.queue_msgs_per_s), ""]);
rows.push(["raw postMessage round trip, main ↔ worker", us(rawRtt), ""]);
const vsPyRtt = (x: number) => py ? `${(x / py.pipe_rtt_us).toFixed(2)}x Python's time` : "";
rows.push(["Pipe round trip, main ↔ worker (async recv)", us(pipeAsync), vsPyRtt(pipeAsync)]);
rows.push(["Pipe round trip, main ↔ worker (recvSync)", us(pipeSync), vsPyRtt(pipeSync)]);
rows.push([
  "Pipe round trip, async, no polling (`spinMicros: 0`)",
  us(pipeNoSpin),
  vsPyRtt(pipeNoSpin),
]);
if (py) rows.push([`Python ${py.python} multiprocessing.Pipe round trip`, us(py.pipe_rtt_us), ""]);
const codecRuns = samples.get("codecs") as Record<string, number>[];
for (const name of Object.keys(codecRuns[0])) {
  const rate = codecRuns.map((r) => r[name]).toSorted((a, b) => a - b)[codecRuns.length >> 1];
  rows.push([`${name}: encode + decode, one thread`, k(rate), ""]);
}

console.log(
  `medians of ${rounds} rounds; ${N.toLocaleString("en-US")} messages {id, name, ok}; ${
    NUM.toLocaleString("en-US")
  } numbers; ${RTT.toLocaleString("en-US")} round trips\n`,
);
console.log("| case | result | compared |\n| --- | --- | --- |");
for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`);
