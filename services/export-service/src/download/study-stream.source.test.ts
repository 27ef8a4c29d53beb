import { Readable } from 'node:stream';
import { type ZipLayout, ZipSourceChangedError } from '@studylink/dicom-media';
import { describe, expect, it } from 'vitest';
import { type Opened, StudyStreamSource } from './study-stream.source.js';

/** A PS3.10 file: preamble, DICM, a meta group naming `sop`, then `body` as its data set. */
function part10(sop: string, body: string): Buffer {
  const ui = (element: number, value: string) => {
    const v = Buffer.from(value.length % 2 ? `${value}\0` : value, 'latin1');
    const h = Buffer.alloc(8);
    h.writeUInt16LE(0x0002, 0);
    h.writeUInt16LE(element, 2);
    h.write('UI', 4, 'latin1');
    h.writeUInt16LE(v.length, 6);
    return Buffer.concat([h, v]);
  };
  const elements = Buffer.concat([
    ui(0x0002, '1.2.840.10008.5.1.4.1.1.7'),
    ui(0x0003, sop),
    ui(0x0010, '1.2.840.10008.1.2.1'),
  ]);
  const length = Buffer.alloc(12);
  length.writeUInt16LE(0x0002, 0);
  length.writeUInt16LE(0x0000, 2);
  length.write('UL', 4, 'latin1');
  length.writeUInt16LE(4, 6);
  length.writeUInt32LE(elements.length, 8);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), length, elements, Buffer.from(body)]);
}

// Two series: instances 0-3 in S1, 4-5 in S2 (the layout's order).
const SOPS = ['1.2.3.1', '1.2.3.2', '1.2.3.3', '1.2.3.4', '1.2.4.1', '1.2.4.2'];
const SERIES = ['S1', 'S1', 'S1', 'S1', 'S2', 'S2'];
const FILES = SOPS.map((sop, i) => part10(sop, `instance ${i} `.repeat(50)));
const layout = {
  instances: SOPS.map((sop, i) => [SERIES[i], sop, (FILES[i] as Buffer).length, 0]),
} as unknown as ZipLayout;
const f = (i: number) => FILES[i] as Buffer;

/** The store: each series' answer as these files, in small chunks; which responses ran to their end or were closed. */
function store(bySeries: Record<string, Buffer[]>) {
  const seen = { opened: [] as string[], closed: [] as string[] };
  async function* parts(series: string) {
    seen.opened.push(series);
    try {
      for (const file of bySeries[series] ?? []) {
        const chunks: Buffer[] = [];
        for (let at = 0; at < file.length; at += 100) chunks.push(file.subarray(at, at + 100));
        yield { body: Readable.from(chunks) };
      }
    } finally {
      seen.closed.push(series);
    }
  }
  const source = (reorderBytes: number) =>
    new StudyStreamSource(
      { series: 'S1', parts: parts('S1') },
      layout,
      async (series) => parts(series),
      fallback,
      reorderBytes,
    );
  return { source, seen };
}

const alone: number[] = [];
const fallback = async (i: number): Promise<Opened> => {
  alone.push(i);
  const file = f(i);
  return {
    async *[Symbol.asyncIterator]() {
      yield file;
    },
    destroy() {},
  };
};

async function readAll(source: StudyStreamSource): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < SOPS.length; i++) {
    const chunks: Buffer[] = [];
    for await (const c of await source.open(i)) chunks.push(c);
    out.push(Buffer.concat(chunks));
  }
  return out;
}

describe('the instances of series-level responses, in the layout order', () => {
  it('in the same order: every instance from one response per series, each closed when done', async () => {
    alone.length = 0;
    const s = store({ S1: [f(0), f(1), f(2), f(3)], S2: [f(4), f(5)] });
    const source = s.source(1 << 20);
    expect(await readAll(source)).toEqual(FILES);
    expect([source.fromStudy, source.alone, source.seriesReads, alone]).toEqual([6, 0, 2, []]);
    expect(s.seen).toEqual({ opened: ['S1', 'S2'], closed: ['S1', 'S2'] });
  });

  it('a little out of order: the early ones are held, nothing is asked for alone', async () => {
    alone.length = 0;
    const s = store({ S1: [f(1), f(0), f(3), f(2)], S2: [f(5), f(4)] });
    const source = s.source(1 << 20);
    expect(await readAll(source)).toEqual(FILES);
    expect([source.fromStudy, source.alone]).toEqual([6, 0]);
  });

  it('too far out of order for the budget: the rest of that series come one by one, the next series from its response', async () => {
    alone.length = 0;
    const s = store({ S1: [f(3), f(2), f(1), f(0)], S2: [f(4), f(5)] });
    const source = s.source(f(0).length + 1);
    expect(await readAll(source)).toEqual(FILES);
    expect(alone).toEqual([0, 1, 2]);
    expect(source.fromStudy).toBe(3); // instance 3, held when it came first, and S2
    expect(s.seen.closed).toEqual(['S1', 'S2']);
  });

  it('a changed study: an instance the layout does not know, one missing, one added, one twice, one of another series', async () => {
    const other = part10('9.9.9', 'x');
    const S2 = [f(4), f(5)];
    const cases: [string, Record<string, Buffer[]>][] = [
      ['unknown', { S1: [f(0), other], S2 }],
      ['missing', { S1: [f(0), f(1), f(2)], S2 }],
      ['added', { S1: [f(0), f(1), f(2), f(3), f(3)], S2 }],
      ['twice', { S1: [f(0), f(0)], S2 }],
      ['of another series', { S1: [f(0), f(4)], S2 }],
      ['not DICOM', { S1: [f(0), Buffer.from('not a DICOM file, but long enough '.repeat(10))], S2 }],
    ];
    for (const [what, bySeries] of cases) {
      await expect(readAll(store(bySeries).source(1 << 20)), what).rejects.toBeInstanceOf(
        ZipSourceChangedError,
      );
    }
  });
});
