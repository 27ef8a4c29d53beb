import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, parseConfig } from './config.parser.js';
import { sharedEnvFields, storeAuthOf } from './env.fields.js';

const schema = z.object(sharedEnvFields);
const base = { DICOMWEB_URL: 'https://pacs.example.org/dicom-web', INTERNAL_SECRET: 'i'.repeat(40) };
const auth = (env: Record<string, string>) => storeAuthOf(parseConfig(schema, { ...base, ...env }));

describe('the store authorization from the environment', () => {
  it('is a header, OAuth client credentials, a Google key, or none', async () => {
    expect(auth({})).toBeNull();
    expect(auth({ DICOMWEB_AUTHORIZATION: 'Bearer abc' })).toEqual({ kind: 'header', value: 'Bearer abc' });
    expect(
      auth({
        DICOMWEB_OAUTH_TOKEN_URL: 'https://login.example.org/token',
        DICOMWEB_OAUTH_CLIENT_ID: 'studylink',
        DICOMWEB_OAUTH_CLIENT_SECRET: 's3cret',
        DICOMWEB_OAUTH_SCOPE: 'dicomweb',
      }),
    ).toEqual({
      kind: 'client-credentials',
      tokenUrl: 'https://login.example.org/token',
      clientId: 'studylink',
      clientSecret: 's3cret',
      scope: 'dicomweb',
    });
    const dir = await mkdtemp(join(tmpdir(), 'studylink-key-'));
    const file = join(dir, 'key.json');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(
      file,
      JSON.stringify({
        client_email: 'sa@p.iam.gserviceaccount.com',
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
        token_uri: 'https://oauth2.googleapis.com/token',
      }),
    );
    expect(auth({ DICOMWEB_GOOGLE_KEY_FILE: file })).toMatchObject({
      kind: 'google-service-account',
      key: { client_email: 'sa@p.iam.gserviceaccount.com' },
    });
    await writeFile(file, '{"client_email":"x"}');
    expect(() => auth({ DICOMWEB_GOOGLE_KEY_FILE: file })).toThrow(
      /DICOMWEB_GOOGLE_KEY_FILE: cannot use .*no private_key/,
    );
  });

  it('refuses two at once, and a client without its secret, naming the variables only', () => {
    expect(() => auth({ DICOMWEB_AUTHORIZATION: 'Bearer abc', DICOMWEB_OAUTH_CLIENT_ID: 'x' })).toThrow(
      ConfigError,
    );
    expect(() =>
      storeAuthOf(
        parseConfig(schema, {
          ...base,
          DICOMWEB_URL: 'https://u:p@pacs.example.org/dicom-web',
          DICOMWEB_AUTHORIZATION: 'B',
        }),
      ),
    ).toThrow(/user:password in DICOMWEB_URL and DICOMWEB_AUTHORIZATION/);
    const error = (() => {
      try {
        auth({
          DICOMWEB_OAUTH_TOKEN_URL: 'https://login.example.org/token',
          DICOMWEB_OAUTH_CLIENT_SECRET: 'hush-42',
        });
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(error).toMatch(/set all three or none/);
    expect(error).not.toContain('hush-42');
  });
});
