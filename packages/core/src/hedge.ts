import { CancelSource, type Cancellation } from './cancel.js';
import { parseDuration, type Duration } from './duration.js';
import { CallFailedError, isCallFailedError } from './errors.js';
import type { CallOutcome } from './outcome.js';
import type { ChainPlan, EngineCore } from './run.js';
import { Run } from './run.js';
import type { DeadlineEntry } from './scheduler.js';
import { optionError } from './validate.js';

/** Hedged requests: a backup call to the next target when the running one is slow. */
export interface HedgeOptions {
  /**
   * How long the running attempt may go unanswered (streams: without a first token) before the
   * next target is tried too: a duration, or a live percentile of the primary's latency such
   * as `'p95'`.
   */
  delay: Duration | `p${number}`;
  /** Delay while the percentile has fewer than 20 samples. Default 2 s. */
  initialDelay?: Duration;
  /** Hedges as a share of calls, at most (a token bucket per chain). Default 0.05. */
  maxExtraLoad?: number;
  /** Hedges per call, at most. Default 1. */
  maxHedges?: number;
}

/** Validated hedge options. */
export interface HedgeSettings {
  delayMs: number | undefined;
  quantile: number | undefined;
  initialDelayMs: number;
  maxExtraLoad: number;
  maxHedges: number;
}

const HEDGE_KEYS = ['delay', 'initialDelay', 'maxExtraLoad', 'maxHedges'];
const MIN_SAMPLES = 20;

/** Validates hedge options (once per distinct options object). */
export function resolveHedge(options: HedgeOptions): HedgeSettings {
  if (!options || typeof options !== 'object') throw optionError('hedge', 'an object with a delay', options);
  for (const key of Object.keys(options)) {
    if (!HEDGE_KEYS.includes(key))
      throw new TypeError(`breakwater: hedge.${key} is not an option (known: ${HEDGE_KEYS.join(', ')})`);
  }
  let delayMs: number | undefined;
  let quantile: number | undefined;
  const percentile = typeof options.delay === 'string' ? /^p(\d{1,2}(?:\.\d+)?)$/.exec(options.delay) : null;
  if (percentile) quantile = Number(percentile[1]) / 100;
  else {
    delayMs = parseDuration(options.delay);
    if (delayMs === undefined) throw optionError('hedge.delay', 'a duration or a percentile like "p95"', options.delay);
  }
  const initialDelayMs = options.initialDelay === undefined ? 2_000 : parseDuration(options.initialDelay);
  if (initialDelayMs === undefined) throw optionError('hedge.initialDelay', 'a duration', options.initialDelay);
  const maxExtraLoad = options.maxExtraLoad ?? 0.05;
  if (typeof maxExtraLoad !== 'number' || !(maxExtraLoad >= 0 && maxExtraLoad <= 1)) {
    throw optionError('hedge.maxExtraLoad', 'a number from 0 to 1', maxExtraLoad);
  }
  const maxHedges = options.maxHedges ?? 1;
  if (!Number.isInteger(maxHedges) || maxHedges < 1 || maxHedges > 5)
    throw optionError('hedge.maxHedges', 'an integer from 1 to 5', maxHedges);
  return { delayMs, quantile, initialDelayMs, maxExtraLoad, maxHedges };
}

/** The share of calls a chain may hedge: a token bucket filled by `maxExtraLoad` per call. */
export class HedgeBudget {
  #tokens = 1;

  /** Records a hedge-eligible call. */
  deposit(ratio: number): void {
    this.#tokens = Math.min(2, this.#tokens + ratio);
  }

