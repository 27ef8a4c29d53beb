// Anything shaped like a token: a run of 64 or more [A-Za-z0-9]. A token may sit anywhere in a
// request: the query, a path segment, after an encoded `?` (`/token%3F<token>`), in a header.
const TOKEN_SHAPED = /[A-Za-z0-9]{64,}/g;
const REDACTED = '[redacted]';

function decodeSafely(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    // A lone `%`: decode what can be decoded, byte triplet by triplet.
    return s.replace(/%[0-9A-Fa-f]{2}/g, (m) => String.fromCharCode(Number.parseInt(m.slice(1), 16)));
  }
}

/**
 * `s` with every token-shaped run replaced by `[redacted]`, also where percent-encoding hides one
 * (then the decoded form is returned, redacted).
 * @example redactTokens(`/token%3F${token}`) === '/token?[redacted]'
 */
export function redactTokens(s: string): string {
  const decoded = s.includes('%') ? decodeSafely(s) : s;
  const hidden = decoded !== s && new RegExp(TOKEN_SHAPED.source).test(decoded);
  return (hidden ? decoded : s).replace(TOKEN_SHAPED, REDACTED);
}
