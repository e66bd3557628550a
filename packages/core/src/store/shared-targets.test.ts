import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { createEngine } from '../engine.js';
import type { BreakerEvent, StoreEvent } from '../events.js';
import { memoryStore } from './memory-store.js';
import type { AvailabilityListener, Store } from './store.js';

/** A target whose health the test sets; counts calls and probes. */
function switchable() {
  const target = {
    healthy: true,
    calls: 0,
    probes: 0,
    call: () => {
      target.calls++;
      return target.healthy ? Promise.resolve('ok') : Promise.reject(Object.assign(new Error('down'), { status: 503 }));
    },
    probe: () => {
      target.probes++;
      return target.healthy ? Promise.resolve() : Promise.reject(new Error('still down'));
    },
  };
  return target;
}

/** Two engines ("instances") on one clock and one store, each with its own view of the same provider. */
function cluster(store: Store, clock = new ManualClock()) {
  const provider = switchable();
  const engine = () =>
    createEngine({
      clock,
      store,
      syncInterval: 100,
      targets: { primary: { call: provider.call, probe: provider.probe } },
      defaults: {
        retry: { maxAttempts: 1 },
        breaker: { consecutiveFailures: 0, minimumCalls: 10, failureRate: 0.5 },
      },
    });
  return { clock, provider, a: engine(), b: engine() };
}

const attempt = (engine: { call(input: unknown): Promise<unknown> }) =>
  engine.call({}).then(
    () => 'ok',
    () => 'failed',
  );

