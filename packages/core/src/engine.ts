import { systemClock, type Clock } from './clock.js';
import { parseDuration, type Duration } from './duration.js';
import type { Cancellation } from './cancel.js';
import { EngineEmitter, type EngineEvents } from './events.js';
import { HedgeBudget, HedgedCall, resolveHedge, type HedgeOptions, type HedgeSettings } from './hedge.js';
import { resolveEngineOptions, type EngineOptions, type PolicySettings } from './options.js';
import type { CallOutcome } from './outcome.js';
import { Run, type ChainPlan, type EngineCore } from './run.js';
import { DeadlineScheduler } from './scheduler.js';
import { SharedState } from './store/shared-targets.js';
import type { Store } from './store/store.js';
import { TargetRuntime, type TargetStatus } from './target.js';
import { optionError } from './validate.js';

/** Options for one call. */
export interface CallOptions {
  /** The targets to try, in order (names, or a chain from {@link Engine.chain}). Default: every target in declared order. */
  chain?: readonly string[] | Chain;
  /** Aborting it cancels the call at once: the running attempt and any backoff sleep stop. An `AbortSignal`, or a cheaper {@link CancelSource}. */
  signal?: Cancellation;
  /** The call's total deadline, overriding `defaults.timeouts.total`. */
  timeout?: Duration;
  /** Receives the call's outcome when it ends, success or not. */
  onOutcome?: (outcome: CallOutcome) => void;
  /** Hedge this call: a backup to the next target when the running one is slow. */
  hedge?: HedgeOptions;
  /** The call has side effects: it is never hedged. */
  sideEffects?: boolean;
}

/** A chain compiled once: reuse it for the cheapest calls. */
export class Chain implements ChainPlan {
  readonly names: readonly string[];
  /** @internal The share of this chain's calls that may be hedged. */
  readonly hedgeBudget = new HedgeBudget();
  /** @internal */
  readonly targets: readonly TargetRuntime<unknown, unknown, unknown>[];

  /** @internal */
  constructor(names: readonly string[], targets: readonly TargetRuntime<unknown, unknown, unknown>[]) {
    this.names = Object.freeze([...names]);
    this.targets = Object.freeze([...targets]);
  }
}

/**
 * The call engine: targets with their breakers, budgets and cooldowns, one deadline
 * scheduler, and events. Create one per process (or per app) and share it.
 *
 * @example
 * const engine = createEngine({
 *   targets: {
 *     'openai/gpt-4o-mini': { call: (input, { signal }) => openai.chat.completions.create({ ...input, model: 'gpt-4o-mini' }, { signal }) },
 *     'anthropic/haiku': { call: (input, { signal }) => callAnthropic(input, signal) },
 *   },
 * });
 * const answer = await engine.call({ messages });
 */
export class Engine<I = unknown, O = unknown, C = unknown> {
  /** The resolved defaults (the LLM preset with your overrides). */
  readonly defaults: PolicySettings;
  readonly #core: EngineCore;
  readonly #targets = new Map<string, TargetRuntime<unknown, unknown, unknown>>();
  readonly #events = new EngineEmitter();
  readonly #defaultChain: Chain;
  readonly #chains = new Map<string, Chain>();
  readonly #hedgeCache = new WeakMap<HedgeOptions, HedgeSettings>();
  readonly #shared: SharedState | undefined;
  #ids = 0;

