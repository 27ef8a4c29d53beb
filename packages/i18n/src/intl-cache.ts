/**
 * Intl formatters made once per locale and options, not per call: constructing an
 * Intl.DateTimeFormat costs tens of microseconds (ICU loads and resolves the pattern), and a
 * patient page formats a dozen dates (profile of the page-view bench: 18% of the token service's
 * time in `new Intl.DateTimeFormat`). Options come from code and the setup's time zone: few keys.
 * Bounded all the same; the oldest is dropped.
 */
const MAX = 500;
const dateTimes = new Map<string, Intl.DateTimeFormat>();
const numbers = new Map<string, Intl.NumberFormat>();

function cached<F>(cache: Map<string, F>, key: string, make: () => F): F {
  let f = cache.get(key);
  if (!f) {
    f = make();
    if (cache.size >= MAX) cache.delete(cache.keys().next().value as string);
    cache.set(key, f);
  }
  return f;
}

/** `new Intl.DateTimeFormat(locale, options)`, made once per locale and options. */
export function dateTimeFormat(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  return cached(
    dateTimes,
    `${locale}\u0000${JSON.stringify(options)}`,
    () => new Intl.DateTimeFormat(locale, options),
  );
}

/** `new Intl.NumberFormat(locale, options)`, made once per locale and options. */
export function numberFormat(locale: string, options: Intl.NumberFormatOptions = {}): Intl.NumberFormat {
  return cached(
    numbers,
    `${locale}\u0000${JSON.stringify(options)}`,
    () => new Intl.NumberFormat(locale, options),
  );
}
