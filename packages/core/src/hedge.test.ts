import { describe, expect, it } from 'vitest';
import type { AttemptContext } from './options.js';
import { ManualClock } from './clock.js';
import { createEngine } from './engine.js';
import type { CallOutcome } from './outcome.js';

/** A target answering after `latency(n)` ms of virtual time (Infinity: never), honouring its signal. */
function timed(clock: ManualClock, name: string, latency: (n: number) => number) {
  const target = {
    calls: 0,
    aborted: 0,
    call: (_input: unknown, ctx: AttemptContext): Promise<string> => {
      const ms = latency(target.calls++);
      return new Promise((resolve, reject) => {
        const timer = Number.isFinite(ms) ? clock.setTimeout(() => resolve(name), ms) : undefined;
        ctx.signal.addEventListener('abort', () => {
          if (timer !== undefined) clock.clearTimeout(timer);
          target.aborted++;
          reject(ctx.signal.reason);
        });
      });
    },
  };
  return target;
}

describe('hedged requests', () => {
  it('sends a backup to the next target after the delay; the first answer wins and the loser is aborted', async () => {
    const clock = new ManualClock();
    const slow = timed(clock, 'primary', () => 10_000);
    const fast = timed(clock, 'secondary', () => 200);
    const engine = createEngine<unknown, string>({
      clock,
      targets: { primary: { call: slow.call }, secondary: { call: fast.call } },
    });
    let outcome: CallOutcome | undefined;
    const pending = engine.call({}, { hedge: { delay: 500 }, onOutcome: (o) => (outcome = o) });
    await clock.advance(700);
    await expect(pending).resolves.toBe('secondary');
    expect(slow.aborted).toBe(1);
    expect(outcome).toMatchObject({
      ok: true,
      target: 'secondary',
      tier: 1,
      hedge: { started: 1, won: true, extraAttempts: 1 },
    });
    expect(outcome!.attempts.map((a) => [a.target, a.startMs])).toEqual([
      ['primary', 0],
      ['secondary', 500],
    ]);
    expect(outcome!.latencyMs).toBe(700);
  });

  it('does not hedge a call that answers before the delay', async () => {
    const clock = new ManualClock();
    const primary = timed(clock, 'primary', () => 100);
    const secondary = timed(clock, 'secondary', () => 100);
    const engine = createEngine<unknown, string>({
      clock,
      targets: { primary: { call: primary.call }, secondary: { call: secondary.call } },
    });
    const pending = engine.call({}, { hedge: { delay: 500 } });
    await clock.advance(100);
    await expect(pending).resolves.toBe('primary');
    await clock.advance(1_000);
    expect(secondary.calls).toBe(0);
  });

  it('uses a live percentile of the primary latency as the delay', async () => {
    const clock = new ManualClock();
    const primary = timed(clock, 'primary', (n) => (n < 100 ? 100 + (n % 10) * 10 : 60_000));
    const secondary = timed(clock, 'secondary', () => 50);
    const engine = createEngine<unknown, string>({
      clock,
      targets: { primary: { call: primary.call }, secondary: { call: secondary.call } },
    });
    const hedge = { delay: 'p99', maxExtraLoad: 1 } as const;
    for (let i = 0; i < 100; i++) {
      const pending = engine.call({}, { hedge });
      await clock.advance(200);
      await pending;
    }
    expect(secondary.calls).toBe(0); // p99 is about 194 ms (bucket resolution): no call was slower
    let outcome: CallOutcome | undefined;
    const slow = engine.call({}, { hedge, onOutcome: (o) => (outcome = o) });
    await clock.advance(400);
    await expect(slow).resolves.toBe('secondary');
    expect(outcome!.attempts[1]!.startMs).toBeGreaterThanOrEqual(190);
    expect(outcome!.attempts[1]!.startMs).toBeLessThanOrEqual(215);
  });

  it('caps hedges at maxExtraLoad of calls', async () => {
    const clock = new ManualClock();
    const primary = timed(clock, 'primary', () => 1_000);
    const secondary = timed(clock, 'secondary', () => 2_000);
    const engine = createEngine<unknown, string>({
      clock,
      targets: { primary: { call: primary.call }, secondary: { call: secondary.call } },
    });
    for (let i = 0; i < 200; i++) {
      const pending = engine.call({}, { hedge: { delay: 100, maxExtraLoad: 0.05 } });
      await clock.advance(1_000);
      await pending;
    }
    // A token bucket starting with one token, earning 0.05 per call: at most 1 + 200 * 0.05 hedges.
    expect(secondary.calls).toBeLessThanOrEqual(11);
    expect(secondary.calls).toBeGreaterThanOrEqual(9);
  });

  it('never hedges a call with side effects', async () => {
    const clock = new ManualClock();
    const primary = timed(clock, 'primary', () => 1_000);
    const secondary = timed(clock, 'secondary', () => 10);
    const engine = createEngine<unknown, string>({
      clock,
      targets: { primary: { call: primary.call }, secondary: { call: secondary.call } },
    });
    const pending = engine.call({}, { hedge: { delay: 100 }, sideEffects: true });
    await clock.advance(1_000);
    await expect(pending).resolves.toBe('primary');
    expect(secondary.calls).toBe(0);
  });

  it('falls back at once when the primary fails before the delay, and stops on caller errors', async () => {
    const clock = new ManualClock();
    const secondary = timed(clock, 'secondary', () => 10);
    let primaryError: unknown = Object.assign(new Error('boom'), { status: 401, headers: new Headers() });
    const engine = createEngine<unknown, string>({
      clock,
      targets: { primary: { call: () => Promise.reject(primaryError) }, secondary: { call: secondary.call } },
    });
    const pending = engine.call({}, { hedge: { delay: 5_000 } });
    await clock.advance(10);
    await expect(pending).resolves.toBe('secondary');

    engine.reset('primary');
    primaryError = Object.assign(new Error('bad'), {
      status: 400,
      headers: new Headers(),
      error: { type: 'invalid_request_error' },
    });
    await expect(engine.call({}, { hedge: { delay: 5_000 } })).rejects.toMatchObject({ failureClass: 'bad_request' });
    expect(secondary.calls).toBe(1);
  });

  it('aborts every run when the caller leaves', async () => {
    const clock = new ManualClock();
    const primary = timed(clock, 'primary', () => Infinity);
    const secondary = timed(clock, 'secondary', () => Infinity);
    const engine = createEngine<unknown, string>({
      clock,
      targets: { primary: { call: primary.call }, secondary: { call: secondary.call } },
    });
    const controller = new AbortController();
    const pending = engine.call({}, { hedge: { delay: 100 }, signal: controller.signal }).catch((e: unknown) => e);
    await clock.advance(200);
    controller.abort();
    expect(await pending).toMatchObject({ failureClass: 'cancelled' });
    expect(primary.aborted + secondary.aborted).toBe(2);
  });

  it('hedges streams on time to first token', async () => {
    const clock = new ManualClock();
    async function* chunks(name: string, firstAfter: number, signal: AbortSignal) {
      await new Promise<void>((resolve, reject) => {
        const timer = clock.setTimeout(resolve, firstAfter);
        signal.addEventListener('abort', () => {
          clock.clearTimeout(timer);
          reject(signal.reason);
        });
      });
      yield `${name}-1`;
      yield `${name}-2`;
    }
    const engine = createEngine<unknown, unknown, string>({
      clock,
      targets: {
        primary: { stream: (_i, ctx) => chunks('p', 5_000, ctx.signal) },
        secondary: { stream: (_i, ctx) => chunks('s', 100, ctx.signal) },
      },
    });
    let outcome: CallOutcome | undefined;
    const received: string[] = [];
    const consuming = (async () => {
      for await (const chunk of engine.stream({}, { hedge: { delay: 300 }, onOutcome: (o) => (outcome = o) }))
        received.push(chunk);
    })();
    await clock.advance(500);
    await consuming;
    expect(received).toEqual(['s-1', 's-2']);
    expect(outcome).toMatchObject({ ok: true, complete: true, target: 'secondary', hedge: { won: true } });
  });
});
