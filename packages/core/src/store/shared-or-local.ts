import type { Store } from './store.js';

/**
 * The request path's view of state: the shared store while it answers, else this process's
 * own memory store, so that a store outage never fails a request. Operations must not throw
 * on purpose: a rejection means the store failed, and the operation runs again locally.
 */
export class SharedOrLocal {
  readonly shared: Store | undefined;
  readonly local: Store;

  constructor(shared: Store | undefined, local: Store) {
    this.shared = shared;
    this.local = local;
  }

  /** Both stores, shared first (for background work that must see both, such as queued jobs). */
  get all(): Store[] {
    return this.shared ? [this.shared, this.local] : [this.local];
  }

  /** Runs `op` on the shared store when it is up, falling back to the local one; tells which store answered. */
  async use<T>(op: (store: Store) => Promise<T>): Promise<{ value: T; store: Store }> {
    const shared = this.shared;
    if (shared?.available) {
      try {
        return { value: await op(shared), store: shared };
      } catch {
        // unreachable or too slow: this process's own state answers
      }
    }
    return { value: await op(this.local), store: this.local };
  }

  /** Reads `key` from the shared store when up, else the local one; undefined when neither answers. */
  async get(key: string): Promise<string | undefined> {
    return (await this.use((store) => store.get(key))).value;
  }

  /** Writes in the background to `store`; a failure is dropped (the store reports outages itself). */
  write(store: Store, key: string, value: string, ttl?: number): void {
    store.set(key, value, ttl === undefined ? undefined : { ttl }).catch(() => {});
  }
}
