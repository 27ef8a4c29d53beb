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

/** Who sent a request, as access events record it: the client's address and a capped user agent. */
export interface Requester {
  clientIp: string;
  userAgent: string;
}

/** User agents are attacker-controlled text: at most this many characters go anywhere. */
export const USER_AGENT_MAX = 512;

/**
 * The requester of a request, derived once: the address nginx vouches for (see clientIp) and the
 * user agent cut to USER_AGENT_MAX characters.
 * @example requesterOf(ctx, new Set(['127.0.0.1'])) // { clientIp: '203.0.113.9', userAgent: 'Mozilla/5.0 ...' }
 */
export function requesterOf(
  ctx: { req: { socket: { remoteAddress?: string | undefined } }; get(field: string): string },
  trusted: ReadonlySet<string>,
): Requester {
  return {
    clientIp: clientIp(ctx.req.socket.remoteAddress, ctx.get('x-real-ip') || undefined, trusted),
    userAgent: ctx.get('user-agent').slice(0, USER_AGENT_MAX),
  };
}
