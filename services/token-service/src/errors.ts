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

/** `verification: "birth-date"` for a study whose Patient's Birth Date is empty in the store. */
export class BirthDateMissingError extends AppError {
  constructor() {
    super(
      422,
      'birth_date_missing',
      "the study has no Patient's Birth Date, so the link cannot ask for one; use a PIN instead",
    );
  }
}

/** PUT for a study whose active link has other settings: revoke it (or replace it) first. */
export class TokenSettingsConflictError extends AppError {
  constructor(fields: string[]) {
    super(
      409,
      'token_settings_conflict',
      `the study's active link has a different ${fields.join(', ')}; revoke it (DELETE) and PUT again to make one with these settings`,
      { fields },
    );
  }
}

/** Too many wrong birth dates or PINs for this link: 429, the right answer refused too. */
export class LinkLockedError extends AppError {
  /** retryAfterSeconds null: locked until staff unlock it. */
  constructor(readonly retryAfterSeconds: number | null) {
    super(
      429,
      retryAfterSeconds === null ? 'link_locked_until_unlocked' : 'link_locked',
      'too many wrong answers for this link; try again later',
      undefined,
      { 'retry-after': String(retryAfterSeconds ?? 86_400) },
    );
  }
}

/** A link with a second factor, presented without its verification cookie. */
export class VerificationRequiredError extends AppError {
  constructor() {
    super(403, 'verification_required', 'this link must be confirmed with a birth date or PIN first');
  }
}

/** A link shared onward by the patient (a child link) cannot be shared further (issue 21). */
export class ShareNotAllowedError extends AppError {
  constructor() {
    super(403, 'share_not_allowed', 'a link shared with you cannot be shared further');
  }
}

/** A link that already has as many active shared links as it may (issue 21). */
export class TooManyChildLinksError extends AppError {
  constructor(max: number) {
    super(409, 'too_many_shared_links', `this link already has ${max} active shared links; revoke one first`);
  }
}

/** The zip of a view-only link, or of one past its maxDownloads. */
export class DownloadRefusedError extends AppError {
  constructor(readonly reason: 'view_only' | 'limit_reached') {
    super(
      410,
      reason === 'view_only' ? 'download_not_allowed' : 'download_limit_reached',
      reason === 'view_only'
        ? 'this link is for viewing only; the study cannot be downloaded with it'
        : 'this link has been used for as many downloads as it allows',
    );
  }
}

/** A PIN link whose PIN was encrypted with a key that is not configured: staff must replace it. */
export class PinUnreadableError extends ServiceUnavailableError {
  constructor() {
    super(
      'this link cannot be checked right now; the department can give you a new one',
      3600,
      'pin_unreadable',
    );
  }
}

/** Original DICOM files (whole instances, series, study) asked for with a view-only or spent link. */
export class OriginalFilesRefusedError extends AppError {
  constructor(readonly reason: 'view_only' | 'limit_reached') {
    super(
      403,
      reason === 'view_only' ? 'download_not_allowed' : 'download_limit_reached',
      'this link shows the images but does not hand out the original files',
    );
  }
}

/** A form posted from another site (or a sandboxed frame): refused before anything is counted. */
export class CrossOriginFormError extends AppError {
  constructor() {
    super(403, 'cross_origin_form', 'this form can only be sent from the page of the link');
  }
}
