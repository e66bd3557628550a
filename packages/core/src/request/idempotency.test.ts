import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { memoryStore } from '../store/memory-store.js';
import { SharedOrLocal } from '../store/shared-or-local.js';
import { IdempotencyStore } from './idempotency.js';

describe('IdempotencyStore', () => {
  const clock = new ManualClock();
  const make = () => new IdempotencyStore(new SharedOrLocal(undefined, memoryStore({ clock })), clock, { ttl: 60_000 });
  const claim = (store: IdempotencyStore, key = 'k', print = 'f') =>
    store.claim('tenant\u0000route', key, print, 10_000);

  it('stores replayable answers below 500, except "try again later" ones', async () => {
    for (const [status, stored] of [
      [200, true],
      [404, true],
      [429, false],
      [408, false],
      [503, false],
    ] as const) {
      const store = make();
      const first = await claim(store);
      if (first.kind !== 'proceed') throw new Error('expected a claim');
      store.settle(first.record, status, { status }, true);
      expect((await claim(store)).kind).toBe(stored ? 'replay' : 'proceed');
    }
  });

  it('answers 409 while in flight, 422 for another payload, and lets a new claim take over an expired lease', async () => {
    const store = make();
    expect((await claim(store)).kind).toBe('proceed');
    await expect(claim(store)).rejects.toMatchObject({ status: 409 });
    await expect(claim(store, 'k', 'other')).rejects.toMatchObject({ status: 422 });
    await clock.advance(10_001); // the first owner died without settling
    expect((await claim(store)).kind).toBe('proceed');
  });

  it('keeps side-effect results across a released key', async () => {
    const store = make();
    const first = await claim(store);
    if (first.kind !== 'proceed') throw new Error('expected a claim');
    let runs = 0;
    await store.runOnce(first.record, 'charge', () => ++runs);
    store.settle(first.record, 503, undefined, false);
    const second = await claim(store);
    if (second.kind !== 'proceed') throw new Error('expected a claim');
    await expect(store.runOnce(second.record, 'charge', () => ++runs)).resolves.toBe(1);
    expect(runs).toBe(1);
  });
});
