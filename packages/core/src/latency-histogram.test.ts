import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './latency-histogram.js';
import { seededRandom } from './random.js';

describe('LatencyHistogram', () => {
  it('estimates percentiles within its bucket resolution', () => {
    const histogram = new LatencyHistogram();
    for (let ms = 1; ms <= 1000; ms++) histogram.record(ms);
    expect(histogram.quantile(0.5)!).toBeGreaterThanOrEqual(500);
    expect(histogram.quantile(0.5)!).toBeLessThan(500 * 1.1);
    expect(histogram.quantile(0.95)!).toBeGreaterThanOrEqual(950);
    expect(histogram.quantile(0.95)!).toBeLessThan(950 * 1.1);
  });
  it('follows a change in latency thanks to decay', () => {
    const histogram = new LatencyHistogram();
    const random = seededRandom(1);
    for (let i = 0; i < 5000; i++) histogram.record(100 + random() * 10);
    for (let i = 0; i < 5000; i++) histogram.record(1000 + random() * 100);
    expect(histogram.quantile(0.5)!).toBeGreaterThan(900);
  });
  it('has no percentile before the first sample', () => {
    expect(new LatencyHistogram().quantile(0.95)).toBeUndefined();
  });
});
