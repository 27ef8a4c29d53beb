import { Writable } from 'node:stream';
import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { clientIp } from './client-ip.js';
import { ConfigError, parseConfig } from './config.parser.js';
import { AppError } from './errors.js';
import { listen } from './http.server.js';
import { createLogger } from './logger.factory.js';
import { errorHandler, requestContext } from './request.middleware.js';

describe('parseConfig', () => {
  const schema = z.object({
    PORT: z.coerce.number().int().min(1),
    URL: z.url(),
    NAME: z.string().default('x'),
  });

  it('returns a frozen typed object with defaults', () => {
    const c = parseConfig(schema, { PORT: '8080', URL: 'http://a.example' });
    expect(c).toEqual({ PORT: 8080, URL: 'http://a.example', NAME: 'x' });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reports every bad variable at once and treats empty strings as unset', () => {
    try {
      parseConfig(schema, { PORT: 'abc', URL: '' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toContain('PORT');
      expect(problems).toContain('URL');
    }
  });
});

describe('clientIp', () => {
  const trusted = new Set(['127.0.0.1', '::1']);
  it('believes X-Real-IP only from a trusted proxy', () => {
    expect(clientIp('127.0.0.1', '203.0.113.7', trusted)).toBe('203.0.113.7');
    expect(clientIp('::ffff:127.0.0.1', '2001:db8::1', trusted)).toBe('2001:db8::1');
    expect(clientIp('198.51.100.2', '203.0.113.7', trusted)).toBe('198.51.100.2');
  });
  it('ignores a malformed header', () => {
    expect(clientIp('127.0.0.1', 'not-an-ip\r\nx', trusted)).toBe('127.0.0.1');
    expect(clientIp('::ffff:10.0.0.1', undefined, trusted)).toBe('10.0.0.1');
  });
});

describe('request logging and error mapping', () => {
  async function run(
    handler: (ctx: Koa.Context) => void,
    path: string,
    headers: Record<string, string> = {},
  ) {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...chunk.toString().trim().split('\n'));
        cb();
      },
    });
    const log = createLogger({ service: 't', level: 'info', destination: sink });
    const app = new Koa();
    app.use(requestContext(log));
    app.use(errorHandler());
    app.use(async (ctx) => handler(ctx));
    const http = await listen(app.callback(), { host: '127.0.0.1', port: 0 });
    try {
      const res = await fetch(`http://127.0.0.1:${http.port}${path}`, { headers });
      const body = await res.text();
      log.flush();
      await new Promise((r) => setTimeout(r, 20));
      return { res, body, lines: lines.map((l) => JSON.parse(l)) };
    } finally {
      await http.close(100);
    }
  }

  it('logs the path without the query string and echoes a request id', async () => {
    const secret = 'A'.repeat(64);
    const { res, lines } = await run(
      (ctx) => {
        ctx.body = 'ok';
      },
      `/token?${secret}`,
      { 'x-request-id': 'abc-123', authorization: 'Bearer sekret' },
    );
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    const done = lines.find((l) => l.msg === 'request completed');
    expect(done).toMatchObject({ path: '/token', status: 200, requestId: 'abc-123', service: 't' });
    expect(JSON.stringify(lines)).not.toContain(secret);
    expect(JSON.stringify(lines)).not.toContain('sekret');
  });

  it('replaces a malformed request id', async () => {
    const { res } = await run(
      (ctx) => {
        ctx.body = 'ok';
      },
      '/',
      { 'x-request-id': 'bad id\twith spaces' },
    );
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('maps AppError to its status and code', async () => {
    const { res, body } = await run(() => {
      throw new AppError(404, 'study_not_found', 'no such study');
    }, '/x');
    expect(res.status).toBe(404);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(body)).toEqual({ error: { code: 'study_not_found', message: 'no such study' } });
  });

  it('turns unknown errors into a generic 500 without echoing them', async () => {
    const { res, body, lines } = await run(() => {
      throw new Error('database password is hunter2');
    }, '/x');
    expect(res.status).toBe(500);
    expect(body).not.toContain('hunter2');
    expect(lines.some((l) => l.msg === 'unhandled error')).toBe(true);
  });
});
