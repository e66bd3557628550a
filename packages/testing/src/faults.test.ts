import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultPlan } from './faults.js';
import { fakeTarget } from './in-process.js';
import { fakeAnthropic, fakeOpenAI, type FakeProvider } from './server.js';

describe('bad scripts fail when the provider is created', () => {
  it.each([
    [{ script: ['explode'] }, /options\.script\[0\] must be one of ok, rate_limit/],
    [{ latency: -5 }, /options\.latency must be a non-negative number/],
    [{ latency: { uniform: [10, 5] } }, /options\.latency/],
    [
      { availability: { availability: 1.5, meanOutageMs: 1000 } },
      /availability\.availability must be a number in \(0, 1\]/,
    ],
    [{ transient: { rate: 0.1, faults: [] } }, /transient\.faults must be a non-empty array/],
    [{ rateLimit: { requestsPerMinute: 0 } }, /requestsPerMinute must be a positive number/],
    [{ outages: [{ from: 10, to: 5 }] }, /outages\[0\]/],
    [{ lantency: 5 }, /options\.lantency must be absent/],
    [{ latencyTail: { rate: 2, latency: 5 } }, /options\.latencyTail\.rate must be a number from 0 to 1/],
  ])('%j', (options, message) => {
    expect(() => new FaultPlan(options as never)).toThrow(message);
    expect(() => fakeTarget(options as never)).toThrow(TypeError);
  });
  it('rejects bad options of the HTTP fakes before listening', async () => {
    await expect(fakeOpenAI({ chunkSize: 0 })).rejects.toThrow(/chunkSize/);
  });
});

describe('the fault schedule', () => {
  it('is deterministic for a seed', () => {
    const draw = () => {
      const plan = new FaultPlan({
        seed: 42,
        transient: { rate: 0.3, faults: ['rate_limit', 'server_error'] },
        latency: { logNormal: { median: 800, sigma: 1 } },
      });
      return Array.from({ length: 50 }, (_, i) => plan.decide(i * 100));
    };
    expect(draw()).toEqual(draw());
  });
  it('turns an availability into outage episodes of about that share of time', () => {
    const plan = new FaultPlan({ seed: 3, availability: { availability: 0.99, meanOutageMs: 60_000 } });
    const horizon = 30 * 24 * 3_600_000;
    let down = 0;
    const step = 10_000;
    for (let t = 0; t < horizon; t += step) if (plan.decide(t).fault !== 'ok') down += step;
    expect(down / horizon).toBeGreaterThan(0.005);
    expect(down / horizon).toBeLessThan(0.02);
    expect(plan.episodes.length).toBeGreaterThan(10);
  });
  it('rate-limits with a token bucket and announces an accurate wait', () => {
    const plan = new FaultPlan({ rateLimit: { requestsPerMinute: 60, burst: 1 } });
    expect(plan.decide(0).fault).toBe('ok');
    const limited = plan.decide(250);
    expect(limited).toMatchObject({ fault: 'rate_limit', retryAfterMs: 750 });
    expect(plan.decide(1_000).fault).toBe('ok');
  });
  it('gives a share of requests the tail latency', () => {
    const plan = new FaultPlan({
      seed: 9,
      latency: 100,
      latencyTail: { rate: 0.1, latency: { uniform: [10_000, 30_000] } },
    });
    const slow = Array.from({ length: 2_000 }, (_, i) => plan.decide(i)).filter((d) => d.latencyMs >= 10_000).length;
    expect(slow / 2_000).toBeGreaterThan(0.07);
    expect(slow / 2_000).toBeLessThan(0.13);
  });
  it('serves outage windows', () => {
    const plan = new FaultPlan({ outages: [{ from: 1_000, to: 2_000, fault: 'overloaded' }] });
    expect(plan.decide(999).fault).toBe('ok');
    expect(plan.decide(1_500).fault).toBe('overloaded');
    expect(plan.decide(2_000).fault).toBe('ok');
  });
  it('goes down and up by hand', () => {
    const plan = new FaultPlan({});
    plan.down('server_error');
    expect(plan.isDown(0)).toBe(true);
    expect(plan.decide(0).fault).toBe('server_error');
    plan.up();
    expect(plan.isDown(0)).toBe(false);
    expect(plan.decide(1).fault).toBe('ok');
    expect(() => plan.down('nope' as never)).toThrow(TypeError);
  });
});

describe('HTTP fakes', () => {
  let provider: FakeProvider | undefined;
  afterEach(async () => provider?.close());

  it('answers 429 with the Retry-After its rate limit really needs', async () => {
    provider = await fakeOpenAI({ rateLimit: { requestsPerMinute: 6, burst: 1 } });
    const client = new OpenAI({ baseURL: provider.baseURL, apiKey: 'k', maxRetries: 0 });
    await client.chat.completions.create({ model: 'm', messages: [] });
    const error = await client.chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const wait = Number((error as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after-ms'));
    expect(wait).toBeGreaterThan(9_000);
    expect(wait).toBeLessThanOrEqual(10_000);
  });

  it('cuts hanging requests when closed, and counts concurrency', async () => {
    provider = await fakeAnthropic({ script: ['hang', 'hang'] });
    const url = `${provider.origin}/v1/messages`;
    const requests = [1, 2].map(() => fetch(url, { method: 'POST', body: '{}' }).catch((e: unknown) => e));
    while (provider.active < 2) await new Promise((r) => setImmediate(r));
    expect(provider.maxActive).toBe(2);
    await provider.close();
    provider = undefined;
    for (const result of await Promise.all(requests)) expect(result).toBeInstanceOf(Error);
  });
});

describe('in-process fake target', () => {
  it('throws errors shaped like the SDKs and honours its signal', async () => {
    const target = fakeTarget({ script: ['quota', 'hang'] });
    const controller = new AbortController();
    await expect(target.call({}, { signal: controller.signal })).rejects.toMatchObject({
      status: 429,
      code: 'insufficient_quota',
    });
    const hanging = target.call({}, { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(hanging).rejects.toThrow('stop');
    expect(target.active).toBe(0);
  });
  it('streams chunks and fails mid-stream as scripted', async () => {
    const target = fakeTarget({ reply: 'one two three', script: [{ fault: 'stream_error', afterChunks: 2 }] });
    const chunks: string[] = [];
    const error = await (async () => {
      for await (const chunk of target.stream({}, { signal: new AbortController().signal })) chunks.push(chunk.content);
    })().catch((e: unknown) => e);
    expect(chunks).toEqual(['one ', 'two ']);
    expect(error).toMatchObject({ type: 'overloaded_error' });
  });
});