  constructor(options: EngineOptions<I, O, C>) {
    const resolved = resolveEngineOptions<I, O, C>(options);
    this.defaults = resolved.defaults;
    const clock: Clock = resolved.clock ?? systemClock;
    this.#shared = resolved.store && new SharedState(resolved.store, clock, this.#events, resolved.syncInterval);
    for (const config of resolved.targets) {
      const runtime = new TargetRuntime(config, clock, this.#events, this.#shared);
      this.#targets.set(config.name, runtime as TargetRuntime<unknown, unknown, unknown>);
    }
    this.#shared?.start();
    const targets = this.#targets;
    this.#core = {
      clock,
      scheduler: new DeadlineScheduler(clock),
      random: resolved.random ?? Math.random,
      events: this.#events,
      target: (name) => targets.get(name)!,
      nextId: () => ++this.#ids,
    };
    this.#defaultChain = this.chain([...this.#targets.keys()]);
    for (const config of resolved.targets) {
      if (config.sdkRetries !== undefined && config.sdkRetries > 0) {
        const message =
          `target "${config.name}": the SDK client retries on its own (maxRetries: ${config.sdkRetries}); ` +
          'create it with maxRetries: 0 so that breakwater is the only retry loop';
        queueMicrotask(() => {
          this.#events.emit('warning', { target: config.name, code: 'sdk_retries', message });
          if (!this.#events.wants('warning')) process.emitWarning(message, 'BreakwaterWarning');
        });
      }
    }
  }

  /** The engine's clock. */
  get clock(): Clock {
    return this.#core.clock;
  }

  /** The store shared with other instances (the `store` option), if any. */
  get store(): Store | undefined {
    return this.#shared?.store;
  }

  /** Compiles a chain of target names once; pass it as `chain` for the cheapest calls. */
  chain(names: readonly string[]): Chain {
    const key = names.join('\u0000');
    const cached = this.#chains.get(key);
    if (cached) return cached;
    if (!Array.isArray(names) || names.length === 0)
      throw optionError('chain', 'a non-empty array of target names', names);
    const targets = names.map((name, i) => {
      const target = this.#targets.get(name);
      if (!target) {
        throw optionError(`chain[${i}]`, `one of the engine's targets (${[...this.#targets.keys()].join(', ')})`, name);
      }
      return target;
    });
    if (new Set(names).size !== names.length) throw optionError('chain', 'target names without repeats', names);
    const chain = new Chain(names, targets);
    this.#chains.set(key, chain);
    return chain;
  }

  /** Makes one call through the chain; resolves with the first success or rejects with a `CallFailedError`. */
  call(input: I, options?: CallOptions): Promise<O> {
    if (options?.hedge && !options.sideEffects) {
      const hedged = this.#hedged(input, false, options);
      if (hedged) return hedged.execute().then((run) => run.value as O);
    }
    const run = this.#run(input, false, options);
    return run.execute() as Promise<O>;
  }

  /**
   * Streams one call. Before the first content chunk reaches you, failures are retried or
   * handed to the next target unseen; after it, a failure throws a `MidStreamError` from
   * the iterator (never a silent end). Breaking out of the loop aborts the upstream request.
   * The call starts when iteration starts.
   */
  stream(input: I, options?: CallOptions): AsyncGenerator<C, void, undefined> {
    return this.#streamChunks(input, options);
  }

  /** Subscribes to engine events; returns the unsubscribe function. */
  on<K extends keyof EngineEvents>(event: K, listener: (payload: EngineEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** Health of one target, or of all targets. */
  status(): TargetStatus[];
  status(target: string): TargetStatus;
  status(target?: string): TargetStatus | TargetStatus[] {
    if (target === undefined) return [...this.#targets.values()].map((t) => t.status());
    const runtime = this.#targets.get(target);
    if (!runtime) throw optionError('target', `one of ${[...this.#targets.keys()].join(', ')}`, target);
    return runtime.status();
  }

  /** Opens a target's breaker by hand for `ms` (for example during a known provider incident). */
  isolate(target: string, ms: number): void {
    this.#runtime(target).breaker.forceOpen(this.#core.clock.now(), ms, 'forced');
  }

  /** Closes a target's breaker and forgets its history. */
  reset(target: string): void {
    this.#runtime(target).breaker.reset(this.#core.clock.now());
  }

  /**
   * Releases the engine's shared timer once no call is pending, and stops syncing with the
   * store (which stays open: close it yourself), for a clean shutdown. The engine stays usable
   * for calls: a later call arms the timer again.
   */
  close(): void {
    this.#core.scheduler.dispose();
    this.#shared?.close();
  }

  #runtime(name: string): TargetRuntime<unknown, unknown, unknown> {
    const runtime = this.#targets.get(name);
    if (!runtime) throw optionError('target', `one of ${[...this.#targets.keys()].join(', ')}`, name);
    return runtime;
  }

  #run(input: I, stream: boolean, options: CallOptions | undefined): Run {
    return new Run(
      this.#core,
      this.#plan(options),
      input,
      stream,
      this.#total(options),
      options?.signal,
      options?.onOutcome,
    );
  }

  /** A hedged call, or undefined when hedging cannot help (one target, or the primary is unavailable). */
  #hedged(input: I, stream: boolean, options: CallOptions): HedgedCall | undefined {
    const plan = this.#plan(options);
    if (plan.targets.length < 2 || !plan.targets[0]!.isAvailable(this.#core.clock.now())) return undefined;
    const settings = this.#hedgeSettings(options.hedge!);
    const total = this.#total(options);
    return new HedgedCall(
      this.#core,
      plan,
      input,
      stream,
      total,
      options.signal,
      options.onOutcome,
      settings,
      plan.hedgeBudget,
    );
  }

  #hedgeSettings(options: HedgeOptions): HedgeSettings {
    let settings = this.#hedgeCache.get(options);
    if (!settings) {
      settings = resolveHedge(options);
      this.#hedgeCache.set(options, settings);
    }
    return settings;
  }

  #plan(options: CallOptions | undefined): Chain {
    const chain = options?.chain;
    if (chain === undefined) return this.#defaultChain;
    return chain instanceof Chain ? chain : this.chain(chain);
  }

  #total(options: CallOptions | undefined): number {
    if (options?.timeout === undefined) return this.defaults.timeouts.total;
    const ms = parseDuration(options.timeout);
    if (ms === undefined || ms <= 0) throw optionError('timeout', 'a positive duration', options.timeout);
    return ms;
  }

  async *#streamChunks(input: I, options: CallOptions | undefined): AsyncGenerator<C, void, undefined> {
    let run: Run | undefined;
    let done = false;
    try {
      const hedged = options?.hedge && !options.sideEffects ? this.#hedged(input, true, options) : undefined;
      if (hedged) run = await hedged.execute();
      else {
        run = this.#run(input, true, options);
        await run.execute();
      }
      run.commit();
      for (const chunk of run.buffered) {
        run.delivered();
        yield chunk as C;
      }
      run.buffered = [];
      if (!run.ended) {
        for (;;) {
          const next = await run.pull();
          if (next.done) break;
          run.delivered();
          yield next.value as C;
        }
      }
      run.complete();
      done = true;
    } finally {
      if (!done) run?.abandon();
    }
  }
}

/** An engine of any input, output and chunk types (what the adapters accept). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEngine = Engine<any, any, any>;

/** Creates an {@link Engine}; options are validated now and a bad one throws a `TypeError`. */
export function createEngine<I = unknown, O = unknown, C = unknown>(options: EngineOptions<I, O, C>): Engine<I, O, C> {
  return new Engine(options);
}