  /** Takes a token for a hedge. */
  tryWithdraw(): boolean {
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

type Settle = { resolve: (run: Run) => void; reject: (error: unknown) => void };

/**
 * One hedged call: run 0 tries the chain's first target; if it has not answered after the
 * delay (and the budget allows), run 1 tries the next target while run 0 keeps going, and so
 * on up to `maxHedges`; the last run covers the rest of the chain. A run that fails before its
 * successor started starts it at once (plain fallback). The first success wins and the others
 * are aborted; caller errors stop everything. The merged outcome is published once.
 */
export class HedgedCall implements DeadlineEntry {
  dueAt = 0;
  heapIndex = -1;
  readonly #core: EngineCore;
  readonly #plan: ChainPlan;
  readonly #segments: ChainPlan[];
  readonly #input: unknown;
  readonly #stream: boolean;
  readonly #deadline: number;
  readonly #signal: Cancellation | undefined;
  readonly #settings: HedgeSettings;
  readonly #budget: HedgeBudget;
  readonly #onOutcome: ((outcome: CallOutcome) => void) | undefined;
  readonly #runs: { run: Run; cancel: CancelSource; hedge: boolean }[] = [];
  #running = 0;
  #hedges = 0;
  #settled = false;
  #settle!: Settle;

  constructor(
    core: EngineCore,
    plan: ChainPlan,
    input: unknown,
    stream: boolean,
    totalMs: number,
    signal: Cancellation | undefined,
    onOutcome: ((outcome: CallOutcome) => void) | undefined,
    settings: HedgeSettings,
    budget: HedgeBudget,
  ) {
    this.#core = core;
    this.#plan = plan;
    this.#input = input;
    this.#stream = stream;
    this.#deadline = core.clock.now() + totalMs;
    this.#signal = signal;
    this.#onOutcome = onOutcome;
    this.#settings = settings;
    this.#budget = budget;
    const hedges = Math.min(settings.maxHedges, plan.targets.length - 1);
    this.#segments = [];
    for (let i = 0; i <= hedges; i++) {
      const targets = i === hedges ? plan.targets.slice(i) : [plan.targets[i]!];
      this.#segments.push({ names: targets.map((t) => t.name), targets });
    }
  }

  /** Resolves with the winning run (for streams: at its first content chunk). */
  execute(): Promise<Run> {
    const promise = new Promise<Run>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    if (this.#signal?.aborted) {
      this.#start();
      return promise;
    }
    this.#signal?.addEventListener('abort', this);
    this.#budget.deposit(this.#settings.maxExtraLoad);
    this.#start();
    this.#armHedge();
    return promise;
  }

  /** The caller's signal aborted: every run stops. */
  handleEvent(): void {
    for (const { cancel } of this.#runs) cancel.abort(this.#signal?.reason);
  }

  /** The hedge delay passed with no answer yet. */
  onDeadline(): void {
    if (this.#settled || this.#runs.length >= this.#segments.length) return;
    if (!this.#budget.tryWithdraw()) return;
    this.#hedges++;
    this.#start(true);
    this.#armHedge();
  }

  #armHedge(): void {
    if (this.#runs.length >= this.#segments.length) return;
    const primary = this.#plan.targets[0]!;
    let delay = this.#settings.delayMs;
    if (delay === undefined) {
      delay =
        primary.latency.count >= MIN_SAMPLES
          ? primary.latency.quantile(this.#settings.quantile!)!
          : this.#settings.initialDelayMs;
    }
    this.#core.scheduler.schedule(this, this.#core.clock.now() + delay);
  }

  #start(hedge = false): void {
    const index = this.#runs.length;
    const cancel = new CancelSource();
    if (this.#signal?.aborted) cancel.abort(this.#signal.reason);
    const remaining = Math.max(1, this.#deadline - this.#core.clock.now());
    const run = new Run(this.#core, this.#segments[index]!, this.#input, this.#stream, remaining, cancel, undefined);
    run.silent = true;
    this.#runs.push({ run, cancel, hedge });
    this.#running++;
    run.execute().then(
      () => this.#won(run),
      (error: unknown) => this.#failed(error),
    );
  }

  #won(winner: Run): void {
    this.#running--;
    if (this.#settled) return;
    this.#settled = true;
    this.#release();
    for (const { run, cancel } of this.#runs)
      if (run !== winner) cancel.abort(new Error('another hedge answered first'));
    this.#merge(winner.outcome, winner);
    if (!this.#stream) this.#publish(winner.outcome);
    else winner.publishWhenDone(this.#onOutcome); // the merged outcome goes out when the stream ends
    this.#settle.resolve(winner);
  }

  #failed(error: unknown): void {
    this.#running--;
    if (this.#settled) return;
    const stop =
      !isCallFailedError(error) ||
      error.failureClass === 'cancelled' ||
      error.isCallerError ||
      (error.failureClass === 'timeout' && error.classification?.phase === 'total');
    if (!stop && this.#runs.length < this.#segments.length) {
      this.#start(); // plain fallback: the next segment starts now
      return;
    }
    if (!stop && this.#running > 0) return; // another run may still answer
    this.#settled = true;
    this.#release();
    for (const { cancel } of this.#runs) cancel.abort(new Error('the hedged call failed'));
    if (!isCallFailedError(error)) return this.#settle.reject(error);
    const merged = error.outcome;
    this.#merge(merged, undefined);
    this.#publish(merged);
    this.#settle.reject(
      new CallFailedError(error.message, error.failureClass, merged, {
        ...(error.classification ? { classification: error.classification } : {}),
        ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
        cause: error.cause,
      }),
    );
  }

  /** Folds every other run's attempts and counts into `outcome`. */
  #merge(outcome: CallOutcome, winner: Run | undefined): void {
    const base = this.#runs[0]!.run.outcome.startedAt;
    const ownShift = outcome.startedAt - base;
    if (ownShift > 0) {
      for (const attempt of outcome.attempts) attempt.startMs += ownShift;
      outcome.startedAt = base;
      outcome.latencyMs += ownShift;
      if (outcome.firstTokenMs !== undefined) outcome.firstTokenMs += ownShift;
    }
    // Extra upstream attempts: what the losers spent while a hedge was in play (with no winner: the hedges' own).
    let extraAttempts = 0;
    for (const { run, hedge } of this.#runs) {
      if (run === winner) continue;
      if (winner ? this.#hedges > 0 : hedge) extraAttempts += run.outcome.attempts.length;
      if (run.outcome === outcome) continue;
      const shift = run.outcome.startedAt - base;
      for (const attempt of run.outcome.attempts)
        outcome.attempts.push({ ...attempt, startMs: attempt.startMs + shift });
      outcome.skipped.push(...run.outcome.skipped);
      outcome.retries += run.outcome.retries;
      outcome.waitedMs += run.outcome.waitedMs;
    }
    outcome.attempts.sort((a, b) => a.startMs - b.startMs);
    outcome.chain = this.#plan.names;
    if (outcome.target !== undefined) {
      const tier = this.#plan.targets.findIndex((t) => t.name === outcome.target);
      outcome.tier = tier < 0 ? this.#plan.targets.length : tier;
    }
    if (this.#hedges > 0) {
      const won = winner !== undefined && this.#runs.some((r) => r.run === winner && r.hedge);
      outcome.hedge = { started: this.#hedges, won, extraAttempts };
    }
  }

  #publish(outcome: CallOutcome): void {
    this.#onOutcome?.(outcome);
    const events = this.#core.events;
    if (events.wants('outcome')) events.emit('outcome', outcome);
  }

  #release(): void {
    this.#signal?.removeEventListener('abort', this);
    this.#core.scheduler.cancel(this);
  }
}
