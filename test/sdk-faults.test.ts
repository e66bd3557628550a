/**
 * Every fault of the fake providers, through the official SDKs (maxRetries: 0), reaches the
 * client as the error a real provider gives, and breakwater classifies it as the taxonomy says.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { classifyError, type FailureClass } from '@breakwater/core';
import { createTimeoutFetch } from '@breakwater/core/fetch';
import { fakeAnthropic, fakeOpenAI, type FakeProvider, type FaultName } from '@breakwater/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const expected: [FaultName, FailureClass, number | undefined, number | undefined][] = [
  // fault, class, OpenAI status, Anthropic status
  ['rate_limit', 'rate_limited', 429, 429],
  ['quota', 'quota_exhausted', 429, 400],
  ['overloaded', 'overloaded', 503, 529],
  ['server_error', 'server', 500, 500],
  ['bad_gateway', 'server', 502, 502],
  ['unavailable', 'overloaded', 503, 503],
  ['gateway_timeout', 'server', 504, 504],
  ['context_length', 'context_length', 400, 400],
  ['content_filter', 'content_policy', 400, 400],
  ['unauthorized', 'auth', 401, 401],
  ['model_not_found', 'not_found', 404, 404],
];

let openaiFake: FakeProvider;
let anthropicFake: FakeProvider;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  openaiFake = await fakeOpenAI();
  anthropicFake = await fakeAnthropic();
  openai = new OpenAI({ baseURL: openaiFake.baseURL, apiKey: 'test', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: anthropicFake.baseURL, apiKey: 'test', maxRetries: 0 });
});
afterAll(async () => {
  await openaiFake.close();
  await anthropicFake.close();
});

const chat = (signal?: AbortSignal) =>
  openai.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }, { signal });
const message = (signal?: AbortSignal) =>
  anthropic.messages.create(
    { model: 'fake-model', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] },
    { signal },
  );

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('status faults through the official SDKs', () => {
  for (const [fault, failureClass, openaiStatus, anthropicStatus] of expected) {
    it(`openai: ${fault} -> ${openaiStatus} ${failureClass}`, async () => {
      openaiFake.enqueue(fault);
      const error = (await failure(chat())) as InstanceType<typeof OpenAI.APIError>;
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect(error.status).toBe(openaiStatus);
      expect(classifyError(error).class).toBe(failureClass);
    });
    it(`anthropic: ${fault} -> ${anthropicStatus} ${failureClass}`, async () => {
      anthropicFake.enqueue(fault);
      const error = (await failure(message())) as InstanceType<typeof Anthropic.APIError>;
      expect(error).toBeInstanceOf(Anthropic.APIError);
      expect(error.status).toBe(anthropicStatus);
      expect(classifyError(error).class).toBe(failureClass);
    });
  }

  it('carries the rate-limit headers a real provider sends, and breakwater reads the wait', async () => {
    openaiFake.enqueue({ fault: 'rate_limit', retryAfterMs: 1200 });
    const error = (await failure(chat())) as InstanceType<typeof OpenAI.RateLimitError>;
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.code).toBe('rate_limit_exceeded');
    expect(error.headers?.get('retry-after')).toBe('2');
    expect(error.headers?.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(classifyError(error)).toMatchObject({ class: 'rate_limited', status: 429, retryAfterMs: 1200 });

    anthropicFake.enqueue({ fault: 'rate_limit', retryAfterMs: 3000 });
    const anthropicError = (await failure(message())) as InstanceType<typeof Anthropic.RateLimitError>;
    expect(anthropicError.type).toBe('rate_limit_error');
    expect(classifyError(anthropicError)).toMatchObject({ class: 'rate_limited', retryAfterMs: 3000 });
  });

  it('marks quota as insufficient_quota (OpenAI) and billing_error (Anthropic)', async () => {
    openaiFake.enqueue('quota');
    expect(await failure(chat())).toMatchObject({ status: 429, code: 'insufficient_quota' });
    anthropicFake.enqueue('quota');
    expect(await failure(message())).toMatchObject({ type: 'billing_error' });
  });
});

describe('connection and stream faults through the official SDKs', () => {
  it('classifies a connection reset mid-body as network', async () => {
    openaiFake.enqueue('reset');
    // undici reports the cut body as TypeError('terminated') caused by UND_ERR_SOCKET.
    expect(classifyError(await failure(chat())).class).toBe('network');
  });

  it('classifies a refused connection as network', async () => {
    const closed = await fakeOpenAI();
    const url = closed.baseURL;
    await closed.close();
    const client = new OpenAI({ baseURL: url, apiKey: 'test', maxRetries: 0 });
    const error = await failure(client.chat.completions.create({ model: 'm', messages: [] }));
    expect(classifyError(error)).toMatchObject({ class: 'network', code: 'ECONNREFUSED' });
  });

  it('classifies malformed JSON as unknown (provider-side, not retried on the same target)', async () => {
    openaiFake.enqueue('malformed');
    expect(classifyError(await failure(chat())).class).toBe('unknown');
  });

  it('classifies the timeout fetch phases: headers', async () => {
    const fetch = createTimeoutFetch({ headers: 100 });
    const client = new OpenAI({ baseURL: openaiFake.baseURL, apiKey: 'test', maxRetries: 0, fetch });
    openaiFake.enqueue('hang');
    const error = await failure(client.chat.completions.create({ model: 'm', messages: [] }));
    expect(classifyError(error)).toMatchObject({ class: 'timeout', phase: 'headers' });
    await fetch.close();
  });

  it('classifies the timeout fetch phases: body (a stalled stream)', async () => {
    const fetch = createTimeoutFetch({ body: 100 });
    const client = new OpenAI({ baseURL: openaiFake.baseURL, apiKey: 'test', maxRetries: 0, fetch });
    openaiFake.enqueue({ fault: 'stall', afterChunks: 1 });
    const stream = await client.chat.completions.create({ model: 'm', messages: [], stream: true });
    const error = await failure(
      (async () => {
        for await (const chunk of stream) void chunk;
      })(),
    );
    expect(classifyError(error)).toMatchObject({ class: 'timeout', phase: 'body' });
    await fetch.close();
  });

  it('streams an OpenAI answer chunk by chunk, and an in-band error as a server failure', async () => {
    const stream = await openai.chat.completions.create({ model: 'm', messages: [], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toContain('Hello from the fake provider');

    openaiFake.enqueue({ fault: 'stream_error', afterChunks: 2 });
    const broken = await openai.chat.completions.create({ model: 'm', messages: [], stream: true });
    const error = await failure(
      (async () => {
        for await (const chunk of broken) void chunk;
      })(),
    );
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBeUndefined();
    expect(classifyError(error).class).toBe('server');
  });

  it('streams an Anthropic answer, and its overloaded_error event mid-stream as overloaded', async () => {
    const stream = await anthropic.messages.create({ model: 'm', max_tokens: 64, messages: [], stream: true });
    let text = '';
    for await (const event of stream)
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    expect(text).toContain('Hello from the fake provider');

    anthropicFake.enqueue({ fault: 'stream_error', afterChunks: 1 });
    const broken = await anthropic.messages.create({ model: 'm', max_tokens: 64, messages: [], stream: true });
    const error = await failure(
      (async () => {
        for await (const event of broken) void event;
      })(),
    );
    expect(classifyError(error)).toMatchObject({ class: 'overloaded', code: 'overloaded_error' });
  });

  it('ends an SDK stream silently when its signal aborts (why the engine tracks its own aborts)', async () => {
    openaiFake.enqueue({ fault: 'stall', afterChunks: 1 });
    const controller = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: 'm', messages: [], stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    const outcome = await (async () => {
      try {
        for await (const chunk of stream) {
          void chunk;
          if (++chunks === 2) setImmediate(() => controller.abort());
        }
        return 'ended';
      } catch (error) {
        return classifyError(error).class;
      }
    })();
    // Either ending is handled: the engine stops the wait itself and classifies by its own reason.
    expect(['ended', 'cancelled']).toContain(outcome);
  });

  it('logs every request with its headers and what was done', async () => {
    const before = openaiFake.requests.length;
    await openai.chat.completions.create(
      { model: 'm', messages: [{ role: 'user', content: 'logged' }] },
      { headers: { 'Idempotency-Key': 'key-1' } },
    );
    const entry = openaiFake.requests[before]!;
    expect(entry).toMatchObject({ method: 'POST', path: '/v1/chat/completions', fault: 'ok', stream: false });
    expect(entry.headers['idempotency-key']).toBe('key-1');
    expect(entry.body).toMatchObject({ messages: [{ content: 'logged' }] });
  });
});
