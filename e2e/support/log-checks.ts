import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The logs whose every line must be one JSON object, with the fields each writer always puts in: both
 * services (pino) and nginx's access log (log_format with escape=json). A line that merely parses is
 * not enough: `{"level":"fatal"}` smuggled in through a CR/LF would parse too.
 */
export const JSON_LOGS = {
  'token-service.log': ['level', 'time', 'service', 'msg'],
  'export-service.log': ['level', 'time', 'service', 'msg'],
  'nginx-access.log': ['time', 'client', 'method', 'path', 'status', 'request_id'],
} as const;

export interface LogProblem {
  file: string;
  line: number;
  text: string;
}

/**
 * Lines of the stack's JSON logs that are not one well-formed entry each: a CR or LF from a request
 * that started a line of its own (log injection), or anything writing unstructured text.
 */
export async function malformedLogLines(logDir: string): Promise<LogProblem[]> {
  const problems: LogProblem[] = [];
  for (const [file, fields] of Object.entries(JSON_LOGS)) {
    const text = await readFile(join(logDir, file), 'utf8').catch(() => '');
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (line === '' && i === lines.length - 1) return;
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        entry = null;
      }
      const ok =
        typeof entry === 'object' &&
        entry !== null &&
        !Array.isArray(entry) &&
        fields.every((f) => Object.hasOwn(entry, f));
      if (!ok) problems.push({ file, line: i + 1, text: line.slice(0, 300) });
    });
  }
  return problems;
}

/** Every log file of the stack (services, nginx access and error logs) with its text. */
export async function readLogs(logDir: string): Promise<Map<string, string>> {
  const files = await readdir(logDir);
  return new Map(
    await Promise.all(
      files.map(async (f) => [f, await readFile(join(logDir, f), 'utf8')] as [string, string]),
    ),
  );
}

/**
 * Where a log holds a token: any issued one verbatim, or any run of 64 [A-Za-z0-9] at all
 * (security.md: `grep -cE '[A-Za-z0-9]{64}'` on every log is 0).
 */
export async function tokenLeaks(logDir: string, issued: Iterable<string> = []): Promise<string[]> {
  const leaks: string[] = [];
  const tokens = [...issued];
  for (const [file, text] of await readLogs(logDir)) {
    for (const t of tokens) if (text.includes(t)) leaks.push(`${file}: issued token ${t.slice(0, 6)}…`);
    for (const run of new Set(text.match(/[A-Za-z0-9]{64,}/g) ?? []))
      leaks.push(`${file}: 64-character run ${run.slice(0, 6)}…`);
  }
  return leaks;
}

/**
 * Where a log holds a second factor: a PIN (as a run of digits of its own) or a birth date, written
 * `YYYY-MM-DD` or as DICOM's `YYYYMMDD`. The patient's answers must never be logged, wherever in a
 * request they sat. [] when clean.
 * @example expect(await secretLeaksInLogs(s.logDir, { pins: ['123456'], birthDates: ['1975-06-30'] })).toEqual([]);
 */
export async function secretLeaksInLogs(
  logDir: string,
  secrets: { pins: readonly string[]; birthDates: readonly string[] },
): Promise<string[]> {
  const leaks: string[] = [];
  const needles = [
    ...secrets.pins.map((p) => ({
      what: `PIN ${p.slice(0, 2)}…`,
      re: new RegExp(`(?<![0-9])${p}(?![0-9])`),
    })),
    ...secrets.birthDates.flatMap((d) => [
      { what: `birth date ${d.slice(0, 4)}…`, re: new RegExp(`(?<![0-9])${d}(?![0-9])`) },
      {
        what: `birth date ${d.slice(0, 4)}… (DA)`,
        re: new RegExp(`(?<![0-9])${d.replaceAll('-', '')}(?![0-9])`),
      },
    ]),
  ];
  for (const [file, text] of await readLogs(logDir))
    for (const n of needles) if (n.re.test(text)) leaks.push(`${file}: ${n.what}`);
  return leaks;
}
