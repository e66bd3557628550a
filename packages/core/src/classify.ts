import { BreakwaterTimeoutError, type TimeoutPhase } from './errors.js';
import { retryAfterFromHeaders, retryDelayFromBody, shouldRetryHeader, type HeaderSource } from './retry-after.js';

/**
 * What went wrong with an LLM call, in terms that decide what to do next
 * (see docs/errors.md for the full table).
 */
export type FailureClass =
  | 'rate_limited'
  | 'quota_exhausted'
  | 'overloaded'
  | 'server'
  | 'network'
  | 'timeout'
  | 'context_length'
  | 'content_policy'
  | 'auth'
  | 'not_found'
  | 'bad_request'
  | 'cancelled'
  | 'unknown';

/** Every failure class, in the order of the taxonomy table. */
export const FAILURE_CLASSES: readonly FailureClass[] = [
  'rate_limited',
  'quota_exhausted',
  'overloaded',
  'server',
  'network',
  'timeout',
  'context_length',
  'content_policy',
  'auth',
  'not_found',
  'bad_request',
  'cancelled',
  'unknown',
];

/** A classified failure: the class plus the facts the policies act on. */
export interface Classification {
  class: FailureClass;
  /** HTTP status, when the failure had one. */
  status?: number;
  /** Provider error code or type (`insufficient_quota`, `overloaded_error`, `ECONNRESET`...). */
  code?: string;
  /** The wait the provider asked for, in ms (uncapped). */
  retryAfterMs?: number;
  /** The provider's `x-should-retry` verdict, when sent. */
  shouldRetry?: boolean;
  /** For timeouts: which one fired. */
  phase?: TimeoutPhase;
}

/**
 * Classes caused by the caller's request rather than the provider's health. They never
 * count toward a breaker and are never retried.
 */
export function isCallerClass(failureClass: FailureClass): boolean {
  return (
    failureClass === 'bad_request' ||
    failureClass === 'context_length' ||
    failureClass === 'content_policy' ||
    failureClass === 'cancelled'
  );
}

/** A per-target classifier: return a class or classification to override, `undefined` to keep. */
export type Classifier = (error: unknown, classification: Classification) => Classification | FailureClass | undefined;

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ECONNABORTED',
  'EPROTO',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

const TIMEOUT_CODES: Record<string, TimeoutPhase> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect',
  UND_ERR_HEADERS_TIMEOUT: 'headers',
  UND_ERR_BODY_TIMEOUT: 'body',
  ETIMEDOUT: 'connect',
  ESOCKETTIMEDOUT: 'body',
};

const QUOTA_PATTERN = /insufficient_quota|exceeded your current quota|billing|quota exceeded|per ?day/i;
const CONTEXT_PATTERN =
  /context_length_exceeded|context length|context window|prompt is too long|maximum context|too many tokens|input is too long/i;
const CONTENT_PATTERN = /content[_ ]filter|content_policy|content management policy|safety|responsible ai/i;
/** A 429 that asks for more than this is a quota, not a rate limit. */
const QUOTA_WAIT_MS = 3_600_000;
const MAX_CAUSE_DEPTH = 6;

interface ErrorShape {
  name?: unknown;
  message?: unknown;
  status?: unknown;
  statusCode?: unknown;
  code?: unknown;
  type?: unknown;
  headers?: unknown;
  error?: unknown;
  cause?: unknown;
  constructor?: { name?: string };
}

/**
 * Classifies an error thrown by an LLM call: official `openai` and `@anthropic-ai/sdk` errors,
 * fetch `Response`s, Node/undici network errors and breakwater's own timeouts.
 * `nowEpochMs` turns HTTP-date `Retry-After` values into waits.
 */
export function classifyError(error: unknown, nowEpochMs: number = Date.now()): Classification {
  if (error instanceof BreakwaterTimeoutError) return { class: 'timeout', phase: error.phase };
  if (!error || typeof error !== 'object') return { class: 'unknown' };
  const shape = error as ErrorShape;
  const status = numberOr(shape.status) ?? numberOr(shape.statusCode);
  const headers = isHeaderSource(shape.headers) ? shape.headers : undefined;
  if (status !== undefined) return classifyStatus(status, shape, headers, nowEpochMs);

  const name = errorName(shape);
  if (name === 'APIUserAbortError' || name === 'AbortError') return { class: 'cancelled' };
  if (name === 'APIConnectionTimeoutError' || name === 'TimeoutError') {
    return { class: 'timeout', phase: 'upstream' };
  }
  const fromType = classifyType(providerType(shape), shape);
  if (fromType) return fromType;

  for (let cause: unknown = error, depth = 0; cause && depth < MAX_CAUSE_DEPTH; depth++) {
    const code = (cause as ErrorShape).code;
    if (typeof code === 'string') {
      const phase = TIMEOUT_CODES[code];
      if (phase) return { class: 'timeout', phase, code };
      if (NETWORK_CODES.has(code)) return { class: 'network', code };
    }
    if (cause instanceof BreakwaterTimeoutError) return { class: 'timeout', phase: cause.phase };
    cause = (cause as ErrorShape).cause;
  }
  if (
    name === 'APIConnectionError' ||
    /socket hang up|fetch failed|other side closed|terminated/i.test(String(shape.message))
  ) {
    return { class: 'network' };
  }
  return { class: 'unknown' };
}

