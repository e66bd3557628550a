/**
 * @module @breakwater/core/metrics
 * Prometheus metrics through prom-client (an optional peer dependency): requests by route,
 * tier and outcome; attempts by target and class; request duration and time-to-first-token
 * histograms; breaker state, retries, hedges and retry-budget tokens per target.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AnyEngine } from './engine.js';
import type { AnyGuard, Guard } from './request/guard.js';

/** Options of {@link prometheusMetrics}. */
export interface MetricsOptions {
  /** The registry to register in (default: a new one). */
  registry?: Registry;
  /** The adapters' guards (`bw.guard`), for per-request metrics. */
  guards?: AnyGuard[];
  /** Metric name prefix. Default `breakwater_`. */
  prefix?: string;
}

/** Registered metrics, and how to stop updating them. */
export interface BreakwaterMetrics {
  registry: Registry;
  /** Stops listening to the engine and the guards. */
  close(): void;
}

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const BREAKER_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

/**
 * Registers breakwater's metrics and keeps them current from the engine's and the guards'
 * events. Serve `registry.metrics()` at `/metrics` (each adapter has a ready handler).
 *
 * @example
 * const { registry } = prometheusMetrics(engine, { guards: [bw.guard] });
 * app.get('/metrics', breakwater.metrics(registry));
 */
export function prometheusMetrics(engine: AnyEngine, options: MetricsOptions = {}): BreakwaterMetrics {
  const registry = options.registry ?? new Registry();
  const p = options.prefix ?? 'breakwater_';
  const registers = [registry];

  const requests = new Counter({
    name: `${p}requests_total`,
    help: 'HTTP requests by route, the tier that answered and outcome.',
    labelNames: ['route', 'tier', 'outcome'],
    registers,
  });
  const requestDuration = new Histogram({
    name: `${p}request_duration_seconds`,
    help: 'HTTP request duration by route and tier.',
    labelNames: ['route', 'tier'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  // Per-call counts are kept in plain maps and handed to prom-client when it collects (on
  // scrape): an inc() with labels costs several hundred ns, a map update a few dozen.
  const pending = new Map<string, number>();
  const bump = (key: string, by = 1): void => void pending.set(key, (pending.get(key) ?? 0) + by);
  const flush = (prefix: string, apply: (parts: string[], delta: number) => void): void => {
    for (const [key, delta] of pending) {
      if (!key.startsWith(prefix)) continue;
      apply(key.slice(prefix.length).split('\u0000'), delta);
      pending.delete(key);
    }
  };
  /** A counter fed from `pending` keys starting with `key`, on collect. */
  const deferredCounter = (key: string, name: string, help: string, labelNames: string[]): void => {
    new Counter({
      name: `${p}${name}`,
      help,
      labelNames,
      registers,
      collect() {
        flush(`${key}\u0000`, (parts, delta) =>
          this.inc(Object.fromEntries(labelNames.map((label, i) => [label, parts[i]!])), delta),
        );
      },
    });
  };
  deferredCounter('c', 'calls_total', 'LLM calls by the target that answered (or none) and outcome.', [
    'target',
    'outcome',
  ]);
  deferredCounter('a', 'attempts_total', 'Upstream attempts by target and failure class (ok for successes).', [
    'target',
    'class',
  ]);
  deferredCounter('r', 'retries_total', 'Same-target retries, by target.', ['target']);
  deferredCounter('h', 'hedges_total', 'Hedged attempts started, by primary target.', ['target']);
  const firstToken = new Histogram({
    name: `${p}time_to_first_token_seconds`,
    help: 'Time to the first content chunk of streamed attempts, by target.',
    labelNames: ['target'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const transitions = new Counter({
    name: `${p}breaker_transitions_total`,
    help: 'Circuit breaker transitions by target and new state.',
    labelNames: ['target', 'state'],
    registers,
  });
  new Gauge({
    name: `${p}breaker_state`,
    help: 'Circuit breaker state per target: 0 closed, 1 half-open, 2 open.',
    labelNames: ['target'],
    registers,
    collect() {
      for (const status of engine.status()) this.set({ target: status.name }, BREAKER_VALUE[status.breaker]);
    },
  });
  new Gauge({
    name: `${p}retry_budget_tokens`,
    help: 'Retry budget tokens left per target.',
    labelNames: ['target'],
    registers,
    collect() {
      for (const status of engine.status())
        if (status.budgetTokens !== undefined) this.set({ target: status.name }, status.budgetTokens);
    },
  });

  const unsubscribe = [
    engine.on('outcome', (outcome) => {
      bump(`c\u0000${outcome.target ?? 'none'}\u0000${outcome.ok ? 'ok' : (outcome.failureClass ?? 'error')}`);
      for (const attempt of outcome.attempts) {
        bump(`a\u0000${attempt.target}\u0000${attempt.ok ? 'ok' : (attempt.class ?? 'unknown')}`);
        if (attempt.firstTokenMs !== undefined && outcome.kind === 'stream' && attempt.ok) {
          firstToken.observe({ target: attempt.target }, attempt.firstTokenMs / 1000);
        }
        if (attempt.waitMs !== undefined) bump(`r\u0000${attempt.target}`);
      }
      if (outcome.hedge) bump(`h\u0000${outcome.chain[0] ?? 'none'}`, outcome.hedge.started);
    }),
    engine.on('breaker', (event) => transitions.inc({ target: event.target, state: event.to })),
    ...(options.guards ?? []).map((guard) =>
      (guard as Guard<unknown>).events.on('request', (request) => {
        requests.inc({ route: request.route, tier: request.tier, outcome: request.ok ? 'ok' : 'error' });
        requestDuration.observe({ route: request.route, tier: request.tier }, request.latencyMs / 1000);
      }),
    ),
  ];
  return { registry, close: () => unsubscribe.forEach((off) => off()) };
}
