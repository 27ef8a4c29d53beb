import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from './db/database.js';
import { reencryptTokens } from './rotate-keys.js';
import { generateToken, hashToken, pinAad, TokenCipher } from './tokens/token.crypto.js';
import { insertToken } from './tokens/token.repository.js';

let testDb: TestDatabase;
let database: Database;
beforeAll(async () => {
  testDb = await createTestDatabase();
  database = createDatabase({ url: testDb.url });
});
afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

const oldKey = randomBytes(32);
const newKey = randomBytes(32);

async function storeTokens(cipher: TokenCipher, n: number, uidPrefix: string): Promise<Map<number, string>> {
  const made = new Map<number, string>();
  for (let i = 0; i < n; i += 1) {
    const token = generateToken();
    const hash = hashToken(token);
    const row = await insertToken(database.db, {
      study_instance_uid: `${uidPrefix}.${i}`,
      token_hash: hash,
      token_ciphertext: cipher.encrypt(token, hash),
      expires_at: null,
      created_by: 'test',
    });
    if (!row) throw new Error('insert failed');
    made.set(row.id, token);
  }
  return made;
}

async function ciphertexts(): Promise<Map<number, { blob: Buffer; hash: Buffer }>> {
  const rows = await database.db
    .selectFrom('tokens')
    .select(['id', 'token_ciphertext', 'token_hash'])
    .execute();
  return new Map(rows.map((r) => [r.id, { blob: r.token_ciphertext, hash: r.token_hash }]));
}

describe('reencryptTokens', () => {
  it('rewrites every token made with the previous key so the new key alone decrypts them', async () => {
    const tokens = await storeTokens(new TokenCipher(oldKey), 7, '1.2.826.0.1.3680043.9.7001');
    const rotating = new TokenCipher(newKey, [oldKey]);

    // Small batches: the run must page through all rows.
    const first = await reencryptTokens(database.db, rotating, { batchSize: 3 });
    expect(first).toEqual({ scanned: 7, reencrypted: 7, failed: 0 });

    const newOnly = new TokenCipher(newKey);
    for (const [id, { blob, hash }] of await ciphertexts()) {
      expect(newOnly.needsReencryption(blob)).toBe(false);
      expect(newOnly.decrypt(blob, hash)).toBe(tokens.get(id));
    }

    // Idempotent: a second run finds nothing to do.
    expect(await reencryptTokens(database.db, rotating, { batchSize: 3 })).toEqual({
      scanned: 7,
      reencrypted: 0,
      failed: 0,
    });
  });

  it('leaves rows whose key is not configured untouched and counts them as failed', async () => {
    const unknownKey = randomBytes(32);
    const orphans = await storeTokens(new TokenCipher(unknownKey), 1, '1.2.826.0.1.3680043.9.7002');
    const orphanId = [...orphans.keys()][0] as number;
    const before = (await ciphertexts()).get(orphanId)?.blob;
    const errors: unknown[] = [];
    const log = { error: (o: unknown) => errors.push(o) } as never;

    const result = await reencryptTokens(database.db, new TokenCipher(newKey, [oldKey]), { log });
    expect(result).toEqual({ scanned: 8, reencrypted: 0, failed: 1 });
    expect((await ciphertexts()).get(orphanId)?.blob.equals(before as Buffer)).toBe(true);
    // Logged by token id, never the token.
    expect(errors).toEqual([
      { tokenId: orphanId, err: 'token was encrypted with a key that is not configured' },
    ]);
  });

  it("moves a PIN link's PIN to the new key with its token", async () => {
    const old = new TokenCipher(oldKey);
    const token = generateToken();
    const hash = hashToken(token);
    const row = await insertToken(database.db, {
      study_instance_uid: '1.2.826.0.1.3680043.9.7003',
      token_hash: hash,
      token_ciphertext: old.encrypt(token, hash),
      expires_at: null,
      created_by: 'test',
      verification: 'pin',
      pin_ciphertext: old.encrypt('482913', pinAad(hash)),
    });
    // Runs last: the rows of the tests above are already rotated (or cannot be).
    const result = await reencryptTokens(database.db, new TokenCipher(newKey, [oldKey]));
    expect(result.reencrypted).toBe(1);
    const after = await database.db
      .selectFrom('tokens')
      .select(['pin_ciphertext'])
      .where('id', '=', row?.id as number)
      .executeTakeFirstOrThrow();
    expect(new TokenCipher(newKey).decrypt(after.pin_ciphertext as Buffer, pinAad(hash))).toBe('482913');
  });
});
