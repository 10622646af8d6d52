// GoTrue's per-IP limiters (supabase/auth internal/api/apilimiter/apilimiter.go: tollbooth
// over golang.org/x/time/rate): a token bucket refilled at `limit` per period, holding `burst`.

export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(limit: number, periodSeconds: number, burst: number) {
    this.#perMs = Math.max(limit, 0) / (periodSeconds * 1000);
    this.#burst = Math.max(burst, 0);
  }

  /** Takes one token for `key`; false when the bucket is empty (GoTrue then answers 429). */
  take(key: string, now = Date.now()): boolean {
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > 10_000) this.#forgetFullBuckets(now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** A bucket that has refilled is the same as no bucket: forget it, so memory stays bounded. */
  #forgetFullBuckets(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * this.#perMs >= this.#burst) this.#buckets.delete(key);
    }
  }
}
