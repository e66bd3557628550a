/**
 * A per-target retry budget (a token bucket, as gRPC and Finagle do): every first attempt
 * adds `ratio` tokens up to `maxTokens`, every retry spends one. When the bucket is empty
 * retries stop, so a 429 storm costs at most about `ratio` extra upstream calls per call.
 * The bucket starts full so that rare errors at low traffic are always retried.
 */
export class RetryBudget {
  readonly ratio: number;
  readonly maxTokens: number;
  #tokens: number;

  constructor(ratio: number, maxTokens: number) {
    this.ratio = ratio;
    this.maxTokens = maxTokens;
    this.#tokens = maxTokens;
  }

  /** Tokens left. */
  get tokens(): number {
    return this.#tokens;
  }

  /** Records a first attempt. */
  deposit(): void {
    const next = this.#tokens + this.ratio;
    this.#tokens = next > this.maxTokens ? this.maxTokens : next;
  }

  /** Takes a token for a retry; false when the budget is spent. */
  tryWithdraw(): boolean {
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