function classifyStatus(
  status: number,
  shape: ErrorShape,
  headers: HeaderSource | undefined,
  nowEpochMs: number,
): Classification {
  const code = providerCode(shape);
  const type = providerType(shape);
  const text = `${code ?? ''} ${type ?? ''} ${String(shape.message ?? '')}`;
  const retryAfterMs = retryAfterFromHeaders(headers, nowEpochMs) ?? retryDelayFromBody(bodyOf(shape));
  const shouldRetry = shouldRetryHeader(headers);
  const facts = (failureClass: FailureClass): Classification => {
    const result: Classification = { class: failureClass, status };
    const detail = code ?? type;
    if (detail !== undefined) result.code = detail;
    if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
    if (shouldRetry !== undefined) result.shouldRetry = shouldRetry;
    return result;
  };

  if (type === 'billing_error' || (status === 429 && QUOTA_PATTERN.test(text))) {
    return facts('quota_exhausted');
  }
  if (status === 429) {
    return facts(retryAfterMs !== undefined && retryAfterMs >= QUOTA_WAIT_MS ? 'quota_exhausted' : 'rate_limited');
  }
  if (status === 529 || status === 503 || type === 'overloaded_error') return facts('overloaded');
  if (status === 408) return { ...facts('timeout'), phase: 'upstream' };
  if (status >= 500 || status === 409) return facts('server');
  if (status === 401 || status === 403) return facts('auth');
  if (status === 404) return facts('not_found');
  if (status === 402) return facts('quota_exhausted');
  if (CONTEXT_PATTERN.test(text)) return facts('context_length');
  if (CONTENT_PATTERN.test(text)) return facts('content_policy');
  if (status >= 400) return facts('bad_request');
  return facts('unknown');
}

/** Mid-stream SDK errors carry no status, only the provider's error type. */
function classifyType(type: string | undefined, shape: ErrorShape): Classification | undefined {
  if (!type) return undefined;
  const base = (failureClass: FailureClass): Classification => ({ class: failureClass, code: type });
  switch (type) {
    case 'overloaded_error':
      return base('overloaded');
    case 'rate_limit_error':
    case 'rate_limit_exceeded':
    case 'requests':
    case 'tokens':
      return base('rate_limited');
    case 'insufficient_quota':
    case 'billing_error':
      return base('quota_exhausted');
    case 'api_error':
    case 'server_error':
    case 'internal_error':
      return base('server');
    case 'timeout_error':
      return { ...base('timeout'), phase: 'upstream' };
    case 'authentication_error':
    case 'permission_error':
      return base('auth');
    case 'not_found_error':
      return base('not_found');
    case 'invalid_request_error': {
      const text = `${providerCode(shape) ?? ''} ${String(shape.message ?? '')}`;
      if (CONTEXT_PATTERN.test(text)) return base('context_length');
      if (CONTENT_PATTERN.test(text)) return base('content_policy');
      return base('bad_request');
    }
    default:
      return undefined;
  }
}

/** Applies a target's own classifier on top of the default classification. */
export function applyClassifier(
  classifier: Classifier | undefined,
  error: unknown,
  classification: Classification,
): Classification {
  if (!classifier) return classification;
  const override = classifier(error, classification);
  if (override === undefined) return classification;
  return typeof override === 'string' ? { ...classification, class: override } : override;
}

function errorName(shape: ErrorShape): string | undefined {
  if (typeof shape.name === 'string' && shape.name !== 'Error') return shape.name;
  return shape.constructor?.name;
}

function bodyOf(shape: ErrorShape): unknown {
  return shape.error;
}

/** `code` from OpenAI (`error.code`) or the nested Anthropic body. */
function providerCode(shape: ErrorShape): string | undefined {
  if (typeof shape.code === 'string') return shape.code;
  const body = shape.error as { code?: unknown; error?: { code?: unknown } } | undefined;
  if (typeof body?.code === 'string') return body.code;
  if (typeof body?.error?.code === 'string') return body.error.code;
  return undefined;
}

/** `type` from OpenAI (`error.type`) or Anthropic (`error.error.type`). */
function providerType(shape: ErrorShape): string | undefined {
  if (typeof shape.type === 'string') return shape.type;
  const body = shape.error as { type?: unknown; error?: { type?: unknown } } | undefined;
  if (typeof body?.error?.type === 'string') return body.error.type;
  if (typeof body?.type === 'string' && body.type !== 'error') return body.type;
  return undefined;
}

function numberOr(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function isHeaderSource(value: unknown): value is HeaderSource {
  return !!value && typeof value === 'object';
}
