import diagnosticsChannel from 'node:diagnostics_channel';
import type { BreakerReason, BreakerState } from './breaker.js';
import type { CallOutcome } from './outcome.js';

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

/** The engine's events and their payloads. */
export interface EngineEvents {
  outcome: CallOutcome;
  breaker: BreakerEvent;
  probe: ProbeEvent;
  warning: WarningEvent;
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
} as const satisfies Record<keyof EngineEvents, string>;

type Listener<T> = (payload: T) => void;

/** A small typed emitter that also publishes to diagnostics channels. */
export class EngineEmitter {
  readonly #listeners: { [K in keyof EngineEvents]: Listener<EngineEvents[K]>[] } = {
    outcome: [],
    breaker: [],
    probe: [],
    warning: [],
  };
  readonly #channels = {
    outcome: diagnosticsChannel.channel(CHANNELS.outcome),
    breaker: diagnosticsChannel.channel(CHANNELS.breaker),
    probe: diagnosticsChannel.channel(CHANNELS.probe),
    warning: diagnosticsChannel.channel(CHANNELS.warning),
  };

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof EngineEvents>(event: K, listener: Listener<EngineEvents[K]>): () => void {
    const list = this.#listeners[event];
    list.push(listener);
    return () => {
      const index = list.indexOf(listener);
      if (index >= 0) list.splice(index, 1);
    };
  }

  /** True when an `event` payload would reach anyone; build payloads only then. */
  wants(event: keyof EngineEvents): boolean {
    return this.#listeners[event].length > 0 || this.#channels[event].hasSubscribers;
  }

  /** Delivers `payload` to listeners and subscribers. A listener that throws is reported as a process warning and does not stop the others. */
  emit<K extends keyof EngineEvents>(event: K, payload: EngineEvents[K]): void {
    const list = this.#listeners[event];
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(payload);
      } catch (error) {
        process.emitWarning(
          `a breakwater ${event} listener threw: ${error instanceof Error ? error.stack : String(error)}`,
          'BreakwaterListenerWarning',
        );
      }
    }
    const channel = this.#channels[event];
    if (channel.hasSubscribers) channel.publish(payload);
  }
}
