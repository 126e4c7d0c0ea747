// The OTLP receiver that tracing tests read spans from, and what Deno's
// OpenTelemetry does that they rely on: a `deno run` child with OTEL_DENO=true
// exports its spans and its Workers' spans, and a span made from a trace
// context sent by postMessage is a child of the span that sent it.
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import {
  otelEnv,
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
} from "./_otlp_receiver.ts";
import { runScript } from "./_helpers.ts";

const PARENT = new URL("./fixtures/otel_parent.ts", import.meta.url);

function byName(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  assertEquals(found.length, 1, `one span named ${name}, in [${spans.map((s) => s.name)}]`);
  return found[0];
}

async function post(receiver: OtlpReceiver, body: BodyInit, type: string): Promise<number> {
  const res = await fetch(`${receiver.endpoint}/v1/traces`, {
    method: "POST",
    headers: { "content-type": type },
    body,
  });
  await res.body?.cancel();
  return res.status;
}

Deno.test("otlp receiver: decodes an http/json export request", async () => {
  await using receiver = startOtlpReceiver();
  assertNotEquals(receiver.port, 0);
  const request = {
    resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "svc" } }] },
      scopeSpans: [{
        scope: { name: "troupe", version: "0.1.0" },
        spans: [{
          traceId: "0af7651916cd43dd8448eb211c80319c",
          spanId: "b7ad6b7169203331",
          parentSpanId: "00f067aa0ba902b7",
          name: "pool.apply",
          kind: 3,
          attributes: [
            { key: "troupe.task", value: { stringValue: "square" } },
            { key: "troupe.pid", value: { intValue: "4242" } },
            { key: "ratio", value: { doubleValue: 0.5 } },
            { key: "ok", value: { boolValue: false } },
            { key: "tags", value: { arrayValue: { values: [{ stringValue: "a" }] } } },
          ],
          status: { code: 2, message: "RemoteError: boom" },
        }],
      }],
    }],
  };
  assertEquals(await post(receiver, JSON.stringify(request), "application/json"), 200);
  assertEquals(receiver.spans(), [{
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    parentSpanId: "00f067aa0ba902b7",
    name: "pool.apply",
    kind: "client",
    attributes: { "troupe.task": "square", "troupe.pid": 4242, ratio: 0.5, ok: false, tags: ["a"] },
    status: { code: "error", message: "RemoteError: boom" },
    service: "svc",
    scope: "troupe",
  }]);
  // Protobuf is not read: the request is refused and noted, not dropped unseen.
  assertEquals(await post(receiver, new Uint8Array([10, 0]), "application/x-protobuf"), 415);
  assertEquals(receiver.rejected().length, 1);
});

Deno.test("otlp receiver: a traced child's span, and its Worker's child span, with parent links", async () => {
  await using receiver = startOtlpReceiver();
  const { code, stdout, stderr } = await runScript(
    PARENT,
    30_000,
    [],
    otelEnv(receiver, "otel-probe"),
  );
  assertEquals(code, 0, stderr);
  const seen = JSON.parse(stdout.trim().split("\n").at(-1)!);
  assertEquals(seen.tracing, true);
  assertEquals(seen.worker.tracing, true, "the Worker sees tracing on too");

  const spans = await receiver.waitFor((s) => s.length >= 4, "4 spans arrived");
  assertEquals(receiver.rejected(), []);
  assertEquals(spans.map((s) => s.name).sort(), [
    "test.call",
    "test.failed",
    "test.inner",
    "test.work",
  ]);
  const call = byName(spans, "test.call");
  const work = byName(spans, "test.work");
  const inner = byName(spans, "test.inner");
  const failed = byName(spans, "test.failed");

  // The caller's span is a root; the Worker's is its child, made from the
  // context that came by postMessage; the one inside is the Worker span's child.
  assertEquals(call.parentSpanId, "");
  assertEquals(call.spanId, seen.call.spanId);
  assertEquals(call.traceId, seen.call.traceId);
  assertEquals(work.traceId, call.traceId);
  assertEquals(work.parentSpanId, call.spanId);
  assertEquals(inner.traceId, call.traceId);
  assertEquals(inner.parentSpanId, work.spanId);
  assertEquals(failed.parentSpanId, "");
  assertNotEquals(failed.traceId, call.traceId);

  // Kinds go out as the protobuf enum: JS kind 2 (client) is 3, 1 (server) is 2.
  assertEquals([call.kind, work.kind, inner.kind], ["client", "server", "internal"]);
  // Attributes: a JS number goes out as a double, an integer one too.
  assertEquals(call.attributes, {
    "troupe.task": "square",
    "troupe.pid": seen.worker.pid,
    "troupe.outcome": "ok",
  });
  assertEquals(work.attributes["troupe.pid"], seen.worker.pid);
  assertEquals(call.status, { code: "unset", message: "" });
  assertEquals(failed.status, { code: "error", message: "RemoteError: boom" });
  assertEquals(failed.attributes["troupe.outcome"], "error");
  for (const span of spans) {
    assertEquals(span.service, "otel-probe");
    assertEquals(span.scope, "troupe");
    assert(/^[0-9a-f]{32}$/.test(span.traceId) && /^[0-9a-f]{16}$/.test(span.spanId));
  }
});

Deno.test("otlp receiver: with OTEL_DENO=false the child records nothing and sends nothing", async () => {
  await using receiver = startOtlpReceiver();
  const env = { ...otelEnv(receiver), OTEL_DENO: "false" };
  const { code, stdout } = await runScript(PARENT, 30_000, [], env);
  assertEquals(code, 2);
  assertEquals(JSON.parse(stdout.trim()), { tracing: false });
  // It exported before it exited, if at all: anything sent has had its time.
  await new Promise((resolve) => setTimeout(resolve, 200));
  assertEquals(receiver.spans(), []);
  assertEquals(receiver.rejected(), []);
});
