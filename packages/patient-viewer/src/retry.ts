// Trying again what a flaky link lost (a phone in a tunnel, a lift, a cell change): a preview, a
// frame, the study's lists. Bounded (a store that cannot answer one object is not asked forever) and
// paused while the browser says it is offline (it resumes on `online`, without spending an attempt).

/** The waits before each further attempt: four more tries over 7.5 s, then the load has failed. */
export const RETRY_DELAYS_MS: readonly number[] = [500, 1_000, 2_000, 4_000];

/**
 * A failure that may pass if asked again: no answer at all (status 0: reset, cut, timed out) or a
 * server or proxy in trouble (5xx, 408). A 4xx is the answer (the store cannot render it, not in the
 * study) and is not asked again.
 * @example isTransientStatus(0) // true; isTransientStatus(406) // false
 */
export function isTransientStatus(status: number): boolean {
  return status === 0 || status === 408 || status >= 500;
}

/** Resolves at once when the browser is online (or cannot tell), else at its next `online` event. */
export function whenOnline(): Promise<void> {
  if (typeof navigator === 'undefined' || navigator.onLine !== false) return Promise.resolve();
  return new Promise((resolve) => addEventListener('online', () => resolve(), { once: true }));
}

export interface RetryOptions {
  /** Whether this failure may pass if asked again. */
  transient: (err: unknown) => boolean;
  /** True when nothing should be tried any more (the link is gone). */
  stopped?: () => boolean;
  delays?: readonly number[];
  sleep?: (ms: number) => Promise<void>;
  online?: () => Promise<void>;
}

/**
 * Runs `attempt` until it succeeds, a failure is not transient, or the delays are spent (the last
 * failure is thrown). Each attempt waits until the browser is online.
 * @example const blob = await withRetry(() => fetchPreview(), { transient: (e) => e instanceof TypeError });
 */
export async function withRetry<T>(attempt: () => Promise<T>, o: RetryOptions): Promise<T> {
  const delays = o.delays ?? RETRY_DELAYS_MS;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const online = o.online ?? whenOnline;
  for (let n = 0; ; n++) {
    await online();
    try {
      return await attempt();
    } catch (err) {
      const delay = delays[n];
      if (delay === undefined || !o.transient(err) || o.stopped?.()) throw err;
      await sleep(delay);
      if (o.stopped?.()) throw err;
    }
  }
}
