import { randomBytes } from 'node:crypto';
import type { BreakerReason, BreakerState, CircuitBreaker } from '../breaker.js';
import type { Clock } from '../clock.js';
import type { EngineEmitter } from '../events.js';
import { parseJson } from './json.js';
import type { Store } from './store.js';

/** What the shared state needs of a target (its runtime implements it). */
export interface SharedTargetHandle {
  readonly name: string;
  readonly breaker: CircuitBreaker;
  /** Keeps the target aside until `until` (clock ms) without publishing it again. */
  applyCooldown(until: number): void;
  /** The target's own cooldown end (clock ms), 0 when none. */
  readonly cooldownUntil: number;
  /** True when the target has a client-side rate limit (shared as usage counters). */
  readonly paced: boolean;
  /** Own rate-limit usage since the last sync (then forgotten). */
  takeUsage(): { requests: number; tokens: number };
  /** Spends what the other instances used from this instance's rate-limit buckets. */
  spendElsewhere(requests: number, tokens: number): void;
}

/** A message between instances on the store's pub/sub channel. */
interface SharedMessage {
  /** The sending instance. */
  from: string;
  target: string;
  type: 'breaker' | 'cooldown';
  state?: 'open' | 'closed';
  /** Wall-clock epoch ms. */
  until?: number;
  cooldown?: number;
}

/** The shared record of an open breaker (`breaker:<target>`), read when an instance (re)joins. */
interface SharedBreakerRecord {
  state: 'open';
  until: number;
  cooldown: number;
}

const CHANNEL = 'events';
/** Reasons that are not news for the other instances (they came from them, or are local bookkeeping). */
const LOCAL_REASONS = new Set<BreakerReason>(['shared', 'probe_elsewhere', 'cooldown_elapsed']);

/**
 * Makes an engine's targets act as one across instances through a {@link Store}: breaker
 * openings and closings and Retry-After cooldowns are published at once and adopted by the
 * others; every instance's calls and failures are summed per window bucket in the store so
 * that the failure rate is everyone's; one instance at a time probes a half-open target (a
 * lock with expiry). Calls never wait for the store: they read local state, and the sync runs
 * in the background. When the store goes away, instances carry on alone and say so (the
 * `store` event); when it returns, they resynchronise.
 */
export class SharedState {
  /** This instance's id in messages and locks. */
  readonly instance = randomBytes(6).toString('hex');
  readonly store: Store;
  readonly #clock: Clock;
  readonly #events: EngineEmitter;
  readonly #syncMs: number;
  readonly #targets = new Map<string, SharedTargetHandle>();
  /** Some target paces itself: then the sync keeps running while idle. */
  #anyPaced = false;
  #timer: unknown = undefined;
  #syncing = false;
  /** The cluster's usage counters as last seen, per target (to tell others' new usage from ours). */
  readonly #usageSeen = new Map<string, { requests: number; tokens: number }>();
  #closed = false;
  #unsubscribe: (() => void) | undefined = undefined;
  readonly #stopAvailability: () => void;
  /** What was last told (the first connection is not news: only losing it and getting it back are). */
  #reported = true;
  #warned = false;

  constructor(store: Store, clock: Clock, events: EngineEmitter, syncMs: number) {
    this.store = store;
    this.#clock = clock;
    this.#events = events;
    this.#syncMs = syncMs;
    this.#stopAvailability = store.onAvailability((available, error) => this.#availability(available, error));
  }

