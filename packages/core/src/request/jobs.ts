import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Engine } from '../engine.js';
import { isCallFailedError } from '../errors.js';

/** A job's state. */
export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

/** What the status URL shows of a job. */
export interface JobView {
  id: string;
  status: JobStatus;
  /** Engine clock ms. */
  createdAt: number;
  expiresAt: number;
  /** The call's result, once done. */
  result?: unknown;
  /** The failure class, when the job failed for good (a caller error). */
  failureClass?: string;
  attempts: number;
}

interface Job extends JobView {
  chain: readonly string[] | undefined;
  input: unknown;
}

/** Options of the queue tier's job store. */
export interface JobQueueOptions {
  /** Most jobs kept at once (queued, running or finished). Default 1000. */
  max: number;
  /** How often queued jobs look for a healthy target. Default 1 s. */
  pollMs: number;
}

/**
 * The queue tier: calls accepted for later. A queued job runs when a target of its chain is
 * healthy again (breaker closed, no cooldown), one at a time; a provider-side failure puts
 * it back in the queue, a caller error fails it for good. Jobs and results expire after their
 * TTL; the store is bounded and refuses new jobs when full.
 */
export class JobQueue {
  readonly #engine: Engine<unknown, unknown, unknown>;
  readonly #clock: Clock;
  readonly #options: JobQueueOptions;
  readonly #jobs = new Map<string, Job>();
  #timer: unknown = undefined;
  #running = false;

  constructor(engine: Engine<unknown, unknown, unknown>, options: JobQueueOptions) {
    this.#engine = engine;
    this.#clock = engine.clock;
    this.#options = options;
  }

  /** Jobs held. */
  get size(): number {
    return this.#jobs.size;
  }

  /** Queues a call; returns undefined when the store is full. */
  submit(chain: readonly string[] | undefined, input: unknown, ttl: number): JobView | undefined {
    const now = this.#clock.now();
    this.#prune(now);
    if (this.#jobs.size >= this.#options.max) return undefined;
    const job: Job = {
      id: randomUUID(),
      status: 'queued',
      createdAt: now,
      expiresAt: now + ttl,
      attempts: 0,
      chain,
      input,
    };
    this.#jobs.set(job.id, job);
    this.#arm();
    return view(job);
  }

  /** A job's state, or undefined when unknown or expired. */
  get(id: string): JobView | undefined {
    const job = this.#jobs.get(id);
    if (!job) return undefined;
    if (this.#clock.now() >= job.expiresAt) {
      this.#jobs.delete(id);
      return undefined;
    }
    return view(job);
  }

  /** Stops the poll timer (queued jobs stay, unrun). */
  close(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#tick();
    }, this.#options.pollMs);
    this.#clock.keepAlive?.(this.#timer, false);
  }

  async #tick(): Promise<void> {
    const now = this.#clock.now();
    this.#prune(now);
    if (!this.#running) {
      const job = [...this.#jobs.values()].find((j) => j.status === 'queued' && this.#healthy(j.chain));
      if (job) await this.#run(job);
    }
    if ([...this.#jobs.values()].some((j) => j.status === 'queued')) this.#arm();
  }

  async #run(job: Job): Promise<void> {
    this.#running = true;
    job.status = 'running';
    job.attempts++;
    try {
      job.result = await this.#engine.call(job.input, job.chain ? { chain: job.chain } : undefined);
      job.status = 'done';
      job.input = undefined;
    } catch (error) {
      if (isCallFailedError(error) && error.isCallerError) {
        job.status = 'failed';
        job.failureClass = error.failureClass;
        job.input = undefined;
      } else job.status = 'queued';
    } finally {
      this.#running = false;
    }
  }

  /**
   * True when a target of the chain may answer: closed with no cooldown, or open with its
   * cooldown over (the job's call then starts the probe or is the trial, and the job waits
   * for the next poll if that call is skipped).
   */
  #healthy(chain: readonly string[] | undefined): boolean {
    const now = this.#clock.now();
    return this.#engine.status().some((s) => {
      if (chain && !chain.includes(s.name)) return false;
      if (s.cooldownUntil !== undefined) return false;
      return s.breaker === 'closed' || (s.breaker === 'open' && (s.openUntil ?? 0) <= now);
    });
  }

  #prune(now: number): void {
    for (const [id, job] of this.#jobs) if (now >= job.expiresAt && job.status !== 'running') this.#jobs.delete(id);
  }
}

function view(job: Job): JobView {
  const out: JobView = {
    id: job.id,
    status: job.status,
    createdAt: job.createdAt,
    expiresAt: job.expiresAt,
    attempts: job.attempts,
  };
  if (job.status === 'done') out.result = job.result;
  if (job.failureClass !== undefined) out.failureClass = job.failureClass;
  return out;
}
