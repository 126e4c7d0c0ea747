// The pool benchmark as a program: it runs, checks every case's results, and reports.
import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import * as troupe from "../troupe.ts";

const script = new URL("../bench/pool_compare.ts", import.meta.url).pathname;

async function bench(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, out: text.decode(stdout), err: text.decode(stderr) };
}

Deno.test("bench:pool --quick --no-peers measures every Troupe and raw case into the table", async () => {
  const { code, out, err } = await bench("--quick", "--rounds", "1", "--no-peers");
  assertEquals(code, 0, err);
  const rate = String.raw`[\d.]+[Mk]/s`;
  assertMatch(
    out,
    new RegExp(`\\| \`map\` 10,000 × square, automatic chunksize \\| ${rate} \\| ${rate}`),
  );
  assertMatch(out, new RegExp(`\\| \`map\` 10,000 × square, chunksize 1 \\| ${rate} \\| ${rate}`));
  assertMatch(out, new RegExp(`\\| \`apply\` × 10,000, all at once \\| ${rate} \\| ${rate}`));
  assertMatch(out, new RegExp(`\\| \`applyAsync\` × 10,000, all at once \\| ${rate} \\| ${rate}`));
  if ("ProcessPoolExecutor" in troupe) {
    const submit = `\\| \`ProcessPoolExecutor.submit\` × 10,000, all at once \\| ${rate} \\|`;
    assertMatch(out, new RegExp(submit));
  }
  assertMatch(out, /\| `apply` round trip [^|]*\| \d+ µs \| \d+ µs/);
  assertMatch(out, /\| fib\(30\) [^|]*\| [\d.]+x \| [\d.]+x/);
  assertStringIncludes(out, "piscina, tinypool and Python skipped: --no-peers.");
});

Deno.test("bench:pool rejects an unknown argument, naming it and the usage", async () => {
  const { code, err } = await bench("--fast");
  assertEquals(code, 1);
  assertStringIncludes(err, "unknown argument --fast");
  assertStringIncludes(err, "usage: deno task bench:pool");
});

Deno.test("bench/startup_profile.ts times each kind of worker's start-up by V8's clock", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../bench/startup_profile.ts", import.meta.url).pathname, "1"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  assertEquals(code, 0, text.decode(stderr));
  const out = text.decode(stdout);
  const ms = String.raw`(\d+\.\d{3}) ms`;
  for (const kind of ["process", "pool", "actor"]) {
    const row = new RegExp(
      String.raw`\| dist/troupe\.js \| ${kind} \| ${ms} \| ${ms} \| \d+ \| ${ms} \|`,
    )
      .exec(out);
    if (!row) throw new Error(`no ${kind} row in:\n${out}`);
    // Every worker deserializes the bundle's code cache: a zero means the log was not read.
    if (!(Number(row[1]) > 0)) throw new Error(`${kind}: no deserialization measured:\n${out}`);
  }
});

Deno.test("bench/spawn_compare.ts measures spawn beside thread and a bare deno run", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../bench/spawn_compare.ts", import.meta.url).pathname,
      ...["--starts", "2", "--n", "2000", "--trips", "20", "--runs", "1", "--items", "200"],
      "--no-peers",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  const ms = String.raw`[\d.]+ ms`;
  assertMatch(
    out,
    new RegExp(`\\| start \\+ join, empty target \\| spawn ${ms} / ${ms} \\| thread`),
  );
  assertMatch(
    out,
    new RegExp(`\\| Pool\\(2, spawn\\)\\.map of 2,000 tiny tasks, warm pool \\| ${ms}`),
  );
  assertMatch(out, /\| apply\(\) round trip, one at a time \| \d+ µs \/ \d+ µs/);
  assertMatch(
    out,
    /\| Queue, spawn child → spawn child, 200 items .*\| [\d.]+k\/s one put\/get each/,
  );
});
