import { checkLatency, sampleLatency, type Latency } from './latency.js';
import { exponential, seeded } from './random.js';

/** The faults a fake provider can produce, each with the body and headers the real provider sends. */
export const FAULT_NAMES = [
  'ok',
  'rate_limit',
  'quota',
  'overloaded',
  'server_error',
  'bad_gateway',
  'unavailable',
  'gateway_timeout',
  'context_length',
  'content_filter',
  'unauthorized',
  'model_not_found',
  'hang',
  'stall',
  'stream_error',
  'reset',
  'malformed',
] as const;

/** A fault's name. */
export type FaultName = (typeof FAULT_NAMES)[number];

/** A fault with its details. */
export interface FaultSpec {
  fault: FaultName;
  /** rate_limit/overloaded: the wait to announce in Retry-After headers, in ms. Default 1000. */
  retryAfterMs?: number;
  /** stall/stream_error/reset: content chunks sent before the fault. Default 1. */
  afterChunks?: number;
}

/** A fault by name or with details. */
export type Fault = FaultName | FaultSpec;

/** A window of time (ms since the provider started) during which every request gets `fault`. */
export interface OutageWindow {
  from: number;
  to: number;
  /** Default `unavailable`. */
  fault?: Fault;
}

/** How a fake provider behaves. Every random choice comes from `seed`. */
export interface FaultOptions {
  /** Seed for every random choice. Default 1. */
  seed?: number;
  /** Faults for the next requests, one each, in order; then `transient`, the schedule and `ok`. */
  script?: Fault[];
  /** Outage windows. */
  outages?: OutageWindow[];
  /**
   * Outage episodes drawn from an availability: `availability` (0-1) of the time up, in
   * episodes of `meanOutageMs` on average (exponential up and down times).
   */
  availability?: { availability: number; meanOutageMs: number; fault?: Fault };
  /** Random transient faults: a `rate` (0-1) of requests gets one of `faults`. */
  transient?: { rate: number; faults: Fault[] };
  /** A token-bucket limit; over it a request gets 429 with an accurate Retry-After. */
  rateLimit?: { requestsPerMinute: number; burst?: number };
  /** Latency before the response headers (non-streaming: before the whole body). */
  latency?: Latency;
  /** A heavy tail: a `rate` (0-1) of requests takes `latency` instead (for example 2 % stalling 10-30 s). */
  latencyTail?: { rate: number; latency: Latency };
  /** Streams: latency before the first content chunk, after the headers. */
  firstTokenLatency?: Latency;
  /** Streams: delay between chunks. */
  chunkDelay?: Latency;
}

/** The decision for one request. */
export interface FaultDecision extends FaultSpec {
  latencyMs: number;
  firstTokenMs: number;
}

const FAULT_KEYS = ['fault', 'retryAfterMs', 'afterChunks'];
const OPTION_KEYS = [
  'seed',
  'latencyTail',
  'script',
  'outages',
  'availability',
  'transient',
  'rateLimit',
  'latency',
  'firstTokenLatency',
  'chunkDelay',
];

function fail(path: string, expected: string, got: unknown): never {
  throw new TypeError(`@breakwater/testing: ${path} must be ${expected}; got ${JSON.stringify(got)}`);
}

