import type { ServerResponse } from 'node:http';
import { isCallFailedError } from '../errors.js';
import type { RequestScope } from './scope.js';

/** Where the SSE helper writes: each adapter wraps its framework's response in one. */
export interface SseSink {
  /** Sends the status and headers; called once, at the commit point. */
  start(status: number, headers: Record<string, string>): void;
  /** Writes a frame; returns a promise when the socket is full (resolve it on drain). */
  write(frame: string): void | Promise<void>;
  /** Ends the response. */
  end(): void;
}

/** Options of the SSE helpers. */
export interface SseOptions<C> {
  /** Turns a chunk into the event's data (JSON-encoded). Default: `{ content: chunk }` for strings, else the chunk. */
  data?: (chunk: C) => unknown;
}

/** Headers of every event stream. */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
});

const defaultData = (chunk: unknown): unknown => (typeof chunk === 'string' ? { content: chunk } : chunk);
const event = (name: string | undefined, data: unknown): string =>
  `${name ? `event: ${name}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

/**
 * Streams a `stream()` call as server-sent events with the commit-point rule. Nothing is sent
 * before the first content chunk: until then a failure goes through degradation (a cached or
 * static answer is sent as one event, a 4xx/503/504 http error is thrown for the framework to
 * render). After it, each chunk is a `data:` event and the stream ends with `event: done`; a
 * failure ends it with `event: error` carrying `{ incomplete: true }`, never a quiet end.
 */
export async function streamSse<C>(
  scope: RequestScope<unknown>,
  chunks: AsyncIterable<C>,
  sink: SseSink,
  options: SseOptions<C> = {},
): Promise<void> {
  const toData = options.data ?? defaultData;
  const iterator = chunks[Symbol.asyncIterator]();
  let next: IteratorResult<C>;
  try {
    next = await iterator.next();
  } catch (error) {
    const degraded = await scope.degrade(error);
    sink.start(degraded.status, { ...SSE_HEADERS, ...degraded.headers });
    await sink.write(event(undefined, degraded.body));
    await sink.write(event('done', { complete: false, degraded: degraded.tier }));
    sink.end();
    return;
  }
  sink.start(200, { ...SSE_HEADERS });
  try {
    while (!next.done) {
      await sink.write(event(undefined, toData(next.value)));
      next = await iterator.next();
    }
    await sink.write(event('done', { complete: true }));
  } catch (error) {
    if (!scope.closed) {
      const failureClass = isCallFailedError(error) ? error.failureClass : 'unknown';
      await sink.write(event('error', { incomplete: true, failureClass, message: 'The answer was interrupted.' }));
    }
    if (!isCallFailedError(error)) throw error;
  } finally {
    sink.end();
  }
}

/**
 * An {@link SseSink} over Node's `ServerResponse` (what Express's `res` and Koa's `ctx.res`
 * are): writes wait for `drain` when the socket is full, and stop once the client is gone.
 * `beforeStart` runs just before the head is written (Koa uses it to take over the response).
 */
export function serverResponseSink(res: ServerResponse, beforeStart?: () => void): SseSink {
  return {
    start(status, headers) {
      beforeStart?.();
      res.writeHead(status, headers);
      res.flushHeaders();
    },
    write(frame) {
      if (res.destroyed || res.writableEnded) return;
      if (res.write(frame)) return;
      return new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    },
    end() {
      if (!res.writableEnded) res.end();
    },
  };
}
