import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './password.hasher.js';

const FAST = { log2N: 10, r: 8, p: 1 };

describe('password hashing (scrypt)', () => {
  it('stores parameters and a per-user salt with the hash', async () => {
    const stored = await hashPassword('correct horse battery staple');
    expect(stored).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{86}==$/);
    const again = await hashPassword('correct horse battery staple');
    expect(again).not.toBe(stored);
    expect(again.split('$')[4]).not.toBe(stored.split('$')[4]);
  });

  it('verifies the right password only', async () => {
    const stored = await hashPassword('correct horse battery staple', FAST);
    expect(await verifyPassword('correct horse battery staple', stored)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('reads the parameters from the stored hash, so older costs keep working', async () => {
    const cheap = await hashPassword('s3cret-password!', FAST);
    expect(cheap.startsWith('scrypt$10$8$1$')).toBe(true);
    expect(await verifyPassword('s3cret-password!', cheap)).toBe(true);
  });

  it('treats Unicode compositions alike (NFC)', async () => {
    const stored = await hashPassword('Caf\u00e9 au lait 2024', FAST);
    expect(await verifyPassword('Cafe\u0301 au lait 2024', stored)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['other scheme', 'bcrypt$2b$10$abc'],
    ['absurd cost', 'scrypt$30$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='],
    ['short hash', 'scrypt$10$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA'],
  ])('never matches a malformed hash (%s)', async (_name, stored) => {
    expect(await verifyPassword('anything at all', stored)).toBe(false);
  });
});
