import { AppError, ServiceUnavailableError } from '@studylink/service-kit';

// The sign-in's failures through the identity provider. Each is a 4xx staff page whose text is the
// catalogue's `error.code.<code>`; the messages here are for the JSON body only and hold no request
// data (never a code, a token or the provider's free text).

/** The callback came without a sign-in started in this browser (no cookie), or too late. */
export class OidcLoginUnknownError extends AppError {
  constructor() {
    super(400, 'oidc_login_unknown', 'no sign-in was started in this browser, or it took too long');
  }
}

/** The callback's `state` is not the one this browser's sign-in sent: a forged or crossed answer. */
export class OidcStateMismatchError extends AppError {
  constructor() {
    super(
      400,
      'oidc_state_mismatch',
      'the answer from the identity provider does not belong to this sign-in',
    );
  }
}

/** The callback of a sign-in that was completed already: a replayed code. */
export class OidcReplayedError extends AppError {
  constructor() {
    super(400, 'oidc_replayed', 'this sign-in answer was used already');
  }
}

/** The provider answered with an error (the user cancelled, is not assigned to the application...). */
export class OidcProviderRefusedError extends AppError {
  constructor(readonly providerError: string) {
    super(400, 'oidc_provider_error', 'the identity provider did not sign you in');
  }
}

/** The token endpoint refused the code (used already, expired, not for this client). */
export class OidcCodeRefusedError extends AppError {
  constructor(readonly providerError: string) {
    super(400, 'oidc_code_refused', 'the identity provider refused the sign-in code');
  }
}

/** The ID token had expired (or is not valid yet) by this server's clock. */
export class OidcIdTokenExpiredError extends AppError {
  constructor() {
    super(400, 'oidc_id_token_expired', 'the identity provider sent an ID token that has expired');
  }
}

/** Anything else wrong with the provider's answer: nonce, issuer, audience, signature. */
export class OidcInvalidResponseError extends AppError {
  constructor(readonly reason: string) {
    super(400, 'oidc_invalid_response', 'the answer from the identity provider failed its checks');
  }
}

/** A user from the provider whose account an administrator disabled here. */
export class OidcUserDisabledError extends AppError {
  constructor() {
    super(403, 'oidc_user_disabled', 'this account is disabled');
  }
}

/** Local passwords are switched off (STAFF_LOCAL_SIGN_IN=false). */
export class LocalSignInOffError extends AppError {
  constructor() {
    super(403, 'local_sign_in_off', 'sign-in with a password is switched off; use single sign-on');
  }
}

/** The provider cannot be reached (discovery, token endpoint): 503 with Retry-After. */
export class OidcUnavailableError extends ServiceUnavailableError {
  constructor(readonly reason?: unknown) {
    super('the identity provider is not answering', 30, 'oidc_unavailable');
  }
}
