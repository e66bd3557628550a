import { describe, expect, it } from 'vitest';
import { IdempotencyStore, runOnce, settleRecord } from './idempotency.js';

describe('IdempotencyStore', () => {
  const claim = (store: IdempotencyStore, key = 'k', print = 'f') => store.claim('tenant\u0000route', key, print);

  it('stores replayable answers below 500, except "try again later" ones', () => {
    for (const [status, stored] of [
      [200, true],
      [404, true],
      [429, false],
      [408, false],
      [503, false],
    ] as const) {
      const store = new IdempotencyStore({ ttl: 60_000, max: 10 });
      const first = claim(store);
      if (first.kind !== 'proceed') throw new Error('expected a claim');
      settleRecord(first.record, status, { status }, true);
      expect(claim(store).kind).toBe(stored ? 'replay' : 'proceed');
    }
  });

  it('keeps side-effect results across a released key', async () => {
    const store = new IdempotencyStore({ ttl: 60_000, max: 10 });
    const first = claim(store);
    if (first.kind !== 'proceed') throw new Error('expected a claim');
    let runs = 0;
    await runOnce(first.record.operations, 'charge', () => ++runs);
    settleRecord(first.record, 503, undefined, false);
    const second = claim(store);
    if (second.kind !== 'proceed') throw new Error('expected a claim');
    await expect(runOnce(second.record.operations, 'charge', () => ++runs)).resolves.toBe(1);
    expect(runs).toBe(1);
  });
});
