/** The in-process fake target driving the engine in virtual time, as the testing README shows. */
import { createEngine, ManualClock, type CallOutcome } from '@breakwater/core';
import { fakeTarget } from '@breakwater/testing';
import { describe, expect, it } from 'vitest';

describe('engine + in-process fakes in virtual time', () => {
  it('runs the README example', async () => {
    const clock = new ManualClock();
    const primary = fakeTarget({ clock, seed: 1, latency: 800, transient: { rate: 0.05, faults: ['overloaded'] } });
    const engine = createEngine({ clock, targets: { primary: primary.target } });
    const pending = engine.call({ messages: [] });
    await clock.advance(800);
    await expect(pending).resolves.toMatchObject({ content: expect.stringContaining('fake provider') });
  });

  it('rides out an outage: the breaker opens, probes run on the fake, users go to the secondary', async () => {
    const clock = new ManualClock();
    const primary = fakeTarget({ clock, latency: 100, outages: [{ from: 10_000, to: 70_000 }] });
    const secondary = fakeTarget({ clock, latency: 200 });
    const engine = createEngine({
      clock,
      random: () => 0.5,
      targets: { primary: primary.target, secondary: secondary.target },
    });
    const outcomes: CallOutcome[] = [];
    engine.on('outcome', (o) => outcomes.push(o));
    // One call a second for two minutes of virtual time.
    for (let second = 0; second < 120; second++) {
      const pending = engine.call({});
      await clock.advance(1_000);
      await pending;
    }
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const userCallsDuringOutage = primary.requests.filter((r) => !r.probe && r.at >= 10_000 && r.at < 70_000);
    expect(userCallsDuringOutage.length).toBeLessThanOrEqual(5); // the consecutive-failure trip, then none
    expect(primary.requests.some((r) => r.probe)).toBe(true);
    expect(outcomes.at(-1)!.target).toBe('primary'); // recovered after the outage
  });
});
