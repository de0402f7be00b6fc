/**
 * OpenTelemetry traces, exported over OTLP/HTTP (JSON) when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. cli.ts imports this module only then: without it no
 * OpenTelemetry code is loaded. The exporter reads its other `OTEL_*` variables (headers, timeout)
 * itself; `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` name the service.
 *
 * One span per tool call (`tools/call <tool>`, kind server), continuing the caller's trace: the W3C
 * `traceparent` / `tracestate` from the request's `_meta` (SEP-414), else from the HTTP request's
 * headers; a root span when neither is there. One child span per provider call (`flops <method>`,
 * kind client; its retries are in it). Attributes are names, outcomes, statuses and ids only: never
 * the arguments, the credentials, a password, a key, an Authorization header, or a URL's query
 * string (where the Flops API takes its credentials).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Attributes,
  type Context,
  defaultTextMapGetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { attachTraces, type ProviderCallEnd, type ToolCallEnd, type TraceSink } from './observe.js';
import { VERSION } from './version.js';

export interface Tracing {
  /** Export what is buffered now. */
  flush(): Promise<void>;
  /** Detach, export what is left, stop. */
  shutdown(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();

/** The caller's context from a traceparent (and tracestate); the root when absent or invalid. */
function callerContext(traceparent: string | undefined, tracestate: string | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent };
  if (tracestate) carrier['tracestate'] = tracestate;
  return propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}

/**
 * Run `run` in `span` and end it with what `end()` says once it is done: its attributes, and
 * whether it failed. A throw marks the span failed with the error's class only (its message may
 * quote what the provider said).
 */
async function inSpan<T>(
  span: Span,
  run: () => Promise<T>,
  end: () => { attributes: Attributes; failed: boolean },
): Promise<T> {
  let thrown: string | undefined;
  try {
    return await run();
  } catch (err) {
    thrown = err instanceof Error ? err.name : 'Error';
    throw err;
  } finally {
    const e = end();
    span.setAttributes(e.attributes);
    if (thrown !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: thrown });
    else if (e.failed) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }
}

/**
 * Start exporting traces and attach them to the hook (observe.ts). The exporter reads its endpoint,
 * headers and timeout from the OTEL_EXPORTER_OTLP_* variables itself; `url` overrides the endpoint.
 */
export function startTracing(options: { url?: string } = {}): Tracing {
  const exporter = new OTLPTraceExporter(options.url ? { url: options.url } : {});
  const provider = new BasicTracerProvider({
    resource: defaultResource()
      .merge(resourceFromAttributes({ 'service.name': 'flops-mcp', 'service.version': VERSION }))
      .merge(detectResources({ detectors: [envDetector] })),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('flops-mcp', VERSION);
  /** The context of the tool call running (its span), for the provider calls it makes. */
  const current = new AsyncLocalStorage<Context>();

  const sink: TraceSink = {
    toolCall(start, run, end) {
      const parent = callerContext(start.traceparent, start.tracestate);
      const span = tracer.startSpan(
        `tools/call ${start.tool}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'mcp.method.name': 'tools/call',
            'gen_ai.operation.name': 'execute_tool',
            'gen_ai.tool.name': start.tool,
            'flops_mcp.era': start.era,
            ...(start.session ? { 'mcp.session.id': start.session } : {}),
          },
        },
        parent,
      );
      return inSpan(
        span,
        () => current.run(trace.setSpan(parent, span), run),
        () => {
          const e: ToolCallEnd = end();
          return {
            attributes: {
              'flops_mcp.outcome': e.outcome,
              ...(e.operationId !== undefined ? { 'flops.operation.id': e.operationId } : {}),
            },
            failed: e.outcome === 'error',
          };
        },
      );
    },
    providerCall(start, run, end) {
      const parent = current.getStore() ?? ROOT_CONTEXT;
      let host: string | undefined;
      try {
        host = new URL(start.url).hostname;
      } catch {
        host = undefined;
      }
      const span = tracer.startSpan(
        `flops ${start.method}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'http.request.method': 'GET',
            'url.full': start.url,
            'url.template': start.template,
            ...(host ? { 'server.address': host } : {}),
            'flops.method': start.method,
            'flops.read': start.read,
          },
        },
        parent,
      );
      return inSpan(span, run, () => {
        const e: ProviderCallEnd = end();
        return {
          attributes: {
            'flops.outcome': e.outcome,
            'flops.attempts': e.attempts,
            ...(e.httpStatus !== undefined ? { 'http.response.status_code': e.httpStatus } : {}),
            ...(e.errorCode ? { 'flops.error_code': e.errorCode } : {}),
            ...(e.outcome !== 'ok' ? { 'error.type': e.outcome } : {}),
          },
          failed: e.outcome !== 'ok',
        };
      });
    },
  };
  attachTraces(sink);
  return {
    flush: () => provider.forceFlush(),
    async shutdown() {
      attachTraces(undefined);
      await provider.shutdown().catch(() => undefined);
    },
  };
}
