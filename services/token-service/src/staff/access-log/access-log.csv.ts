// A character that makes a spreadsheet read the rest of a cell as a formula (OWASP, CSV injection),
// and the separators a spreadsheet may split a cell on when it guesses the format (`;` in many
// locales, tab, `|`), so that `Mozilla;=HYPERLINK(...)` is two cells there.
const FORMULA_START = /^( *)([=+\-@\t\r])/;
const FORMULA_AFTER_SEPARATOR = /([,;\t|\r\n]\s*)([=+\-@])/g;

/**
 * One CSV cell (RFC 4180), always quoted. Text that a spreadsheet would run as a formula, at the
 * start of the cell or after any separator it might split on, gets a `'` before it: user agents
 * and names in the log are attacker-controlled text.
 * @example csvCell('Mozilla;=HYPERLINK("http://x")') === `"Mozilla;'=HYPERLINK(""http://x"")"`
 */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '""';
  let text = String(value);
  if (typeof value === 'string') {
    text = text.replace(FORMULA_START, "$1'$2").replace(FORMULA_AFTER_SEPARATOR, "$1'$2");
  }
  return `"${text.replace(/"/g, '""')}"`;
}

/** One CSV record, CRLF-terminated as RFC 4180 asks. */
export function csvRow(cells: ReadonlyArray<string | number | null | undefined>): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