/** Validates a fault; throws a TypeError naming the path. */
export function checkFault(value: unknown, path: string): FaultSpec {
  if (typeof value === 'string') {
    if (!(FAULT_NAMES as readonly string[]).includes(value)) fail(path, `one of ${FAULT_NAMES.join(', ')}`, value);
    return { fault: value as FaultName };
  }
  if (!value || typeof value !== 'object') fail(path, 'a fault name or { fault, ... }', value);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record))
    if (!FAULT_KEYS.includes(key)) fail(`${path}.${key}`, 'absent (unknown key)', record[key]);
  const spec = { ...checkFault(record.fault, `${path}.fault`) };
  for (const key of ['retryAfterMs', 'afterChunks'] as const) {
    const v = record[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${path}.${key}`, 'a non-negative number', v);
    spec[key] = v;
  }
  return spec;
}

/**
 * Decides, request by request, what a fake provider does. Deterministic for a seed and a
 * sequence of request times.
 */
export class FaultPlan {
  readonly #random: () => number;
  readonly #script: FaultSpec[];
  readonly #outages: { from: number; to: number; fault: FaultSpec }[];
  #manual: FaultSpec | undefined = undefined;
  readonly #options: FaultOptions;
  readonly #episodes: { fault: FaultSpec; upMean: number; downMean: number } | undefined;
  #episodeEnd = 0;
  #episodeDown = false;
  #tokens: number;
  #tokensAt = 0;

  constructor(options: FaultOptions = {}) {
    if (!options || typeof options !== 'object') fail('options', 'an object', options);
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.includes(key) && !['reply', 'model', 'chunkSize', 'clock'].includes(key)) {
        fail(
          `options.${key}`,
          `absent (known: ${OPTION_KEYS.join(', ')}, reply, model, chunkSize, clock)`,
          (options as Record<string, unknown>)[key],
        );
      }
    }
    this.#options = options;
    const seed = options.seed ?? 1;
    if (!Number.isInteger(seed)) fail('options.seed', 'an integer', seed);
    this.#random = seeded(seed);
    this.#script = (options.script ?? []).map((f, i) => checkFault(f, `options.script[${i}]`));
    this.#outages = (options.outages ?? []).map((w, i) => {
      if (!w || typeof w.from !== 'number' || typeof w.to !== 'number' || w.to < w.from || w.from < 0) {
        fail(`options.outages[${i}]`, '{ from, to } with 0 <= from <= to', w);
      }
      return { from: w.from, to: w.to, fault: checkFault(w.fault ?? 'unavailable', `options.outages[${i}].fault`) };
    });
    const availability = options.availability;
    if (availability) {
      const a = availability.availability;
      if (typeof a !== 'number' || !(a > 0 && a <= 1))
        fail('options.availability.availability', 'a number in (0, 1]', a);
      const mean = availability.meanOutageMs;
      if (typeof mean !== 'number' || !(mean > 0)) fail('options.availability.meanOutageMs', 'a positive number', mean);
      this.#episodes =
        a === 1
          ? undefined
          : {
              fault: checkFault(availability.fault ?? 'unavailable', 'options.availability.fault'),
              upMean: (mean * a) / (1 - a),
              downMean: mean,
            };
      if (this.#episodes) this.#episodeEnd = exponential(this.#random, this.#episodes.upMean);
    }
    const transient = options.transient;
    if (transient) {
      if (typeof transient.rate !== 'number' || transient.rate < 0 || transient.rate > 1) {
        fail('options.transient.rate', 'a number from 0 to 1', transient.rate);
      }
      if (!Array.isArray(transient.faults) || transient.faults.length === 0) {
        fail('options.transient.faults', 'a non-empty array of faults', transient.faults);
      }
      transient.faults.forEach((f, i) => checkFault(f, `options.transient.faults[${i}]`));
    }
    const limit = options.rateLimit;
    if (limit && !(typeof limit.requestsPerMinute === 'number' && limit.requestsPerMinute > 0)) {
      fail('options.rateLimit.requestsPerMinute', 'a positive number', limit.requestsPerMinute);
    }
    this.#tokens = limit ? (limit.burst ?? Math.max(1, limit.requestsPerMinute / 60)) : 0;
    checkLatency(options.latency, 'options.latency');
    const tail = options.latencyTail;
    if (tail !== undefined) {
      if (!tail || typeof tail.rate !== 'number' || tail.rate < 0 || tail.rate > 1) {
        fail('options.latencyTail.rate', 'a number from 0 to 1', tail?.rate);
      }
      checkLatency(tail.latency, 'options.latencyTail.latency');
    }
    checkLatency(options.firstTokenLatency, 'options.firstTokenLatency');
    checkLatency(options.chunkDelay, 'options.chunkDelay');
  }

  /** Queues faults for the next requests. */
  enqueue(...faults: Fault[]): void {
    faults.forEach((f, i) => this.#script.push(checkFault(f, `enqueue[${i}]`)));
  }

  /** Starts an outage by hand (every request gets `fault`, default `unavailable`) until {@link FaultPlan.up}. */
  down(fault: Fault = 'unavailable'): void {
    this.#manual = checkFault(fault, 'down(fault)');
  }

  /** Ends an outage started by {@link FaultPlan.down}. */
  up(): void {
    this.#manual = undefined;
  }

  /** True while `now` (ms since start) falls in an outage (by hand, a window or an episode). */
  isDown(now: number): boolean {
    return this.#manual !== undefined || this.#outageAt(now) !== undefined;
  }

  /** The outage episodes generated so far plus the configured windows (for reports). */
  readonly episodes: { from: number; to: number }[] = [];

  /** Decides what to do with a request arriving at `now` (ms since start). */
  decide(now: number): FaultDecision {
    const random = this.#random;
    const tail = this.#options.latencyTail;
    const latency = tail && random() < tail.rate ? tail.latency : this.#options.latency;
    const latencyMs = Math.max(0, sampleLatency(latency, random));
    const firstTokenMs = Math.max(0, sampleLatency(this.#options.firstTokenLatency, random));
    const spec = this.#script.shift() ??
      this.#manual ??
      this.#outageAt(now) ??
      this.#limited(now) ??
      this.#transient() ?? { fault: 'ok' as const };
    return { ...spec, latencyMs, firstTokenMs };
  }

  /** Delay before the next stream chunk. */
  chunkDelay(): number {
    return Math.max(0, sampleLatency(this.#options.chunkDelay, this.#random));
  }

  #outageAt(now: number): FaultSpec | undefined {
    for (const window of this.#outages) if (now >= window.from && now < window.to) return window.fault;
    const episodes = this.#episodes;
    if (!episodes) return undefined;
    while (now >= this.#episodeEnd) {
      const start = this.#episodeEnd;
      this.#episodeDown = !this.#episodeDown;
      this.#episodeEnd = start + exponential(this.#random, this.#episodeDown ? episodes.downMean : episodes.upMean);
      if (this.#episodeDown) this.episodes.push({ from: start, to: this.#episodeEnd });
    }
    return this.#episodeDown ? episodes.fault : undefined;
  }

  #limited(now: number): FaultSpec | undefined {
    const limit = this.#options.rateLimit;
    if (!limit) return undefined;
    const perMs = limit.requestsPerMinute / 60_000;
    const burst = limit.burst ?? Math.max(1, limit.requestsPerMinute / 60);
    this.#tokens = Math.min(burst, this.#tokens + (now - this.#tokensAt) * perMs);
    this.#tokensAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return undefined;
    }
    return { fault: 'rate_limit', retryAfterMs: Math.ceil((1 - this.#tokens) / perMs) };
  }

  #transient(): FaultSpec | undefined {
    const transient = this.#options.transient;
    if (!transient || this.#random() >= transient.rate) return undefined;
    const pick = transient.faults[Math.floor(this.#random() * transient.faults.length)]!;
    return checkFault(pick, 'transient');
  }
}

/** What both fakes let a test do with their fault plan. */
export interface FaultControls {
  /** Queues faults for the next requests. */
  enqueue(...faults: Fault[]): void;
  /** Starts an outage now: every request gets `fault` (default `unavailable`) until `up()`. */
  down(fault?: Fault): void;
  /** Ends the outage started by `down()`. */
  up(): void;
  /** True while an outage (by hand, a window or an episode) is running. */
  isDown(): boolean;
  /** Outage episodes drawn so far (ms since start). */
  readonly episodes: readonly { from: number; to: number }[];
}

/** The {@link FaultControls} of `plan`, for a fake whose time since start is `elapsed()`. */
export function faultControls(plan: FaultPlan, elapsed: () => number): FaultControls {
  return {
    enqueue: (...faults) => plan.enqueue(...faults),
    down: (fault) => plan.down(fault),
    up: () => plan.up(),
    isDown: () => plan.isDown(elapsed()),
    episodes: plan.episodes,
  };
}
