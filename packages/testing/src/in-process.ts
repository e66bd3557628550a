import { openaiDialect } from './dialects.js';
import { FaultPlan, faultControls, type FaultControls, type FaultName } from './faults.js';
import { replyText, splitChunks } from './reply.js';
import type { FakeProviderOptions } from './server.js';

/** The clock a fake target runs on: structurally the same as breakwater's `Clock`. */
export interface FakeClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of {@link fakeTarget}. */
export interface FakeTargetOptions extends FakeProviderOptions {
  /** Time source for latencies and outage windows (default: real time). */
  clock?: FakeClock;
}

/** The error an in-process fake target throws: shaped like the official SDKs' `APIError`. */
export class FakeProviderError extends Error {
  override name = 'FakeProviderError';
  readonly status: number | undefined;
  readonly headers: Headers | undefined;
  /** The provider's error object (OpenAI shape: `{ message, type, code }`). */
  readonly error: { message: string; type: string; code: string | null } | undefined;
  readonly code: string | undefined;
  readonly type: string | undefined;

  constructor(
    message: string,
    status?: number,
    headers?: Headers,
    error?: { message: string; type: string; code: string | null },
  ) {
    super(message);
    this.status = status;
    this.headers = headers;
    this.error = error;
    this.code = error?.code ?? undefined;
    this.type = error?.type;
  }
}

/** The chunk a fake target streams. */
export interface FakeChunk {
  content: string;
}

/** The answer a fake target gives. */
export interface FakeAnswer {
  content: string;
}

/** An in-process fake provider with the same fault model as the HTTP fakes and no sockets. */
export interface FakeTarget extends FaultControls {
  call(input: unknown, ctx: { signal: AbortSignal }): Promise<FakeAnswer>;
  stream(input: unknown, ctx: { signal: AbortSignal }): AsyncIterable<FakeChunk>;
  /** A cheap health check that follows the same outages (for breaker probes). */
  probe(ctx: { signal: AbortSignal }): Promise<void>;
  /** `{ call, stream, probe }` alone, ready to be an engine target: `targets: { primary: fake.target }`. */
  readonly target: Pick<FakeTarget, 'call' | 'stream' | 'probe'>;
  /** Every request: its time and what was done. */
  readonly requests: { at: number; fault: FaultName; stream: boolean; probe: boolean }[];
  /** Requests in flight now, and the most there ever were at once. */
  readonly active: number;
  readonly maxActive: number;
}

const realClock: FakeClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Creates an in-process fake target for fast tests and virtual-time simulations.
 *
 * @example
 * const clock = new ManualClock();
 * const primary = fakeTarget({ clock, seed: 7, transient: { rate: 0.01, faults: ['rate_limit'] } });
 * const engine = createEngine({ clock, targets: { primary: primary.target } });
 */
export function fakeTarget(options: FakeTargetOptions = {}): FakeTarget {
  const plan = new FaultPlan(options);
  const clock = options.clock ?? realClock;
  const started = clock.now();
  const requests: FakeTarget['requests'] = [];
  let active = 0;
  let maxActive = 0;

  const wait = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      if (ms <= 0) return resolve();
      const onAbort = (): void => {
        clock.clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });

  /** Never settles until the signal aborts (no timer: a huge delay would overflow to 1 ms). */
  const hang = (signal: AbortSignal): Promise<never> =>
    new Promise((_, reject) => {
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });

  const fail = (fault: FaultName, retryAfterMs?: number): FakeProviderError => {
    const spec = retryAfterMs === undefined ? { fault } : { fault, retryAfterMs };
    const { status, headers, body } = openaiDialect.error(spec, Date.now());
    const error = (body as { error: { message: string; type: string; code: string | null } }).error;
    return new FakeProviderError(`${status} ${error.message}`, status, new Headers(headers), error);
  };

  const begin = (stream: boolean, probe: boolean) => {
    const decision = plan.decide(clock.now() - started);
    requests.push({ at: clock.now() - started, fault: decision.fault, stream, probe });
    active++;
    maxActive = Math.max(maxActive, active);
    return decision;
  };

  const fake: Omit<FakeTarget, 'target'> = {
    async call(input, { signal }) {
      const decision = begin(false, false);
      try {
        await wait(decision.latencyMs, signal);
        switch (decision.fault) {
          case 'ok':
            return { content: replyText(options.reply, (input ?? {}) as Record<string, unknown>) };
          case 'hang':
          case 'stall':
            return await hang(signal);
          case 'reset':
            throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
          case 'malformed':
            throw new SyntaxError('Unexpected end of JSON input');
          case 'stream_error':
            throw fail('server_error');
          default:
            throw fail(decision.fault, decision.retryAfterMs);
        }
      } finally {
        active--;
      }
    },
    async *stream(input, { signal }) {
      const decision = begin(true, false);
      try {
        await wait(decision.latencyMs, signal);
        if (decision.fault === 'hang') await hang(signal);
        if (!['ok', 'stall', 'stream_error', 'reset'].includes(decision.fault)) {
          throw decision.fault === 'malformed'
            ? new SyntaxError('Unexpected token')
            : fail(decision.fault, decision.retryAfterMs);
        }
        await wait(decision.firstTokenMs, signal);
        const chunks = splitChunks(
          replyText(options.reply, (input ?? {}) as Record<string, unknown>),
          options.chunkSize ?? 1,
        );
        const limit = decision.fault === 'ok' ? chunks.length : Math.min(chunks.length, decision.afterChunks ?? 1);
        for (let i = 0; i < limit; i++) {
          if (i > 0) await wait(plan.chunkDelay(), signal);
          yield { content: chunks[i]! };
        }
        if (decision.fault === 'stall') await hang(signal);
        if (decision.fault === 'stream_error') {
          throw new FakeProviderError('Overloaded', undefined, undefined, {
            message: 'Overloaded',
            type: 'overloaded_error',
            code: null,
          });
        }
        if (decision.fault === 'reset') throw Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
      } finally {
        active--;
      }
    },
    async probe({ signal }) {
      const down = plan.isDown(clock.now() - started);
      requests.push({ at: clock.now() - started, fault: down ? 'unavailable' : 'ok', stream: false, probe: true });
      await wait(0, signal);
      if (down) throw fail('unavailable');
    },
    requests,
    get active() {
      return active;
    },
    get maxActive() {
      return maxActive;
    },
    ...faultControls(plan, () => clock.now() - started),
  };
  return Object.assign(fake, { target: { call: fake.call, stream: fake.stream, probe: fake.probe } });
}
