import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Engine } from '../engine.js';
import { isCallFailedError } from '../errors.js';
import type { SharedOrLocal } from '../store/shared-or-local.js';
import type { Store } from '../store/store.js';
import { parseJson } from '../store/json.js';

/** A job's state. */
export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

/** What the status URL shows of a job. */
export interface JobView {
  id: string;
  status: JobStatus;
  /** Wall-clock epoch ms. */
  createdAt: number;
  expiresAt: number;
  /** The call's result, once done. */
  result?: unknown;
  /** The failure class, when the job failed for good (a caller error). */
  failureClass?: string;
  attempts: number;
}

/** A job as the store keeps it (JSON). */
interface StoredJob extends JobView {
  chain: readonly string[] | undefined;
  input: unknown;
  /** While running: wall-clock ms after which another instance may take it over (its runner died). */
  lease?: number;
}

/** Options of the queue tier's job store. */
export interface JobQueueOptions {
  /** Most jobs waiting at once (queued or running) per store. Default 1000. */
  max: number;
  /** How often queued jobs look for a healthy target. Default 1 s. */
  pollMs: number;
}

/** The ids of jobs not yet finished, one JSON array per store. */
const INDEX = 'jobs:index';

/**
 * The queue tier: calls accepted for later. A queued job runs when a target of its chain is
 * healthy again (breaker closed, no cooldown), one at a time per instance; a provider-side
 * failure puts it back in the queue, a caller error fails it for good. Jobs and results expire
 * after their TTL. Jobs live in the shared store when there is one, so that they survive a
 * restart and any instance can run them (a running job holds a lease; when its runner dies,
 * another takes it over); else, or while the store is down, in this process's memory.
 * Inputs and results must be JSON values.
 */
export class JobQueue {
  readonly #engine: Engine<unknown, unknown, unknown>;
  readonly #clock: Clock;
  readonly #options: JobQueueOptions;
  readonly #stores: SharedOrLocal;
  #timer: unknown = undefined;
  #running = false;
  #closed = false;
  /** Jobs may wait in this process's own store (polled only while some do). */
  #localPending = false;

  constructor(engine: Engine<unknown, unknown, unknown>, stores: SharedOrLocal, options: JobQueueOptions) {
    this.#engine = engine;
    this.#clock = engine.clock;
    this.#options = options;
    this.#stores = stores;
    // Jobs queued before a restart, or by other instances, wait in the shared store.
    if (stores.shared) this.#arm();
  }

  /** Queues a call; resolves undefined when the queue is full. */
  async submit(chain: readonly string[] | undefined, input: unknown, ttl: number): Promise<JobView | undefined> {
    const now = this.#clock.date();
    const job: StoredJob = {
      id: randomUUID(),
      status: 'queued',
      createdAt: now,
      expiresAt: now + ttl,
      attempts: 0,
      chain,
      input,
    };
    const { value: accepted, store } = await this.#stores.use(async (store) => {
      await store.set(`job:${job.id}`, JSON.stringify(job), { ttl });
      const added = await updateIndex(store, (ids) => (ids.length >= this.#options.max ? undefined : [...ids, job.id]));
      if (!added) await store.delete(`job:${job.id}`);
      return added;
    });
    if (!accepted) return undefined;
    if (store === this.#stores.local) this.#localPending = true;
    this.#arm();
    return view(job);
  }

  /** A job's state, or undefined when unknown or expired. */
  async get(id: string): Promise<JobView | undefined> {
    for (const store of this.#stores.all) {
      const raw = await store.get(`job:${id}`).catch(() => undefined);
      const job = raw === undefined ? undefined : parseJson<StoredJob>(raw);
      if (job && this.#clock.date() < job.expiresAt) return view(job);
    }
    return undefined;
  }

  /** Stops polling (queued jobs stay, unrun: in the shared store, another instance runs them). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => void this.#tick(), this.#options.pollMs);
    this.#clock.keepAlive?.(this.#timer, false);
  }

  async #tick(): Promise<void> {
    let localLeft = 0;
    for (const store of this.#stores.all) {
      try {
        const left = await this.#tickOn(store);
        if (store === this.#stores.local) localLeft = left;
      } catch {
        // the shared store is down: its jobs wait for it
      }
    }
    this.#localPending = localLeft > 0;
    this.#timer = undefined;
    if (this.#stores.shared || this.#localPending) this.#arm();
  }

  /** Runs at most one runnable job of `store`; returns how many remain unfinished there. */
  async #tickOn(store: Store): Promise<number> {
    const raw = await store.get(INDEX);
    const ids = raw === undefined ? [] : (JSON.parse(raw) as string[]);
    const finished = new Set<string>();
    for (const id of ids) {
      const key = `job:${id}`;
      const current = await store.get(key);
      const job = current === undefined ? undefined : parseJson<StoredJob>(current);
      if (!job || current === undefined) {
        finished.add(id); // expired (or damaged): off the index
        continue;
      }
      const now = this.#clock.date();
      if (job.status === 'done' || job.status === 'failed') finished.add(id);
      if (this.#running || job.status === 'done' || job.status === 'failed') continue;
      if (job.status === 'running' && (job.lease ?? 0) > now) continue;
      if (!this.#healthy(job.chain)) continue;
      const lease = now + this.#engine.defaults.timeouts.total + 10_000;
      const claimed: StoredJob = { ...job, status: 'running', attempts: job.attempts + 1, lease };
      const ttl = job.expiresAt - now;
      if (ttl <= 0 || !(await store.compareAndSet(key, current, JSON.stringify(claimed), ttl))) continue;
      if (await this.#run(store, claimed)) finished.add(id);
    }
    if (finished.size > 0) await updateIndex(store, (list) => list.filter((id) => !finished.has(id)));
    return ids.length - finished.size;
  }

  /** Runs a claimed job and stores its end; true when it finished (done or failed for good). */
  async #run(store: Store, job: StoredJob): Promise<boolean> {
    this.#running = true;
    try {
      job.result = await this.#engine.call(job.input, job.chain ? { chain: job.chain } : undefined);
      job.status = 'done';
    } catch (error) {
      if (isCallFailedError(error) && error.isCallerError) {
        job.status = 'failed';
        job.failureClass = error.failureClass;
      } else job.status = 'queued';
    } finally {
      this.#running = false;
    }
    delete job.lease;
    if (job.status !== 'queued') job.input = undefined;
    const ttl = job.expiresAt - this.#clock.date();
    if (ttl > 0) await store.set(`job:${job.id}`, JSON.stringify(job), { ttl });
    return job.status !== 'queued';
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
}

/** Changes the index with compare-and-set (a few tries); `change` returns undefined to refuse. Resolves false when refused. */
async function updateIndex(store: Store, change: (ids: string[]) => string[] | undefined): Promise<boolean> {
  for (let i = 0; i < 10; i++) {
    const raw = await store.get(INDEX);
    const next = change(raw === undefined ? [] : (JSON.parse(raw) as string[]));
    if (!next) return false;
    if (await store.compareAndSet(INDEX, raw, JSON.stringify(next))) return true;
  }
  throw new Error('the job index is too busy'); // the caller falls back to local state
}

function view(job: StoredJob): JobView {
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
