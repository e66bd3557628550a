import diagnosticsChannel from 'node:diagnostics_channel';
import type { BreakerReason, BreakerState } from './breaker.js';
import type { CallOutcome } from './outcome.js';
import type { RequestOutcome } from './request/request-outcome.js';

/** A breaker changed state. */
export interface BreakerEvent {
  target: string;
  from: BreakerState;
  to: BreakerState;
  reason: BreakerReason;
  /** Engine clock ms. */
  at: number;
  /** When the breaker may next be tried (open only). */
  openUntil?: number;
}

/** A synthetic probe finished. */
export interface ProbeEvent {
  target: string;
  ok: boolean;
  latencyMs: number;
  error?: unknown;
}

/** A configuration problem worth a look (for example, SDK retries left on). */
export interface WarningEvent {
  target?: string;
  code: 'sdk_retries';
  message: string;
}

/** The shared store went away (the engine carries on with local state) or came back (it resynchronises). */
export interface StoreEvent {
  /** The store's kind (`redis`, `memory`). */
  kind: string;
  available: boolean;
  /** Why it went away, when known. */
  error?: unknown;
}

/** The engine's events and their payloads. */
export interface EngineEvents {
  outcome: CallOutcome;
  breaker: BreakerEvent;
  probe: ProbeEvent;
  warning: WarningEvent;
  store: StoreEvent;
}

/** The adapters' events (one per HTTP request). */
export interface GuardEvents {
  request: RequestOutcome;
}

/**
 * `node:diagnostics_channel` names. Messages are published only while someone subscribes,
 * so they cost nothing otherwise.
 */
export const CHANNELS = {
  outcome: 'breakwater:outcome',
  breaker: 'breakwater:breaker',
  probe: 'breakwater:probe',
  warning: 'breakwater:warning',
  store: 'breakwater:store',
  request: 'breakwater:request',
} as const;

type Listener<T> = (payload: T) => void;

/**
 * A small typed emitter that also publishes to diagnostics channels. Payloads should be
 * built only when {@link TypedEmitter.wants} says someone listens.
 */
export class TypedEmitter<E extends object> {
  readonly #listeners = new Map<keyof E, Listener<never>[]>();
  readonly #channels = new Map<keyof E, diagnosticsChannel.Channel>();

  constructor(channels: { [K in keyof E]: string }) {
    for (const event of Object.keys(channels) as (keyof E)[]) {
      this.#listeners.set(event, []);
      this.#channels.set(event, diagnosticsChannel.channel(channels[event]));
    }
  }

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const list = this.#listeners.get(event) as Listener<E[K]>[];
    list.push(listener);
    return () => {
      const index = list.indexOf(listener);
      if (index >= 0) list.splice(index, 1);
    };
  }

  /** True when an `event` payload would reach anyone; build payloads only then. */
  wants(event: keyof E): boolean {
    return this.#listeners.get(event)!.length > 0 || this.#channels.get(event)!.hasSubscribers;
  }

  /** Delivers `payload` to listeners and subscribers. A listener that throws is reported as a process warning and does not stop the others. */
  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const list = this.#listeners.get(event) as Listener<E[K]>[];
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(payload);
      } catch (error) {
        process.emitWarning(
          `a breakwater ${String(event)} listener threw: ${error instanceof Error ? error.stack : String(error)}`,
          'BreakwaterListenerWarning',
        );
      }
    }
    const channel = this.#channels.get(event)!;
    if (channel.hasSubscribers) channel.publish(payload);
  }
}

/** The engine's emitter. */
export class EngineEmitter extends TypedEmitter<EngineEvents> {
  constructor() {
    super({
      outcome: CHANNELS.outcome,
      breaker: CHANNELS.breaker,
      probe: CHANNELS.probe,
      warning: CHANNELS.warning,
      store: CHANNELS.store,
    });
  }
}
