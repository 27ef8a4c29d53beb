import { describe, expect, it } from 'vitest';
import { formatter, imageCounter } from './messages.js';
import { nextPixelPath } from './pixel-path.js';
import { CT_PRESETS, presetsFor, voiRange } from './presets.js';
import { isTransientStatus, RETRY_DELAYS_MS, withRetry } from './retry.js';
import { buildSeries, type DicomJson, loadOrder, otherSeries } from './study.model.js';
import { decodePathFor } from './transfer-syntax.js';

const ds = (tags: Record<string, unknown>): DicomJson =>
  Object.fromEntries(
    Object.entries(tags).map(([t, v]) => [t, { vr: 'XX', Value: Array.isArray(v) ? v : [v] }]),
  );

describe('buildSeries', () => {
  const qido = [
    ds({ '0020000E': '1.2.2', '00200011': 2, '00080060': 'CT', '0008103E': 'Lung' }),
    ds({ '0020000E': '1.2.1', '00200011': 1, '00080060': 'CT', '0008103E': 'Soft' }),
    ds({ '0020000E': '1.2.9', '00200011': 3, '00080060': 'SR' }),
  ];
  const slice = (sop: string, n: number, z: number, extra: Record<string, unknown> = {}) =>
    ds({
      '00080018': sop,
      '00200013': n,
      '00280010': 512,
      '00200032': [0, 0, z],
      '00200037': [1, 0, 0, 0, 1, 0],
      '00020010': '1.2.840.10008.1.2.1',
      ...extra,
    });

  it('orders series by number, slices along the normal, frames of a multi-frame instance in turn; leaves out SR', () => {
    const metadata = new Map([
      ['1.2.1', [slice('a', 1, 10), slice('b', 2, 30), slice('c', 3, 20)]],
      ['1.2.2', [slice('m', 1, 0, { '00280008': '3' })]],
      ['1.2.9', [ds({ '00080018': 'sr' })]],
    ]);
    const series = buildSeries(qido, metadata);
    expect(series.map((s) => s.seriesInstanceUid)).toEqual(['1.2.1', '1.2.2']);
    expect(series[0]?.images.map((i) => i.instance.sopInstanceUid)).toEqual(['b', 'c', 'a']);
    expect(series[1]?.images.map((i) => i.frame)).toEqual([1, 2, 3]);
  });

  it('falls back to instance numbers when positions are missing or repeat', () => {
    const metadata = new Map([['1.2.1', [slice('x', 2, 5), slice('y', 1, 5)]]]);
    expect(buildSeries(qido, metadata)[0]?.images.map((i) => i.instance.sopInstanceUid)).toEqual(['y', 'x']);
  });
});

describe('loading order and counter', () => {
  it('loads the visible image first, then outwards', () => {
    expect(loadOrder(2, 5)).toEqual([2, 3, 1, 4, 0]);
    expect(loadOrder(0, 3)).toEqual([0, 1, 2]);
    expect(loadOrder(4, 5)).toEqual([4, 3, 2, 1, 0]);
    expect(loadOrder(0, 0)).toEqual([]);
  });
  it('counts from 1', () => {
    expect(imageCounter(formatter('en', {}), 11, 100)).toBe('image 12 / 100');
    expect(imageCounter(formatter('en', {}), 0, 0)).toBe('');
  });
});

describe('window presets', () => {
  it('are the CT ones, as VOI ranges', () => {
    expect(CT_PRESETS.map((p) => p.id)).toEqual(['soft-tissue', 'lung', 'bone', 'brain']);
    expect(voiRange({ width: 400, center: 40 })).toEqual({ lower: -160, upper: 240 });
    expect(presetsFor('MR')).toEqual([]);
  });
});

describe('decode path per transfer syntax', () => {
  it.each([
    ['1.2.840.10008.1.2', 'browser'],
    ['1.2.840.10008.1.2.1', 'browser'],
    ['1.2.840.10008.1.2.2', 'browser'],
    ['1.2.840.10008.1.2.1.99', 'browser'],
    ['1.2.840.10008.1.2.4.50', 'browser'],
    ['1.2.840.10008.1.2.4.57', 'browser'],
    ['1.2.840.10008.1.2.4.70', 'browser'],
    ['1.2.840.10008.1.2.4.80', 'browser'],
    ['1.2.840.10008.1.2.4.90', 'browser'],
    ['1.2.840.10008.1.2.4.91', 'browser'],
    ['1.2.840.10008.1.2.5', 'browser'],
    ['1.2.840.10008.1.2.4.100', 'rendered'],
    ['1.2.840.10008.1.2.4.102', 'rendered'],
  ])('%s → %s', (uid, path) => {
    expect(decodePathFor(uid)).toBe(path);
  });
});

