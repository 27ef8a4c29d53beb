import { AppError } from '@studylink/service-kit';

/**
 * A GET of a limited link's zip without a browser's signs (a mail system's link scanner): sent back
 * to the page (the export service answers 303, as for a link not yet confirmed), so it spends none
 * of the link's downloads. 403 like a missing second factor, with its own code.
 */
export class BrowserRequiredError extends AppError {
  constructor() {
    super(403, 'browser_required', 'open the link in a browser first');
  }
}

/**
 * The link rule for link scanners, for the one gate to call: only a download that would spend one
 * of a limited link's downloads (a GET that reserves) needs a browser; `browser` undefined means
 * the caller cannot tell (an older export service), and is not held to it.
 */
export function scannerRefusal(p: {
  purpose: 'download' | 'view';
  reserve: boolean;
  browser: boolean | undefined;
  maxDownloads: number | null;
}): BrowserRequiredError | null {
  return p.purpose === 'download' && p.reserve && p.browser === false && p.maxDownloads !== null
    ? new BrowserRequiredError()
    : null;
}
