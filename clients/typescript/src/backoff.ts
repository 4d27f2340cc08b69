/** Reconnect backoff: exponential with a cap and optional full jitter, as a pure function for testing. */

/** Backoff settings (all in milliseconds except `factor`, `maxAttempts`). */
export interface BackoffOptions {
  /** Delay before the first retry. Default 500. */
  initialDelayMs?: number;
  /** Multiplier per attempt. Default 2. */
  factor?: number;
  /** Upper bound of one delay. Default 30 000. */
  maxDelayMs?: number;
  /** Retries after a connection is lost before the transport gives up. Default 5; 0 disables reconnecting. */
  maxAttempts?: number;
  /** Randomise each delay in [delay/2, delay] so many clients do not retry in step. Default true. */
  jitter?: boolean;
}

/** Defaults of {@link BackoffOptions}. */
export const DEFAULT_BACKOFF: Required<BackoffOptions> = {
  initialDelayMs: 500,
  factor: 2,
  maxDelayMs: 30_000,
  maxAttempts: 5,
  jitter: true,
};

/**
 * The delay before retry number `attempt` (0-based), or `null` when the budget is spent.
 * @param random a source in [0, 1) (injectable for tests)
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number | null {
  const o = { ...DEFAULT_BACKOFF, ...options };
  if (attempt < 0 || attempt >= o.maxAttempts) return null;
  const raw = Math.min(o.maxDelayMs, o.initialDelayMs * Math.pow(o.factor, attempt));
  if (!o.jitter) return Math.round(raw);
  return Math.round(raw / 2 + (random() * raw) / 2);
}
