/**
 * The quickstart: two fake providers over loopback (the primary has an outage window and
 * transient 429/5xx; both have heavy-tailed latency), 1200 calls at 10 at a time through the
 * official SDKs, then a table of what the users saw against what the providers did.
 *
 *   pnpm demo            (or: pnpm -C examples/quickstart start)
 */
import { fakeAnthropic, fakeOpenAI } from '@breakwater/testing';
import type { CallOutcome } from '@breakwater/core';
import { createChatEngine } from '@breakwater/example-shared';

const CALLS = Number(process.env.CALLS ?? 1200);
const CONCURRENCY = 10;

const primary = await fakeOpenAI({
  seed: 7,
  latency: { logNormal: { median: 40, sigma: 0.8 } },
  outages: [{ from: 3_000, to: 7_000, fault: 'unavailable' }],
  transient: {
    rate: 0.05,
    faults: [{ fault: 'rate_limit', retryAfterMs: 200 }, 'server_error', { fault: 'overloaded', retryAfterMs: 300 }],
  },
});
const secondary = await fakeAnthropic({ seed: 8, latency: { logNormal: { median: 60, sigma: 0.6 } } });
const { engine, close } = createChatEngine(
  { openaiBaseURL: primary.baseURL, anthropicBaseURL: secondary.baseURL },
  {
    timeouts: { total: '8s', attempt: '3s', firstToken: '2s', idle: '2s' },
    breaker: { window: '10s', cooldown: '2s', maxCooldown: '10s' },
  },
);

const breakerLog: string[] = [];
engine.on('breaker', (e) => breakerLog.push(`${e.target}: ${e.from} -> ${e.to} (${e.reason})`));
const outcomes: CallOutcome[] = [];
engine.on('outcome', (o) => outcomes.push(o));

console.log(`breakwater quickstart: ${CALLS} calls, ${CONCURRENCY} at a time; the primary is down from 3 s to 7 s\n`);
const started = performance.now();
let next = 0;
let done = 0;
const progress = setInterval(() => {
  if (process.stdout.isTTY) process.stdout.write(`\r  ${done}/${CALLS} calls done`);
}, 200);
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < CALLS) {
      const n = next++;
      const input = { messages: [{ role: 'user' as const, content: `question ${n}` }] };
      if (n % 5 === 0) {
        try {
          for await (const chunk of engine.stream(input)) void chunk;
        } catch {
          // Counted from the outcome below.
        }
      } else {
        await engine.call(input).catch(() => undefined);
      }
      done++;
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
  }),
);
clearInterval(progress);
const elapsed = (performance.now() - started) / 1000;

const answered = outcomes.filter((o) => o.ok);
const byTarget = new Map<string, number>();
for (const o of answered) byTarget.set(o.target!, (byTarget.get(o.target!) ?? 0) + 1);
const upstream = outcomes.reduce((sum, o) => sum + o.attempts.length, 0);
const latencies = outcomes.map((o) => o.latencyMs).sort((a, b) => a - b);
const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!);
const primaryOk = primary.requests.filter((r) => r.fault === 'ok').length;

console.log(`\r  ${CALLS}/${CALLS} calls done in ${elapsed.toFixed(1)} s\n`);
console.table({
  'primary (OpenAI) answered': { value: byTarget.get('openai') ?? 0 },
  'secondary (Anthropic) answered': { value: byTarget.get('anthropic') ?? 0 },
  'calls that failed': { value: outcomes.length - answered.length },
  'primary requests that failed upstream': { value: primary.requests.length - primaryOk },
  'upstream attempts per call': { value: Number((upstream / outcomes.length).toFixed(2)) },
  'retries on the same target': { value: outcomes.reduce((s, o) => s + o.retries, 0) },
  'latency p50 / p95 / p99 (ms)': { value: `${pct(0.5)} / ${pct(0.95)} / ${pct(0.99)}` },
});
console.log('\nbreaker transitions (the half-open check is a synthetic probe, never a user call):');
for (const line of breakerLog) console.log(`  ${line}`);
console.log(`\nprimary probes: ${primary.requests.filter((r) => r.method === 'GET').length}`);

await close();
await Promise.all([primary.close(), secondary.close()]);
