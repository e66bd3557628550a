/**
 * Time source for every timer in breakwater. Inject a {@link ManualClock} in tests and
 * simulations to run in virtual time.
 */
export interface Clock {
  /** Monotonic milliseconds; only differences matter. */
  now(): number;
  /** Wall-clock epoch milliseconds, used to turn HTTP dates into waits. */
  date(): number;
  /** Schedules `fn` after `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer returned by {@link Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
  /**
   * Optional: whether a pending timer keeps the process alive (Node's `ref`/`unref`). The
   * scheduler keeps its one timer armed between calls and only holds the process while a
   * deadline is pending.
   */
  keepAlive?(handle: unknown, keep: boolean): void;
}

/** The real clock: `performance.now()` for deadlines, `Date.now()` for HTTP dates. */
export const systemClock: Clock = {
  now: () => performance.now(),
  date: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  keepAlive: (handle, keep) => {
    const timer = handle as ReturnType<typeof setTimeout>;
    if (keep) timer.ref();
    else timer.unref();
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that only moves when told to. `advance()` fires due timers in order and lets
 * promise callbacks run between them, so async code under test behaves as in real time.
 *
 * @example
 * const clock = new ManualClock();
 * const engine = createEngine({ clock, targets: { ... } });
 * const pending = engine.call(input);
 * await clock.advance(30_000);
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers = new Set<ManualTimer>();
  /** Epoch milliseconds reported by {@link ManualClock.date} at virtual time 0. */
  readonly epoch: number;

  constructor(options: { start?: number; epoch?: number } = {}) {
    this.#now = options.start ?? 0;
    this.epoch = options.epoch ?? Date.UTC(2026, 0, 1);
  }

  now(): number {
    return this.#now;
  }

  date(): number {
    return this.epoch + this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: ManualTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.add(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as ManualTimer);
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#earliest();
      if (!next || next.at > end) break;
      this.#timers.delete(next);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
      await settle();
    }
    this.#now = end;
    await settle();
  }

  /** Advances to the next pending timer (if any) and fires it; returns false when none is left. */
  async next(): Promise<boolean> {
    await settle();
    const next = this.#earliest();
    if (!next) return false;
    await this.advance(next.at - this.#now);
    return true;
  }

  #earliest(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.#timers) {
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

/** Lets every queued promise callback run (a macrotask turn). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
