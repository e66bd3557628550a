import { createHash } from 'node:crypto';
import createHttpError from 'http-errors';
import { LRUCache } from 'lru-cache';

/** A stored response, replayed for a completed key. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

/** The side effects of one key, by operation id: run once, their results kept. */
export type OperationResults = Map<string, Promise<unknown>>;

/** One `Idempotency-Key`'s record. */
export interface IdempotencyRecord {
  state: 'in_flight' | 'completed' | 'released';
  fingerprint: string;
  response: StoredResponse | undefined;
  operations: OperationResults;
}

/** Options of the `Idempotency-Key` handling. */
export interface IdempotencyOptions {
  /** How long a key's record (response and side-effect results) is kept. Default 24 h. */
  ttl: number;
  /** Most keys kept. Default 10,000. */
  max: number;
}

/** What the route middleware does with a request's key. */
export type IdempotencyDecision =
  { kind: 'none' } | { kind: 'proceed'; record: IdempotencyRecord } | { kind: 'replay'; response: StoredResponse };

const PRINTABLE = /^[\x21-\x7e]+$/;

/**
 * `Idempotency-Key` records (IETF httpapi draft semantics), scoped by tenant and route: a
 * completed key replays its stored response, a key in flight answers 409, the same key with
 * another request fingerprint 422, a malformed key 400. Responses of 5xx, 408/425/429 and
 * unreplayable ones (streams) release the key, so the client's retry runs again; the side effects done
 * under the key (`once()`) stay done. Bounded LRU with a TTL.
 */
export class IdempotencyStore {
  readonly #records: LRUCache<string, IdempotencyRecord>;

  constructor(options: IdempotencyOptions) {
    this.#records = new LRUCache({ max: options.max, ttl: options.ttl });
  }

  /** Keys held. */
  get size(): number {
    return this.#records.size;
  }

  /** Claims `key` for a request, or tells why not. Throws 400/409/422 http errors. */
  claim(scopeKey: string, key: string, fingerprint: string): IdempotencyDecision {
    if (key.length === 0 || key.length > 255 || !PRINTABLE.test(key)) {
      throw createHttpError(400, 'Idempotency-Key must be 1-255 printable characters.');
    }
    const id = `${scopeKey}\u0000${key}`;
    const existing = this.#records.get(id);
    if (existing) {
      if (existing.fingerprint !== fingerprint) {
        throw createHttpError(422, 'This Idempotency-Key was used with a different request.');
      }
      if (existing.state === 'in_flight') {
        throw createHttpError(409, 'A request with this Idempotency-Key is still in progress.', {
          headers: { 'retry-after': '1' },
        });
      }
      if (existing.state === 'completed' && existing.response) return { kind: 'replay', response: existing.response };
      existing.state = 'in_flight';
      return { kind: 'proceed', record: existing };
    }
    const record: IdempotencyRecord = { state: 'in_flight', fingerprint, response: undefined, operations: new Map() };
    this.#records.set(id, record);
    return { kind: 'proceed', record };
  }
}

/** Statuses that mean "try again later": never stored, so the retry runs. */
const RETRY_LATER = new Set([408, 425, 429]);

/** Ends a claim: stores a replayable response, or releases the key (5xx, 408/425/429, no body, client gone). */
export function settleRecord(
  record: IdempotencyRecord,
  status: number | undefined,
  body: unknown,
  replayable: boolean,
): void {
  if (status !== undefined && status < 500 && !RETRY_LATER.has(status) && replayable && body !== undefined) {
    record.state = 'completed';
    record.response = { status, body };
  } else {
    record.state = 'released';
  }
}

/** The request fingerprint: method, path and body. */
export function fingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method}\u0000${path}\u0000${body === undefined ? '' : JSON.stringify(body)}`)
    .digest('base64url');
}

/** Runs `fn` once per operation id in `operations`; later calls get the stored result. A failure is not stored. */
export function runOnce<T>(operations: OperationResults, operationId: string, fn: () => T | Promise<T>): Promise<T> {
  const existing = operations.get(operationId);
  if (existing) return existing as Promise<T>;
  const pending = Promise.resolve().then(fn);
  operations.set(operationId, pending);
  pending.catch(() => {
    if (operations.get(operationId) === pending) operations.delete(operationId);
  });
  return pending;
}
