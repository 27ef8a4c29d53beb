import { isIP } from 'node:net';

/**
 * The client's address: the `X-Real-IP` that nginx sets, believed only when the TCP peer is a
 * trusted proxy; otherwise the peer itself. A client cannot spoof it by sending the header.
 * @example clientIp('127.0.0.1', '203.0.113.9', new Set(['127.0.0.1'])) === '203.0.113.9'
 */
export function clientIp(
  peer: string | undefined,
  realIpHeader: string | undefined,
  trusted: ReadonlySet<string>,
): string {
  const remote = normalizeIp(peer ?? '');
  if (trusted.has(remote) && realIpHeader) {
    const candidate = normalizeIp(realIpHeader.trim());
    if (isIP(candidate)) return candidate;
  }
  return remote || 'unknown';
}

function normalizeIp(ip: string): string {
  // IPv4 peers on a dual-stack socket appear as ::ffff:a.b.c.d.
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}
