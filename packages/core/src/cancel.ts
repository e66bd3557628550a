/** A listener object, as `EventTarget` takes them (the engine's runs are their own listeners). */
export interface AbortListener {
  handleEvent(event?: unknown): void;
}

/**
 * What the engine needs of a cancellation signal: the part of `AbortSignal` it uses. An
 * `AbortSignal` fits; so does the much cheaper {@link CancelSource}.
 */
export interface Cancellation {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: AbortListener): void;
  removeEventListener(type: 'abort', listener: AbortListener): void;
}

/**
 * A minimal cancellation source for hot paths. Creating an `AbortSignal` costs several
 * microseconds on Node 20, and its listeners go through `EventTarget`; this is a plain object
 * with an array of listeners. The adapters give one to every request.
 */
export class CancelSource implements Cancellation {
  aborted = false;
  reason: unknown = undefined;
  #listeners: AbortListener[] | undefined = undefined;

  addEventListener(_type: 'abort', listener: AbortListener): void {
    (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: AbortListener): void {
    const listeners = this.#listeners;
    if (!listeners) return;
    const index = listeners.indexOf(listener);
    if (index < 0) return;
    listeners[index] = listeners[listeners.length - 1]!;
    listeners.pop();
  }

  /** Aborts once: every listener's `handleEvent()` runs, then the list is dropped. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (!listeners) return;
    for (const listener of listeners) listener.handleEvent();
  }
}
