import type { Classification } from './classify.js';
import type { Clock } from './clock.js';
import type { AttemptContext } from './options.js';
import type { HeaderSource } from './retry-after.js';
import type { TargetRuntime } from './target.js';

/**
 * One attempt at one target: the context its function receives. The AbortSignal is created
 * only when the target reads it (creating one costs about 4 us on Node 20), and breakwater
 * aborts it only when the attempt must actually stop.
 */
export class Attempt implements AttemptContext {
  readonly attempt: number;
  readonly target: string;
  readonly deadline: number;
  /** Why breakwater stopped this attempt (undefined while it may run). */
  stopReason: unknown = undefined;
  /** The classification breakwater gives its own stop (timeout phase, cancelled). */
  stopClass: Classification | undefined = undefined;
  #controller: AbortController | undefined = undefined;
  #reject: ((reason: unknown) => void) | undefined = undefined;
  readonly #runtime: TargetRuntime<unknown, unknown, unknown>;
  readonly #clock: Clock;

  constructor(attempt: number, target: TargetRuntime<unknown, unknown, unknown>, deadline: number, clock: Clock) {
    this.attempt = attempt;
    this.target = target.name;
    this.deadline = deadline;
    this.#runtime = target;
    this.#clock = clock;
  }

  observe(headers: HeaderSource): void {
    this.#runtime.observe(headers, this.#clock.now(), this.#clock.date());
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.stopReason !== undefined) this.#controller.abort(this.stopReason);
    }
    return this.#controller.signal;
  }

  /** Settles with `promise`, or rejects with the stop reason as soon as the attempt is stopped. */
  wait<T>(promise: PromiseLike<T> | T): Promise<T> {
    if (this.stopReason !== undefined) return Promise.reject(this.stopReason);
    if (!isThenable(promise)) return Promise.resolve(promise);
    return new Promise<T>((resolve, reject) => {
      this.#reject = reject;
      promise.then(resolve, reject);
    });
  }

  /** Stops the attempt: the pending wait rejects at once and the target's signal aborts. */
  stop(reason: unknown, classification: Classification): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    this.stopClass = classification;
    const reject = this.#reject;
    this.#reject = undefined;
    reject?.(reason);
    this.#controller?.abort(reason);
  }
}

function isThenable<T>(value: PromiseLike<T> | T): value is PromiseLike<T> {
  return !!value && typeof (value as { then?: unknown }).then === 'function';
}
