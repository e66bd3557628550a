import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { anthropicDialect, openaiDialect, type Dialect } from './dialects.js';
import {
  FaultPlan,
  faultControls,
  type FaultControls,
  type FaultDecision,
  type FaultName,
  type FaultOptions,
} from './faults.js';
import { replyText, splitChunks, type Reply } from './reply.js';

/** Options of {@link fakeOpenAI} and {@link fakeAnthropic}. */
export interface FakeProviderOptions extends FaultOptions {
  /** The answer text (default: a fixed sentence), or a function of the request body. */
  reply?: Reply;
  /** Words per stream chunk. Default 1. */
  chunkSize?: number;
}

/** One request the fake provider received, for assertions. */
export interface RequestLogEntry {
  /** Ms since the provider started. */
  at: number;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  stream: boolean;
  /** What the provider did with it. */
  fault: FaultName;
  /** The client went away before the response ended. */
  aborted: boolean;
}

/** A running fake provider on 127.0.0.1. */
export interface FakeProvider extends FaultControls {
  /** The base URL to give the official SDK (`baseURL`). */
  readonly baseURL: string;
  /** `http://127.0.0.1:port`. */
  readonly origin: string;
  /** Every request received, in order. */
  readonly requests: RequestLogEntry[];
  /** Requests being answered right now, and the most there ever were at once. */
  readonly active: number;
  readonly maxActive: number;
  /** Stops the server, cutting any hanging request. */
  close(): Promise<void>;
}

/** Starts an OpenAI-compatible fake provider (`POST /v1/chat/completions`, `GET /v1/models`). */
export function fakeOpenAI(options: FakeProviderOptions = {}): Promise<FakeProvider> {
  return startFake(openaiDialect, options);
}

/** Starts an Anthropic-compatible fake provider (`POST /v1/messages`, `GET /v1/models`). */
export function fakeAnthropic(options: FakeProviderOptions = {}): Promise<FakeProvider> {
  return startFake(anthropicDialect, options);
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

async function startFake(dialect: Dialect, options: FakeProviderOptions): Promise<FakeProvider> {
  const plan = new FaultPlan(options);
  const chunkSize = options.chunkSize ?? 1;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new TypeError(
      `@breakwater/testing: options.chunkSize must be a positive integer; got ${JSON.stringify(chunkSize)}`,
    );
  }
  if (options.reply !== undefined && typeof options.reply !== 'string' && typeof options.reply !== 'function') {
    throw new TypeError('@breakwater/testing: options.reply must be a string or a function of the request body');
  }
  const started = performance.now();
  const requests: RequestLogEntry[] = [];
  let active = 0;
  let maxActive = 0;
  let ids = 0;

  const server: Server = createServer((req, res) => {
    active++;
    maxActive = Math.max(maxActive, active);
    res.on('close', () => active--);
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(error), type: 'server_error' } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const raw = await readBody(req);
    if (req.method === 'GET' && (path === dialect.modelsPath || path.startsWith(`${dialect.modelsPath}/`))) {
      const decision = plan.decide(performance.now() - started);
      log(req, path, undefined, false, decision.fault);
      if (decision.fault === 'ok') return sendJson(res, 200, dialect.models());
      return sendError(res, decision);
    }
    if (req.method !== 'POST' || path !== dialect.completionPath) {
      return sendJson(res, 404, { error: { message: `no route for ${req.method} ${path}`, type: 'not_found_error' } });
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return sendJson(res, 400, { error: { message: 'the request body is not JSON', type: 'invalid_request_error' } });
    }
    const stream = body.stream === true;
    const decision = plan.decide(performance.now() - started);
    const entry = log(req, path, body, stream, decision.fault);
    res.on('close', () => {
      if (!res.writableFinished) entry.aborted = true;
    });
    if (!(await pause(res, decision.latencyMs))) return;
    const id = ++ids;
    const text = replyText(options.reply, body);

    switch (decision.fault) {
      case 'ok':
        if (!stream) return sendJson(res, 200, dialect.completion(body, text, id));
        return streamAnswer(res, body, text, id, decision, 'end');
      case 'hang':
        return; // Never answers; the client's timeout or close ends it.
      case 'stall':
        if (stream) return streamAnswer(res, body, text, id, decision, 'stall');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"id":"');
        return;
      case 'stream_error':
        if (stream) return streamAnswer(res, body, text, id, decision, 'error');
        return sendError(res, { ...decision, fault: 'server_error' });
      case 'reset':
        if (stream) return streamAnswer(res, body, text, id, decision, 'reset');
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
        res.write('{"id":"chatcmpl-');
        setImmediate(() => res.socket?.destroy());
        return;
      case 'malformed':
        if (stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end('data: {"id": "chatcmpl-broken", "choices": [\n\n');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"id": "chatcmpl-broken", "choices": [');
        return;
      default:
        return sendError(res, decision);
    }
  }

  async function streamAnswer(
    res: ServerResponse,
    body: Record<string, unknown>,
    text: string,
    id: number,
    decision: FaultDecision,
    ending: 'end' | 'stall' | 'error' | 'reset',
  ): Promise<void> {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    for (const frame of dialect.streamHead(body, id)) res.write(frame);
    if (!(await pause(res, decision.firstTokenMs))) return;
    const chunks = splitChunks(text, chunkSize);
    const limit = ending === 'end' ? chunks.length : Math.min(chunks.length, decision.afterChunks ?? 1);
    for (let i = 0; i < limit; i++) {
      if (i > 0 && !(await pause(res, plan.chunkDelay()))) return;
      res.write(dialect.streamDelta(chunks[i]!, id));
    }
    if (ending === 'end') {
      for (const frame of dialect.streamTail(id, chunks.length)) res.write(frame);
      res.end();
    } else if (ending === 'error') {
      res.end(dialect.streamError());
    } else if (ending === 'reset') {
      setImmediate(() => res.socket?.destroy());
    }
    // 'stall': leave the response open until the client gives up.
  }

  function sendError(res: ServerResponse, decision: FaultDecision | { fault: FaultName; retryAfterMs?: number }): void {
    const error = dialect.error(decision, Date.now());
    res.writeHead(error.status, { 'content-type': 'application/json', ...error.headers });
    res.end(JSON.stringify(error.body));
  }

  function log(req: IncomingMessage, path: string, body: unknown, stream: boolean, fault: FaultName): RequestLogEntry {
    const entry: RequestLogEntry = {
      at: performance.now() - started,
      method: req.method ?? 'GET',
      path,
      headers: { ...req.headers },
      body,
      stream,
      fault,
      aborted: false,
    };
    requests.push(entry);
    return entry;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    baseURL: dialect.name === 'openai' ? `${origin}/v1` : origin,
    origin,
    requests,
    get active() {
      return active;
    },
    get maxActive() {
      return maxActive;
    },
    ...faultControls(plan, () => performance.now() - started),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Waits `ms`, or returns false at once if the client goes away meanwhile. No timer outlives the request. */
function pause(res: ServerResponse, ms: number): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(!res.destroyed);
    }, ms);
    res.once('close', onClose);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => {
      size += part.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      parts.push(part);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
