import { AppError, ServiceUnavailableError } from '@studylink/service-kit';

/** Unknown, malformed, revoked and expired tokens alike: nothing about the study leaks. */
export class TokenNotFoundError extends AppError {
  constructor() {
    super(404, 'token_not_found', 'not found or no longer available');
  }
}

export class StudyTokenNotFoundError extends AppError {
  constructor() {
    super(404, 'token_not_found', 'the study has no active token');
  }
}

export class TokenNotDisplayableError extends AppError {
  constructor() {
    super(
      409,
      'token_not_displayable',
      'the active token was encrypted with a key that is not configured; revoke it and issue a new one, or add the old key to TOKEN_ENCRYPTION_KEYS_PREVIOUS',
    );
  }
}

export class StudyNotFoundError extends AppError {
  constructor() {
    super(404, 'study_not_found', 'the store has no study with this StudyInstanceUID');
  }
}

export class StoreUnavailableError extends ServiceUnavailableError {
  constructor() {
    super('the DICOMweb store is not answering; try again shortly', 10, 'store_unavailable');
  }
}

export class DatabaseUnavailableError extends ServiceUnavailableError {
  constructor() {
    super('the database is not answering; try again shortly', 5, 'database_unavailable');
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'a valid API key is required') {
    super(401, 'unauthorized', message, undefined, { 'www-authenticate': 'Bearer' });
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'this key may not do that') {
    super(403, 'forbidden', message);
  }
}
