// Spans for Deno's built-in OpenTelemetry (`OTEL_DENO=true`), with no
// dependency: a call (a pool task, an actor call, a manager call) is a span in
// the caller, and its work in the child a span under it, whose parent travels
// in the call's message as a W3C `traceparent` string.
//
// Deno puts its tracer provider on the global that @opentelemetry/api reads
// only when tracing is on (OTEL_DENO or OTEL_DENO_TRACING true, and not
// OTEL_SDK_DISABLED), in the main thread, in every Worker (which may not read
// the environment) and in a `deno run` child (which inherits it). So
// `_TRACING` is read once, and with it off every hook below is one branch on a
// constant: nothing is made, nothing is sent. (With it off, `startSpan` throws
// "otel not initialized".) Deno types `Deno.telemetry` as `any`; the little
// used here is declared here.

/** The part of Deno's Span used here. */
export interface _Span {
  spanContext(): { traceId: string; spanId: string; traceFlags: number };
  setAttribute(key: string, value: string | number | boolean): _Span;
  setStatus(status: { code: 0 | 1 | 2; message?: string }): _Span;
  end(): void;
}

interface Context {
  setValue(key: symbol, value: unknown): Context;
}

interface Tracer {
  startSpan(
    name: string,
    options?: { kind?: number; attributes?: Record<string, string | number | boolean> },
    context?: Context,
  ): _Span;
}

const api = (globalThis as Record<symbol, { trace?: unknown } | undefined>)[
  Symbol.for("opentelemetry.js.api.1")
];

/** Whether Deno records spans in this process (it cannot change while it runs). */
export const _TRACING: boolean = api?.trace !== undefined &&
  api.trace === Deno.telemetry?.tracerProvider;

const tracer: Tracer | undefined = _TRACING
  ? Deno.telemetry.tracerProvider.getTracer("troupe")
  : undefined;

// The key under which a Context holds its span: @opentelemetry/api's.
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

// OpenTelemetry's span kinds and status codes.
const SERVER = 1;
const CLIENT = 2;
const ERROR = 2;

/** How a traced call ended: the `troupe.outcome` attribute. */
export type _Outcome = "ok" | "error" | "timeout" | "cancelled" | "died";

/**
 * Starts the caller's span of a call, a child of the active span (the user's
 * own, if any); `undefined` when tracing is off, so callers test `_TRACING`
 * first and pay nothing.
 */
export function _startCall(
  name: string,
  attributes: Record<string, string | number | boolean>,
): _Span | undefined {
  return tracer?.startSpan(name, { kind: CLIENT, attributes });
}

/** The `traceparent` that makes the child's span a child of `span`. */
export function _traceparent(span: _Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags & 1 ? "01" : "00"}`;
}

/**
 * Runs `work` in the child as a span under the caller's (`traceparent`), with
 * that span active, so that spans the user's code makes inside (its `fetch`
 * calls too) are its children. The span ends when `work`'s promise settles,
 * or when it returns; an error it throws marks the span as failed and is
 * thrown on. Without tracing in this process, runs `work` alone.
 */
export function _inChildSpan<T>(
  traceparent: string,
  name: string,
  attributes: Record<string, string | number | boolean>,
  work: () => T,
  failed?: (value: Awaited<T>) => unknown,
): T {
  if (!tracer) return work();
  const parent = parentContext(traceparent);
  if (!parent) return work();
  const span = tracer.startSpan(name, { kind: SERVER, attributes }, parent);
  let value: T;
  try {
    value = Deno.telemetry.contextManager.with(parent.setValue(SPAN_KEY, span), work);
  } catch (error) {
    _endCall(span, "error", error);
    throw error;
  }
  if (value instanceof Promise) {
    value.then(
      (v) => endWith(span, v, failed),
      (error) => _endCall(span, "error", error),
    );
  } else endWith(span, value as Awaited<T>, failed);
  return value;
}

function endWith<T>(span: _Span, value: T, failed?: (value: T) => unknown): void {
  const error = failed?.(value);
  if (error === undefined) _endCall(span, "ok");
  else _endCall(span, "error", error);
}

/** Ends a call's span with its outcome; a failure sets the span's error status. */
export function _endCall(span: _Span, outcome: _Outcome, error?: unknown): void {
  span.setAttribute("troupe.outcome", outcome);
  if (outcome !== "ok") {
    const message = error instanceof Error
      ? `${error.name}: ${error.message}`
      : typeof error === "object" && error !== null && "message" in error
      ? String((error as { name?: unknown }).name ?? "Error") + ": " +
        String((error as { message: unknown }).message)
      : String(error ?? outcome);
    span.setStatus({ code: ERROR, message });
  }
  span.end();
}

/** The outcome a call's error stands for. */
export function _outcomeOf(error: unknown): _Outcome {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === "TimeoutError") return "timeout";
  if (name === "AbortError" || name === "CancelledError") return "cancelled";
  return "error";
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A context whose span is the remote parent named by `traceparent`; undefined if malformed. */
function parentContext(traceparent: string): Context | undefined {
  const match = typeof traceparent === "string" ? TRACEPARENT.exec(traceparent) : null;
  if (!match) return undefined;
  const remote = {
    traceId: match[1],
    spanId: match[2],
    traceFlags: parseInt(match[3], 16),
    isRemote: true,
  };
  // Deno takes any object with a spanContext() as a context's span.
  return (Deno.telemetry.contextManager.active() as Context).setValue(SPAN_KEY, {
    spanContext: () => remote,
  });
}
