/**
 * The fault matrix: every fault of the fake providers, on the primary, x (Express, Koa) x
 * (JSON, SSE) gives its documented answer (docs/adapters.md has the table). Then the
 * degradation tiers when every provider is down.
 */
import type { FaultSpec } from '@breakwater/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ask, FRAMEWORKS, question, startHarness, type Harness } from './harness.js';

/** What each fault on the primary produces: JSON answer and SSE ending, with the status. */
const MATRIX: [FaultSpec['fault'], json: string, sse: string][] = [
  ['ok', '200 openai', '200 done'],
  ['rate_limit', '200 anthropic', '200 done'],
  ['quota', '200 anthropic', '200 done'],
  ['overloaded', '200 anthropic', '200 done'],
  ['server_error', '200 openai', '200 done'],
  ['bad_gateway', '200 openai', '200 done'],
  ['unavailable', '200 openai', '200 done'],
  ['gateway_timeout', '200 openai', '200 done'],
  ['unauthorized', '200 anthropic', '200 done'],
  ['model_not_found', '200 anthropic', '200 done'],
  ['context_length', '413 error', '413 error'],
  ['content_filter', '422 error', '422 error'],
  ['hang', '200 anthropic', '200 done'],
  ['stall', '200 anthropic', '200 error'],
  ['stream_error', '200 openai', '200 error'],
  ['reset', '200 anthropic', '200 error'],
  ['malformed', '200 anthropic', '200 done'],
];

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe.each(FRAMEWORKS)('%s: one fault on the primary', (framework) => {
  it.each(MATRIX)('%s -> JSON %s, SSE %s', async (fault, json, sse) => {
    harness = await startHarness(framework);
    harness.primary.enqueue(fault);
    const plain = await ask(harness, 'json');
    expect(`${plain.status} ${plain.answer}`).toBe(json);
    expect(plain.ms).toBeLessThan(3_000 + 500); // never past the deadline

    harness.primary.enqueue(fault);
    const streamed = await ask(harness, 'sse');
    expect(`${streamed.status} ${streamed.answer}`).toBe(sse);
    expect(streamed.ms).toBeLessThan(3_000 + 500);
    if (sse === '200 done') expect(streamed.text).toMatch(/^from (openai|anthropic)$/);
    if (sse === '200 error') expect(streamed.text).toBe('from '); // the chunk before the cut, then event: error
  });
});

describe.each(FRAMEWORKS)('%s: every provider down', (framework) => {
  const down = { outages: [{ from: 0, to: 3_600_000 }] };

  it('answers from the static tier, marked degraded, and logs it once', async () => {
    harness = await startHarness(framework, { primary: down, secondary: down });
    const res = await fetch(`${harness.url}/v1/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant-id': 'acme' },
      body: JSON.stringify(question()),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-breakwater-degraded')).toBe('static');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ role: 'assistant', degraded: 'static' });
    expect(JSON.stringify(body)).not.toMatch(/unavailable|temporarily/); // no upstream text
    const degraded = harness.logs.filter((l) => l.event === 'breakwater.degraded');
    expect(degraded).toHaveLength(1);
    expect(degraded[0]).toMatchObject({
      event: 'breakwater.degraded',
      tier: 'static',
      route: 'chat',
      tenant: 'acme',
    });
  });

  it('streams the static answer as one event when nothing was sent yet', async () => {
    harness = await startHarness(framework, { primary: down, secondary: down });
    const streamed = await ask(harness, 'sse');
    expect(`${streamed.status} ${streamed.answer}`).toBe('200 done:static');
  });

  it('serves the last good answer for the same question from the cache tier, marked stale', async () => {
    harness = await startHarness(framework);
    expect((await ask(harness, 'json', question('cached?'))).answer).toBe('openai');
    harness.primary.enqueue('unavailable', 'unavailable', 'unavailable');
    harness.secondary.enqueue('unavailable', 'unavailable', 'unavailable');
    const res = await fetch(`${harness.url}/v1/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(question('cached?')),
    });
    expect(res.headers.get('x-breakwater-degraded')).toBe('cache');
    expect(await res.json()).toMatchObject({ content: 'from openai', degraded: 'cache', stale: true });
    // The stale answer was not remembered as a new good one, and neither is a static answer.
    harness.primary.enqueue('unavailable', 'unavailable');
    harness.secondary.enqueue('unavailable', 'unavailable');
    expect((await ask(harness, 'json', question('never answered'))).answer).toBe('static');
    harness.primary.enqueue('unavailable', 'unavailable');
    harness.secondary.enqueue('unavailable', 'unavailable');
    expect((await ask(harness, 'json', question('never answered'))).answer).toBe('static');
    // A different question is not served someone else's answer.
    harness.primary.enqueue('unavailable', 'unavailable');
    harness.secondary.enqueue('unavailable', 'unavailable');
    expect((await ask(harness, 'json', question('other'))).answer).toBe('static');
  });

  it('does not serve one tenant the cached answer of another', async () => {
    harness = await startHarness(framework);
    const post = (tenant: string) =>
      fetch(`${harness!.url}/v1/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
        body: JSON.stringify(question('shared question')),
      });
    expect((await post('tenant-a')).headers.get('x-breakwater-degraded')).toBeNull();
    harness.primary.enqueue('unavailable', 'unavailable');
    harness.secondary.enqueue('unavailable', 'unavailable');
    expect((await post('tenant-b')).headers.get('x-breakwater-degraded')).toBe('static');
  });
});
