/**
 * B6: the circuit breaker, in virtual time on in-process fake providers.
 * 1. A hard outage of the primary at 20 requests/s: time from the outage's start to the
 *    breaker opening, and user requests that met the failing primary (they were answered by
 *    the secondary, but they are the breaker's cost).
 * 2. A virtual day at 20 requests/s with 2 % background errors on a healthy primary: false opens.
 * 3. User requests spent as half-open probes while the primary was down: the target's
 *    synthetic probe is used instead, so this must be 0.
 * Peers: cockatiel's ConsecutiveBreaker(5) and SamplingBreaker defaults are not LLM-shaped;
 * this benchmark measures breakwater against its goal.
 */
import { createEngine, ManualClock, seededRandom } from '@breakwater/core';
import { fakeTarget } from '@breakwater/testing';
import { environment, writeResult, type BenchResult } from './results.js';

export interface B6Options {
  /** Virtual hours of background-error traffic for the false-open count. Default 24. */
  hours?: number;
  write?: boolean;
}

const RATE = 20;
const OUTAGE = { from: 60_000, to: 240_000 };

async function outageRun() {
  const clock = new ManualClock();
  const primary = fakeTarget({ clock, seed: 1, latency: 200, outages: [{ ...OUTAGE, fault: 'unavailable' }] });
  const secondary = fakeTarget({ clock, seed: 2, latency: 250 });
  const engine = createEngine({
    clock,
    random: seededRandom(6),
    targets: { primary: primary.target, secondary: secondary.target },
  });
  let openedAt: number | undefined;
  let closedAt: number | undefined;
  engine.on('breaker', (e) => {
    if (e.target !== 'primary') return;
    if (e.to === 'open' && openedAt === undefined) openedAt = e.at;
    if (e.to === 'closed') closedAt = e.at;
  });
  let failed = 0;
  let done = 0;
  const total = (300_000 / 1000) * RATE;
  for (let i = 0; i < total; i++) {
    void engine
      .call({})
      .catch(() => failed++)
      .finally(() => done++);
    await clock.advance(1000 / RATE);
  }
  while (done < total && (await clock.next()));
  const userAttempts = primary.requests.filter((r) => !r.probe && r.at >= OUTAGE.from && r.at < OUTAGE.to);
  const afterOpen = openedAt === undefined ? [] : userAttempts.filter((r) => r.at >= openedAt!);
  return {
    openAfterMs: openedAt === undefined ? Infinity : openedAt - OUTAGE.from,
    // Attempts, an upper bound on user requests (an overloaded answer is retried once).
    userAttemptsMetOutage: userAttempts.length,
    userRequestsAsProbes: afterOpen.length,
    syntheticProbes: primary.requests.filter((r) => r.probe).length,
    recoveredAfterMs: closedAt === undefined ? Infinity : closedAt - OUTAGE.to,
    failedUserRequests: failed,
  };
}

async function backgroundRun(hours: number) {
  const clock = new ManualClock();
  const primary = fakeTarget({
    clock,
    seed: 3,
    transient: { rate: 0.02, faults: ['server_error', 'overloaded', 'rate_limit'] },
  });
  const secondary = fakeTarget({ clock, seed: 4 });
  const engine = createEngine({
    clock,
    random: seededRandom(7),
    targets: { primary: primary.target, secondary: secondary.target },
  });
  let falseOpens = 0;
  engine.on('breaker', (e) => {
    if (e.target === 'primary' && e.to === 'open') falseOpens++;
  });
  const seconds = hours * 3600;
  let done = 0;
  const count = () => void done++;
  for (let s = 0; s < seconds; s++) {
    for (let i = 0; i < RATE; i++) engine.call({}).then(count, count);
    await clock.advance(1000);
  }
  while (done < seconds * RATE && (await clock.next()));
  return { falseOpens, calls: seconds * RATE };
}

export async function runB6({ hours = 24, write = true }: B6Options = {}): Promise<BenchResult> {
  const outage = await outageRun();
  const background = await backgroundRun(hours);
  const pass =
    outage.openAfterMs <= 2_000 &&
    outage.userAttemptsMetOutage <= 10 &&
    background.falseOpens === 0 &&
    outage.userRequestsAsProbes === 0;
  const result: BenchResult = {
    id: 'B6',
    metric: 'breaker: time to open under a hard outage at 20 rps (virtual time)',
    unit: 'ms',
    value: outage.openAfterMs,
    peers: {},
    goal: 'open <= 2 s and <= 10 failed user requests; 0 false opens in a virtual day at 2 % errors; 0 user requests as probes',
    pass,
    details: {
      ...outage,
      falseOpens: background.falseOpens,
      backgroundCalls: background.calls,
      hours,
      rate: RATE,
      ...environment(),
    },
  };
  if (write) writeResult(result);
  return result;
}
