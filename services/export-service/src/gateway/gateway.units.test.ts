import { describe, expect, it } from 'vitest';
import { acceptsDicomJson, negotiateAccept } from './gateway.accept.js';
import { RateLimiter, TtlCache } from './gateway.cache.js';
import { scrubDicomJson } from './gateway.metadata.js';
import { reframeMultipart } from './gateway.multipart.js';
import { parseGatewayPath } from './gateway.paths.js';

describe('parseGatewayPath', () => {
  it('names each standard resource, with the store path built from UIDs only', () => {
    expect(parseGatewayPath('studies/1.2/series')).toMatchObject({
      kind: 'series_search',
      storePath: '/studies/1.2/series',
    });
    expect(parseGatewayPath('studies/1.2/series/3.4/instances/5.6/frames/1,3')).toMatchObject({
      kind: 'frames',
      study: '1.2',
      series: '3.4',
      instance: '5.6',
      frames: [1, 3],
      storePath: '/studies/1.2/series/3.4/instances/5.6/frames/1,3',
    });
    expect(parseGatewayPath('studies/1.2/series/3.4/instances/5.6/frames/2/rendered')?.kind).toBe('rendered');
    expect(parseGatewayPath('studies/1.2/series/3.4/instances/5.6/thumbnail')?.kind).toBe('thumbnail');
    expect(parseGatewayPath('studies/1.2/instances')).toEqual({
      kind: 'instance_search',
      study: '1.2',
      storePath: '/studies/1.2/instances',
    });
    expect(parseGatewayPath('studies/1.2/series/3.4/instances')).toMatchObject({
      kind: 'instance_search',
      series: '3.4',
      storePath: '/studies/1.2/series/3.4/instances',
    });
  });

  it('names the study and series retrieves (original files, like an instance)', () => {
    expect(parseGatewayPath('studies/1.2')).toMatchObject({
      kind: 'study_retrieve',
      storePath: '/studies/1.2',
    });
    expect(parseGatewayPath('studies/1.2/series/3.4')).toMatchObject({
      kind: 'series_retrieve',
      series: '3.4',
      storePath: '/studies/1.2/series/3.4',
    });
  });

  it('names nothing for anything else', () => {
    for (const p of [
      '',
      'studies',
      'studies/1.2/',
      'Studies/1.2/series',
      'studies/1..2/series',
      'studies/.1/series',
      'studies/1.2/series/',
      'studies/1.2/series/3.4/instances/',
      'studies/1.2/instances/',
      'studies/1.2/instances/5.6',
      'studies/1.2/series/3.4/instances/5.6/frames',
      'studies/1.2/series/3.4/instances/5.6/frames/01',
      'studies/1.2/series/3.4/instances/5.6/frames/1/rendered/x',
      'studies/1.2/series/3.4/instances/5.6/frames/1,2/thumbnail',
      `studies/1.2/series/3.4/instances/5.6/frames/${Array.from({ length: 65 }, (_, i) => i + 1).join(',')}`,
      'studies/1.2%2e3/series',
      'studies/1.2/../1.3/series',
    ]) {
      expect(parseGatewayPath(p), p).toBeNull();
    }
  });
});

describe('scrubDicomJson', () => {
  it('drops BulkDataURIs, UR attributes and any string with the store address, in sequences too', () => {
    const out = scrubDicomJson(
      [
        {
          '00081190': { vr: 'UR', Value: ['http://pacs:8042/dicom-web/studies/1'] },
          '7FE00010': { vr: 'OW', BulkDataURI: 'http://pacs:8042/dicom-web/studies/1/bulk' },
          '00081030': { vr: 'LO', Value: ['Chest'] },
          '00091010': { vr: 'LO', Value: ['see PACS:8042/x'] },
          '00081115': {
            vr: 'SQ',
            Value: [{ '0040E010': { vr: 'UR', Value: ['x'] }, '00081150': { vr: 'UI', Value: ['1.2'] } }],
          },
        },
      ],
      ['http://pacs:8042/dicom-web', 'pacs:8042'],
    );
    expect(out).toEqual([
      {
        '7FE00010': { vr: 'OW' },
        '00081030': { vr: 'LO', Value: ['Chest'] },
        '00081115': { vr: 'SQ', Value: [{ '00081150': { vr: 'UI', Value: ['1.2'] } }] },
      },
    ]);
  });
});

