import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ARTIFACTS } from './e2e-stack.js';

/** Where the browser tests write their screenshots (look at them after a change to a page). */
export const SCREENSHOTS = join(ARTIFACTS, 'screenshots');

const require = createRequire(import.meta.url);
/** axe-core's browser bundle, injected into pages under test. */
export const AXE_PATH = join(dirname(require.resolve('axe-core')), 'axe.min.js');

/**
 * Debian's Chromium, headless. Playwright's own browser downloads are not available here, and
 * the flags keep Chromium from calling home during a test.
 */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}

export interface RecordedRequest {
  url: string;
  method: string;
  referer: string | undefined;
}

/** Every request the page makes from now on, with the Referer it carried. */
export function recordRequests(page: Page): RecordedRequest[] {
  const seen: RecordedRequest[] = [];
  page.on('request', (req) => {
    // allHeaders() includes what the network stack adds, Referer among them.
    void req.allHeaders().then(
      (h) => seen.push({ url: req.url(), method: req.method(), referer: h.referer }),
      // A request still open when its page closes has no full headers: the ones Playwright saw.
      () => seen.push({ url: req.url(), method: req.method(), referer: req.headers().referer }),
    );
  });
  return seen;
}

/** Console errors, page errors (CSP violations among them) and failed responses, with their URLs. */
export function recordPageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    // The URL of a failed load is reported by the response handler below.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  return problems;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core on the page and returns the serious and critical violations. The page's context
 * needs `bypassCSP: true`: axe is injected as a script the page's CSP would refuse.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: AXE_PATH });
  // A string, not a function: the e2e project is compiled without DOM types.
  const violations = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) =>
    r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ') + ' ' + (n.failureSummary || '')),
    })),
  )`)) as AxeViolation[];

  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** A full-page PNG under e2e/artifacts/screenshots/. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
