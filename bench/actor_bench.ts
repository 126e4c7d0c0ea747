/**
 * Actor calls and restarts, Troupe vs hand-written `postMessage`, measured in
 * one run. Prints a markdown table.
 *
 *   deno run -A bench/actor_bench.ts [rounds]
 *
 * - round trip: one call at a time (`await ref.call.echo(i)`) vs a raw worker
 *   that echoes each message, and vs a hand-written RPC worker that answers a
 *   call-shaped array `[id, "echo", 1, i]` with `[id, i]`;
 * - pipelined: many calls in flight at once, calls per second, vs the raw
 *   worker echoing as many messages posted at once;
 * - restart: a supervised actor crashes (a told method throws) until the
 *   restarted actor answers its first call, vs a cold `spawn()` until its first
 *   answer.
 */
import { spawn, Supervisor } from "../mod.ts";
import { Echo } from "./fixtures/actors.ts";
import { rawWorker } from "./fixtures/raw.ts";

const rounds = Number(Deno.args[0] ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const raw = await rawWorker();
let rawWaiter: ((value: unknown) => void) | undefined;
let rawLeft = 0;
raw.onmessage = () => {
  if (--rawLeft === 0) rawWaiter!(undefined);
};
function rawBurst(n: number): Promise<unknown> {
  rawLeft = n;
  const done = new Promise((resolve) => rawWaiter = resolve);
  for (let i = 0; i < n; i++) raw.postMessage(i);
  return done;
}

const rpc = new Worker(new URL("./fixtures/raw_rpc_worker.ts", import.meta.url), {
  type: "module",
});
await new Promise((resolve) => rpc.onmessage = resolve);
let rpcWaiter: ((value: unknown) => void) | undefined;
rpc.onmessage = () => rpcWaiter!(undefined);

const echo = await spawn(Echo);

// Trips in a block of ROUND_TRIPS to one side, with GAP_US of work between
// trips (not timed), as a program does between calls. With no work at all a
// raw echo loop never lets the OS park the worker's thread (~15 µs a trip);
// 5 µs of work between trips is enough for it to park (~80 µs a trip). Blocks
// alternate between the sides, and which goes first alternates too.
const ROUND_TRIPS = 100;
const GAP_US = 10;
const BURST = 20_000;

async function trips(trip: (i: number) => Promise<unknown>): Promise<number> {
  let total = 0;
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = performance.now();
    await trip(i);
    total += performance.now() - t0;
    const end = performance.now() + GAP_US / 1000;
    while (performance.now() < end) { /* the caller's own work */ }
  }
  return total * 1000 / ROUND_TRIPS;
}
const rawRoundTrip = () => trips(() => rawBurst(1));
const rpcRoundTrip = () =>
  trips((i) => {
    const answered = new Promise((resolve) => rpcWaiter = resolve);
    rpc.postMessage([i + 1, "echo", 1, i]);
    return answered;
  });
const actorRoundTrip = () => trips((i) => echo.call.echo(i));
async function rawPipelined(): Promise<number> {
  const t0 = performance.now();
  await rawBurst(BURST);
  return BURST / ((performance.now() - t0) / 1000);
}
async function actorPipelined(): Promise<number> {
  const t0 = performance.now();
  const calls: Promise<number>[] = new Array(BURST);
  for (let i = 0; i < BURST; i++) calls[i] = echo.call.echo(i);
  await Promise.all(calls);
  return BURST / ((performance.now() - t0) / 1000);
}

const sup = new Supervisor({
  intensity: 1_000_000,
  children: [{ id: "echo", start: () => spawn(Echo) }],
});
await sup.start();
const supervised = sup.ref<Echo>("echo");

async function restart(): Promise<number> {
  await supervised.call.inc(); // the incarnation is up
  const t0 = performance.now();
  await supervised.tell.boom();
  // Queued behind boom(), this call fails with the crash; the retry waits for the restart.
  await supervised.call.inc().catch(() => supervised.call.inc());
  return performance.now() - t0;
}
async function coldSpawn(): Promise<number> {
  const t0 = performance.now();
  const ref = await spawn(Echo);
  await ref.call.inc();
  const ms = performance.now() - t0;
  ref.terminate();
  return ms;
}

const samples: Record<string, number[]> = {
  rawRoundTrip: [],
  rpcRoundTrip: [],
  actorRoundTrip: [],
  rawPipelined: [],
  actorPipelined: [],
  restart: [],
  coldSpawn: [],
};
const cases: Record<string, () => Promise<number>> = {
  rawRoundTrip,
  rpcRoundTrip,
  actorRoundTrip,
  rawPipelined,
  actorPipelined,
  restart,
  coldSpawn,
};
for (const fn of Object.values(cases)) await fn(); // warm up
// Pairs alternate sample by sample, so that machine noise hits both alike.
const pairs = [
  ["rawRoundTrip", "actorRoundTrip", 10],
  ["rpcRoundTrip", "actorRoundTrip", 10],
  ["rawPipelined", "actorPipelined", 2],
  ["coldSpawn", "restart", 20],
] as const;
for (let r = 0; r < rounds; r++) {
  for (const [a, b, times] of pairs) {
    for (let i = 0; i < times; i++) {
      // Which side goes first alternates too.
      for (const name of i % 2 === 0 ? [a, b] : [b, a]) samples[name].push(await cases[name]());
    }
  }
}
const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
const restarts = sup.whichChildren()[0].restarts;
await sup.stop();
await echo.stop();
raw.terminate();
rpc.terminate();

const f = (x: number, digits = 1) => x.toFixed(digits);
console.log("| case | median | vs raw |\n| --- | --- | --- |");
console.log(`| raw postMessage round trip | ${f(m.rawRoundTrip)} µs | 1.00x |`);
console.log(
  `| raw RPC round trip (\`[id, "echo", 1, i]\` → \`[id, i]\`) | ${f(m.rpcRoundTrip)} µs | ${
    f(m.rpcRoundTrip / m.rawRoundTrip, 2)
  }x |`,
);
console.log(
  `| \`await ref.call.echo(i)\` round trip | ${f(m.actorRoundTrip)} µs | ${
    f(m.actorRoundTrip / m.rawRoundTrip, 2)
  }x (${f(m.actorRoundTrip / m.rpcRoundTrip, 2)}x the raw RPC) |`,
);
console.log(`| raw: ${BURST} messages in flight | ${f(m.rawPipelined / 1e6, 2)} M msg/s | 1.00x |`);
console.log(
  `| actor: ${BURST} calls in flight | ${f(m.actorPipelined / 1e6, 2)} M calls/s | ${
    f(m.actorPipelined / m.rawPipelined, 2)
  }x |`,
);
console.log(`| cold \`spawn()\` → first answer | ${f(m.coldSpawn, 2)} ms | 1.00x |`);
console.log(
  `| crash → restarted actor's first answer | ${f(m.restart, 2)} ms | ${
    f(m.restart / m.coldSpawn, 2)
  }x |`,
);
console.log(`\n(${rounds} rounds; ${restarts} supervised restarts)`);