describe('shared state through a store', () => {
  it("sums every instance's failures into one rate: neither alone reaches the minimum, together they open", async () => {
    const { clock, provider, a, b } = cluster(memoryStore());
    provider.healthy = false;
    for (let i = 0; i < 6; i++) await attempt(a);
    for (let i = 0; i < 5; i++) await attempt(b);
    // Alone, each saw fewer than 10 calls: still closed until the counts meet in the store.
    expect(a.status('primary').breaker).toBe('closed');
    await clock.advance(150); // the background sync
    const states = [a.status('primary').breaker, b.status('primary').breaker];
    expect(states).toContain('open');
    await clock.advance(50); // the opening is published; the other adopts it
    expect([a.status('primary').breaker, b.status('primary').breaker]).toEqual(['open', 'open']);
    const before = provider.calls;
    expect(await attempt(b)).toBe('failed');
    expect(provider.calls).toBe(before); // short-circuited without a call
  });

  it('an opening seen by one instance stops the other at once, and a close by probe closes both', async () => {
    const { clock, provider, a, b } = cluster(memoryStore());
    const seen: BreakerEvent[] = [];
    b.on('breaker', (event) => seen.push(event));
    a.isolate('primary', 30_000);
    await clock.advance(1);
    expect(b.status('primary').breaker).toBe('open');
    expect(seen[0]).toMatchObject({ from: 'closed', to: 'open', reason: 'shared' });
    expect(b.status('primary').openUntil).toBe(a.status('primary').openUntil);

    await clock.advance(30_000);
    // Both meet the elapsed cooldown at once: one probe between them.
    await Promise.all([attempt(a), attempt(b)]);
    await clock.advance(1);
    expect(provider.probes).toBe(1);
    await clock.advance(10);
    expect([a.status('primary').breaker, b.status('primary').breaker]).toEqual(['closed', 'closed']);
  });

  it('a failed probe reopens both with the longer cooldown', async () => {
    const { clock, provider, a, b } = cluster(memoryStore());
    provider.healthy = false;
    a.isolate('primary', 30_000);
    await clock.advance(30_001);
    await Promise.all([attempt(a), attempt(b)]);
    await clock.advance(10);
    expect(provider.probes).toBe(1);
    const untilA = a.status('primary').openUntil!;
    expect(untilA - clock.now()).toBeGreaterThan(50_000); // doubled cooldown
    expect(b.status('primary').openUntil).toBe(untilA);
  });

  it('shares Retry-After cooldowns', async () => {
    const store = memoryStore();
    const clock = new ManualClock();
    const limited = Object.assign(new Error('slow down'), { status: 429, headers: { 'retry-after': '20' } });
    const make = () =>
      createEngine({
        clock,
        store,
        targets: { primary: { call: () => Promise.reject(limited) } },
        defaults: { retry: { maxAttempts: 1 } },
      });
    const a = make();
    const b = make();
    await attempt(a);
    await clock.advance(1);
    expect(b.status('primary').cooldownUntil).toBe(a.status('primary').cooldownUntil);
    expect(b.status('primary').cooldownUntil! - clock.now()).toBeGreaterThan(19_000);
  });

  it('an instance that joins late adopts the open breakers it finds in the store', async () => {
    const store = memoryStore();
    const { clock, a } = cluster(store);
    a.isolate('primary', 60_000);
    await clock.advance(1);
    const late = createEngine({ clock, store, targets: { primary: { call: () => Promise.resolve('ok') } } });
    await clock.advance(1);
    expect(late.status('primary').breaker).toBe('open');
  });

  it('carries on with local state when the store is down, tells once, and resyncs when it is back', async () => {
    const inner = memoryStore();
    let down = false;
    const listeners: AvailabilityListener[] = [];
    const guard = <T>(fn: () => Promise<T>): Promise<T> => (down ? Promise.reject(new Error('ECONNREFUSED')) : fn());
    const flaky: Store = {
      kind: 'flaky',
      get available() {
        return !down;
      },
      get: (k) => guard(() => inner.get(k)),
      set: (k, v, o) => guard(() => inner.set(k, v, o)),
      compareAndSet: (k, e, v, t) => guard(() => inner.compareAndSet(k, e, v, t)),
      delete: (k) => guard(() => inner.delete(k)),
      increment: (k, b, t) => guard(() => inner.increment(k, b, t)),
      publish: (c, m) => guard(() => inner.publish(c, m)),
      subscribe: (c, l) => inner.subscribe(c, (m) => !down && l(m)),
      onAvailability: (l) => (listeners.push(l), () => {}),
      close: () => inner.close(),
    };
    const setDown = (value: boolean) => {
      down = value;
      for (const l of listeners) l(!value, value ? new Error('ECONNREFUSED') : undefined);
    };
    const { clock, provider, a, b } = cluster(flaky);
    const events: StoreEvent[] = [];
    a.on('store', (event) => events.push(event));
    b.on('store', () => {});
    setDown(true);
    setDown(true);
    expect(events).toEqual([{ kind: 'flaky', available: false, error: expect.any(Error) }]);
    // Calls go on; failures still open this instance's breaker locally.
    expect(await attempt(a)).toBe('ok');
    provider.healthy = false;
    for (let i = 0; i < 10; i++) await attempt(a);
    await clock.advance(200);
    expect(a.status('primary').breaker).toBe('open');
    expect(b.status('primary').breaker).toBe('closed'); // could not be told
    setDown(false);
    await clock.advance(1);
    expect(events.at(-1)).toMatchObject({ available: true });
    expect(b.status('primary').breaker).toBe('open'); // the resync published the opening
  });
});

describe('shared rate limits', () => {
  it("spends every instance's usage from each one's buckets: a limit of 6 per minute holds across two", async () => {
    const store = memoryStore();
    const clock = new ManualClock();
    let calls = 0;
    const make = () =>
      createEngine({
        clock,
        store,
        syncInterval: 100,
        targets: {
          primary: { call: () => Promise.resolve(++calls), rateLimit: { requestsPerMinute: 6, burst: 6 } },
        },
      });
    const a = make();
    const b = make();
    await clock.advance(1); // both read the counters once
    for (let i = 0; i < 6; i++) await attempt(a);
    expect(calls).toBe(6);
    await clock.advance(250); // a shares its usage; b spends it from its own bucket
    for (let i = 0; i < 6; i++) await attempt(b);
    // 250 ms at 6 per minute refills a tenth of a request: b gets nothing more.
    expect(calls).toBe(6);
    a.close();
    b.close();
  });
});

describe('store options', () => {
  it('names a store that is not one, and a bad sync interval', () => {
    const targets = { a: { call: () => Promise.resolve(1) } };
    expect(() => createEngine({ targets, store: {} as Store })).toThrow(/options\.store/);
    expect(() => createEngine({ targets, store: memoryStore(), syncInterval: -1 })).toThrow(/options\.syncInterval/);
    expect(() => memoryStore({ max: 0 })).toThrow(TypeError);
  });
});
