/** The README's quick start, type-checked by `pnpm typecheck` so the README matches the code. */
import express from 'express';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { createEngine } from '@breakwater/core';
import { breakwater } from '@breakwater/express';

// One retry loop only: turn the SDKs' own retries off (breakwater warns if you forget).
const openai = new OpenAI({ maxRetries: 0 });
const anthropic = new Anthropic({ maxRetries: 0 });

type Chat = { messages: { role: 'user' | 'assistant'; content: string }[] };

const engine = createEngine<Chat, { content: string }>({
  targets: {
    openai: {
      client: openai,
      call: async (input, { signal }) => {
        const r = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: input.messages }, { signal });
        return { content: r.choices[0]?.message.content ?? '' };
      },
      // Half-open is decided by this cheap synthetic request, never by a user request.
      probe: ({ signal }) => openai.models.retrieve('gpt-4o-mini', { signal }),
    },
    anthropic: {
      client: anthropic,
      call: async (input, { signal }) => {
        const m = await anthropic.messages.create(
          { model: 'claude-haiku-4-5', max_tokens: 1024, messages: input.messages },
          { signal },
        );
        return { content: m.content[0]?.type === 'text' ? m.content[0].text : '' };
      },
    },
  },
});

const app = express();
const bw = breakwater(engine, { tenant: (req) => req.get('x-tenant-id') });
app.use(express.json(), bw);
app.post(
  '/v1/chat',
  bw.route({ chain: ['openai', 'anthropic'], cache: { key: (req) => req.body.messages, maxAge: '10m' }, static: true }),
  async (req, res) => res.json(await req.breakwater.call(req.body)),
);
app.use(bw.errors);
