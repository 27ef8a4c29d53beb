/**
 * The value of one cookie in a `Cookie` header, read as sent (no decoding, no signed-cookie
 * machinery), at most `maxLength` characters; null when absent.
 * @example cookieValue('a=1; studylink_verified=v1.2.3.x', 'studylink_verified') === 'v1.2.3.x'
 */
export function cookieValue(header: string | undefined, name: string, maxLength = 256): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name)
      return part
        .slice(eq + 1)
        .trim()
        .slice(0, maxLength);
  }
  return null;
}
