// Re-encrypts every stored token with the current TOKEN_ENCRYPTION_KEY, so that a previous key
// can be dropped from TOKEN_ENCRYPTION_KEYS_PREVIOUS. Run it with the token service's environment
// (both keys configured), while the service keeps running:
//
//   docker compose exec token-service node services/token-service/dist/rotate-keys.js
//
// Safe to run again or to interrupt: each row is rewritten on its own, and only rows still
// encrypted with another key are touched. Tokens themselves do not change; links keep working.
import { createLogger, isEntryPoint, type Logger } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import { loadConfig } from './config.js';
import { createDatabase } from './db/database.js';
import type { DB } from './db/tables.js';
import { hashToken, pinAad, TokenCipher } from './tokens/token.crypto.js';
import { listTokensForReencryption, updateCiphertext } from './tokens/token.repository.js';

export interface RotationResult {
  /** Rows looked at. */
  scanned: number;
  /** Rows rewritten with the current key. */
  reencrypted: number;
  /** Rows that could not be decrypted (their key is not configured): left as they were. */
  failed: number;
}

/**
 * Rewrites every token ciphertext that was made with a key other than the cipher's current one.
 * Failures are counted and logged by token id (never the token) and do not stop the run.
 * @example const { failed } = await reencryptTokens(db, new TokenCipher(newKey, [oldKey]), { log });
 */
export async function reencryptTokens(
  db: Kysely<DB>,
  cipher: TokenCipher,
  opts: { log?: Logger; batchSize?: number } = {},
): Promise<RotationResult> {
  const batchSize = opts.batchSize ?? 500;
  const result: RotationResult = { scanned: 0, reencrypted: 0, failed: 0 };
  let afterId = 0;
  for (;;) {
    const rows = await listTokensForReencryption(db, afterId, batchSize);
    if (rows.length === 0) break;
    for (const row of rows) {
      afterId = row.id;
      result.scanned += 1;
      // A PIN link's PIN is encrypted under the same keys (issue 12): it moves with its token.
      const pinStale = row.pin_ciphertext !== null && cipher.needsReencryption(row.pin_ciphertext);
      if (!cipher.needsReencryption(row.token_ciphertext) && !pinStale) continue;
      try {
        const token = cipher.decrypt(row.token_ciphertext, row.token_hash);
        // The hash is the lookup key: a ciphertext that does not match it must not be rewritten.
        if (!hashToken(token).equals(row.token_hash))
          throw new Error('decrypted token does not match its hash');
        const pin =
          row.pin_ciphertext === null
            ? null
            : cipher.encrypt(
                cipher.decrypt(row.pin_ciphertext, pinAad(row.token_hash)),
                pinAad(row.token_hash),
              );
        await updateCiphertext(db, row.id, cipher.encrypt(token, row.token_hash), pin);
        result.reencrypted += 1;
      } catch (err) {
        result.failed += 1;
        opts.log?.error({ tokenId: row.id, err: (err as Error).message }, 'token not re-encrypted');
      }
    }
  }
  return result;
}

if (isEntryPoint(import.meta.url)) {
  const log = createLogger({ service: 'rotate-keys', level: 'info' });
  try {
    const config = loadConfig(process.env);
    const database = createDatabase({ url: config.databaseUrl, statementTimeoutMs: 30_000 });
    try {
      const cipher = new TokenCipher(config.secrets.tokenKey, config.secrets.previousTokenKeys);
      const result = await reencryptTokens(database.db, cipher, { log });
      log.info(result, result.failed ? 'rotation incomplete' : 'tokens re-encrypted with the current key');
      process.exitCode = result.failed ? 1 : 0;
    } finally {
      await database.close();
    }
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'token re-encryption failed');
    process.exitCode = 1;
  }
  log.flush();
}
