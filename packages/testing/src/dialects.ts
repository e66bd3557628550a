import type { FaultSpec } from './faults.js';

/** An HTTP error response as the provider sends it. */
export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** How one provider's API looks on the wire. */
export interface Dialect {
  readonly name: 'openai' | 'anthropic';
  /** The completion endpoint's path. */
  readonly completionPath: string;
  /** The model list and single-model paths. */
  readonly modelsPath: string;
  /** The error a fault produces, with the provider's body and headers. */
  error(fault: FaultSpec, nowEpochMs: number): ErrorResponse;
  /** A complete non-streaming answer. */
  completion(request: Record<string, unknown>, text: string, id: number): unknown;
  /** SSE frames before the first content chunk. */
  streamHead(request: Record<string, unknown>, id: number): string[];
  /** One SSE frame carrying `text`. */
  streamDelta(text: string, id: number): string;
  /** SSE frames that end the stream cleanly. */
  streamTail(id: number, chunks: number): string[];
  /** An in-band SSE error frame. */
  streamError(): string;
  /** The model list. */
  models(): unknown;
}

const sse = (data: unknown, event?: string): string =>
  `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

const seconds = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)));

function openaiError(
  status: number,
  message: string,
  type: string,
  code: string | null,
  headers: Record<string, string> = {},
): ErrorResponse {
  return { status, headers, body: { error: { message, type, param: null, code } } };
}

/** OpenAI's chat completions API. */
export const openaiDialect: Dialect = {
  name: 'openai',
  completionPath: '/v1/chat/completions',
  modelsPath: '/v1/models',
  error(fault) {
    const wait = fault.retryAfterMs ?? 1000;
    switch (fault.fault) {
      case 'rate_limit':
        return openaiError(
          429,
          `Rate limit reached for requests. Please try again in ${wait}ms.`,
          'requests',
          'rate_limit_exceeded',
          {
            'retry-after': seconds(wait),
            'retry-after-ms': String(wait),
            'x-ratelimit-limit-requests': '60',
            'x-ratelimit-remaining-requests': '0',
            'x-ratelimit-reset-requests': `${(wait / 1000).toFixed(3)}s`,
          },
        );
      case 'quota':
        return openaiError(
          429,
          'You exceeded your current quota, please check your plan and billing details.',
          'insufficient_quota',
          'insufficient_quota',
        );
      case 'overloaded':
        return openaiError(503, 'The engine is currently overloaded, please try again later.', 'server_error', null, {
          'retry-after': seconds(wait),
        });
      case 'bad_gateway':
        return openaiError(502, 'Bad gateway.', 'server_error', null);
      case 'unavailable':
        return openaiError(503, 'The server is temporarily unavailable.', 'server_error', null);
      case 'gateway_timeout':
        return openaiError(504, 'Gateway timeout.', 'server_error', null);
      case 'context_length':
        return openaiError(
          400,
          "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
          'invalid_request_error',
          'context_length_exceeded',
        );
      case 'content_filter':
        return openaiError(
          400,
          'The response was filtered due to the prompt triggering the content management policy.',
          'invalid_request_error',
          'content_filter',
        );
      case 'unauthorized':
        return openaiError(401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
      case 'model_not_found':
        return openaiError(
          404,
          'The model does not exist or you do not have access to it.',
          'invalid_request_error',
          'model_not_found',
        );
      default:
        return openaiError(500, 'The server had an error while processing your request.', 'server_error', null);
    }
  },
  completion(request, text, id) {
    return {
      id: `chatcmpl-${id}`,
      object: 'chat.completion',
      created: 1_767_225_600,
      model: request.model ?? 'fake-model',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: text, refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 10,
        completion_tokens: text.split(' ').length,
        total_tokens: 10 + text.split(' ').length,
      },
    };
  },
  streamHead(request, id) {
    return [sse(chunk(id, request.model, { role: 'assistant', content: '' }, null))];
  },
  streamDelta(text, id) {
    return sse(chunk(id, undefined, { content: text }, null));
  },
  streamTail(id) {
    return [sse(chunk(id, undefined, {}, 'stop')), sse('[DONE]')];
  },
  streamError() {
    return sse({
      error: {
        message: 'The server had an error while processing your request.',
        type: 'server_error',
        param: null,
        code: null,
      },
    });
  },
  models() {
    return {
      object: 'list',
      data: [{ id: 'fake-model', object: 'model', created: 1_767_225_600, owned_by: 'breakwater' }],
    };
  },
};

function chunk(id: number, model: unknown, delta: Record<string, unknown>, finish: string | null): unknown {
  return {
    id: `chatcmpl-${id}`,
    object: 'chat.completion.chunk',
    created: 1_767_225_600,
    model: model ?? 'fake-model',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
}

function anthropicError(
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): ErrorResponse {
  return {
    status,
    headers: { 'request-id': 'req_fake', ...headers },
    body: { type: 'error', error: { type, message } },
  };
}

/** Anthropic's messages API. */
export const anthropicDialect: Dialect = {
  name: 'anthropic',
  completionPath: '/v1/messages',
  modelsPath: '/v1/models',
  error(fault, nowEpochMs) {
    const wait = fault.retryAfterMs ?? 1000;
    switch (fault.fault) {
      case 'rate_limit':
        return anthropicError(429, 'rate_limit_error', 'Number of requests has exceeded your rate limit.', {
          'retry-after': seconds(wait),
          'anthropic-ratelimit-requests-limit': '50',
          'anthropic-ratelimit-requests-remaining': '0',
          'anthropic-ratelimit-requests-reset': new Date(nowEpochMs + wait).toISOString(),
        });
      case 'quota':
        return anthropicError(400, 'billing_error', 'Your credit balance is too low to access the Anthropic API.');
      case 'overloaded':
        return anthropicError(529, 'overloaded_error', 'Overloaded');
      case 'bad_gateway':
        return anthropicError(502, 'api_error', 'Bad gateway');
      case 'unavailable':
        return anthropicError(503, 'api_error', 'Service unavailable');
      case 'gateway_timeout':
        return anthropicError(504, 'timeout_error', 'Request timed out');
      case 'context_length':
        return anthropicError(400, 'invalid_request_error', 'prompt is too long: 210000 tokens > 200000 maximum');
      case 'content_filter':
        return anthropicError(400, 'invalid_request_error', 'Output blocked by content filtering policy');
      case 'unauthorized':
        return anthropicError(401, 'authentication_error', 'invalid x-api-key');
      case 'model_not_found':
        return anthropicError(404, 'not_found_error', 'model: fake-model-x');
      default:
        return anthropicError(500, 'api_error', 'Internal server error');
    }
  },
  completion(request, text, id) {
    return {
      id: `msg_${id}`,
      type: 'message',
      role: 'assistant',
      model: request.model ?? 'fake-model',
      content: [{ type: 'text', text }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: text.split(' ').length },
    };
  },
  streamHead(request, id) {
    const message = {
      id: `msg_${id}`,
      type: 'message',
      role: 'assistant',
      model: request.model ?? 'fake-model',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 1 },
    };
    return [
      sse({ type: 'message_start', message }, 'message_start'),
      sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
      sse({ type: 'ping' }, 'ping'),
    ];
  },
  streamDelta(text) {
    return sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta');
  },
  streamTail(_id, chunks) {
    return [
      sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
      sse(
        {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: chunks },
        },
        'message_delta',
      ),
      sse({ type: 'message_stop' }, 'message_stop'),
    ];
  },
  streamError() {
    return sse({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 'error');
  },
  models() {
    return {
      data: [{ type: 'model', id: 'fake-model', display_name: 'Fake', created_at: '2026-01-01T00:00:00Z' }],
      has_more: false,
      first_id: 'fake-model',
      last_id: 'fake-model',
    };
  },
};
