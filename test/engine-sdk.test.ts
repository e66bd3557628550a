/**
 * The engine end to end: official SDK clients (maxRetries: 0) over loopback HTTP to fake
 * providers that fail on cue. Deadlines here are short and the faults hang indefinitely, so
 * every assertion depends on breakwater acting, never on a race between two timers.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createEngine, MidStreamError, type CallOutcome } from '@breakwater/core';
import { fakeAnthropic, fakeOpenAI, type FakeProvider } from '@breakwater/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

interface Input {
  text: string;
}

let primaryFake: FakeProvider;
let secondaryFake: FakeProvider;
let engine: ReturnType<typeof build>;
const outcomes: CallOutcome[] = [];

function build() {
  const openai = new OpenAI({ baseURL: primaryFake.baseURL, apiKey: 'k', maxRetries: 0 });
  const anthropic = new Anthropic({ baseURL: secondaryFake.baseURL, apiKey: 'k', maxRetries: 0 });
  const created = createEngine<Input, string, string>({
    defaults: { timeouts: { total: '5s', attempt: '2s', firstToken: '300ms', idle: '300ms' } },
    targets: {
      openai: {
        client: openai,
        call: async (input, { signal }) => {
          const r = await openai.chat.completions.create(
            { model: 'm', messages: [{ role: 'user', content: input.text }] },
            { signal },
          );
          return r.choices[0]!.message.content ?? '';
        },
        stream: async function* (input, { signal }) {
          const s = await openai.chat.completions.create(
            { model: 'm', messages: [{ role: 'user', content: input.text }], stream: true },
            { signal },
          );
          for await (const chunk of s) yield chunk.choices[0]?.delta.content ?? '';
        },
        isContent: (chunk) => chunk.length > 0,
      },
      anthropic: {
        client: anthropic,
        call: async (input, { signal }) => {
          const m = await anthropic.messages.create(
            { model: 'm', max_tokens: 64, messages: [{ role: 'user', content: input.text }] },
            { signal },
          );
          return m.content[0]?.type === 'text' ? m.content[0].text : '';
        },
        stream: async function* (input, { signal }) {
          const s = await anthropic.messages.create(
            { model: 'm', max_tokens: 64, messages: [{ role: 'user', content: input.text }], stream: true },
            { signal },
          );
          for await (const e of s)
            if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') yield e.delta.text;
        },
      },
    },
  });
  created.on('outcome', (o) => outcomes.push(o));
  return created;
}

beforeEach(async () => {
  primaryFake = await fakeOpenAI({ reply: 'from openai' });
  secondaryFake = await fakeAnthropic({ reply: 'from anthropic' });
  engine = build();
  outcomes.length = 0;
});
afterEach(async () => {
  await primaryFake.close();
  await secondaryFake.close();
});

const collect = async (iterable: AsyncIterable<string>) => {
  let text = '';
  for await (const chunk of iterable) text += chunk;
  return text;
};

describe('the engine with the official SDKs', () => {
  it('answers from Anthropic at once when OpenAI rate-limits with a long Retry-After', async () => {
    primaryFake.enqueue({ fault: 'rate_limit', retryAfterMs: 120_000 });
    const started = performance.now();
    await expect(engine.call({ text: 'hi' })).resolves.toBe('from anthropic');
    expect(performance.now() - started).toBeLessThan(1_000); // no 120 s (or 5 s) sleep
    expect(outcomes[0]).toMatchObject({ tier: 1, attempts: [{ class: 'rate_limited', status: 429 }, { ok: true }] });
    // The wait became a cooldown: the next call does not touch OpenAI.
    const before = primaryFake.requests.length;
    await expect(engine.call({ text: 'again' })).resolves.toBe('from anthropic');
    expect(primaryFake.requests.length).toBe(before);
  });

  it('tries an insufficient_quota primary exactly once', async () => {
    primaryFake.enqueue('quota', 'quota', 'quota');
    for (let i = 0; i < 3; i++) await expect(engine.call({ text: 'q' })).resolves.toBe('from anthropic');
    expect(primaryFake.requests.length).toBe(1);
  });

  it('replaces a stream that stalls before its first token, unseen by the consumer', async () => {
    primaryFake.enqueue({ fault: 'stall', afterChunks: 0 });
    await expect(collect(engine.stream({ text: 's' }))).resolves.toBe('from anthropic');
    expect(outcomes[0]!.attempts[0]).toMatchObject({ target: 'openai', class: 'timeout', phase: 'first_token' });
    const stalled = primaryFake.requests.at(-1)!;
    expect(stalled.aborted).toBe(true); // the upstream request was really cut
  });

  it('ends a stream that stalls after its first token with a MidStreamError, not a clean end', async () => {
    primaryFake.enqueue({ fault: 'stall', afterChunks: 1 });
    let text = '';
    const error = await (async () => {
      for await (const chunk of engine.stream({ text: 's' })) text += chunk;
    })().catch((e: unknown) => e);
    expect(text).toBe('from ');
    expect(error).toBeInstanceOf(MidStreamError);
    // Two chunks reached the consumer: the role-only opener (not content) and 'from '.
    expect(error).toMatchObject({ failureClass: 'timeout', delivered: 2, classification: { phase: 'idle' } });
    expect(outcomes[0]).toMatchObject({ ok: false, complete: false });
  });

  it("surfaces Anthropic's in-band overloaded_error after the commit point as a MidStreamError", async () => {
    primaryFake.enqueue('unauthorized');
    secondaryFake.enqueue({ fault: 'stream_error', afterChunks: 1 });
    const error = await collect(engine.stream({ text: 's' })).catch((e: unknown) => e);
    expect(error).toMatchObject({ failureClass: 'overloaded', delivered: 1 });
  });

  it('aborts the upstream request at once when the caller leaves', async () => {
    primaryFake.enqueue('hang');
    const controller = new AbortController();
    const pending = engine.call({ text: 'bye' }, { signal: controller.signal });
    while (primaryFake.active === 0) await new Promise((r) => setImmediate(r));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ failureClass: 'cancelled' });
    while (primaryFake.active > 0) await new Promise((r) => setImmediate(r));
    expect(primaryFake.requests.at(-1)!.aborted).toBe(true);
  });
});
