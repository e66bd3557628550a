import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { DeadlineScheduler, type DeadlineEntry } from './scheduler.js';

const entry = (fired: number[], id: number): DeadlineEntry => ({
  dueAt: 0,
  heapIndex: -1,
  onDeadline: () => fired.push(id),
});

describe('DeadlineScheduler', () => {
  it('fires entries in deadline order with one clock timer', async () => {
    const clock = new ManualClock();
    const scheduler = new DeadlineScheduler(clock);
    const fired: number[] = [];
    const entries = [30, 10, 20, 40].map((at, i) => {
      const e = entry(fired, i);
      scheduler.schedule(e, at);
      return e;
    });
    expect(clock.pending).toBe(1);
    scheduler.cancel(entries[3]!);
    scheduler.schedule(entries[0]!, 5); // moved earlier
    await clock.advance(100);
    expect(fired).toEqual([0, 1, 2]);
    expect(scheduler.size).toBe(0);
    expect(clock.pending).toBe(0);
  });
  it('keeps its timer between entries, and lets it lapse harmlessly once nothing is due', async () => {
    const clock = new ManualClock();
    const scheduler = new DeadlineScheduler(clock);
    const fired: number[] = [];
    const first = entry(fired, 1);
    scheduler.schedule(first, 1_000);
    scheduler.cancel(first);
    scheduler.schedule(entry(fired, 2), 1_500); // later than the armed timer: no new timer
    expect(clock.pending).toBe(1);
    await clock.advance(2_000);
    expect(fired).toEqual([2]);
    expect(clock.pending).toBe(0);
  });
});
