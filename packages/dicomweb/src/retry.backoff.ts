import { DicomwebUnavailableError } from './dicomweb.errors.js';

export interface RetryOptions {
  /** Total tries including the first (>= 1). */
  attempts: number;
  /** Upper bound of the wait before the second try; it doubles per try. */
  baseDelayMs: number;
  /** Cap on any single wait. */
  maxDelayMs: number;
  /** Stops waiting and trying; retry then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Which errors deserve another try (default: DicomwebUnavailableError with retryable: true). */
  isRetryable?: (error: unknown) => boolean;
  /** Called before each wait, e.g. to log the failed try. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Source of jitter in [0, 1) (default Math.random); fixed in tests. */
  random?: () => number;
}

/**
 * True for errors a retry can help with: a DicomwebUnavailableError marked retryable.
 * @example retry(fn, { attempts: 3, baseDelayMs: 200, maxDelayMs: 2000, isRetryable: isRetryableDicomwebError })
 */
export function isRetryableDicomwebError(error: unknown): boolean {
  return error instanceof DicomwebUnavailableError && error.retryable;
}

/**
 * Retries `fn` with capped exponential backoff and full jitter; use only before the first byte reached the client.
 * @example const studies = await retry(() => store.searchStudies({ PatientID }), { attempts: 3, baseDelayMs: 200, maxDelayMs: 2000 });
 */
// After the first byte has gone out, a retry would splice two responses into one download.
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { attempts, baseDelayMs, maxDelayMs, signal } = options;
  const isRetryable = options.isRetryable ?? isRetryableDicomwebError;
  const random = options.random ?? Math.random;
  if (!Number.isSafeInteger(attempts) || attempts < 1)
    throw new RangeError('retry: attempts must be an integer >= 1');
  if (!(baseDelayMs >= 0) || !(maxDelayMs >= 0)) throw new RangeError('retry: delays must be >= 0');
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= attempts || signal?.aborted || !isRetryable(error)) throw error;
      // Full jitter (a random wait up to the exponential bound) spreads out clients that failed
      // together, so a store coming back is not hit by all of them at the same instant.
      const bound = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      const delayMs = Math.floor(random() * bound);
      options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
