import { baseUrl } from '../../server-config/server-config.schema.js';
import type { StaffRouteDeps } from '../shared/staff.context.js';

/** Where the provider sends the browser back with the code. */
export const OIDC_CALLBACK_PATH = '/staff/sign-in/oidc/callback';
/** Where the provider sends the browser back after its own sign-out. */
export const POST_LOGOUT_PATH = '/staff/sign-in';

/** The redirect URI registered at the provider: STAFF_OIDC_REDIRECT_URI, else the public address's. */
export async function oidcRedirectUri(deps: StaffRouteDeps): Promise<string> {
  const configured = deps.signInMethods.oidc?.settings.redirectUri;
  if (configured) return configured;
  return `${baseUrl(await deps.serverConfig.get())}${OIDC_CALLBACK_PATH}`;
}
