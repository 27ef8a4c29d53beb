import * as oidc from 'openid-client';
import {
  OidcCodeRefusedError,
  OidcIdTokenExpiredError,
  OidcInvalidResponseError,
  OidcProviderRefusedError,
  OidcUnavailableError,
} from './oidc.errors.js';

/** The provider as configured (STAFF_OIDC_*); the client secret is apart, in the config's secrets. */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  /** A value of the group claim that makes an administrator; others are staff. Null: nobody. */
  adminGroup: string | null;
  /** The claim holding the groups (`groups`; a dotted path reaches into objects: `realm_access.roles`). */
  groupsClaim: string;
  /** The registered redirect URI; null: the setup's public address + /staff/sign-in/oidc/callback. */
  redirectUri: string | null;
  scopes: string;
}

/** Who the provider says signed in. */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  /** preferred_username, else email, else the subject. */
  name: string;
  groups: string[];
}

/** What the client needs from the provider's side for one sign-in. */
export interface OidcChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** Each request to the provider (discovery, token, userinfo, keys) gives up after this long. */
const TIMEOUT_SECONDS = 10;
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** http is allowed for a provider on this machine only (the tests' provider); anything else is https. */
export function issuerAllowsHttp(issuer: string): boolean {
  const url = new URL(issuer);
  return url.protocol === 'http:' && LOOPBACK.has(url.hostname);
}

function claimAt(claims: Record<string, unknown>, path: string): unknown {
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A group claim as a list: an array of strings, or one string. */
function groupsOf(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return undefined;
}

function nameOf(claims: Record<string, unknown>, subject: string): string {
  for (const k of ['preferred_username', 'email']) {
    const v = claims[k];
    if (typeof v === 'string' && v.trim()) return v.trim();
  }
  return subject;
}

/**
 * openid-client for one provider: discovery from the issuer (once, retried after a failure),
 * the authorization URL (code flow, PKCE S256, state, nonce), the code exchange with the ID token's
 * checks, and the end-session URL. Errors become the staff errors of oidc.errors.ts; nothing here
 * logs or returns a code, a token or the secret.
 */
export class OidcClient {
  private discovered: Promise<oidc.Configuration> | null = null;
  private jwks: oidc.ExportedJWKSCache | undefined;

  constructor(
    readonly settings: OidcSettings,
    private readonly clientSecret: string,
    /** The clock the ID token's times are checked against (tests move it). */
    private readonly now: () => number = Date.now,
  ) {}

  private discover(): Promise<oidc.Configuration> {
    this.discovered ??= oidc
      .discovery(new URL(this.settings.issuer), this.settings.clientId, this.clientSecret, undefined, {
        ...(issuerAllowsHttp(this.settings.issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
        timeout: TIMEOUT_SECONDS,
      })
      .catch((err: unknown) => {
        this.discovered = null;
        throw new OidcUnavailableError(err);
      });
    return this.discovered;
  }

  /**
   * A Configuration whose clock is `now()`: openid-client reads the time as Date.now() plus the
   * client's clockSkew, fixed when a Configuration is made, so one is made per exchange (the
   * discovered metadata and the provider's keys are shared).
   */
  private async clocked(): Promise<oidc.Configuration> {
    const discovered = await this.discover();
    const config = new oidc.Configuration(discovered.serverMetadata(), this.settings.clientId, {
      client_secret: this.clientSecret,
      [oidc.clockSkew]: Math.round((this.now() - Date.now()) / 1000),
    });
    config.timeout = TIMEOUT_SECONDS;
    if (issuerAllowsHttp(this.settings.issuer)) oidc.allowInsecureRequests(config);
    if (this.jwks) oidc.setJwksCache(config, this.jwks);
    return config;
  }

  async authorizationUrl(redirectUri: string, checks: OidcChecks): Promise<string> {
    const config = await this.discover();
    return oidc
      .buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: this.settings.scopes,
        response_type: 'code',
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
        code_challenge_method: 'S256',
      })
      .toString();
  }

  /** The callback's answer exchanged for an ID token, checked (state, nonce, PKCE, iss, aud, exp). */
  async exchange(redirectUri: string, query: URLSearchParams, checks: OidcChecks): Promise<OidcIdentity> {
    const config = await this.clocked();
    const current = new URL(redirectUri);
    for (const [k, v] of query) current.searchParams.append(k, v);
    try {
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.codeVerifier,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) throw new OidcInvalidResponseError('no ID token');
      const subject = claims.sub;
      let all: Record<string, unknown> = claims;
      // Providers that keep claims out of the ID token (oidc-provider by default, Keycloak without
      // "add to ID token") give them at the userinfo endpoint: asked when a group claim or a name is
      // missing; the ID token's own claims win.
      const missing =
        claimAt(claims, this.settings.groupsClaim) === undefined || nameOf(claims, subject) === subject;
      if (missing && config.serverMetadata().userinfo_endpoint) {
        const info = await oidc.fetchUserInfo(config, tokens.access_token, subject);
        all = { ...info, ...claims };
      }
      const groups = groupsOf(claimAt(all, this.settings.groupsClaim));
      return { issuer: claims.iss, subject, name: nameOf(all, subject), groups: groups ?? [] };
    } catch (err) {
      throw mapExchangeError(err);
    } finally {
      this.jwks = oidc.getJwksCache(config) ?? this.jwks;
    }
  }

  /** The provider's end-session URL (RP-initiated logout), or null when it offers none. */
  async endSessionUrl(postLogoutRedirectUri: string): Promise<string | null> {
    let config: oidc.Configuration;
    try {
      config = await this.discover();
    } catch {
      return null; // our session is over either way; the provider's cannot be reached
    }
    if (!config.serverMetadata().end_session_endpoint) return null;
    return oidc.buildEndSessionUrl(config, { post_logout_redirect_uri: postLogoutRedirectUri }).toString();
  }
}

/** openid-client's errors as the staff errors (each a 4xx page, or 503 when the provider is down). */
function mapExchangeError(err: unknown): Error {
  if (
    err instanceof OidcInvalidResponseError ||
    err instanceof OidcUnavailableError ||
    err instanceof OidcProviderRefusedError
  )
    return err;
  if (err instanceof oidc.AuthorizationResponseError) return new OidcProviderRefusedError(err.error);
  // The token endpoint said no: the code was used already, has expired, or was not for us.
  if (err instanceof oidc.ResponseBodyError) return new OidcCodeRefusedError(err.error);
  if (err instanceof oidc.ClientError) {
    if (err.code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED') return new OidcIdTokenExpiredError();
    if (err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || err.code === 'OAUTH_RESPONSE_IS_NOT_JSON')
      return new OidcUnavailableError(err);
    return new OidcInvalidResponseError(err.code ?? 'client_error');
  }
  // fetch failed, a timeout: the provider is not answering.
  return new OidcUnavailableError(err);
}
