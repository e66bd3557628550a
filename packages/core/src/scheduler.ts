import type { Clock } from './clock.js';

/** Something that wants to be told when its deadline passes. */
export interface DeadlineEntry {
  /** When the entry is due, in clock milliseconds; set by the scheduler. */
  dueAt: number;
  /** Position in the heap, or -1 when not scheduled; owned by the scheduler. */
  heapIndex: number;
  /** Called once when `dueAt` has passed. */
  onDeadline(now: number): void;
}

/**
 * One timer for every deadline of an engine: a binary min-heap of entries with a single
 * clock timer armed for the earliest. Scheduling a later deadline than the armed one costs a
 * heap push and no timer work. The timer stays armed when the heap empties (it only stops
 * holding the process open), so back-to-back calls on the success path never touch
 * `setTimeout`: a timer that fires early finds nothing due and re-arms for the earliest entry.
 */
export class DeadlineScheduler {
  readonly #clock: Clock;
  readonly #heap: DeadlineEntry[] = [];
  #timer: unknown = undefined;
  #timerAt = Infinity;
  readonly #fire = (): void => this.#onTimer();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Number of entries waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Schedules (or reschedules) `entry` to be due at `at`. */
  schedule(entry: DeadlineEntry, at: number): void {
    if (entry.heapIndex >= 0) {
      const before = entry.dueAt;
      entry.dueAt = at;
      if (at < before) this.#up(entry.heapIndex);
      else this.#down(entry.heapIndex);
    } else {
      entry.dueAt = at;
      entry.heapIndex = this.#heap.length;
      this.#heap.push(entry);
      this.#up(entry.heapIndex);
      if (this.#heap.length === 1 && this.#timer !== undefined) this.#clock.keepAlive?.(this.#timer, true);
    }
    if (at < this.#timerAt) this.#arm();
  }

  /** Removes `entry` if it is scheduled. */
  cancel(entry: DeadlineEntry): void {
    const index = entry.heapIndex;
    if (index < 0) return;
    entry.heapIndex = -1;
    const last = this.#heap.pop()!;
    if (last !== entry) {
      this.#heap[index] = last;
      last.heapIndex = index;
      this.#down(index);
      this.#up(last.heapIndex);
    }
    if (this.#heap.length === 0 && this.#timer !== undefined) this.#clock.keepAlive?.(this.#timer, false);
  }

  /** Clears the timer when nothing is pending (for a clean shutdown); a later entry re-arms it. */
  dispose(): void {
    if (this.#heap.length > 0 || this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #arm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    const head = this.#heap[0];
    if (!head) {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      return;
    }
    this.#timerAt = head.dueAt;
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, head.dueAt - this.#clock.now()));
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    for (;;) {
      const head = this.#heap[0];
      if (!head || head.dueAt > now) break;
      this.cancel(head);
      head.onDeadline(now);
    }
    if (this.#timer === undefined) this.#arm();
  }

  #up(index: number): void {
    const heap = this.#heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent.dueAt <= entry.dueAt) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.heapIndex = index;
  }

  #down(index: number): void {
    const heap = this.#heap;
    const length = heap.length;
    const entry = heap[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && heap[right]!.dueAt < heap[left]!.dueAt ? right : left;
      const childEntry = heap[child]!;
      if (childEntry.dueAt >= entry.dueAt) break;
      heap[index] = childEntry;
      childEntry.heapIndex = index;
      index = child;
    }
    heap[index] = entry;
    entry.heapIndex = index;
  }
}
