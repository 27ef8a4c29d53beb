import { describe, expect, it } from 'vitest';
import { isSingleRange, parseRange } from './byte-range.js';

describe('parseRange', () => {
  it('reads one range of the three forms', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual({ kind: 'single', start: 0, end: 99 });
    expect(parseRange('bytes=100-', 1000)).toEqual({ kind: 'single', start: 100, end: 999 });
    expect(parseRange('bytes=-10', 1000)).toEqual({ kind: 'single', start: 990, end: 999 });
    expect(parseRange('bytes=-5000', 1000)).toEqual({ kind: 'single', start: 0, end: 999 });
    expect(parseRange('bytes=900-5000', 1000)).toEqual({ kind: 'single', start: 900, end: 999 });
  });
  it('answers several ranges, other units and nonsense with the whole file', () => {
    for (const h of [undefined, '', 'bytes=0-1,5-6', 'items=0-1', 'bytes=abc', 'bytes=5-1', 'bytes=-'])
      expect(parseRange(h, 1000)).toEqual({ kind: 'whole' });
  });
  it('finds a range past the end unsatisfiable', () => {
    expect(parseRange('bytes=1000-', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(isSingleRange('bytes=1000-')).toBe(true);
    expect(isSingleRange('bytes=0-1,3-4')).toBe(false);
  });
});
