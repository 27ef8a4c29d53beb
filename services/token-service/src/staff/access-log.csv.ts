/**
 * One CSV cell (RFC 4180). A cell that a spreadsheet would run as a formula (starting with
 * = + - @, or a tab / carriage return that some programs strip first) gets a leading `'`,
 * since user agents and names in the log are attacker-controlled text.
 * @example csvCell('=HYPERLINK("http://x")') === `"'=HYPERLINK(""http://x"")"`
 */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n']/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV record, CRLF-terminated as RFC 4180 asks. */
export function csvRow(cells: ReadonlyArray<string | number | null | undefined>): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
