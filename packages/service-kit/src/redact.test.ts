import { describe, expect, it } from 'vitest';
import { redactTokens } from './redact.js';

const T = '4m5RHRCmSrWYcnmk8lCThvg0qy2KHA7K5ZldW7ZDNsEKsZ68NcJU4b83UtnYJfwx';
// An API key as the service makes them, and an admin key as an operator might choose one.
const K = 'slk_Qm9vdC1rZXktZm9yLXRlc3RzLW9ubHktbm90LXJlYWwtMDE';
const ADMIN = 'my-own-admin-key_of-at-least-32-chars';
const UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';

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
    [`/short/${T.slice(1, 31)}`, `/short/${T.slice(1, 31)}`],
    // Split by a slash or whitespace (issue 17).
    [`/token/dicomweb/${T.slice(0, 32)}/${T.slice(32)}`, '/token/dicomweb/[redacted]'],
    [`/token/dicomweb/${T.slice(0, 20)}/${T.slice(20, 40)}/${T.slice(40)}`, '/token/dicomweb/[redacted]'],
    [`curl ${T.slice(0, 32)} ${T.slice(32)}`, 'curl [redacted]'],
    [`/x/${T.slice(0, 16)}%2F${T.slice(16)}`, '/x/[redacted]'],
    // API keys: the slk_ prefix, and anything of the admin key's shape (32+ URL-safe characters).
    [`/api/v1/${K}`, '/api/v1/[redacted]'],
    [`/staff/${K}/x`, '/staff/[redacted]/x'],
    [`/token/${K.slice(0, 12)}`, '/token/[redacted]'],
    [`/api/v1/${ADMIN}`, '/api/v1/[redacted]'],
    // What must stay readable: UIDs, ordinary paths and user agents.
    [
      '/token/dicomweb/studies/1.2.826.0.1.3680043.8.498.1234567890123456789/series',
      '/token/dicomweb/studies/1.2.826.0.1.3680043.8.498.1234567890123456789/series',
    ],
    ['/staff/access-log', '/staff/access-log'],
    [
      '/api/v1/studies/2.25.329800735698586629295641978511506172918/token',
      '/api/v1/studies/2.25.329800735698586629295641978511506172918/token',
    ],
    [UA, UA],
  ])('%s', (input, expected) => {
    const out = redactTokens(input);
    expect(out).toBe(expected);
    expect(out).not.toMatch(/[A-Za-z0-9]{64}|slk_|(?=[0-9]*[A-Za-z_-])[A-Za-z0-9_-]{32}/);
  });
});
