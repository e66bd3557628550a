/**
 * `pnpm demo`: the Express chat app (OpenAI primary, Anthropic secondary, hedging, cache and
 * static tiers) under steady load against two fake providers on loopback. Each provider has an
 * outage episode, about 1 % transient 429/5xx and heavy-tailed latency. Prints live counts and a
 * final table, and writes demo-report.html.
 *
 *   pnpm demo --duration 60 --rate 20 --seed 7
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { seededRandom, type RequestOutcome } from '@breakwater/core';
import { createApp } from '@breakwater/example-express-chat';
import { createChatEngine } from '@breakwater/example-shared';
import { fakeAnthropic, fakeOpenAI, type FakeProviderOptions } from '@breakwater/testing';
import { renderReport, type Timeline } from './report.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    duration: { type: 'string', default: '60' },
    rate: { type: 'string', default: '20' },
    seed: { type: 'string', default: '7' },
    out: { type: 'string', default: 'demo-report.html' },
  },
});
const duration = Number(values.duration);
const rate = Number(values.rate);
const seed = Number(values.seed);
if (!(duration > 0 && rate > 0 && Number.isInteger(seed))) {
  console.error('usage: pnpm demo [--duration seconds] [--rate requests-per-second] [--seed integer] [--out file]');
  process.exit(2);
}

// Outage episodes, compressed: a month at 99.5 % has 3.6 h of downtime, which a one-minute run cannot show at scale,
// so each provider gets one seeded episode of a few seconds, the secondary's mostly after the primary's.
const random = seededRandom(seed);
const episode = (from: number, to: number): [number, number] => {
  const start = duration * (from + random() * (to - from));
  return [start, Math.min(duration, start + duration * (0.08 + random() * 0.06))];
};
const primaryOutage = episode(0.15, 0.35);
const secondaryOutage = episode(0.55, 0.75);
const provider = (outage: [number, number], s: number): FakeProviderOptions => ({
  seed: s,
  latency: { logNormal: { median: 350, sigma: 0.5 } },
  latencyTail: { rate: 0.01, latency: { uniform: [4_000, 9_000] } },
  // Transient 429s and overloads ask for a short wait, as real ones usually do ("try again in 200ms").
  transient: {
    rate: 0.01,
    faults: [{ fault: 'rate_limit', retryAfterMs: 200 }, 'server_error', { fault: 'overloaded', retryAfterMs: 200 }],
  },
  outages: [{ from: outage[0] * 1000, to: outage[1] * 1000, fault: 'unavailable' }],
  reply: 'Here is a helpful answer from the model.',
});
const primary = await fakeOpenAI(provider(primaryOutage, seed));
const secondary = await fakeAnthropic(provider(secondaryOutage, seed + 1));
const chat = createChatEngine(
  { openaiBaseURL: primary.baseURL, anthropicBaseURL: secondary.baseURL },
  {
    timeouts: { total: '12s', attempt: '5s', firstToken: '3s', idle: '3s' },
    retry: { maxServerWait: '1500ms' }, // a transient 503's 1 s Retry-After is waited for, not a reason to skip the target
    breaker: { cooldown: '3s', maxCooldown: '10s', window: '20s' },
  },
);
const { app, guard, close } = createApp(chat, { logger: false, hedge: { delay: 'p95', initialDelay: '1500ms' } });
const server = http.createServer(app).listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat`;

const started = performance.now();
const seconds = () => (performance.now() - started) / 1000;
const breakerChanges = new Map<string, [number, string][]>([
  ['openai', [[0, 'closed']]],
  ['anthropic', [[0, 'closed']]],
]);
let openings = 0;
chat.engine.on('breaker', (e) => {
  breakerChanges.get(e.target)?.push([seconds(), e.to]);
  if (e.to === 'open') openings++;
});
const records: RequestOutcome[] = [];
guard.events.on('request', (r: RequestOutcome) => records.push(r));

interface Answer {
  at: number;
  tier: string;
  status: number;
  ms: number;
}
const answers: Answer[] = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const questions = Array.from({ length: 25 }, (_, i) => `question ${i}: how do I make my LLM endpoint reliable?`);
const ask = (i: number): Promise<void> =>
  new Promise((resolve) => {
    const at = seconds();
    const sent = performance.now();
    const body = JSON.stringify({ messages: [{ role: 'user', content: questions[i % questions.length] }] });
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => {
        const degraded = res.headers['x-breakwater-degraded'] as string | undefined;
        let tier = degraded ?? 'error';
        if (!degraded && res.statusCode === 200)
          tier = (JSON.parse(text) as { provider?: string }).provider === 'openai' ? 'primary' : 'secondary';
        answers.push({ at, tier, status: res.statusCode ?? 0, ms: performance.now() - sent });
        resolve();
      });
    });
    req.on('error', () => {
      answers.push({ at, tier: 'error', status: 0, ms: performance.now() - sent });
      resolve();
    });
    req.end(body);
  });

const tty = process.stdout.isTTY;
const count = (tier: string) => answers.filter((a) => a.tier === tier).length;
const progress = () => {
  const done = Math.min(1, seconds() / duration);
  const bar = '#'.repeat(Math.round(done * 30)).padEnd(30, '.');
  const line = `[${bar}] ${seconds().toFixed(0).padStart(3)}s  ${answers.length} answered  primary ${count('primary')}  secondary ${count('secondary')}  cache ${count('cache')}  static ${count('static')}  errors ${count('error')}`;
  if (tty) process.stdout.write(`\r${line}`);
  else console.log(line);
};
console.log(`breakwater demo: ${duration} s at ${rate} requests/s through examples/express-chat (seed ${seed})`);
console.log(
  `primary (OpenAI fake) down ${primaryOutage[0].toFixed(1)}-${primaryOutage[1].toFixed(1)} s, secondary (Anthropic fake) down ${secondaryOutage[0].toFixed(1)}-${secondaryOutage[1].toFixed(1)} s; both with 1 % transient faults and a heavy latency tail\n`,
);
const ticker = setInterval(progress, tty ? 250 : 10_000);

const total = Math.round(duration * rate);
const inFlight: Promise<void>[] = [];
for (let i = 0; i < total; i++) {
  const due = (i / rate) * 1000 - (performance.now() - started);
  if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
  inFlight.push(ask(i));
}
await Promise.all(inFlight);
clearInterval(ticker);
progress();
if (tty) process.stdout.write('\n');

// The table.
const end = seconds();
const availability = (fake: typeof primary) => {
  const calls = fake.requests.filter((r) => r.method === 'POST');
  return calls.length === 0 ? 1 : calls.filter((r) => r.fault === 'ok').length / calls.length;
};
const byProvider = answers.filter((a) => a.tier === 'primary' || a.tier === 'secondary').length;
const answered = answers.filter((a) => a.status === 200).length;
const latencies = answers.map((a) => a.ms).sort((a, b) => a - b);
const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
const attempts = records.reduce((sum, r) => sum + r.calls.reduce((s, c) => s + c.attempts.length, 0), 0);
const hedges = records.reduce((sum, r) => sum + r.hedges, 0);
const percent = (x: number) => `${(100 * x).toFixed(2)} %`;
const summary: [string, string][] = [
  ['primary (OpenAI fake): requests it answered', percent(availability(primary))],
  ['secondary (Anthropic fake): requests it answered', percent(availability(secondary))],
  ['users answered by a provider', percent(byProvider / answers.length)],
  ['users answered at all (incl. cache and static)', percent(answered / answers.length)],
  [
    'answers by tier',
    `primary ${count('primary')}, secondary ${count('secondary')}, cache ${count('cache')}, static ${count('static')}, errors ${count('error')}`,
  ],
  ['latency p50 / p95 / p99', `${pct(0.5)} / ${pct(0.95)} / ${pct(0.99)} ms`],
  ['upstream attempts per request', (attempts / Math.max(1, records.length)).toFixed(2)],
  ['hedges', String(hedges)],
  ['breaker openings', String(openings)],
];
console.log();
console.table(Object.fromEntries(summary.map(([k, v]) => [k, { value: v }])));

// The report.
const perSecond = Array.from({ length: Math.ceil(duration) }, (_, second) => ({
  second,
  counts: {} as Record<string, number>,
}));
for (const a of answers) {
  const slot = perSecond[Math.min(perSecond.length - 1, Math.floor(a.at))]!;
  slot.counts[a.tier] = (slot.counts[a.tier] ?? 0) + 1;
}
const timeline = (name: string, outage: [number, number]): Timeline => {
  const changes = breakerChanges.get(name)!;
  return {
    name,
    outages: [outage],
    breaker: changes.map(
      ([at, state], i) =>
        [Math.min(at, duration), Math.min(changes[i + 1]?.[0] ?? end, duration), state] as [number, number, string],
    ),
  };
};
writeFileSync(
  values.out!,
  renderReport({
    title: `breakwater demo: ${duration} s at ${rate} req/s, seed ${seed}`,
    duration: Math.ceil(duration),
    tiers: ['primary', 'secondary', 'cache', 'static', 'error'],
    perSecond,
    timelines: [timeline('openai', primaryOutage), timeline('anthropic', secondaryOutage)],
    summary,
  }),
);
console.log(`\nreport: ${values.out}`);

agent.destroy();
server.close();
close();
await chat.close();
chat.engine.close();
await Promise.all([primary.close(), secondary.close()]);
