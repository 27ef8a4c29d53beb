import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { secretLeaksInLogs } from './log-checks.js';
import { tokenLikeRuns } from './patient-http.js';

/**
 * Every place a log file in `logDir` (services at debug level, nginx access and error logs) holds one
 * of `tokens` or any run of 64+ `[A-Za-z0-9]`, and, given, any of the links' PINs or birth dates
 * (issue 12), as `file: what` lines; [] when clean.
 * @example expect(await tokenLeaksInLogs(s.logDir, issued, { pins, birthDates })).toEqual([]);
 */
export async function tokenLeaksInLogs(
  logDir: string,
  tokens: readonly string[],
  secondFactors?: { pins: readonly string[]; birthDates: readonly string[] },
): Promise<string[]> {
  const leaks: string[] = secondFactors ? await secretLeaksInLogs(logDir, secondFactors) : [];
  for (const f of await readdir(logDir)) {
    const content = await readFile(join(logDir, f), 'utf8');
    for (const t of tokens) if (content.includes(t)) leaks.push(`${f}: issued token ${t.slice(0, 6)}…`);
    for (const run of tokenLikeRuns(content)) leaks.push(`${f}: 64-character run ${run.slice(0, 6)}…`);
  }
  return leaks;
}
