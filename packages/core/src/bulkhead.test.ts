import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { createEngine } from './engine.js';
import type { AttemptContext } from './options.js';
import type { CallOutcome } from './outcome.js';

const after = (clock: ManualClock, ms: number, value: string) => (_input: unknown, ctx: AttemptContext) =>
  new Promise<string>((resolve, reject) => {
    const timer = clock.setTimeout(() => resolve(value), ms);
    ctx.signal.addEventListener('abort', () => {
      clock.clearTimeout(timer);
      reject(ctx.signal.reason);
    });
  });

describe('per-target bulkheads and pacing', () => {
  it('sends calls past a full target to the next one, and frees the slot when the call ends', async () => {
    const clock = new ManualClock();
    const engine = createEngine<unknown, string>({
      clock,
      targets: { a: { call: after(clock, 100, 'a'), maxConcurrent: 2 }, b: { call: after(clock, 100, 'b') } },
    });
    const outcomes: CallOutcome[] = [];
    engine.on('outcome', (o) => outcomes.push(o));
    const calls = [engine.call({}), engine.call({}), engine.call({})];
    await clock.advance(100);
    expect(await Promise.all(calls)).toEqual(['a', 'a', 'b']);
    expect(outcomes.find((o) => o.target === 'b')!.skipped).toEqual([{ target: 'a', reason: 'full' }]);
    const next = engine.call({});
    await clock.advance(100);
    await expect(next).resolves.toBe('a'); // the slots came back
  });

  it('paces calls to requestsPerMinute before the provider answers 429', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const engine = createEngine<unknown, string>({
      clock,
      targets: {
        a: { call: async () => (calls++, 'a'), rateLimit: { requestsPerMinute: 60, burst: 2 } },
        b: { call: async () => 'b' },
      },
    });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await engine.call({}));
    expect(answers).toEqual(['a', 'a', 'b', 'b']); // a burst of 2, then one a second
    await clock.advance(1_000);
    await expect(engine.call({})).resolves.toBe('a');
    expect(calls).toBe(3);
  });

  it('paces by estimated tokens per minute', async () => {
    const clock = new ManualClock();
    const engine = createEngine<{ tokens: number }, string>({
      clock,
      targets: {
        a: {
          call: async () => 'a',
          rateLimit: { tokensPerMinute: 60_000, burst: 1_500, estimateTokens: (input) => input.tokens },
        },
        b: { call: async () => 'b' },
      },
    });
    await expect(engine.call({ tokens: 1_000 })).resolves.toBe('a');
    await expect(engine.call({ tokens: 1_000 })).resolves.toBe('b'); // 500 tokens left of the burst
    await clock.advance(500); // 1,000 tokens a second
    await expect(engine.call({ tokens: 1_000 })).resolves.toBe('a');
    expect(() => createEngine({ targets: { a: { call: async () => 'a', rateLimit: {} } } })).toThrow(
      /rateLimit must be requestsPerMinute and\/or tokensPerMinute/,
    );
  });

  it("follows the provider's rate-limit headers seen on a success", async () => {
    const clock = new ManualClock();
    const engine = createEngine<unknown, string>({
      clock,
      targets: {
        a: {
          call: async (_input, ctx) => {
            ctx.observe(new Headers({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '2s' }));
            return 'a';
          },
        },
        b: { call: async () => 'b' },
      },
    });
    await expect(engine.call({})).resolves.toBe('a');
    await expect(engine.call({})).resolves.toBe('b'); // cooling down until the reset
    await clock.advance(2_000);
    await expect(engine.call({})).resolves.toBe('a');
  });
});