describe('otherSeries', () => {
  it('lists the series without images with what they are: by modality, a PDF by its SOP class, in number order', () => {
    const qido = [
      ds({ '0020000E': '1.1', '00200011': 1, '00080060': 'CT' }),
      ds({ '0020000E': '1.4', '00200011': 4, '00080060': 'SR', '0008103E': 'Report' }),
      ds({ '0020000E': '1.3', '00200011': 3, '00080060': 'SEG' }),
      ds({ '0020000E': '1.5', '00200011': 5, '00080060': 'OT' }),
      ds({ '0020000E': '1.6', '00200011': 6, '00080060': 'OT' }),
      ds({ '0020000E': '1.7', '00200011': 7, '00080060': 'MR' }),
    ];
    const metadata = new Map([
      ['1.1', [ds({ '00080018': 'a', '00280010': 512 })]],
      ['1.5', [ds({ '00080018': 'p', '00080016': '1.2.840.10008.5.1.4.1.1.104.1' })]],
      ['1.6', [ds({ '00080018': 'x' })]],
    ]);
    // 1.7 (MR) has no metadata yet: not listed until it is known to hold no image.
    expect(otherSeries(qido, metadata).map((o) => [o.seriesInstanceUid, o.kind, o.description])).toEqual([
      ['1.3', 'SEG', ''],
      ['1.4', 'SR', 'Report'],
      ['1.5', 'DOC', ''],
      ['1.6', 'other', ''],
    ]);
  });
});

describe('nextPixelPath', () => {
  it('falls back frames → whole instance → rendered, and skips whole instances when the link may not have files', () => {
    expect(nextPixelPath('wadors', true)).toBe('instance');
    expect(nextPixelPath('instance', true)).toBe('rendered');
    expect(nextPixelPath('rendered', true)).toBeNull();
    expect(nextPixelPath('wadors', false)).toBe('rendered');
    expect(nextPixelPath('rendered', false)).toBeNull();
  });
});

describe('withRetry', () => {
  const fast = { sleep: async () => {}, online: async () => {} };

  it('asks again after a transient failure, up to the delays given, then throws the last failure', async () => {
    let calls = 0;
    const lost = () => {
      calls += 1;
      return Promise.reject(new TypeError(`lost ${calls}`));
    };
    await expect(withRetry(lost, { ...fast, transient: () => true, delays: [1, 2, 3] })).rejects.toThrow(
      'lost 4',
    );
    expect(calls).toBe(4);
  });

  it('returns what a later attempt got; a refusal is not asked again; nothing after a stop', async () => {
    let calls = 0;
    const flaky = async () => {
      calls += 1;
      if (calls < 3) throw new Error('reset');
      return 'jpeg';
    };
    expect(await withRetry(flaky, { ...fast, transient: () => true })).toBe('jpeg');
    calls = 0;
    const refused = async () => {
      calls += 1;
      throw new Error('406');
    };
    await expect(
      withRetry(refused, { ...fast, transient: (e) => (e as Error).message !== '406' }),
    ).rejects.toThrow('406');
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      withRetry(refused, { ...fast, transient: () => true, stopped: () => true }),
    ).rejects.toThrow();
    expect(calls).toBe(1);
  });

  it('waits for the browser to be online before each attempt', async () => {
    const events: string[] = [];
    let n = 0;
    const result = await withRetry(
      async () => {
        events.push('attempt');
        if (++n === 1) throw new TypeError('offline');
        return n;
      },
      {
        transient: () => true,
        sleep: async (ms) => {
          events.push(`sleep ${ms}`);
        },
        online: async () => {
          events.push('online');
        },
      },
    );
    expect(result).toBe(2);
    expect(events).toEqual(['online', 'attempt', `sleep ${RETRY_DELAYS_MS[0]}`, 'online', 'attempt']);
  });

  it('treats no answer, 408 and 5xx as transient, other 4xx as answers', () => {
    expect([0, 408, 500, 502, 503, 504].every(isTransientStatus)).toBe(true);
    expect([400, 401, 404, 406, 429].some(isTransientStatus)).toBe(false);
  });
});
