/**
 * @module @breakwater/core/fetch
 * A `fetch` with connect, headers and body timeouts, for the official SDKs' `fetch` option.
 * Its timeouts surface as undici errors that breakwater classifies as `timeout` with the phase
 * (`connect`, `headers`, `body`).
 */
import { Agent, fetch as undiciFetch } from 'undici';
import { parseDuration, type Duration } from './duration.js';
import { optionError } from './validate.js';

/** Options of {@link createTimeoutFetch}. */
export interface TimeoutFetchOptions {
  /** TCP + TLS connect. Default 10 s. */
  connect?: Duration;
  /** From request sent to response headers (time to first byte). Default 60 s. */
  headers?: Duration;
  /** Longest gap between body chunks (for streams: between SSE events). Default 60 s. */
  body?: Duration;
}

/** A fetch function that also closes its connection pool. */
export interface TimeoutFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Closes the connection pool; in-flight requests finish first. */
  close(): Promise<void>;
}

/**
 * Creates a fetch backed by an undici `Agent` with connect, headers and body timeouts.
 *
 * @example
 * const fetch = createTimeoutFetch({ connect: '3s', headers: '30s', body: '20s' });
 * const openai = new OpenAI({ maxRetries: 0, fetch });
 */
export function createTimeoutFetch(options: TimeoutFetchOptions = {}): TimeoutFetch {
  const read = (key: keyof TimeoutFetchOptions, fallback: number): number => {
    const value = options[key];
    if (value === undefined) return fallback;
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0) throw optionError(`options.${key}`, 'a positive duration', value);
    return ms;
  };
  const dispatcher = new Agent({
    connect: { timeout: read('connect', 10_000) },
    headersTimeout: read('headers', 60_000),
    bodyTimeout: read('body', 60_000),
  });
  const timeoutFetch = (async (input: string | URL | Request, init?: RequestInit) => {
    try {
      return (await undiciFetch(input as Parameters<typeof undiciFetch>[0], {
        ...(init as Parameters<typeof undiciFetch>[1]),
        dispatcher,
      })) as unknown as Response;
    } catch (error) {
      throw asDeadlineError(error);
    }
  }) as TimeoutFetch;
  timeoutFetch.close = () => dispatcher.close();
  return timeoutFetch;
}

const PHASES: Record<string, 'connect' | 'headers' | 'body'> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect',
  UND_ERR_HEADERS_TIMEOUT: 'headers',
  UND_ERR_BODY_TIMEOUT: 'body',
};

/**
 * One of the timeout fetch's deadlines passed. Its name and message avoid the word the
 * SDKs look for ("timeout"), so they wrap it as a connection error that keeps it as `cause`
 * instead of a bare `APIConnectionTimeoutError`, and breakwater can tell the phase.
 */
export class UpstreamDeadlineError extends Error {
  override readonly name = 'UpstreamDeadlineError';
  /** The undici code (`UND_ERR_CONNECT_TIMEOUT`, `UND_ERR_HEADERS_TIMEOUT`, `UND_ERR_BODY_TIMEOUT`). */
  readonly code: string;
  /** Which deadline passed. */
  readonly phase: 'connect' | 'headers' | 'body';

  constructor(code: string, phase: 'connect' | 'headers' | 'body', cause: unknown) {
    super(`the upstream ${phase} deadline passed`, { cause });
    this.code = code;
    this.phase = phase;
  }
}

function asDeadlineError(error: unknown): unknown {
  for (let cause: unknown = error, depth = 0; cause && depth < 5; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && PHASES[code]) return new UpstreamDeadlineError(code, PHASES[code], error);
    cause = (cause as { cause?: unknown }).cause;
  }
  return error;
}
