import type Router from '@koa/router';
import { tokenFromQuery } from '@studylink/contracts';
import { isLanguage } from '@studylink/i18n';
import {
  AppError,
  clientIp,
  createRouter,
  LANGUAGE_COOKIE,
  patientTranslator,
  setPatientHeaders,
} from '@studylink/service-kit';
import type { Context } from 'koa';
import type { Kysely } from 'kysely';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { DB } from '../db/tables.js';
import { LinkLockedError, TokenNotFoundError } from '../errors.js';
import type { InvalidTokenGuard, Requester } from '../rate-limit/invalid-token.limiter.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import { cameOverHttps } from '../staff/session/staff-auth.middleware.js';
import { readForm } from '../staff/shared/staff.form.js';
import {
  answerFormatProblem,
  type Grant,
  type TokenService,
  type VerificationAnswer,
} from '../tokens/token.service.js';
import { cookieValue, VERIFICATION_COOKIE } from '../tokens/verification.cookie.js';
import { linkHistory } from './link-history.js';
import { renderStudyPage, renderVerificationForm } from './patient.page.js';

export interface PatientDeps {
  db: Kysely<DB>;
  tokens: TokenService;
  serverConfig: ServerConfigService;
  invalidTokens: InvalidTokenGuard;
  trustedProxies: ReadonlySet<string>;
}

export function requestClientIp(ctx: Context, trusted: ReadonlySet<string>): string {
  return clientIp(ctx.req.socket.remoteAddress, ctx.get('x-real-ip') || undefined, trusted);
}

/** A form posted from another site (or a sandboxed frame): refused before anything is counted. */
export class CrossOriginFormError extends AppError {
  constructor() {
    super(403, 'cross_origin_form', 'this form can only be sent from the page of the link');
  }
}

/**
 * Same-origin posts only. A browser says where a form came from in `Sec-Fetch-Site`, which decides
 * when present (with `Referrer-Policy: no-referrer` Chromium sends `Origin: null` even for the
 * page's own forms); older browsers send only `Origin`, which must name this host. Clients that
 * send neither are not browsers, and nothing a browser could be tricked into.
 */
export function isSameOriginPost(ctx: Context): boolean {
  const site = ctx.get('sec-fetch-site');
  if (site) return site === 'same-origin';
  const origin = ctx.get('origin');
  if (!origin) return true;
  try {
    const host = ctx
      .get('host')
      .replace(/:\d+$/, '')
      .replace(/^\[(.*)\]$/, '$1');
    return new URL(origin).hostname.replace(/^\[(.*)\]$/, '$1') === host;
  } catch {
    return false; // `Origin: null` and other opaque origins
  }
}

const ONE_YEAR_SECONDS = 365 * 86_400;

function setPatientCookie(
  ctx: Context,
  trusted: ReadonlySet<string>,
  name: string,
  value: string,
  maxAgeSeconds: number,
  sameSite: 'Strict' | 'Lax',
): void {
  const parts = [
    `${name}=${value}`,
    'Path=/token',
    'HttpOnly',
    `SameSite=${sameSite}`,
    `Max-Age=${maxAgeSeconds}`,
  ];
  if (cameOverHttps(ctx, trusted)) parts.push('Secure');
  ctx.append('set-cookie', parts.join('; '));
}

/**
 * The link in a patient URL (`/token?<token>`, `/token/viewer?<token>`), refused as the page refuses
 * it: a client over its invalid-token allowance learns nothing, not even about a valid token; an
 * unknown, malformed, revoked or expired one is logged and counted against the client.
 */
export async function resolvePatientLinkOrThrow(ctx: Context, deps: PatientDeps) {
  // Its pages and error pages fall back to the server setup's language, as the study page's do.
  ctx.state.defaultLanguage = (await deps.serverConfig.get()).defaultLanguage;
  // Tracking parameters a mail system appended (`&utm_source=...`) are not part of the token.
  const token = tokenFromQuery(ctx.querystring);
  const who = { clientIp: requestClientIp(ctx, deps.trustedProxies), userAgent: ctx.get('user-agent') };
  await deps.invalidTokens.checkOrThrow(who);
  try {
    return { token, who, grant: await deps.tokens.resolveOrThrow(token) };
  } catch (err) {
    if (err instanceof TokenNotFoundError) {
      await appendAccessEvent(deps.db, { event: 'invalid_token', outcome: 'not_found', ...who });
      // Throws the 429 instead when this guess is the one over the allowance.
      await deps.invalidTokens.recordInvalid(who);
    }
    throw err;
  }
}

/**
 * `GET /token?<token>`: koa would parse `?TOKEN` as `{TOKEN: ''}`, so the raw query string is
 * the token. GET and HEAD only read the database (and QIDO-RS): link scanners that fetch the
 * page never start an export. A link with a second factor shows its form, and no study data,
 * until the browser holds that link's verification cookie; `POST /token?<token>` takes the answer
 * (or a language from the switcher).
 */
