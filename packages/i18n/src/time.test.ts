import { describe, expect, it } from 'vitest';
import { translator } from './index.js';
import { dayInZone, endOfDayInZone, formatNumericInZone, wallTimeInZone, zoneLabel } from './time.js';

describe('time in the setup zone', () => {
  it('Asia/Tokyo: no DST, nine hours ahead', () => {
    const at = new Date('2026-03-12T05:05:42Z');
    expect(formatNumericInZone(at, 'Asia/Tokyo')).toBe('2026-03-12 14:05 GMT+9');
    expect(formatNumericInZone(at, 'Asia/Tokyo', true)).toBe('2026-03-12 14:05:42 GMT+9');
    expect(dayInZone(new Date('2026-03-08T20:00:00Z'), 'Asia/Tokyo')).toBe('2026-03-09');
    expect(endOfDayInZone('2026-03-08', 'Asia/Tokyo').toISOString()).toBe('2026-03-08T14:59:59.999Z');
    expect(translator('en').dateTime(at, 'Asia/Tokyo')).toBe('12 March 2026 at 14:05 GMT+9');
  });

  it('America/New_York across the March 2026 change (8 March, 02:00 → 03:00)', () => {
    // The same wall time the day before and the day of the change: five, then four hours behind UTC.
    expect(wallTimeInZone({ year: 2026, month: 3, day: 7, hour: 12 }, 'America/New_York').toISOString()).toBe(
      '2026-03-07T17:00:00.000Z',
    );
    expect(wallTimeInZone({ year: 2026, month: 3, day: 8, hour: 12 }, 'America/New_York').toISOString()).toBe(
      '2026-03-08T16:00:00.000Z',
    );
    // 02:30 does not exist that night: the time after the gap.
    expect(
      wallTimeInZone({ year: 2026, month: 3, day: 8, hour: 2, minute: 30 }, 'America/New_York').toISOString(),
    ).toBe('2026-03-08T07:30:00.000Z');
    // A link whose last day is the 7th ends at midnight EST, one whose last day is the 8th at midnight EDT.
    expect(endOfDayInZone('2026-03-07', 'America/New_York').toISOString()).toBe('2026-03-08T04:59:59.999Z');
    expect(endOfDayInZone('2026-03-08', 'America/New_York').toISOString()).toBe('2026-03-09T03:59:59.999Z');
    expect(zoneLabel(new Date('2026-03-08T06:59:00Z'), 'America/New_York', 'en-US')).toBe('EST');
    expect(zoneLabel(new Date('2026-03-08T07:01:00Z'), 'America/New_York', 'en-US')).toBe('EDT');
    expect(formatNumericInZone(new Date('2026-03-08T06:59:00Z'), 'America/New_York')).toBe(
      '2026-03-08 01:59 GMT-5',
    );
    expect(formatNumericInZone(new Date('2026-03-08T07:01:00Z'), 'America/New_York')).toBe(
      '2026-03-08 03:01 GMT-4',
    );
    // The November change: 01:30 happens twice; the first (EDT) is taken.
    expect(
      wallTimeInZone(
        { year: 2026, month: 11, day: 1, hour: 1, minute: 30 },
        'America/New_York',
      ).toISOString(),
    ).toBe('2026-11-01T05:30:00.000Z');
  });

  it('a patient reads the time in the zone, without seconds, labelled', () => {
    const at = new Date('2026-03-08T07:01:30Z');
    expect(translator('en').dateTime(at, 'America/New_York')).toBe('8 March 2026 at 03:01 GMT-4');
    expect(translator('fr').dateTime(at, 'America/New_York')).toMatch(/^8 mars 2026 (à )?03:01 UTC−4$/);
  });
});
