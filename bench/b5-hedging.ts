/**
 * B5: hedging against a heavy latency tail, in virtual time on in-process fake providers.
 * Both providers answer in about 800 ms (log-normal), but 2 % of calls stall 10-30 s. One call
 * every 50 ms; the same seeded traffic without hedging and with `hedge: { delay: 'p95' }`.
 * Goal: p99 at least 5x lower, at most 5 % extra upstream requests.
 */
import { createEngine, ManualClock, seededRandom, type CallOutcome, type HedgeOptions } from '@breakwater/core';
import { fakeTarget } from '@breakwater/testing';
import { environment, writeResult, type BenchResult } from './results.js';

export interface B5Options {
  calls?: number;
  seed?: number;
  write?: boolean;
}

interface RunStats {
  p50: number;
  p99: number;
  upstreamPerCall: number;
  hedges: number;
}

async function simulate(calls: number, seed: number, hedge: HedgeOptions | undefined): Promise<RunStats> {
  const clock = new ManualClock();
  const provider = (s: number) =>
    fakeTarget({
      clock,
      seed: s,
      latency: { logNormal: { median: 800, sigma: 0.35 } },
      latencyTail: { rate: 0.02, latency: { uniform: [10_000, 30_000] } },
    });
  const primary = provider(seed);
  const secondary = provider(seed + 1);
  const engine = createEngine({
    clock,
    random: seededRandom(seed),
    defaults: { timeouts: { total: '60s', attempt: '40s' }, breaker: { slowCall: false } },
    targets: { primary: primary.target, secondary: secondary.target },
  });
  const latencies: number[] = [];
  let hedges = 0;
  const onOutcome = (o: CallOutcome) => {
    latencies.push(o.latencyMs);
    hedges += o.hedge?.started ?? 0;
  };
  const options = hedge ? { hedge, onOutcome } : { onOutcome };
  let started = 0;
  const arrive = (): void => {
    if (started >= calls) return;
    started++;
    void engine.call({}, options).catch(() => undefined);
    clock.setTimeout(arrive, 50);
  };
  arrive();
  while (latencies.length < calls && (await clock.next()));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return {
    p50: Math.round(at(0.5)),
    p99: Math.round(at(0.99)),
    upstreamPerCall: (primary.requests.length + secondary.requests.length) / calls,
    hedges,
  };
}

export async function runB5({ calls = 20_000, seed = 5, write = true }: B5Options = {}): Promise<BenchResult> {
  const none = await simulate(calls, seed, undefined);
  const hedged = await simulate(calls, seed, { delay: 'p95', maxExtraLoad: 0.05 });
  const improvement = none.p99 / hedged.p99;
  const extra = hedged.upstreamPerCall - none.upstreamPerCall;
  const result: BenchResult = {
    id: 'B5',
    metric: 'p99 latency with hedging (2 % of calls stall 10-30 s), virtual time',
    unit: 'ms',
    value: hedged.p99,
    peers: { 'no hedging': none.p99 },
    goal: 'p99 >= 5x lower with <= 5 % extra upstream requests',
    pass: improvement >= 5 && extra <= 0.05,
    details: {
      p99Improvement: Math.round(improvement * 100) / 100,
      extraUpstreamRequests: `${(extra * 100).toFixed(2)} %`,
      hedged,
      noHedging: none,
      calls,
      seed,
      ...environment(),
    },
  };
  if (write) writeResult(result);
  return result;
}