  /** Adds a target: its breaker counts for the store from now on. */
  add(target: SharedTargetHandle): void {
    this.#targets.set(target.name, target);
    this.#anyPaced ||= target.paced;
    target.breaker.share(this.#arm);
  }

  /** Subscribes to the other instances' news and reads the current shared state. */
  start(): void {
    this.store
      .subscribe(CHANNEL, (message) => this.#receive(message))
      .then(
        (unsubscribe) => {
          if (this.#closed) unsubscribe();
          else this.#unsubscribe = unsubscribe;
        },
        () => {}, // the store reports its availability itself
      );
    void this.#resync();
    // Paced targets keep syncing while idle, so that the others' usage is known before this instance spends.
    if (this.#anyPaced) void this.#sync();
  }

  /** A local breaker transition: tell the others (the store keeps open breakers for late joiners). */
  breakerChanged(target: SharedTargetHandle, to: BreakerState, reason: BreakerReason, now: number): void {
    if (LOCAL_REASONS.has(reason) || to === 'half_open') return;
    const key = `breaker:${target.name}`;
    const message: SharedMessage = { from: this.instance, target: target.name, type: 'breaker', state: to };
    if (to === 'open') {
      const until = this.#wall(target.breaker.openUntil);
      const cooldown = target.breaker.cooldown;
      message.until = until;
      message.cooldown = cooldown;
      const record: SharedBreakerRecord = { state: 'open', until, cooldown };
      this.#quietly(this.store.set(key, JSON.stringify(record), { ttl: Math.max(1, target.breaker.openUntil - now) }));
    } else this.#quietly(this.store.delete(key));
    this.#quietly(this.store.publish(CHANNEL, JSON.stringify(message)));
  }

  /** A local Retry-After cooldown until `until` (clock ms): tell the others. */
  cooledDown(target: SharedTargetHandle, until: number, now: number): void {
    const wall = this.#wall(until);
    this.#quietly(this.store.set(`cooldown:${target.name}`, String(wall), { ttl: Math.max(1, until - now) }));
    const message: SharedMessage = { from: this.instance, target: target.name, type: 'cooldown', until: wall };
    this.#quietly(this.store.publish(CHANNEL, JSON.stringify(message)));
  }

  /**
   * Takes the probe lock of `target` for `ttl` ms. Resolves true when this instance should
   * probe: it got the lock, or the store cannot be asked (then every instance probes alone).
   * The lock is never released early: it expires, so that an instance that meets the ended
   * cooldown just after the probe cannot probe again before the result reaches it.
   */
  async probeLock(target: string, ttl: number): Promise<boolean> {
    try {
      return await this.store.set(`probe:${target}`, this.instance, { ttl, ifAbsent: true });
    } catch {
      return true;
    }
  }

  /** Stops syncing and listening (the store itself stays open: it may serve others). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#stopAvailability();
  }

  /** Asks for a background sync soon (new usage to share). */
  scheduleSync(): void {
    this.#arm();
  }

  /** Arms the background sync once (a breaker recorded a call). */
  readonly #arm = (): void => {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#sync();
    }, this.#syncMs);
    this.#clock.keepAlive?.(this.#timer, false);
  };

  /**
   * Adds each breaker's own new counts to the store's window buckets and reads back everyone's,
   * then lets each breaker judge the failure rate over all of them.
   */
  async #sync(): Promise<void> {
    if (this.#syncing) return this.#arm();
    this.#syncing = true;
    try {
      await Promise.all(
        [...this.#targets.values()].flatMap((target) => [
          this.#syncTarget(target),
          ...(target.paced ? [this.#syncUsage(target)] : []),
        ]),
      );
    } finally {
      this.#syncing = false;
      if (this.#anyPaced) this.#arm();
    }
  }

  async #syncTarget(target: SharedTargetHandle): Promise<void> {
    const breaker = target.breaker;
    const unsynced = breaker.takeUnsynced();
    if (unsynced.length === 0) return;
    const now = this.#clock.now();
    const current = breaker.epochOf(now);
    const { buckets } = breaker.settings;
    const ttl = 2 * breaker.bucketMs * buckets;
    const epochs: number[] = [];
    const pending: Promise<number>[] = [];
    for (let epoch = current - buckets + 1; epoch <= current; epoch++) {
      const own = unsynced.find((b) => b.epoch === epoch);
      epochs.push(epoch);
      pending.push(this.store.increment(`count:${target.name}:${epoch}:c`, own?.calls ?? 0, ttl));
      pending.push(this.store.increment(`count:${target.name}:${epoch}:f`, own?.failures ?? 0, ttl));
    }
    let totals: number[];
    try {
      totals = await Promise.all(pending);
    } catch {
      breaker.returnUnsynced(unsynced);
      return;
    }
    for (let i = 0; i < epochs.length; i++) breaker.setGlobalCounts(epochs[i]!, totals[2 * i]!, totals[2 * i + 1]!);
    breaker.evaluate(this.#clock.now());
  }

  /**
   * Adds this instance's rate-limit usage to the cluster's counters and spends the others'
   * new usage from the local buckets, so that a limit holds across instances (within one
   * sync interval, and one burst per instance that was idle).
   */
  async #syncUsage(target: SharedTargetHandle): Promise<void> {
    const own = target.takeUsage();
    const ttl = 3_600_000;
    let totals: [number, number];
    try {
      totals = await Promise.all([
        this.store.increment(`usage:${target.name}:requests`, own.requests, ttl),
        this.store.increment(`usage:${target.name}:tokens`, own.tokens, ttl),
      ]);
    } catch {
      return; // this instance's own usage was spent locally already; the others' stays unknown while down
    }
    const seen = this.#usageSeen.get(target.name);
    this.#usageSeen.set(target.name, { requests: totals[0], tokens: totals[1] });
    // The first sync, or counters that expired or were reset: start from here.
    if (!seen || totals[0] < seen.requests || totals[1] < seen.tokens) return;
    target.spendElsewhere(totals[0] - seen.requests - own.requests, totals[1] - seen.tokens - own.tokens);
  }

  #receive(raw: string): void {
    const message = parseJson<SharedMessage>(raw);
    if (!message || message.from === this.instance) return;
    const target = this.#targets.get(message.target);
    if (!target) return;
    const now = this.#clock.now();
    if (message.type === 'cooldown' && typeof message.until === 'number') {
      target.applyCooldown(this.#local(message.until));
    } else if (message.type === 'breaker' && message.state === 'closed') {
      target.breaker.applyShared('closed', now);
    } else if (message.type === 'breaker' && message.state === 'open' && typeof message.until === 'number') {
      target.breaker.applyShared('open', now, this.#local(message.until), message.cooldown);
    }
  }

  /** Adopts the open breakers and cooldowns held in the store, and publishes local openings it lacks. */
  async #resync(): Promise<void> {
    for (const target of this.#targets.values()) {
      try {
        const [breaker, cooldown] = await Promise.all([
          this.store.get(`breaker:${target.name}`),
          this.store.get(`cooldown:${target.name}`),
        ]);
        const now = this.#clock.now();
        if (breaker) {
          const record = JSON.parse(breaker) as SharedBreakerRecord;
          target.breaker.applyShared('open', now, this.#local(record.until), record.cooldown);
        } else if (target.breaker.state === 'open') {
          this.breakerChanged(target, 'open', 'forced', now);
        }
        if (cooldown) target.applyCooldown(this.#local(Number(cooldown)));
        else if (target.cooldownUntil > now) this.cooledDown(target, target.cooldownUntil, now);
      } catch {
        return; // unreachable again: the next return of the store resyncs
      }
    }
  }

  #availability(available: boolean, error?: unknown): void {
    if (this.#closed) return;
    if (available) void this.#resync(); // also on the first connection: the start's read may have come too early
    if (available === this.#reported) return;
    this.#reported = available;
    if (this.#events.wants('store')) this.#events.emit('store', { kind: this.store.kind, available, error });
    else if (!available && !this.#warned) {
      this.#warned = true;
      process.emitWarning(
        `breakwater: the ${this.store.kind} store is unreachable; carrying on with this process's own state`,
        'BreakwaterWarning',
      );
    }
  }

  /** Clock ms to wall-clock epoch ms. */
  #wall(at: number): number {
    return at + (this.#clock.date() - this.#clock.now());
  }

  /** Wall-clock epoch ms to clock ms. */
  #local(wall: number): number {
    return wall - (this.#clock.date() - this.#clock.now());
  }

  #quietly(pending: Promise<unknown>): void {
    pending.catch(() => {}); // the store reports its availability itself; local state already holds
  }
}