describe('TtlCache and RateLimiter', () => {
  it('shares one lookup, forgets failures and expires entries', async () => {
    let t = 0;
    let loads = 0;
    const cache = new TtlCache<number>(100, 10, () => t);
    const load = async () => ++loads;
    expect(await Promise.all([cache.get('a', load), cache.get('a', load)])).toEqual([1, 1]);
    t = 150;
    expect(await cache.get('a', load)).toBe(2);
    await expect(cache.get('b', () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await cache.get('b', load)).toBe(3);
  });

  it('lets a burst through, then the rate, and says how long to wait', () => {
    let t = 0;
    const limiter = new RateLimiter(2, 3, () => t);
    expect([1, 2, 3, 4].map(() => limiter.take('k'))).toEqual([0, 0, 0, 1]);
    expect(limiter.take('other')).toBe(0);
    t = 500;
    expect(limiter.take('k')).toBe(0);
    expect(limiter.take('k')).toBe(1);
  });
});

describe('reframeMultipart', () => {
  const part = (body: string) =>
    `--up\r\nContent-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1\r\nContent-Location: http://pacs:8042/dicom-web/studies/1/frames/1\r\n\r\n${body}\r\n`;
  const read = async (stream: AsyncIterable<Buffer>) => {
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c);
    return Buffer.concat(chunks).toString('latin1');
  };
  async function* source(...chunks: string[]) {
    for (const c of chunks) yield Buffer.from(c, 'latin1');
  }

  it("keeps each part and its type, drops the store's part headers, under a boundary of its own", async () => {
    const { contentType, body } = reframeMultipart(
      'multipart/related; type="application/octet-stream"; boundary=up',
      // Split mid-header and mid-body, as a socket would.
      source(part('AAAA').slice(0, 30), part('AAAA').slice(30), part('BBBB'), '--up--\r\n'),
    );
    const boundary = /boundary=(studylink-[0-9a-f]{24})$/.exec(contentType)?.[1];
    expect(contentType).toMatch(/^multipart\/related; type="application\/octet-stream"; boundary=/);
    const text = await read(body);
    expect(text).not.toMatch(/pacs|content-location/i);
    expect(text).toBe(
      [
        `--${boundary}`,
        'Content-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1',
        '',
        'AAAA',
      ]
        .concat([
          `--${boundary}`,
          'Content-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1',
          '',
          'BBBB',
        ])
        .concat([`--${boundary}--`, ''])
        .join('\r\n'),
    );
  });

  it("fails, rather than ending cleanly, when the store's answer is cut short", async () => {
    const { body } = reframeMultipart(
      'multipart/related; boundary=up',
      source(part('AAAA'), '--up\r\nContent-Ty'),
    );
    await expect(read(body)).rejects.toThrow();
  });
});

describe('negotiateAccept', () => {
  it('takes the first range the resource comes in, a wildcard or nothing as its default, and none of them as null (406)', () => {
    expect(negotiateAccept('rendered', 'image/webp, image/jpeg;q=0.8, image/png;q=0.5')).toBe('image/jpeg');
    expect(negotiateAccept('rendered', '')).toBe('image/png');
    expect(negotiateAccept('rendered', 'text/html, */*;q=0.1')).toBe('image/png');
    expect(negotiateAccept('rendered', 'image/*')).toBe('image/png');
    expect(negotiateAccept('rendered', 'application/pdf')).toBeNull();
    expect(negotiateAccept('rendered', 'image/jpeg;q=0, image/gif')).toBe('image/gif');
    expect(negotiateAccept('frames', 'multipart/related; type="application/octet-stream"')).toBe(
      'multipart/related; type="application/octet-stream"',
    );
    expect(
      negotiateAccept('frames', 'multipart/related;type=application/octet-stream;transfer-syntax=*'),
    ).toBe('multipart/related; type=application/octet-stream; transfer-syntax=*');
    expect(negotiateAccept('frames', 'multipart/related; type="application/dicom"')).toBeNull();
    expect(negotiateAccept('instance', '*/*')).toBe(
      'multipart/related; type="application/dicom"; transfer-syntax=*',
    );
  });

  it('DICOM JSON for the searches and metadata: its types, a wildcard or nothing', () => {
    expect(acceptsDicomJson('')).toBe(true);
    expect(acceptsDicomJson('application/dicom+json, application/json;q=0.5')).toBe(true);
    expect(acceptsDicomJson('*/*')).toBe(true);
    expect(acceptsDicomJson('image/png')).toBe(false);
  });
});
