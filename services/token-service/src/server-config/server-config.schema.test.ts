import { describe, expect, it } from 'vitest';
import { serverConfigSchema, tokenUrl } from './server-config.schema.js';

const T = 'a'.repeat(64);

describe('tokenUrl', () => {
  const cases: Array<
    [string, { serverName: string; publicAddress: string; ssl: boolean; port: number }, string]
  > = [
    [
      'name, http, default port',
      { serverName: 'pacs.example.org', publicAddress: '203.0.113.5', ssl: false, port: 80 },
      `http://pacs.example.org/token?${T}`,
    ],
    [
      'name, http, other port',
      { serverName: 'pacs.example.org', publicAddress: '203.0.113.5', ssl: false, port: 3000 },
      `http://pacs.example.org:3000/token?${T}`,
    ],
    [
      'name, https, default port',
      { serverName: 'pacs.example.org', publicAddress: '', ssl: true, port: 443 },
      `https://pacs.example.org/token?${T}`,
    ],
    [
      'name, https, other port',
      { serverName: 'pacs.example.org', publicAddress: '', ssl: true, port: 8443 },
      `https://pacs.example.org:8443/token?${T}`,
    ],
    [
      'name, https on port 80 keeps it',
      { serverName: 'pacs.example.org', publicAddress: '', ssl: true, port: 80 },
      `https://pacs.example.org:80/token?${T}`,
    ],
    [
      'name, http on port 443 keeps it',
      { serverName: 'pacs.example.org', publicAddress: '', ssl: false, port: 443 },
      `http://pacs.example.org:443/token?${T}`,
    ],
    [
      'trailing dot dropped',
      { serverName: 'pacs.example.org.', publicAddress: '', ssl: false, port: 80 },
      `http://pacs.example.org/token?${T}`,
    ],
    [
      'IPv4, http, default port',
      { serverName: '', publicAddress: '203.0.113.5', ssl: false, port: 80 },
      `http://203.0.113.5/token?${T}`,
    ],
    [
      'IPv4, http, 3000',
      { serverName: '', publicAddress: '203.0.113.5', ssl: false, port: 3000 },
      `http://203.0.113.5:3000/token?${T}`,
    ],
    [
      'IPv4, https, 443',
      { serverName: '', publicAddress: '203.0.113.5', ssl: true, port: 443 },
      `https://203.0.113.5/token?${T}`,
    ],
    [
      'IPv4, https, 3443',
      { serverName: '', publicAddress: '203.0.113.5', ssl: true, port: 3443 },
      `https://203.0.113.5:3443/token?${T}`,
    ],
    [
      'IPv6, http, 3000',
      { serverName: '', publicAddress: '2001:db8::7', ssl: false, port: 3000 },
      `http://[2001:db8::7]:3000/token?${T}`,
    ],
    [
      'IPv6, https, 443',
      { serverName: '', publicAddress: '2001:db8::7', ssl: true, port: 443 },
      `https://[2001:db8::7]/token?${T}`,
    ],
    [
      'IPv6 given in brackets',
      { serverName: '', publicAddress: '[2001:db8::7]', ssl: false, port: 80 },
      `http://[2001:db8::7]/token?${T}`,
    ],
  ];
  it.each(cases)('%s', (_name, config, expected) => {
    expect(tokenUrl(config, T)).toBe(expected);
  });
});

describe('serverConfigSchema', () => {
  const base = {
    institution: 'St. Example',
    department: 'Radiology',
    publicAddress: '203.0.113.5',
    localAddress: '10.0.0.5',
    port: 3000,
    serverName: '',
    ssl: false,
    zipContent: 'as-stored',
    viewerUrl: 'https://viewer.example.org/',
    defaultExpiryDays: null,
  };
  it('accepts a valid setup and strips brackets from IPv6', () => {
    expect(serverConfigSchema.parse({ ...base, publicAddress: '[::1]' }).publicAddress).toBe('::1');
  });
  it.each([
    ['port 0', { port: 0 }],
    ['port 65536', { port: 65536 }],
    ['bad IP', { publicAddress: '300.1.1.1' }],
    ['bad host name', { serverName: 'exa mple.org' }],
    ['javascript viewer URL', { viewerUrl: 'javascript:alert(1)' }],
    ['no host at all', { publicAddress: '', serverName: '' }],
    ['unknown zip content', { zipContent: 'deflated' }],
    ['an IPv6 zone id', { publicAddress: 'fe80::1%eth0' }],
    ['a bracketed zone id', { publicAddress: '[fe80::1%25eth0]' }],
    ['a zone id in the local address', { localAddress: 'fe80::1%2' }],
    ['NUL in the institution', { institution: 'St.\u0000Example' }],
    ['NUL in the department', { department: 'Radio\u0000logy' }],
    ['NUL in the viewer URL', { viewerUrl: 'https://viewer.example.org/\u0000' }],
    ['a control character in the institution', { institution: 'St.\u001bExample' }],
  ])('refuses %s', (_name, patch) => {
    const r = serverConfigSchema.safeParse({ ...base, ...patch });
    expect(r.success).toBe(false);
    // The answer names the field.
    expect(r.error?.issues[0]?.path).toEqual([Object.keys(patch)[0]]);
  });
});
