/**
 * B4: a 429 storm. One provider (the OpenAI fake over loopback) with a hard rate limit of 20
 * requests/s answers 429 with an accurate Retry-After; it is offered 3x that (60 requests/s,
 * open loop) for a few seconds. Upstream attempts per user request and goodput, for the real
 * `openai@6` client with its default retries, p-retry around it, cockatiel's retry around it,
 * and breakwater (the Retry-After becomes a cooldown, retries come from a 10 % budget).
 * Real time: the SDK's own retry loop cannot run in virtual time.
 */
import OpenAI from 'openai';
import pRetry from 'p-retry';
import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import { createEngine } from '@breakwater/core';
import { fakeOpenAI } from '@breakwater/testing';
import { environment, round2, writeResult, type BenchResult } from './results.js';

export interface B4Options {
  seconds?: number;
  write?: boolean;
}

const LIMIT = 20;
const OFFERED = 3 * LIMIT;

interface Stats {
  attemptsPerRequest: number;
  goodput: number;
  succeeded: number;
}

async function storm(seconds: number, make: (baseURL: string) => () => Promise<unknown>): Promise<Stats> {
  const fake = await fakeOpenAI({ rateLimit: { requestsPerMinute: LIMIT * 60, burst: LIMIT } });
  const request = make(fake.baseURL);
  const total = seconds * OFFERED;
  let succeeded = 0;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = (i / OFFERED) * 1000 - (performance.now() - started);
    if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    pending.push(
      request().then(
        () => void succeeded++,
        () => undefined,
      ),
    );
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - started) / 1000;
  const attempts = fake.requests.filter((r) => r.method === 'POST').length;
  await fake.close();
  return { attemptsPerRequest: round2(attempts / total), goodput: round2(succeeded / elapsed), succeeded };
}

const ask = (client: OpenAI, signal?: AbortSignal) =>
  client.chat.completions.create(
    { model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] },
    signal ? { signal } : undefined,
  );

export async function runB4({ seconds = 8, write = true }: B4Options = {}): Promise<BenchResult> {
  const sdk = await storm(seconds, (baseURL) => {
    const client = new OpenAI({ baseURL, apiKey: 'k' }); // default: 2 retries, honouring retry-after-ms
    return () => ask(client);
  });
  const pretry = await storm(seconds, (baseURL) => {
    const client = new OpenAI({ baseURL, apiKey: 'k', maxRetries: 0 });
    return () => pRetry(() => ask(client), { retries: 2 });
  });
  const cockatiel = await storm(seconds, (baseURL) => {
    const client = new OpenAI({ baseURL, apiKey: 'k', maxRetries: 0 });
    const policy = retry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() });
    return () => policy.execute(() => ask(client));
  });
  const breakwater = await storm(seconds, (baseURL) => {
    const client = new OpenAI({ baseURL, apiKey: 'k', maxRetries: 0 });
    const engine = createEngine({ targets: { openai: { client, call: (_input, { signal }) => ask(client, signal) } } });
    return () => engine.call({});
  });
  const pass = breakwater.attemptsPerRequest <= 1.1 && breakwater.goodput >= LIMIT * 0.95;
  const result: BenchResult = {
    id: 'B4',
    metric: '429 storm at 3x a hard rate limit: upstream attempts per user request',
    unit: 'attempts/request',
    value: breakwater.attemptsPerRequest,
    peers: {
      'openai@6 default retries': sdk.attemptsPerRequest,
      'p-retry (2 retries)': pretry.attemptsPerRequest,
      'cockatiel retry (2 attempts)': cockatiel.attemptsPerRequest,
    },
    goal: '<= 1.1 attempts per request, goodput at the limit (20/s, 5 % slack for loopback timing)',
    pass,
    details: {
      goodputPerSecond: {
        breakwater: breakwater.goodput,
        'openai@6': sdk.goodput,
        'p-retry': pretry.goodput,
        cockatiel: cockatiel.goodput,
      },
      succeeded: {
        breakwater: breakwater.succeeded,
        'openai@6': sdk.succeeded,
        'p-retry': pretry.succeeded,
        cockatiel: cockatiel.succeeded,
      },
      limitPerSecond: LIMIT,
      offeredPerSecond: OFFERED,
      seconds,
      ...environment(),
    },
  };
  if (write) writeResult(result);
  return result;
}
