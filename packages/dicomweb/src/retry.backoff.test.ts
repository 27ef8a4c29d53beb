import { describe, expect, it } from 'vitest';
import { DicomwebNotFoundError, DicomwebUnavailableError } from './dicomweb.errors.js';
import { retry } from './retry.backoff.js';

const transient = () => new DicomwebUnavailableError('store down', { retryable: true, status: 503 });

/** A function failing with `errors` in turn, then returning 'ok'. */
function failing(...errors: unknown[]) {
  const calls: number[] = [];
  const fn = async (attempt: number) => {
    calls.push(attempt);
    if (errors.length > 0) throw errors.shift();
    return 'ok';
  };
  return { fn, calls };
}

describe('retry', () => {
  it('retries retryable store errors with capped exponential backoff and jitter', async () => {
    const { fn, calls } = failing(transient(), transient(), transient(), transient(), transient());
    const delays: number[] = [];
    const result = await retry(fn, {
      attempts: 6,
      baseDelayMs: 2,
      maxDelayMs: 10,
      random: () => 0.99,
      onRetry: (_error, _attempt, delayMs) => delays.push(delayMs),
    });
    expect(result).toBe('ok');
    expect(calls).toEqual([1, 2, 3, 4, 5, 6]);
    // Bounds 2, 4, 8, 10 (capped), 10, scaled by the jitter factor.
    expect(delays).toEqual([1, 3, 7, 9, 9]);
  });

  it('draws each wait at random below the bound (full jitter)', async () => {
    const { fn } = failing(transient(), transient());
    const delays: number[] = [];
    const randoms = [0, 0.5];
    await retry(fn, {
      attempts: 3,
      baseDelayMs: 8,
      maxDelayMs: 100,
      random: () => randoms.shift() ?? 0,
      onRetry: (_e, _a, d) => delays.push(d),
    });
    expect(delays).toEqual([0, 8]);
  });

  it('gives up after the last attempt with the last error', async () => {
    const last = transient();
    const { fn, calls } = failing(transient(), transient(), last);
    await expect(retry(fn, { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 })).rejects.toBe(last);
    expect(calls).toEqual([1, 2, 3]);
  });

  it('does not retry errors that are not retryable', async () => {
    const notFound = new DicomwebNotFoundError('gone');
    const permanent = new DicomwebUnavailableError('501', { retryable: false, status: 501 });
    for (const error of [notFound, permanent, new Error('bug')]) {
      const { fn, calls } = failing(error);
      await expect(retry(fn, { attempts: 5, baseDelayMs: 1, maxDelayMs: 1 })).rejects.toBe(error);
      expect(calls).toEqual([1]);
    }
  });

  it('follows a custom isRetryable', async () => {
    const { fn, calls } = failing(new Error('flaky'));
    const result = await retry(fn, { attempts: 2, baseDelayMs: 1, maxDelayMs: 1, isRetryable: () => true });
    expect(result).toBe('ok');
    expect(calls).toEqual([1, 2]);
  });

  it('stops waiting when the signal aborts and rejects with its reason', async () => {
    const { fn, calls } = failing(transient(), transient());
    const controller = new AbortController();
    const reason = new Error('client gone');
    const pending = retry(fn, {
      attempts: 3,
      baseDelayMs: 60_000,
      maxDelayMs: 60_000,
      random: () => 0.5,
      signal: controller.signal,
      onRetry: () => setTimeout(() => controller.abort(reason), 5),
    });
    await expect(pending).rejects.toBe(reason);
    expect(calls).toEqual([1]);
    await expect(
      retry(fn, { attempts: 3, baseDelayMs: 1, maxDelayMs: 1, signal: controller.signal }),
    ).rejects.toBe(reason);
    expect(calls).toEqual([1]);
  });

  it('rejects nonsensical options', async () => {
    const { fn } = failing();
    await expect(retry(fn, { attempts: 0, baseDelayMs: 1, maxDelayMs: 1 })).rejects.toBeInstanceOf(
      RangeError,
    );
    await expect(retry(fn, { attempts: 1, baseDelayMs: -1, maxDelayMs: 1 })).rejects.toBeInstanceOf(
      RangeError,
    );
  });
});
