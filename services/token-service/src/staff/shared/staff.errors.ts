import { AppError } from '@studylink/service-kit';

/** A POST whose CSRF token is missing or does not belong to the session. */
export class CsrfError extends AppError {
  constructor() {
    super(403, 'csrf_failed', 'the form has expired or did not come from this site; reload the page');
  }
}

/** A signed-in user without the role a page needs. */
export class StaffForbiddenError extends AppError {
  constructor(message = 'this page is for administrators only') {
    super(403, 'forbidden', message);
  }
}

export class UsernameTakenError extends AppError {
  constructor() {
    super(409, 'username_taken', 'a user with this name exists already');
  }
}

export class StaffUserNotFoundError extends AppError {
  constructor() {
    super(404, 'user_not_found', 'no such user');
  }
}

export class ApiKeyNotFoundError extends AppError {
  constructor() {
    super(404, 'api_key_not_found', 'no such API key');
  }
}

/** Disabling (or demoting) the last active admin would lock everyone out of the setup. */
export class LastAdminError extends AppError {
  constructor() {
    super(409, 'last_admin', 'at least one active administrator must remain');
  }
}

/** The user disabled their own account: refused, they would be signed out mid-action. */
export class SelfDisableError extends AppError {
  constructor() {
    super(409, 'self_disable', 'you cannot disable your own account');
  }
}

/** A user of the identity provider has no local password to set. */
export class SingleSignOnUserError extends AppError {
  constructor() {
    super(409, 'single_sign_on_user', 'this user signs in through the identity provider');
  }
}
