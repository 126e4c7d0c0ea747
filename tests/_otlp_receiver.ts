// A small OTLP/HTTP receiver for tests: Deno.serve on 127.0.0.1, port 0.
//
// Deno's exporter speaks http/json when OTEL_EXPORTER_OTLP_PROTOCOL=http/json
// (its default is http/protobuf), so a request body is JSON: an
// ExportTraceServiceRequest, resourceSpans → scopeSpans → spans, with trace
// and span ids as lowercase hex, the span kind as the protobuf enum
// (1 internal … 5 consumer), integers as strings in `intValue`, and JS
// numbers (integers too) as `doubleValue`. Logs and metrics posted to
// /v1/logs and /v1/metrics are answered and ignored.

/** One span as it reached the receiver. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  name: string;
  kind: SpanKindName;
  attributes: Record<string, AttributeValue>;
  status: { code: "unset" | "ok" | "error"; message: string };
  /** `service.name` of the resource that sent it (OTEL_SERVICE_NAME). */
  service: string | undefined;
  /** Name of the tracer (instrumentation scope) that made it. */
  scope: string;
}

/** The span kinds, by the OTLP enum's number. */
export type SpanKindName =
  | "unspecified"
  | "internal"
  | "server"
  | "client"
  | "producer"
  | "consumer";

/** An attribute's value, decoded from OTLP's AnyValue. */
export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | AttributeValue[]
  | { [key: string]: AttributeValue };

/** A running receiver; close it, or `await using` it. */
export interface OtlpReceiver extends AsyncDisposable {
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** What OTEL_EXPORTER_OTLP_ENDPOINT should be. */
  readonly endpoint: string;
  /** Every span received so far, in arrival order. */
  spans(): ReceivedSpan[];
  /** Requests it could not read (not JSON, or not an export request). */
  rejected(): string[];
  /** Waits until `ready(spans)` is true, checking every 10 ms; fails naming `what` after `timeoutMs`. */
  waitFor(
    ready: (spans: ReceivedSpan[]) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<ReceivedSpan[]>;
  /** Stops listening; requests under way are finished first. */
  close(): Promise<void>;
}

const KINDS: SpanKindName[] = [
  "unspecified",
  "internal",
  "server",
  "client",
  "producer",
  "consumer",
];
const STATUS = ["unset", "ok", "error"] as const;

/** Starts a receiver on 127.0.0.1 with a port the system picks. */
export function startOtlpReceiver(): OtlpReceiver {
  const received: ReceivedSpan[] = [];
  const rejected: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      let body: unknown;
      try {
        body = await request.json();
      } catch (error) {
        rejected.push(`${path}: ${request.headers.get("content-type")}: ${String(error)}`);
        return new Response("this receiver takes http/json only", { status: 415 });
      }
      if (path === "/v1/traces") {
        try {
          received.push(...decodeTraces(body));
        } catch (error) {
          rejected.push(`${path}: ${String(error)}`);
          return new Response(String(error), { status: 400 });
        }
      }
      return Response.json({ partialSuccess: {} });
    },
  );
  const port = server.addr.port;
  let closed: Promise<void> | undefined;
  const close = () => closed ??= server.shutdown();
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    spans: () => [...received],
    rejected: () => [...rejected],
    async waitFor(ready, what, timeoutMs = 10_000) {
      const deadline = performance.now() + timeoutMs;
      while (!ready(received)) {
        if (performance.now() > deadline) {
          const names = received.map((s) => s.name).join(", ");
          throw new Error(`timed out waiting until ${what}; received: [${names}]`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return [...received];
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The environment that makes a `deno run` child export its spans to
 * `receiver`, as JSON, soon after they end (and all of them at exit), with
 * no console logs or metrics sent along.
 */
export function otelEnv(receiver: OtlpReceiver, service = "troupe-test"): Record<string, string> {
  return {
    OTEL_DENO: "true",
    OTEL_DENO_CONSOLE: "ignore",
    OTEL_DENO_METRICS: "false",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_BSP_SCHEDULE_DELAY: "50",
    OTEL_SERVICE_NAME: service,
    NO_COLOR: "1",
  };
}

// The JSON shape of an ExportTraceServiceRequest, as far as it is read here.
interface JsonKeyValue {
  key: string;
  value?: JsonAnyValue;
}
interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: JsonAnyValue[] };
  kvlistValue?: { values?: JsonKeyValue[] };
  bytesValue?: string;
}
interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes?: JsonKeyValue[];
  status?: { code?: number; message?: string };
}
interface JsonRequest {
  resourceSpans?: {
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: JsonSpan[] }[];
  }[];
}

function decodeTraces(body: unknown): ReceivedSpan[] {
  if (typeof body !== "object" || body === null) throw new TypeError("not an export request");
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of (body as JsonRequest).resourceSpans ?? []) {
    const resource = attributes(resourceSpans.resource?.attributes);
    const service = resource["service.name"];
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        spans.push({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId ?? "",
          name: span.name,
          kind: KINDS[span.kind ?? 0] ?? "unspecified",
          attributes: attributes(span.attributes),
          status: {
            code: STATUS[span.status?.code ?? 0] ?? "unset",
            message: span.status?.message ?? "",
          },
          service: typeof service === "string" ? service : undefined,
          scope: scopeSpans.scope?.name ?? "",
        });
      }
    }
  }
  return spans;
}

function attributes(list: JsonKeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) out[key] = anyValue(value);
  return out;
}

function anyValue(value: JsonAnyValue | undefined): AttributeValue {
  if (value === undefined) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(anyValue);
  if (value.kvlistValue !== undefined) return attributes(value.kvlistValue.values);
  if (value.bytesValue !== undefined) return value.bytesValue;
  return null;
}
