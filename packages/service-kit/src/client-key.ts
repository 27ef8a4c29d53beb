import { isIP } from 'node:net';

/**
 * What the invalid-token limit counts per: an IPv4 address as it is, an IPv6 address by its /64
 * prefix (one subscriber gets a whole /64 and could otherwise rotate through 2^64 addresses).
 * Anything else (the 'unknown' of a vanished socket) is its own key.
 * @example rateLimitKey('2001:db8::1:2:3:4') === '2001:db8:0:0::/64'
 */
export function rateLimitKey(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const groups = ipv6Groups(ip);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : ip;
}

/** The eight 16-bit groups of an IPv6 address as lower-case hex without leading zeros. */
function ipv6Groups(ip: string): string[] | null {
  let text = ip.split('%')[0] ?? ''; // a zone id (fe80::1%eth0) names an interface, not a host
  // A dotted IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) is two groups.
  const tail = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail.slice(2).map(Number) as [number, number, number, number];
    text = `${tail[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  return all.map((g) => Number.parseInt(g, 16).toString(16));
}
