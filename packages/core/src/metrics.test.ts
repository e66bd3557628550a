import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { createEngine } from './engine.js';
import { prometheusMetrics } from './metrics.js';

describe('prometheusMetrics', () => {
  it('counts retries and hedges per target', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const engine = createEngine({
      clock,
      random: () => 0,
      targets: {
        a: {
          call: async () => {
            if (calls++ === 0) throw new OpenAI.InternalServerError(500, { message: 'x' }, undefined, new Headers());
            return new Promise((resolve) => clock.setTimeout(() => resolve('a'), 1_000));
          },
        },
        b: { call: async () => 'b' },
      },
    });
    const { registry, close } = prometheusMetrics(engine);
    const first = engine.call({});
    await clock.advance(1_000);
    await first;
    const hedged = engine.call({}, { hedge: { delay: 100 } });
    await clock.advance(1_000);
    await hedged;
    const text = await registry.metrics();
    close();
    expect(text).toContain('breakwater_retries_total{target="a"} 1');
    expect(text).toContain('breakwater_hedges_total{target="a"} 1');
  });
});
