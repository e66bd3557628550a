/**
 * The chat engine of the examples: OpenAI first, Anthropic second, both through their official
 * SDKs with their own retries off and a fetch with connect/headers/body timeouts. With
 * `BREAKWATER_REDIS_URL` set, state is shared with every other instance on that Redis.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createEngine, type Engine, type PolicyOptions } from '@breakwater/core';
import { createTimeoutFetch, type TimeoutFetch } from '@breakwater/core/fetch';
import { redisStore } from '@breakwater/redis';

/** What the app asks: chat messages. */
export interface ChatInput {
  messages: { role: 'user' | 'assistant'; content: string }[];
}

/** What the app gets back, whoever answered. */
export interface ChatAnswer {
  content: string;
}

export interface ProviderUrls {
  openaiBaseURL: string;
  anthropicBaseURL: string;
}

/** The engine and what to close on shutdown. */
export interface ChatEngine {
  engine: Engine<ChatInput, ChatAnswer, string>;
  fetch: TimeoutFetch;
  close(): Promise<void>;
}

/** Target names, in chain order. */
export const PRIMARY = 'openai';
export const SECONDARY = 'anthropic';

/** Builds the engine. `defaults` overrides the LLM preset (timeouts, retry, breaker). */
export function createChatEngine(
  urls: ProviderUrls,
  defaults?: PolicyOptions,
  env: NodeJS.ProcessEnv = process.env,
): ChatEngine {
  const fetch = createTimeoutFetch({ connect: '2s', headers: '30s', body: '20s' });
  const openai = new OpenAI({
    baseURL: urls.openaiBaseURL,
    apiKey: env.OPENAI_API_KEY ?? 'fake',
    maxRetries: 0,
    fetch,
  });
  const anthropic = new Anthropic({
    baseURL: urls.anthropicBaseURL,
    apiKey: env.ANTHROPIC_API_KEY ?? 'fake',
    maxRetries: 0,
    fetch,
  });
  const openaiModel = env.OPENAI_MODEL ?? 'gpt-4o-mini';
  const openaiPerMinute = env.OPENAI_REQUESTS_PER_MINUTE ? Number(env.OPENAI_REQUESTS_PER_MINUTE) : undefined;
  const anthropicModel = env.ANTHROPIC_MODEL ?? 'claude-haiku-4-5';

  // Several instances act as one through Redis: breakers, cooldowns, idempotency, cache, jobs, bulkheads.
  const store = env.BREAKWATER_REDIS_URL ? redisStore({ url: env.BREAKWATER_REDIS_URL }) : undefined;
  const engine = createEngine<ChatInput, ChatAnswer, string>({
    ...(defaults ? { defaults } : {}),
    ...(store ? { store } : {}),
    targets: {
      [PRIMARY]: {
        client: openai,
        // Client-side pacing (shared by every instance with BREAKWATER_REDIS_URL); out of budget, the chain moves on.
        ...(openaiPerMinute ? { rateLimit: { requestsPerMinute: openaiPerMinute } } : {}),
        call: async (input, { signal }) => {
          const completion = await openai.chat.completions.create(
            { model: openaiModel, messages: input.messages },
            { signal },
          );
          return { content: completion.choices[0]?.message.content ?? '' };
        },
        stream: async function* (input, { signal }) {
          const stream = await openai.chat.completions.create(
            { model: openaiModel, messages: input.messages, stream: true },
            { signal },
          );
          for await (const chunk of stream) {
            const text = chunk.choices[0]?.delta.content;
            if (text) yield text; // the role-only opener and the final chunk carry no text
          }
        },
        probe: async ({ signal }) => {
          await openai.models.list({ signal });
        },
      },
      [SECONDARY]: {
        client: anthropic,
        call: async (input, { signal }) => {
          const message = await anthropic.messages.create(
            { model: anthropicModel, max_tokens: 1024, messages: input.messages },
            { signal },
          );
          const block = message.content[0];
          return { content: block?.type === 'text' ? block.text : '' };
        },
        stream: async function* (input, { signal }) {
          const stream = await anthropic.messages.create(
            { model: anthropicModel, max_tokens: 1024, messages: input.messages, stream: true },
            { signal },
          );
          for await (const event of stream) {
            if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') yield event.delta.text;
          }
        },
        probe: async ({ signal }) => {
          await anthropic.models.list({}, { signal });
        },
      },
    },
  });
  return {
    engine,
    fetch,
    close: async () => {
      engine.close();
      await Promise.all([fetch.close(), store?.close()]);
    },
  };
}
