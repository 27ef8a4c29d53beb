import { describe, expect, it } from 'vitest';
import { redactTokens } from './redact.js';

const T = '4m5RHRCmSrWYcnmk8lCThvg0qy2KHA7K5ZldW7ZDNsEKsZ68NcJU4b83UtnYJfwx';

describe('redactTokens', () => {
  it.each([
    [`/token/${T}`, '/token/[redacted]'],
    [`/token/study.zip;${T}`, '/token/study.zip;[redacted]'],
    [`/token%3F${T}`, '/token?[redacted]'],
    [`/token/study.zip%3f${T}`, '/token/study.zip?[redacted]'],
    [`/x/${T}/${T}x`, '/x/[redacted]/[redacted]'],
    // A token whose letters are percent-encoded is still found once decoded.
    [`/token/%${T.charCodeAt(0).toString(16)}${T.slice(1)}`, '/token/[redacted]'],
    // A lone % does not stop the search.
    [`/token/%/${T}`, '/token/%/[redacted]'],
    ['/token', '/token'],
    ['/api/v1/studies/1.2.840.10008/token', '/api/v1/studies/1.2.840.10008/token'],
    [`/short/${T.slice(1)}`, `/short/${T.slice(1)}`],
  ])('%s', (input, expected) => {
    const out = redactTokens(input);
    expect(out).toBe(expected);
    expect(out).not.toMatch(/[A-Za-z0-9]{64}/);
  });
});
