/**
 * Scenario 12: untrusted input parsed in a sandboxed OS process. The parser
 * runs with `startMethod: "spawn"` and `permissions: "none"`: it cannot read
 * a file, an environment variable or the network, nor signal its parent. An
 * input that makes it hang is killed: the OS process is gone, and the program
 * goes on. A pool of OS processes survives a task that runs out of memory:
 * that task fails with a `MemoryError`, the worker is replaced, the next
 * tasks run.
 *
 * Run: deno run -A examples/12_untrusted_parser.ts
 */
import { Pool, Process, RemoteError, task } from "../mod.ts";

/** A parser with a bug: some inputs make it loop for good, others make it allocate without end. */
export const parse = task(import.meta, function parse(text: string): number {
  if (text.includes("{{")) { for (;;) { /* the bug: never returns */ } }
  if (text.includes("[[")) {
    const held: string[] = [];
    for (;;) held.push("x".repeat(1 << 20) + held.length);
  }
  // What a sandboxed parser cannot do, whatever its input says.
  try {
    Deno.readTextFileSync("/etc/hostname");
    throw new Error("the sandbox let the parser read a file");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
  }
  return text.split(",").length;
});

if (import.meta.main) {
  // One document at a time, each in a fresh sandbox, with a deadline.
  for (const input of ["a,b,c", "{{ hangs"]) {
    const p = new Process({
      target: parse,
      args: [input],
      startMethod: "spawn",
      permissions: "none",
      memoryLimitMb: 64,
    });
    p.start();
    const code = await p.join(1000);
    if (code === null) {
      p.kill(); // a real SIGKILL: the OS process is gone once join() resolves
      await p.join();
      console.log(`"${input}": hung, killed (exit code ${p.exitCode}, pid ${p.pid} gone)`);
      if (p.exitCode !== -9) throw new Error("expected -9");
    } else {
      console.log(`"${input}": parsed in pid ${p.pid}, exit code ${code}`);
    }
  }

  // Many documents through a pool of OS processes with a heap limit each.
  await using pool = new Pool({
    processes: 2,
    startMethod: "spawn",
    permissions: "none",
    memoryLimitMb: 64,
  });
  // A call's timeoutMs counts from the call, and one the pool queued on a
  // worker behind a hung call waits with it: here the input that hangs is last.
  const inputs = ["x,y", "[[ grows", "1,2,3,4", "p,q,r", "{{ hangs"];
  const results = await Promise.allSettled(
    inputs.map((text) => pool.apply(parse, [text], { timeoutMs: 2000 })),
  );
  results.forEach((r, i) => {
    const what = r.status === "fulfilled"
      ? `${r.value} fields`
      : r.reason instanceof RemoteError
      ? `failed: ${r.reason.message}`
      : `failed: ${(r.reason as Error).name}: ${(r.reason as Error).message}`;
    console.log(`pool "${inputs[i]}": ${what}`);
  });
  const ok = results.map((r) => r.status === "fulfilled" ? r.value : null);
  if (ok[0] !== 2 || ok[2] !== 4 || ok[3] !== 3) throw new Error("the good inputs must parse");
  if (!String((results[1] as PromiseRejectedResult).reason).includes("out of memory")) {
    throw new Error("the growing input must fail with out of memory");
  }
  if (results[4].status !== "rejected") throw new Error("the hanging input must time out");
  // The pool is still usable after both.
  console.log(`afterwards: ${await pool.apply(parse, ["still,works"])} fields`);
}
