// Tracing with Deno's OpenTelemetry: with OTEL_DENO=true, a pool task, an
// actor call and a manager call are each a span in the caller with the work
// in the child as its child span; with it off, nothing is sent. The calls run
// in a `deno run` child pointed at a receiver on 127.0.0.1.
import { assert, assertEquals } from "@std/assert";
import { otelEnv, type ReceivedSpan, startOtlpReceiver } from "./_otlp_receiver.ts";
import { runScript } from "./_helpers.ts";

const FIXTURE = new URL("./fixtures/traced_calls.ts", import.meta.url);

interface Ran {
  tracing: boolean;
  user?: { traceId: string; spanId: string };
  values: number[];
  failure: string;
  pids: { thread: number; spawn: number; actor: number; manager: number };
}

/** Runs the fixture with `env`, SIGKILLed after 60 s; what it printed last, as JSON. */
async function run(env: Record<string, string>): Promise<Ran> {
  const { code, stdout, stderr } = await runScript(FIXTURE, 60_000, [], env);
  assertEquals(code, 0, `the fixture failed:\n${stdout}\n${stderr}`);
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

/** The one span named `name`, failing with the names received when there is not exactly one. */
function one(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  assertEquals(found.length, 1, `one span named "${name}" in [${spans.map((s) => s.name)}]`);
  return found[0];
}

/** Checks that `child` is a server span under the client span `parent`, in its trace. */
function childOf(child: ReceivedSpan, parent: ReceivedSpan): void {
  assertEquals(parent.kind, "client", `${parent.name} is the caller's`);
  assertEquals(child.kind, "server", `${child.name} is the callee's`);
  assertEquals(child.traceId, parent.traceId, `${child.name} is in ${parent.name}'s trace`);
  assertEquals(child.parentSpanId, parent.spanId, `${child.name}'s parent is ${parent.name}`);
}

Deno.test("with OTEL_DENO=true each call is a span, with its work in the child under it", async () => {
  await using receiver = startOtlpReceiver();
  const ran = await run(otelEnv(receiver, "traced-calls"));
  assert(ran.tracing, "the child traces");
  assertEquals(ran.values, [9, 16, 5, 1]);
  assertEquals(ran.failure, "RemoteError");
  const spans = await receiver.waitFor(
    (spans) =>
      spans.filter((s) => s.name.startsWith("pool.")).length >= 6 &&
      spans.some((s) => s.name === "manager.handle get"),
    "every span arrived",
    30_000,
  );
  const user = one(spans, "user work");
  assertEquals([user.traceId, user.spanId], [ran.user!.traceId, ran.user!.spanId]);

  // Pool tasks: one in a thread, one in a spawn worker (an OS process of its own).
  const tasks = spans.filter((s) => s.name === "pool.task square");
  const runs = spans.filter((s) => s.name === "pool.run square");
  assertEquals([tasks.length, runs.length], [2, 2]);
  for (const task of tasks) {
    assertEquals(task.parentSpanId, user.spanId, "a pool task's span is a child of the user's");
    assertEquals(task.attributes["troupe.task"], "square");
    assertEquals(task.attributes["troupe.outcome"], "ok");
    assertEquals(task.status.code, "unset");
    const work = runs.find((r) => r.parentSpanId === task.spanId);
    assert(work, `a run under ${task.spanId}`);
    childOf(work, task);
    assertEquals(work.attributes["troupe.worker.pid"], task.attributes["troupe.worker.pid"]);
  }
  const pids = tasks.map((t) => t.attributes["troupe.worker.pid"]).sort();
  assertEquals(pids, [ran.pids.thread, ran.pids.spawn].sort());

  // A task that throws: both spans say so.
  const failed = one(spans, "pool.task failOn");
  const failedRun = one(spans, "pool.run failOn");
  childOf(failedRun, failed);
  assertEquals([failed.status.code, failed.attributes["troupe.outcome"]], ["error", "error"]);
  assertEquals(failedRun.status.code, "error");
  assert(failed.status.message.includes("bad item 3"), failed.status.message);

  // An actor call, and a manager call.
  const call = one(spans, "actor.call inc");
  childOf(one(spans, "actor.handle inc"), call);
  assertEquals(call.attributes["troupe.worker.pid"], ran.pids.actor);
  assertEquals(call.parentSpanId, user.spanId);
  const set = one(spans, "manager.call set");
  childOf(one(spans, "manager.handle set"), set);
  childOf(one(spans, "manager.handle get"), one(spans, "manager.call get"));
  assertEquals(set.attributes["troupe.worker.pid"], ran.pids.manager);
  assertEquals(receiver.rejected(), []);
});

Deno.test("with OTEL_DENO off the same calls run and nothing is sent", async () => {
  await using receiver = startOtlpReceiver();
  const ran = await run({ ...otelEnv(receiver), OTEL_DENO: "false" });
  assertEquals(ran.tracing, false);
  assertEquals(ran.values, [9, 16, 5, 1]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assertEquals(receiver.spans(), []);
});
