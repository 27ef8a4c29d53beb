import { dateTimeFormat } from './intl-cache.js';

/**
 * Time in the setup's zone (issue 20): what patients and staff read is written in one IANA zone,
 * labelled, and a calendar day typed by staff ends at midnight in that zone, not in UTC.
 */

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const partFormats = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock fields of instant `d` in `timeZone`. */
export function partsInZone(d: Date, timeZone: string): Parts {
  let f = partFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    partFormats.set(timeZone, f);
  }
  const p: Record<string, number> = {};
  for (const { type, value } of f.formatToParts(d)) if (type !== 'literal') p[type] = Number(value);
  return {
    year: p.year ?? 0,
    month: p.month ?? 1,
    day: p.day ?? 1,
    hour: (p.hour ?? 0) % 24,
    minute: p.minute ?? 0,
    second: p.second ?? 0,
  };
}

/** How far `timeZone` is ahead of UTC at instant `d`, in milliseconds. */
function offsetMs(d: Date, timeZone: string): number {
  const p = partsInZone(d, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (d.getTime() - d.getUTCMilliseconds());
}

/**
 * The instant a wall-clock time in `timeZone` names (in a DST gap, the time after it; in the
 * repeated hour, the first of the two).
 * @example wallTimeInZone({ year: 2026, month: 3, day: 8, hour: 12, minute: 0 }, 'America/New_York').toISOString() === '2026-03-08T16:00:00.000Z'
 */
export function wallTimeInZone(
  w: {
    year: number;
    month: number;
    day: number;
    hour?: number;
    minute?: number;
    second?: number;
    ms?: number;
  },
  timeZone: string,
): Date {
  const naive = Date.UTC(w.year, w.month - 1, w.day, w.hour ?? 0, w.minute ?? 0, w.second ?? 0, w.ms ?? 0);
  const first = naive - offsetMs(new Date(naive), timeZone);
  const second = naive - offsetMs(new Date(first), timeZone);
  // Those that read back as the wall time asked for; none in a DST gap (then the later one).
  const exact = [first, second].filter((c) => {
    const p = partsInZone(new Date(c), timeZone);
    const back =
      Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) + new Date(c).getUTCMilliseconds();
    return back === naive;
  });
  return new Date(exact.length > 0 ? Math.min(...exact) : Math.max(first, second));
}

/**
 * The last millisecond of calendar day `YYYY-MM-DD` in `timeZone`: when a link whose last day it
 * is stops working.
 * @example endOfDayInZone('2026-03-08', 'Asia/Tokyo').toISOString() === '2026-03-08T14:59:59.999Z'
 */
export function endOfDayInZone(isoDay: string, timeZone: string): Date {
  const [y = 0, m = 1, d = 1] = isoDay.split('-').map(Number);
  const next = new Date(Date.UTC(y, m - 1, d + 1));
  return new Date(
    wallTimeInZone(
      { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() },
      timeZone,
    ).getTime() - 1,
  );
}

/**
 * The calendar day (`YYYY-MM-DD`) instant `d` falls on in `timeZone`.
 * @example dayInZone(new Date('2026-03-08T20:00:00Z'), 'Asia/Tokyo') === '2026-03-09'
 */
export function dayInZone(d: Date, timeZone: string): string {
  const p = partsInZone(d, timeZone);
  return `${String(p.year).padStart(4, '0')}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

/**
 * The zone's short label at instant `d` in `locale` (`JST`, `EST`/`EDT`, or `GMT+9` where the
 * language has no abbreviation).
 * @example zoneLabel(new Date('2026-07-01T00:00:00Z'), 'America/New_York', 'en-US') === 'EDT'
 */
export function zoneLabel(d: Date, timeZone: string, locale = 'en-GB'): string {
  const part = dateTimeFormat(locale, { timeZone, timeZoneName: 'short' })
    .formatToParts(d)
    .find((p) => p.type === 'timeZoneName');
  return part?.value ?? timeZone;
}

/**
 * `2026-03-12 14:05 GMT+9`: numeric date and time in `timeZone`, labelled; seconds when asked for
 * (the access log).
 * @example formatNumericInZone(new Date('2026-03-12T05:05:00Z'), 'Asia/Tokyo') === '2026-03-12 14:05 GMT+9'
 */
export function formatNumericInZone(d: Date, timeZone: string, withSeconds = false): string {
  const p = partsInZone(d, timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  const time = `${two(p.hour)}:${two(p.minute)}${withSeconds ? `:${two(p.second)}` : ''}`;
  return `${dayInZone(d, timeZone)} ${time} ${zoneLabel(d, timeZone)}`;
}
