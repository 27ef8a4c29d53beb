import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import Provider from 'oidc-provider';

/** An account of the test provider; its groups may change between sign-ins. */
export interface TestAccount {
  username: string;
  groups: string[];
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Accounts by login (the dev login form takes any password). */
  accounts: Map<string, TestAccount>;
  /** Every path the provider was asked for, in order (no query: it holds codes). */
  paths: string[];
  /**
   * Keeps the provider's next answer (its redirect to the redirect URI, with code and state) from
   * the browser, which gets a plain page instead; resolves with the answer's URL. A browser test
   * cannot stop that redirect itself: Playwright routes no request that a redirect made.
   */
  holdBackNextAnswer(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real OpenID Provider (oidc-provider, the certified Node implementation) on 127.0.0.1: one
 * confidential client with PKCE required, its dev login and consent pages, RP-initiated logout, and
 * a groups claim (in the profile scope, given at the userinfo endpoint as providers do by default).
 */
export async function startTestProvider(opts: {
  port: number;
  redirectUri: string;
  postLogoutRedirectUri: string;
  /** The ID token's lifetime in seconds (default 60). */
  idTokenTtl?: number;
}): Promise<TestProvider> {
  const issuer = `http://127.0.0.1:${opts.port}`;
  const clientId = 'studylink-staff';
  const clientSecret = randomBytes(24).toString('base64url');
  const accounts = new Map<string, TestAccount>();
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [opts.redirectUri],
        post_logout_redirect_uris: [opts.postLogoutRedirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    async findAccount(_ctx, id) {
      const account = accounts.get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, preferred_username: account.username, groups: [...account.groups] };
        },
      };
    },
    claims: { openid: ['sub'], profile: ['preferred_username', 'groups'] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    ttl: { IdToken: opts.idTokenTtl ?? 60 },
    cookies: { keys: [randomBytes(32).toString('hex')] },
  });
  const paths: string[] = [];
  const callback = provider.callback();
  let holdBack: ((url: string) => void) | null = null;
  const server: Server = createServer((req, res) => {
    paths.push(new URL(req.url ?? '/', issuer).pathname);
    const end = res.end.bind(res) as (...args: unknown[]) => typeof res;
    res.end = ((...args: unknown[]) => {
      const location = res.getHeader('location');
      if (holdBack && typeof location === 'string' && location.startsWith(opts.redirectUri)) {
        holdBack(location);
        holdBack = null;
        res.statusCode = 200;
        for (const h of ['location', 'content-length', 'content-type']) res.removeHeader(h);
        return end('held back by the test');
      }
      return end(...args);
    }) as typeof res.end;
    callback(req, res);
  });
  await new Promise<void>((resolve) => server.listen(opts.port, '127.0.0.1', resolve));
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    paths,
    holdBackNextAnswer: () =>
      new Promise<string>((resolve) => {
        holdBack = resolve;
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
