/**
 * The engine of the quickstart: OpenAI first, Anthropic second, both through their official
 * SDKs with their own retries off, and a fetch with connect/headers/body timeouts.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createEngine, type Engine } from '@breakwater/core';
import { createTimeoutFetch } from '@breakwater/core/fetch';

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

/** Builds the engine; also returns the fetch so the caller can close its pool. */
export function createChatEngine(urls: ProviderUrls) {
  const fetch = createTimeoutFetch({ connect: '2s', headers: '10s', body: '10s' });
  const openai = new OpenAI({
    baseURL: urls.openaiBaseURL,
    apiKey: process.env.OPENAI_API_KEY ?? 'fake',
    maxRetries: 0,
    fetch,
  });
  const anthropic = new Anthropic({
    baseURL: urls.anthropicBaseURL,
    apiKey: process.env.ANTHROPIC_API_KEY ?? 'fake',
    maxRetries: 0,
    fetch,
  });

  const engine: Engine<ChatInput, ChatAnswer, string> = createEngine<ChatInput, ChatAnswer, string>({
    defaults: {
      timeouts: { total: '8s', attempt: '3s', firstToken: '2s', idle: '2s' },
      breaker: { window: '10s', cooldown: '2s', maxCooldown: '10s' },
    },
    targets: {
      'openai/gpt-4o-mini': {
        client: openai,
        call: async (input, { signal }) => {
          const completion = await openai.chat.completions.create(
            { model: 'gpt-4o-mini', messages: input.messages },
            { signal },
          );
          return { content: completion.choices[0]?.message.content ?? '' };
        },
        stream: async function* (input, { signal }) {
          const stream = await openai.chat.completions.create(
            { model: 'gpt-4o-mini', messages: input.messages, stream: true },
            { signal },
          );
          for await (const chunk of stream) yield chunk.choices[0]?.delta.content ?? '';
        },
        isContent: (chunk) => chunk.length > 0,
        probe: async ({ signal }) => {
          await openai.models.list({ signal });
        },
      },
      'anthropic/haiku': {
        client: anthropic,
        call: async (input, { signal }) => {
          const message = await anthropic.messages.create(
            { model: 'claude-haiku-4-5', max_tokens: 256, messages: input.messages },
            { signal },
          );
          const block = message.content[0];
          return { content: block?.type === 'text' ? block.text : '' };
        },
        stream: async function* (input, { signal }) {
          const stream = await anthropic.messages.create(
            { model: 'claude-haiku-4-5', max_tokens: 256, messages: input.messages, stream: true },
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
  return { engine, fetch };
}
