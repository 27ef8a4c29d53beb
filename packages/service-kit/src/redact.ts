// What must never reach a log, wherever in a request it sits (a path segment, after an encoded `?`,
// a header):
// - a token: 64 [A-Za-z0-9], also split by `/` or whitespace (`/token/dicomweb/<32>/<32>`, a User-Agent
//   carrying `<32> <32>`): 64 of them with nothing but `/` and whitespace between;
// - an API key: `slk_` and what follows, and anything of the admin key's shape (ADMIN_API_KEY is at
//   least 32 characters): a run of 32 or more URL-safe key characters [A-Za-z0-9_+=~-].
// A run of digits only is no key, and dots are not key characters: DICOM UIDs (`2.25.<39 digits>`) stay readable.
const TOKEN_RUN = /[A-Za-z0-9]{64,}/g;
// Runs of [A-Za-z0-9] joined by `/` or whitespace: a split token when they hold 64 or more.
const CHAIN = /[A-Za-z0-9]+(?:[/\s]+[A-Za-z0-9]+)+/g;
const TOKEN_LENGTH = 64;
const KEY_SHAPED = /slk_[A-Za-z0-9_+=~-]*|(?=[0-9]*[A-Za-z_+=~-])[A-Za-z0-9_+=~-]{32,}/g;
const REDACTED = '[redacted]';

function decodeSafely(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    // A lone `%`: decode what can be decoded, byte triplet by triplet.
    return s.replace(/%[0-9A-Fa-f]{2}/g, (m) => String.fromCharCode(Number.parseInt(m.slice(1), 16)));
  }
}

/** A chain of runs with 64+ characters in all: the runs that hold them redacted, the words around kept. */
function redactChain(chain: string): string {
  const parts = chain.split(/([/\s]+)/); // runs at even indexes, separators at odd ones
  const runs = parts.filter((_, i) => i % 2 === 0);
  let total = runs.reduce((n, r) => n + r.length, 0);
  if (total < TOKEN_LENGTH) return chain;
  let first = 0;
  let last = runs.length - 1;
  // Leading and trailing words (`token`, `dicomweb`, `series`) stay while the rest still holds 64.
  while (first < last && total - (runs[first] as string).length >= TOKEN_LENGTH)
    total -= (runs[first++] as string).length;
  while (last > first && total - (runs[last] as string).length >= TOKEN_LENGTH)
    total -= (runs[last--] as string).length;
  return [...parts.slice(0, first * 2), REDACTED, ...parts.slice(last * 2 + 1)].join('');
}

function redactAll(s: string): string {
  return s.replace(TOKEN_RUN, REDACTED).replace(CHAIN, redactChain).replace(KEY_SHAPED, REDACTED);
}

/**
 * `s` with every token-shaped or key-shaped part replaced by `[redacted]` (see above), also where
 * percent-encoding hides one (then the decoded form is returned, redacted).
 * @example redactTokens(`/token%3F${token}`) === '/token?[redacted]'
 * @example redactTokens(`/api/v1/slk_${key}`) === '/api/v1/[redacted]'
 */
export function redactTokens(s: string): string {
  const decoded = s.includes('%') ? decodeSafely(s) : s;
  const redacted = redactAll(s);
  if (decoded === s) return redacted;
  const decodedRedacted = redactAll(decoded);
  return decodedRedacted !== decoded ? decodedRedacted : redacted;
}