export function patientRoutes(deps: PatientDeps): Router {
  const router = createRouter();
  const who = (ctx: Context): Requester => ({
    clientIp: requestClientIp(ctx, deps.trustedProxies),
    userAgent: ctx.get('user-agent'),
  });

  /** The guessing limit, then the lookup; misses count against the client and are logged. */
  async function resolve(ctx: Context, token: string, requester: Requester): Promise<Grant> {
    const config = await deps.serverConfig.get();
    ctx.state.defaultLanguage = config.defaultLanguage;
    // A client over its invalid-token allowance learns nothing more, not even about a valid token.
    await deps.invalidTokens.checkOrThrow(requester);
    try {
      return await deps.tokens.resolveOrThrow(token);
    } catch (err) {
      if (err instanceof TokenNotFoundError) {
        await appendAccessEvent(deps.db, { event: 'invalid_token', outcome: 'not_found', ...requester });
        // Throws the 429 instead when this guess is the one over the allowance.
        await deps.invalidTokens.recordInvalid(requester);
      }
      throw err;
    }
  }

  router.get('/token', async (ctx) => {
    setPatientHeaders(ctx);
    // Tracking parameters a mail system appended (`&utm_source=...`) are not part of the token.
    const token = tokenFromQuery(ctx.querystring);
    const requester = who(ctx);
    const grant = await resolve(ctx, token, requester);
    const base = { tokenId: grant.tokenId, studyInstanceUid: grant.studyInstanceUid, ...requester };
    const head = ctx.method === 'HEAD';
    const config = await deps.serverConfig.get();
    const t = patientTranslator(ctx);
    ctx.type = 'text/html; charset=utf-8';

    if (
      grant.verification !== 'none' &&
      !deps.tokens.isVerified(grant, cookieValue(ctx.get('cookie'), VERIFICATION_COOKIE))
    ) {
      const lock = deps.tokens.lockOf(grant);
      await appendAccessEvent(deps.db, {
        event: 'page_view',
        outcome: head ? 'head' : lock ? 'locked' : 'form',
        ...base,
      });
      if (lock) throw new LinkLockedError(lock.retryAfterSeconds);
      ctx.body = renderVerificationForm({
        token,
        config,
        verification: grant.verification,
        t,
        message: null,
      });
      return;
    }
    const study = await deps.tokens.studyForPage(grant);
    await appendAccessEvent(deps.db, { event: 'page_view', outcome: head ? 'head' : 'ok', ...base });
    const history = head ? [] : await linkHistory(deps.db, grant.tokenId);
    ctx.body = renderStudyPage({
      token,
      study,
      config,
      clientIp: requester.clientIp,
      t,
      download: grant,
      history,
    });
  });

  router.post('/token', async (ctx) => {
    setPatientHeaders(ctx);
    // Tracking parameters a mail system appended (`&utm_source=...`) are not part of the token.
    const token = tokenFromQuery(ctx.querystring);
    const requester = who(ctx);
    const grant = await resolve(ctx, token, requester);
    if (!isSameOriginPost(ctx)) {
      // Refused and logged, but not counted against the link: another site cannot lock it.
      await appendAccessEvent(deps.db, {
        event: 'verification',
        outcome: 'cross_origin',
        tokenId: grant.tokenId,
        studyInstanceUid: grant.studyInstanceUid,
        ...requester,
      });
      throw new CrossOriginFormError();
    }
    const form = await readForm(ctx);
    const back = () => {
      ctx.status = 303;
      ctx.redirect(`/token?${token}`);
    };

    if (form.lang !== undefined) {
      if (isLanguage(form.lang))
        setPatientCookie(ctx, deps.trustedProxies, LANGUAGE_COOKIE, form.lang, ONE_YEAR_SECONDS, 'Lax');
      return back();
    }
    if (grant.verification === 'none') return back();

    const answer: VerificationAnswer =
      grant.verification === 'birth-date' ? { birthDate: form.birthDate ?? '' } : { pin: form.pin ?? '' };
    const config = await deps.serverConfig.get();
    const showForm = (message: Parameters<typeof renderVerificationForm>[0]['message']) => {
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = renderVerificationForm({
        token,
        config,
        verification: grant.verification as Exclude<typeof grant.verification, 'none'>,
        t: patientTranslator(ctx),
        message,
      });
    };
    const problem = answerFormatProblem(answer);
    if (problem) {
      await deps.tokens.recordMalformedAnswerOrThrow(grant, requester);
      ctx.status = 400;
      return showForm(problem);
    }
    const cookie = await deps.tokens.checkAnswerOrThrow(grant, answer, requester);
    if (cookie) {
      setPatientCookie(
        ctx,
        deps.trustedProxies,
        VERIFICATION_COOKIE,
        cookie.value,
        cookie.maxAgeSeconds,
        'Strict',
      );
      return back();
    }
    // A wrong answer also counts toward this address's guessing limit.
    await deps.invalidTokens.recordInvalid(requester);
    showForm('verify.wrong');
  });
  return router;
}
