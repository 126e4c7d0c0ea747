/**
 * `Manager` dict round trips, Troupe vs Python's `multiprocessing.Manager()`,
 * in one run. Prints a markdown table.
 *
 *   deno run -A bench/manager_bench.ts [--quick]
 *
 * Rows: one awaited `d.set(key, i)` from the main thread and from a child
 * process (the proxy passed in `args`), median over 20 batches; an actor call
 * doing the same for comparison; and many sets in flight at once. Python's
 * `Manager().dict()` runs as a subprocess (`bench/peers/python_manager.py`)
 * when `python3` exists, and is skipped with a note otherwise.
 */
import { Manager, Process, spawn } from "../mod.ts";
import { childSets, MapActor, medianRoundTrip } from "./fixtures/manager_targets.ts";

const quick = Deno.args.includes("--quick");
const N = quick ? 4_000 : 20_000;

const us = (x: number) => `${x.toFixed(1)} µs`;

interface PythonResult {
  version: string;
  start_method: string;
  main_us: number;
  child_us: number;
}

async function python(): Promise<PythonResult | string> {
  const script = new URL("./peers/python_manager.py", import.meta.url).pathname;
  try {
    const out = await new Deno.Command("python3", {
      args: [script, String(N)],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) return "python3 failed";
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? "python3 not found, skipped" : String(error);
  }
}

await using manager = await Manager.start();
const d = await manager.dict<string, number>();

// Warm up both ends (V8 tiers the manager's and the client's code up over the first calls).
for (let i = 0; i < 10_000; i++) await d.set("k", i);
const main = await medianRoundTrip(N, (i) => d.set("k", i));
const mainGet = await medianRoundTrip(N, () => d.get("k"));

const child = new Process({ target: childSets, args: [d, N] });
child.start();
const inChild = await child.receive<number>();
await child.join();
if (await d.get("k") !== Math.floor(N / 20) - 1) throw new Error("the child's sets were lost");

await using actor = await spawn(MapActor);
const actorCall = await medianRoundTrip(N, (i) => actor.call.set("k", i));

// Throughput: 100 sets in flight at a time.
const inFlight = 100;
const rounds = N / inFlight;
for (let i = 0; i < 10; i++) {
  await Promise.all(Array.from({ length: inFlight }, (_, j) => d.set(`k${j}`, i)));
}
const t0 = performance.now();
for (let i = 0; i < rounds; i++) {
  await Promise.all(Array.from({ length: inFlight }, (_, j) => d.set(`k${j}`, i)));
}
const perSetInFlight = ((performance.now() - t0) * 1000) / N;

const py = await python();
const pyCell = (x: (p: PythonResult) => number) => typeof py === "string" ? "—" : us(x(py));

console.log(
  `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores` +
    (typeof py === "string" ? `; Python: ${py}` : `; Python ${py.version} (${py.start_method})`),
);
console.log("");
console.log("| workload | Troupe | Python multiprocessing |");
console.log("| --- | --- | --- |");
console.log(
  `| Manager dict \`set\` round trip, main thread | ${us(main)} | ${pyCell((p) => p.main_us)} |`,
);
console.log(
  `| Manager dict \`set\` round trip, proxy passed to a child process | ${us(inChild)} | ${
    pyCell((p) => p.child_us)
  } |`,
);
console.log(`| Manager dict \`get\` round trip, main thread | ${us(mainGet)} | — |`);
console.log(
  `| an actor call doing the same \`Map.set\` (\`ActorRef.call\`) | ${us(actorCall)} | — |`,
);
console.log(
  `| dict \`set\` with ${inFlight} in flight at once, per set | ${us(perSetInFlight)} | — |`,
);
