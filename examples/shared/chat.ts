/** The HTTP contract both example apps share: request validation and the static answer. */
import type { ChatInput } from './engine.js';

/** The static tier's answer, in the same shape as a real one. */
export const STATIC_ANSWER = {
  role: 'assistant',
  content: "We're experiencing issues right now; please try again shortly.",
};

/** Reads `{ messages: [{ role, content }] }`; returns undefined when the body is not one. */
export function parseChat(body: unknown): ChatInput | undefined {
  const messages = (body as { messages?: unknown } | undefined)?.messages;
  if (!Array.isArray(messages) || messages.length === 0 || messages.length > 100) return undefined;
  for (const m of messages) {
    if (!m || typeof m !== 'object') return undefined;
    const { role, content } = m as { role?: unknown; content?: unknown };
    if ((role !== 'user' && role !== 'assistant') || typeof content !== 'string') return undefined;
  }
  return { messages: messages as ChatInput['messages'] };
}

/** The total deadline from `BREAKWATER_TIMEOUT_MS`, if set. */
export function timeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const value = env.BREAKWATER_TIMEOUT_MS;
  if (value === undefined || value === '') return undefined;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms <= 0)
    throw new TypeError(`BREAKWATER_TIMEOUT_MS must be a positive number of ms; got ${value}`);
  return ms;
}

/** How an error is answered: its status and headers, and a message that never carries upstream text. */
export function errorResponse(error: unknown): {
  status: number;
  headers: Record<string, string>;
  body: { error: string };
} {
  const e = error as {
    status?: number;
    statusCode?: number;
    expose?: boolean;
    message?: string;
    headers?: Record<string, string>;
  };
  const status = e.status ?? e.statusCode ?? 500;
  const message = e.expose && e.message ? e.message : status < 500 ? 'Bad request.' : 'Internal error.';
  return { status, headers: e.headers ?? {}, body: { error: message } };
}
