/**
 * @module @breakwater/core/tracing
 * OpenTelemetry spans through `@opentelemetry/api` (an optional peer dependency): one span per
 * HTTP request (or per LLM call outside a request) with a child span per upstream attempt,
 * built from the outcome records when they end, so the hot path does no tracing work.
 * Attributes follow the GenAI semantic conventions where they fit.
 */
import { SpanKind, SpanStatusCode, context, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { AnyEngine } from './engine.js';
import type { AttemptRecord, CallOutcome } from './outcome.js';
import type { AnyGuard, Guard } from './request/guard.js';
import type { RequestOutcome } from './request/request-outcome.js';

/** Options of {@link openTelemetryTracing}. */
export interface TracingOptions {
  /** Default: `trace.getTracer('breakwater')`. */
  tracer?: Tracer;
  /** The adapters' guards (`bw.guard`): their requests become the root spans. */
  guards?: AnyGuard[];
}

/**
 * Traces every request (with `guards`) or every call (without) as spans with children per
 * attempt. Target names like `openai/gpt-4o-mini` give `gen_ai.system` and
 * `gen_ai.request.model`; other names are the system. Returns the function that stops it.
 */
export function openTelemetryTracing(engine: AnyEngine, options: TracingOptions = {}): () => void {
  const tracer = options.tracer ?? trace.getTracer('breakwater');
  const clock = engine.clock;
  const toEpoch = (engineMs: number): number => clock.date() - (clock.now() - engineMs);
  const guards = options.guards ?? [];

  const traceCalls = (parent: Span | undefined, calls: CallOutcome[]): void => {
    const ctx = parent ? trace.setSpan(context.active(), parent) : context.active();
    for (const call of calls) {
      const start = toEpoch(call.startedAt);
      const callSpan = parent
        ? undefined
        : tracer.startSpan(
            'breakwater.call',
            { kind: SpanKind.CLIENT, startTime: start, attributes: callAttributes(call) },
            ctx,
          );
      const spanCtx = callSpan ? trace.setSpan(ctx, callSpan) : ctx;
      for (const attempt of call.attempts) {
        const attemptStart = start + attempt.startMs;
        const span = tracer.startSpan(
          `chat ${attempt.target}`,
          { kind: SpanKind.CLIENT, startTime: attemptStart, attributes: attemptAttributes(attempt) },
          spanCtx,
        );
        if (!attempt.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: attempt.class ?? 'error' });
        span.end(attemptStart + attempt.latencyMs);
      }
      if (callSpan) {
        if (!call.ok) callSpan.setStatus({ code: SpanStatusCode.ERROR, message: call.failureClass ?? 'error' });
        callSpan.end(start + call.latencyMs);
      }
    }
  };

  const offs: (() => void)[] = [];
  if (guards.length > 0) {
    for (const guard of guards) {
      offs.push(
        (guard as Guard<unknown>).events.on('request', (request: RequestOutcome) => {
          const span = tracer.startSpan(`${request.method} ${request.route}`, {
            kind: SpanKind.SERVER,
            startTime: request.startedAt,
            attributes: requestAttributes(request),
          });
          if (!request.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: request.tier });
          traceCalls(span, request.calls);
          span.end(request.startedAt + request.latencyMs);
        }),
      );
    }
  } else {
    offs.push(engine.on('outcome', (call) => traceCalls(undefined, [call])));
  }
  return () => offs.forEach((off) => off());
}

function systemAndModel(target: string): Attributes {
  const slash = target.indexOf('/');
  return slash < 0
    ? { 'gen_ai.system': target }
    : { 'gen_ai.system': target.slice(0, slash), 'gen_ai.request.model': target.slice(slash + 1) };
}

function attemptAttributes(attempt: AttemptRecord): Attributes {
  const attributes: Attributes = {
    ...systemAndModel(attempt.target),
    'gen_ai.operation.name': 'chat',
    'breakwater.target': attempt.target,
    'breakwater.attempt': attempt.attempt,
    'breakwater.breaker': attempt.breaker,
  };
  if (attempt.class) attributes['breakwater.class'] = attempt.class;
  if (attempt.status !== undefined) attributes['http.response.status_code'] = attempt.status;
  if (attempt.firstTokenMs !== undefined) attributes['breakwater.time_to_first_token_ms'] = attempt.firstTokenMs;
  if (attempt.waitMs !== undefined) {
    attributes['breakwater.wait_ms'] = attempt.waitMs;
    attributes['breakwater.wait_reason'] = attempt.waitReason ?? 'backoff';
  }
  return attributes;
}

function callAttributes(call: CallOutcome): Attributes {
  const attributes: Attributes = { 'breakwater.retries': call.retries, 'breakwater.chain': call.chain.join(',') };
  if (call.target) attributes['breakwater.target'] = call.target;
  if (call.tier !== undefined) attributes['breakwater.tier'] = call.tier;
  if (call.failureClass) attributes['breakwater.class'] = call.failureClass;
  if (call.hedge) attributes['breakwater.hedges'] = call.hedge.started;
  return attributes;
}

function requestAttributes(request: RequestOutcome): Attributes {
  const attributes: Attributes = {
    'http.request.method': request.method,
    'http.route': request.route,
    'http.response.status_code': request.status,
    'breakwater.request_id': request.requestId,
    'breakwater.tier': request.tier,
    'breakwater.retries': request.retries,
    'breakwater.hedges': request.hedges,
  };
  if (request.tenant) attributes['breakwater.tenant'] = request.tenant;
  if (request.provider) attributes['breakwater.provider'] = request.provider;
  return attributes;
}
