/**
 * B1: success-path cost per call of the full call pipeline (chain, breaker, budget, timeouts,
 * outcome record) against cockatiel wrap(retry, circuitBreaker, timeout), opossum fire() and a
 * bare await, in one process, interleaved in rounds so that machine noise hits all alike.
 */
import { ConsecutiveBreaker, TimeoutStrategy, circuitBreaker, handleAll, retry, timeout, wrap } from 'cockatiel';
import OpossumBreaker from 'opossum';
import { createEngine } from '@breakwater/core';
import { prometheusMetrics } from '@breakwater/core/metrics';
import { environment, round2, writeResult, type BenchResult } from './results.js';

export interface B1Options {
  /** Calls per subject per round. */
  calls?: number;
  rounds?: number;
  write?: boolean;
}

const answer = { content: 'ok' };
const upstream = (): Promise<typeof answer> => Promise.resolve(answer);

export async function runB1({ calls = 20_000, rounds = 15, write = true }: B1Options = {}): Promise<BenchResult> {
  const engine = createEngine({
    targets: { primary: { call: upstream }, secondary: { call: upstream } },
  });
  const chain = engine.chain(['primary', 'secondary']);
  // The same engine with Prometheus metrics listening to every outcome (observability on and used).
  const observed = createEngine({
    targets: { primary: { call: upstream }, secondary: { call: upstream } },
  });
  const observedChain = observed.chain(['primary', 'secondary']);
  const metrics = prometheusMetrics(observed);
  const cockatiel = wrap(
    retry(handleAll, { maxAttempts: 2 }),
    circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) }),
    timeout(30_000, TimeoutStrategy.Cooperative),
  );
  const opossum = new OpossumBreaker(upstream, { timeout: 30_000, resetTimeout: 30_000 });

  const subjects: Record<string, () => Promise<unknown>> = {
    bare: () => upstream(),
    breakwater: () => engine.call(undefined, { chain }),
    'breakwater+metrics': () => observed.call(undefined, { chain: observedChain }),
    cockatiel: () => cockatiel.execute(upstream),
    opossum: () => opossum.fire(),
  };
  const names = Object.keys(subjects);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));

  const measure = async (fn: () => Promise<unknown>, n: number): Promise<number> => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await fn();
    return Number(process.hrtime.bigint() - start) / n;
  };
  for (const name of names) await measure(subjects[name]!, calls); // warm-up
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) samples[name]!.push(await measure(subjects[name]!, calls));
  }
  opossum.shutdown();
  metrics.close();

  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  const ns = Object.fromEntries(names.map((n) => [n, Math.round(median(samples[n]!))]));
  const value = ns.breakwater! / 1000;
  const vsOpossum = ns.breakwater! / ns.opossum!;
  const vsCockatiel = ns.breakwater! / ns.cockatiel!;
  const result: BenchResult = {
    id: 'B1',
    metric: 'success-path cost per call (median of interleaved rounds)',
    unit: 'us/call',
    value: round2(value),
    peers: {
      bare: round2(ns.bare! / 1000),
      cockatiel: round2(ns.cockatiel! / 1000),
      opossum: round2(ns.opossum! / 1000),
    },
    goal: '<= 1.0x opossum, <= 1.0x cockatiel, < 2 us per call',
    pass: value < 2 && vsOpossum <= 1 && vsCockatiel <= 1,
    details: {
      ratioVsOpossum: round2(vsOpossum),
      ratioVsCockatiel: round2(vsCockatiel),
      overheadOverBareUs: round2((ns.breakwater! - ns.bare!) / 1000),
      // Channels and events cost nothing while nobody subscribes (the plain row); with
      // Prometheus metrics listening to every outcome:
      withMetricsUs: round2(ns['breakwater+metrics']! / 1000),
      metricsRatio: round2(ns['breakwater+metrics']! / ns.breakwater!),
      callsPerRound: calls,
      rounds,
      ...environment(),
    },
  };
  if (write) writeResult(result);
  return result;
}
