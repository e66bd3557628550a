import { createHash } from 'node:crypto';
import createHttpError from 'http-errors';
import type { Clock } from '../clock.js';
import type { SharedOrLocal } from '../store/shared-or-local.js';
import type { Store } from '../store/store.js';

/** A stored response, replayed for a completed key. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

/** The side effects of one key, by operation id: run once, their results kept. */
export type OperationResults = Map<string, Promise<unknown>>;

/** One `Idempotency-Key`'s record as the store keeps it (JSON). */
interface StoredRecord {
  state: 'in_flight' | 'completed' | 'released';
  fingerprint: string;
  response?: StoredResponse;
  /** Results of the side effects run under the key (`once()`), by operation id. */
  operations: Record<string, unknown>;
  /** While in flight: wall-clock ms after which another request may take the key over (the owner died). */
  lease?: number;
}

/** A request's claim on an `Idempotency-Key`. */
export interface IdempotencyRecord {
  /** The store key. */
  readonly id: string;
  /** The store that holds the claim (the shared one, or this process's when it was down). */
  readonly store: Store;
  readonly fingerprint: string;
  /** Side effects running or done in this process, by operation id. */
  readonly operations: OperationResults;
  /** Side-effect results stored under the key, by operation id (JSON values). */
  readonly saved: Record<string, unknown>;
  /** The claim's lease (wall-clock ms), kept when the record is rewritten. */
  readonly lease: number;
}

/** Options of the `Idempotency-Key` handling. */
export interface IdempotencyOptions {
  /** How long a key's record (response and side-effect results) is kept. Default 24 h. */
  ttl: number;
}

/** What the route middleware does with a request's key. */
export type IdempotencyDecision =
  { kind: 'none' } | { kind: 'proceed'; record: IdempotencyRecord } | { kind: 'replay'; response: StoredResponse };

type ClaimResult = IdempotencyDecision | { kind: 'in_flight' } | { kind: 'mismatch' };

const PRINTABLE = /^[\x21-\x7e]+$/;

/**
 * `Idempotency-Key` records (IETF httpapi draft semantics), scoped by tenant and route: a
 * completed key replays its stored response, a key in flight answers 409, the same key with
 * another request fingerprint 422, a malformed key 400. Responses of 5xx, 408/425/429 and
 * unreplayable ones (streams) release the key, so the client's retry runs again; the side
 * effects done under the key (`once()`) stay done. Records live in the shared store (an
 * atomic claim, so that one instance of many runs the request) with a TTL, or in this
 * process's bounded memory store when there is none or it is down.
 */
export class IdempotencyStore {
  readonly #stores: SharedOrLocal;
  readonly #options: IdempotencyOptions;
  readonly #clock: Clock;

  constructor(stores: SharedOrLocal, clock: Clock, options: IdempotencyOptions) {
    this.#stores = stores;
    this.#clock = clock;
    this.#options = options;
  }

  /**
   * Claims `key` for a request that may run for `leaseMs`, or tells why not. Rejects with
   * 400/409/422 http errors.
   */
  async claim(scopeKey: string, key: string, fingerprint: string, leaseMs: number): Promise<IdempotencyDecision> {
    if (key.length === 0 || key.length > 255 || !PRINTABLE.test(key)) {
      throw createHttpError(400, 'Idempotency-Key must be 1-255 printable characters.');
    }
    const id = `idem:${hash(`${scopeKey}\u0000${key}`)}`;
    const { value } = await this.#stores.use((store) => this.#claimOn(store, id, fingerprint, leaseMs));
    if (value.kind === 'mismatch') {
      throw createHttpError(422, 'This Idempotency-Key was used with a different request.');
    }
    if (value.kind === 'in_flight') {
      throw createHttpError(409, 'A request with this Idempotency-Key is still in progress.', {
        headers: { 'retry-after': '1' },
      });
    }
    return value;
  }

  /** Ends a claim: stores a replayable response, or releases the key (5xx, 408/425/429, no body, client gone). */
  settle(record: IdempotencyRecord, status: number | undefined, body: unknown, replayable: boolean): void {
    const stored: StoredRecord = { state: 'released', fingerprint: record.fingerprint, operations: record.saved };
    if (status !== undefined && status < 500 && !RETRY_LATER.has(status) && replayable && body !== undefined) {
      stored.state = 'completed';
      stored.response = { status, body };
    }
    this.#stores.write(record.store, record.id, JSON.stringify(stored), this.#options.ttl);
  }

  /**
   * Runs `fn` once per operation id under the claim: a result stored under the key (by any
   * instance, in an earlier try of the request) is returned without running it; a new result is
   * stored before it is returned. A failure is not stored.
   */
  runOnce<T>(record: IdempotencyRecord, operationId: string, fn: () => T | Promise<T>): Promise<T> {
    if (Object.hasOwn(record.saved, operationId)) return Promise.resolve(record.saved[operationId] as T);
    return runOnce(record.operations, operationId, async () => {
      const result = await fn();
      record.saved[operationId] = result;
      const stored: StoredRecord = {
        state: 'in_flight',
        fingerprint: record.fingerprint,
        operations: record.saved,
        lease: record.lease,
      };
      // Stored before the result is handed on, so that a retry elsewhere finds it (bounded by the store's timeout).
      await record.store.set(record.id, JSON.stringify(stored), { ttl: this.#options.ttl }).catch(() => {});
      return result;
    });
  }

  async #claimOn(store: Store, id: string, fingerprint: string, leaseMs: number): Promise<ClaimResult> {
    const ttl = this.#options.ttl;
    for (let i = 0; i < 3; i++) {
      const lease = this.#clock.date() + leaseMs;
      const fresh: StoredRecord = { state: 'in_flight', fingerprint, operations: {}, lease };
      if (await store.set(id, JSON.stringify(fresh), { ttl, ifAbsent: true })) {
        return { kind: 'proceed', record: { id, store, fingerprint, operations: new Map(), saved: {}, lease } };
      }
      const raw = await store.get(id);
      if (raw === undefined) continue; // expired meanwhile: claim again
      const existing = JSON.parse(raw) as StoredRecord;
      if (existing.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (existing.state === 'in_flight' && (existing.lease ?? Infinity) > this.#clock.date())
        return { kind: 'in_flight' };
      if (existing.state === 'completed' && existing.response) return { kind: 'replay', response: existing.response };
      // Released (or its owner's lease ran out): take it over, keeping the side effects already done.
      const next: StoredRecord = { ...existing, state: 'in_flight', lease };
      if (await store.compareAndSet(id, raw, JSON.stringify(next), ttl)) {
        const saved = existing.operations ?? {};
        return { kind: 'proceed', record: { id, store, fingerprint, operations: new Map(), saved, lease } };
      }
    }
    return { kind: 'in_flight' };
  }
}

/** Statuses that mean "try again later": never stored, so the retry runs. */
const RETRY_LATER = new Set([408, 425, 429]);

/** The request fingerprint: method, path and body. */
export function fingerprint(method: string, path: string, body: unknown): string {
  return hash(`${method}\u0000${path}\u0000${body === undefined ? '' : JSON.stringify(body)}`);
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
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
