import { wallTimeInZone } from '@studylink/i18n';

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** `20210121` → `21 January 2021`; anything else is returned trimmed, or '' when empty. */
export function formatDicomDate(da: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da.trim());
  if (!m) return da.trim();
  const month = MONTHS[Number(m[2]) - 1];
  if (!month || Number(m[3]) < 1 || Number(m[3]) > 31) return da.trim();
  return `${Number(m[3])} ${month} ${m[1]}`;
}

/** `143005.123` → `14:30`, `1430` → `14:30` (a study's seconds mean nothing to a reader); anything else trimmed. */
export function formatDicomTime(tm: string): string {
  const m = /^(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?(\.\d*)?$/.exec(tm.trim());
  if (!m) return tm.trim();
  return `${m[1]}:${m[2] ?? '00'}`;
}

/**
 * When a study was made: its DA and TM (wall-clock time where it was made, the setup's zone) as an
 * instant; null without a valid date and time.
 * @example studyMoment('20260308', '120000', 'America/New_York')?.toISOString() === '2026-03-08T16:00:00.000Z'
 */
export function studyMoment(da: string, tm: string, timeZone: string): Date | null {
  const d = dicomDateAsDate(da);
  const m = /^(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?(\.\d*)?$/.exec(tm.trim());
  if (!d || !m || Number(m[1]) > 23 || Number(m[2] ?? 0) > 59) return null;
  return wallTimeInZone(
    {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: Number(m[1]),
      minute: Number(m[2] ?? 0),
    },
    timeZone,
  );
}

/** A DICOM DA as a UTC midnight Date, for Intl formatting; null when it is not a valid date. */
export function dicomDateAsDate(da: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da.trim());
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCDate() === Number(m[3]) && d.getUTCMonth() === Number(m[2]) - 1 ? d : null;
}

const BYTE_UNITS = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const;

/**
 * Bytes for humans: `1536` → `1.5 KB` (decimal units, as file managers show them); with a
 * translator, in its language through Intl (`1,5 ko` in French).
 */
export function formatBytes(
  n: number,
  t?: { number(n: number, o?: Intl.NumberFormatOptions): string },
): string {
  if (t) {
    let v = n;
    let i = 0;
    while (v >= 1000 && i < BYTE_UNITS.length - 1) {
      v /= 1000;
      i += 1;
    }
    return t.number(v, {
      style: 'unit',
      unit: BYTE_UNITS[i],
      maximumFractionDigits: v >= 100 || i === 0 ? 0 : 1,
    });
  }
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return i === 0 ? `${v} bytes` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}
