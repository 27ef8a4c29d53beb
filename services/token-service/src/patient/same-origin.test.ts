import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import { isSameOriginPost } from './same-origin.js';

function ctx(headers: Record<string, string>): Context {
  return { get: (name: string) => headers[name.toLowerCase()] ?? '' } as unknown as Context;
}

describe('isSameOriginPost', () => {
  it('trusts Sec-Fetch-Site when present (Chromium sends Origin: null under no-referrer)', () => {
    expect(isSameOriginPost(ctx({ 'sec-fetch-site': 'same-origin', origin: 'null', host: 'a.org' }))).toBe(
      true,
    );
    for (const site of ['same-site', 'cross-site', 'none'])
      expect(isSameOriginPost(ctx({ 'sec-fetch-site': site, host: 'a.org' })), site).toBe(false);
  });

  it('else compares Origin with Host, and refuses an opaque origin', () => {
    expect(isSameOriginPost(ctx({ origin: 'https://pacs.example.org', host: 'pacs.example.org' }))).toBe(
      true,
    );
    expect(isSameOriginPost(ctx({ origin: 'http://127.0.0.1:3000', host: '127.0.0.1:3000' }))).toBe(true);
    expect(isSameOriginPost(ctx({ origin: 'http://[2001:db8::1]:3000', host: '[2001:db8::1]' }))).toBe(true);
    expect(isSameOriginPost(ctx({ origin: 'https://evil.example', host: 'pacs.example.org' }))).toBe(false);
    expect(isSameOriginPost(ctx({ origin: 'null', host: 'pacs.example.org' }))).toBe(false);
  });

  it('lets clients that are not browsers through (they send neither)', () => {
    expect(isSameOriginPost(ctx({ host: 'pacs.example.org' }))).toBe(true);
  });
});
