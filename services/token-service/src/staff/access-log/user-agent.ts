import Bowser from 'bowser';

/**
 * A user agent as a person reads it: browser and major version, and the system (`Chrome 120 ·
 * Windows 10`), through bowser; a string it cannot read (a script, a scanner) as its first 40
 * characters. The whole string stays available beside it.
 */
export function shortUserAgent(ua: string): string {
  if (!ua) return '';
  const { browser, os } = Bowser.parse(ua);
  const name = browser.name ? [browser.name, browser.version?.split('.')[0]].filter(Boolean).join(' ') : '';
  const system = [os.name, os.versionName ?? ''].filter(Boolean).join(' ');
  const short = [name, system].filter(Boolean).join(' · ');
  return short || (ua.length > 40 ? `${ua.slice(0, 40)}…` : ua);
}
