import type { BreakerState } from '../breaker.js';
import type { CallOutcome } from '../outcome.js';

/** The tier that answered a request. */
export type RequestTier =
  'primary' | 'secondary' | 'tertiary' | `fallback_${number}` | 'cache' | 'static' | 'queued' | 'error' | 'none';

/** One HTTP request's record: the `request` event and the `breakwater:request` channel. */
export interface RequestOutcome {
  requestId: string;
  route: string;
  tenant: string | undefined;
  method: string;
  /** The HTTP status sent (0 when the client left first). */
  status: number;
  /** Who answered: the chain position of the target, a degradation tier, `error`, or `none` (no LLM call). */
  tier: RequestTier;
  /** The target that answered, when one did. */
  provider: string | undefined;
  ok: boolean;
  clientGone: boolean;
  /** Epoch ms. */
  startedAt: number;
  latencyMs: number;
  /** Time to the first chunk of the first streamed call. */
  firstTokenMs: number | undefined;
  retries: number;
  hedges: number;
  /** Every target tried, in order of first attempt. */
  targets: string[];
  /** The breaker state each target was in when its first attempt was admitted. */
  breakers: Record<string, BreakerState>;
  /** Every LLM call's own outcome. */
  calls: CallOutcome[];
}

const NAMED: RequestTier[] = ['primary', 'secondary', 'tertiary'];

/** `primary`, `secondary`, `tertiary`, then `fallback_<n>`. */
export function tierOf(index: number): RequestTier {
  return NAMED[index] ?? `fallback_${index}`;
}

/** Folds a request's calls into its outcome. */
export function buildRequestOutcome(fields: {
  requestId: string;
  route: string;
  tenant: string | undefined;
  method: string;
  status: number;
  degraded: RequestTier | undefined;
  clientGone: boolean;
  startedAt: number;
  latencyMs: number;
  calls: CallOutcome[];
}): RequestOutcome {
  const { calls } = fields;
  let retries = 0;
  let hedges = 0;
  let firstTokenMs: number | undefined;
  const targets: string[] = [];
  const breakers: Record<string, BreakerState> = {};
  for (const call of calls) {
    retries += call.retries;
    hedges += call.hedge?.started ?? 0;
    if (firstTokenMs === undefined && call.firstTokenMs !== undefined) firstTokenMs = call.firstTokenMs;
    for (const attempt of call.attempts) {
      if (!(attempt.target in breakers)) {
        breakers[attempt.target] = attempt.breaker;
        targets.push(attempt.target);
      }
    }
  }
  const last = calls.at(-1);
  let tier: RequestTier;
  let provider: string | undefined;
  if (fields.degraded) tier = fields.degraded;
  else if (last?.ok && last.tier !== undefined) {
    tier = tierOf(last.tier);
    provider = last.target;
  } else tier = fields.status >= 400 || fields.clientGone || (last && !last.ok) ? 'error' : 'none';
  const ok = !fields.clientGone && fields.status > 0 && fields.status < 400 && tier !== 'error';
  return {
    requestId: fields.requestId,
    route: fields.route,
    tenant: fields.tenant,
    method: fields.method,
    status: fields.status,
    tier,
    provider,
    ok,
    clientGone: fields.clientGone,
    startedAt: fields.startedAt,
    latencyMs: fields.latencyMs,
    firstTokenMs,
    retries,
    hedges,
    targets,
    breakers,
    calls,
  };
}
