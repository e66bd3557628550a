/**
 * Test harness for the example apps: fresh fake providers, the shared chat engine with short
 * deadlines, and the Express or Koa app, driven through supertest.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp as createExpressApp } from '@breakwater/example-express-chat';
import { createApp as createKoaApp } from '@breakwater/example-koa-chat';
import { createChatEngine, type ChatEngine } from '@breakwater/example-shared';
import { fakeAnthropic, fakeOpenAI, type FakeProvider, type FakeProviderOptions } from '@breakwater/testing';

export type Framework = 'express' | 'koa';
export const FRAMEWORKS: Framework[] = ['express', 'koa'];

/** Deadlines short enough for tests; every fault that hangs is ended by one of them. */
export const TEST_DEFAULTS = {
  timeouts: { total: '3s', attempt: '1s', firstToken: '500ms', idle: '500ms' },
  retry: { baseDelay: '10ms', maxDelay: '50ms', maxServerWait: '100ms' },
} as const;

export interface Harness {
  server: http.Server;
  url: string;
  primary: FakeProvider;
  secondary: FakeProvider;
  chat: ChatEngine;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startHarness(
  framework: Framework,
  options: { primary?: FakeProviderOptions; secondary?: FakeProviderOptions; timeoutMs?: number } = {},
): Promise<Harness> {
  const primary = await fakeOpenAI({ reply: 'from openai', ...options.primary });
  const secondary = await fakeAnthropic({ reply: 'from anthropic', ...options.secondary });
  const chat = createChatEngine(
    { openaiBaseURL: primary.baseURL, anthropicBaseURL: secondary.baseURL },
    TEST_DEFAULTS,
    {},
  );
  const logs: Record<string, unknown>[] = [];
  const logger = { warn: (record: Record<string, unknown>) => void logs.push(record) };
  const appOptions = { logger, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) };
  const built = framework === 'express' ? createExpressApp(chat, appOptions) : createKoaApp(chat, appOptions);
  const handler =
    framework === 'express'
      ? (built.app as ReturnType<typeof createExpressApp>['app'])
      : (built.app as ReturnType<typeof createKoaApp>['app']).callback();
  const server = http.createServer(handler as http.RequestListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    url,
    primary,
    secondary,
    chat,
    logs,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      built.close();
      await chat.close();
      chat.engine.close();
      await Promise.all([primary.close(), secondary.close()]);
    },
  };
}

export const question = (content = 'hello') => ({ messages: [{ role: 'user', content }] });

/** One SSE event. */
export interface SseEvent {
  event: string;
  data: unknown;
}

/** Parses an event-stream body into events (`message` for unnamed ones). */
export function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      return { event, data: data === '' ? undefined : (JSON.parse(data) as unknown) };
    });
}

/** A response as the fault matrix sees it. */
export interface Observed {
  status: number;
  /** JSON: the provider that answered or the degraded tier; SSE: the last event's name. */
  answer: string;
  /** SSE: the text the client received. */
  text?: string;
  ms: number;
  headers: Headers;
}

/** Posts a chat question as JSON or SSE and summarises what came back. */
export async function ask(
  h: Harness,
  mode: 'json' | 'sse',
  body: unknown = question(),
  headers: Record<string, string> = {},
): Promise<Observed> {
  const started = performance.now();
  const res = await fetch(`${h.url}/v1/chat${mode === 'sse' ? '/stream' : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  const degraded = res.headers.get('x-breakwater-degraded');
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    const json = JSON.parse(text) as { provider?: string; error?: string };
    return { status: res.status, answer: degraded ?? json.provider ?? 'error', ms, headers: res.headers };
  }
  const events = parseSse(text);
  const content = events
    .filter((e) => e.event === 'message')
    .map((e) => (e.data as { content?: string }).content ?? '')
    .join('');
  const last = events.at(-1)?.event ?? 'none';
  return {
    status: res.status,
    answer: degraded ? `${last}:${degraded}` : last,
    text: content,
    ms,
    headers: res.headers,
  };
}
