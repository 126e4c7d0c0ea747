/**
 * What a worker spends of its start-up on Troupe's code, by V8's own clock:
 * how long it deserializes the bundle's code cache, and how long it compiles
 * the bundle's functions that were not compiled with the module (see
 * build/eager.ts), for a process, a pool worker and an actor. Also Deno's own
 * JavaScript that the worker compiles, which a raw worker pays too.
 *
 * Whole-start timings (bench/startup_compare.ts) move by ±0.2 ms from run to
 * run on this machine, so they cannot tell two builds apart by 0.1 ms; these
 * numbers can. Each sample is a fresh `deno run` with `--log-function-events`
 * (the logging makes compiling look slower than it is: compare like with
 * like). Pass a second bundle to compare two builds in one run:
 *
 *   deno run -A bench/startup_profile.ts [runs] [bundle.js] [other-bundle.js]
 */

const runs = Number(Deno.args[0] ?? 8);
const bundles = Deno.args.length > 1
  ? Deno.args.slice(1)
  : [new URL("../dist/troupe.js", import.meta.url).pathname];
if (!Number.isInteger(runs) || runs < 1) {
  console.error("usage: deno run -A bench/startup_profile.ts [runs] [bundle.js] [other-bundle.js]");
  Deno.exit(1);
}

const TASKS = `import { Actor, task } from "./troupe.js";
export const empty = task(import.meta, function empty() {});
export const double = task(import.meta, function double(x) {
  return 2 * x;
});
export class Counter extends Actor {
  n = 0;
  add(k) {
    return this.n += k;
  }
}
task(import.meta, Counter);
`;

/** One program per kind of worker: it starts one, uses it once, and ends it. */
const KINDS: Record<string, string> = {
  process: `import { Process } from "./troupe.js";
import { empty } from "./tasks.js";
const p = new Process({ target: empty });
p.start();
await p.join();
`,
  pool: `import { Pool } from "./troupe.js";
import { double } from "./tasks.js";
const pool = new Pool({ processes: 1 });
await pool.apply(double, [1]);
pool.terminate();
await pool.join();
`,
  actor: `import { spawn } from "./troupe.js";
import { Counter } from "./tasks.js";
const ref = await spawn(Counter);
await ref.call.add(1);
await ref.stop();
`,
};

interface Sample {
  deserialize: number;
  compile: number;
  functions: number;
  deno: number;
}

// Events that are a function's compile work; "full-parse" is part of "parse-function".
const COMPILE = new Set(["parse-function", "parse", "preparse-resolution", "interpreter"]);

/** Sums one worker isolate's log: the bundle's deserialization and compiles, and Deno's compiles. */
function summarize(log: string): Sample {
  const scripts = new Map<string, string>();
  const sample: Sample = { deserialize: 0, compile: 0, functions: 0, deno: 0 };
  const compiled = new Set<string>();
  for (const line of log.split("\n")) {
    const f = line.split(",");
    if (f[0] === "script-details") scripts.set(f[1], f[2]);
    if (f[0] !== "function" || f.length < 6) continue;
    const ms = Number(f[5]);
    if (!Number.isFinite(ms)) continue;
    const script = scripts.get(f[2]) ?? "";
    if (script.endsWith("/troupe.js")) {
      if (f[1] === "deserialize") sample.deserialize += ms;
      else if (COMPILE.has(f[1])) {
        sample.compile += ms;
        if (f[1] === "parse-function") compiled.add(`${f[3]}:${f[4]}`);
      }
    } else if (script.startsWith("ext:") && COMPILE.has(f[1])) sample.deno += ms;
  }
  sample.functions = compiled.size;
  return sample;
}

async function deno(args: string[], cwd: string): Promise<void> {
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`deno ${args.join(" ")} failed:\n${new TextDecoder().decode(stderr)}`);
  }
}

/**
 * Samples `kind` with `bundle`. The directory's name is fixed per bundle so
 * that its code-cache entry is replaced, not added to, on every run.
 */
async function profile(bundle: string, index: number, kind: string): Promise<Sample[]> {
  const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/troupe-startup-profile-${index}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.copyFile(bundle, `${dir}/troupe.js`);
  await Deno.writeTextFile(`${dir}/tasks.js`, TASKS);
  await Deno.writeTextFile(`${dir}/${kind}.js`, KINDS[kind]);
  // V8 rejects a code cache made under other flags, so the run that makes it
  // logs too; its logs are thrown away.
  const run = () =>
    deno([
      "run",
      "-A",
      "--no-config",
      `--v8-flags=--log-function-events,--logfile=${dir}/v8.log`,
      `${kind}.js`,
    ], dir);
  const clear = async () => {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.name.endsWith(".log")) await Deno.remove(`${dir}/${entry.name}`);
    }
  };
  await run();
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    await clear();
    await run();
    // One log per isolate; a worker's is the one with its generated entry (a data: URL).
    for (const entry of Deno.readDirSync(dir)) {
      if (!entry.name.endsWith(".log")) continue;
      const log = await Deno.readTextFile(`${dir}/${entry.name}`);
      if (log.includes("data:application/javascript")) samples.push(summarize(log));
    }
  }
  await clear();
  return samples;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (xs: number[]) => `${median(xs).toFixed(3)} ms`;

console.log(
  "| bundle | worker | bundle deserialized | Troupe code compiled | functions compiled | Deno's code compiled |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const [index, bundle] of bundles.entries()) {
  for (const kind of Object.keys(KINDS)) {
    const samples = await profile(bundle, index, kind);
    if (samples.length === 0) {
      throw new Error(`no worker log for ${kind}: does this V8 log function events?`);
    }
    console.log(
      `| ${bundle.split("/").slice(-2).join("/")} | ${kind} | ${
        ms(samples.map((s) => s.deserialize))
      } | ${ms(samples.map((s) => s.compile))} | ${median(samples.map((s) => s.functions))} | ${
        ms(samples.map((s) => s.deno))
      } |`,
    );
  }
}
console.log(`\n(medians of ${runs} workers of each kind, V8's --log-function-events timings)`);
