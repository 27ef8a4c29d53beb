import { readFileSync } from 'node:fs';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { InvalidDicomError, readPart10Meta } from './part10-meta.parser.js';
import { createMetaSniffer } from './part10-meta.sniffer.js';

const CT_SMALL = readFileSync('/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm');
const CT_META = readPart10Meta(CT_SMALL);

/** `bytes` cut into `size`-byte chunks over its first `upTo` bytes (the header), then one chunk. */
function chunks(bytes: Buffer, size: number, upTo = bytes.length): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < upTo; at += size) out.push(bytes.subarray(at, Math.min(at + size, upTo)));
  if (upTo < bytes.length) out.push(bytes.subarray(upTo));
  return out;
}

function collector() {
  const received: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      received.push(chunk);
      callback();
    },
  });
  return { sink, received };
}

describe('createMetaSniffer', () => {
  it.each([1, 7, 100, 64 * 1024])(
    'forwards every byte unchanged and reads the meta (chunks of %i)',
    async (size) => {
      const sniffer = createMetaSniffer();
      const { sink, received } = collector();
      await pipeline(Readable.from(chunks(CT_SMALL, size, 2048)), sniffer, sink);
      expect(Buffer.concat(received).equals(CT_SMALL)).toBe(true);
      await expect(sniffer.meta).resolves.toEqual(CT_META);
    },
  );

  it('passes the same chunk objects through, without copying them', async () => {
    const input = chunks(CT_SMALL, 1000);
    const sniffer = createMetaSniffer();
    const { sink, received } = collector();
    await pipeline(Readable.from(input), sniffer, sink);
    expect(received).toHaveLength(input.length);
    for (const [index, chunk] of received.entries()) expect(chunk).toBe(input[index]);
  });

  it('settles as soon as the header has passed, before the stream ends', async () => {
    const source = new PassThrough();
    const sniffer = createMetaSniffer();
    const done = pipeline(source, sniffer, collector().sink);
    source.write(CT_SMALL.subarray(0, 200));
    source.write(CT_SMALL.subarray(200, 400));
    await expect(sniffer.meta).resolves.toEqual(CT_META);
    source.end(CT_SMALL.subarray(400));
    await done;
  });

  it('rejects for bytes that are not PS3.10, and still forwards them', async () => {
    const pdf = Buffer.from('%PDF-1.7\n'.repeat(100));
    const sniffer = createMetaSniffer();
    const { sink, received } = collector();
    await pipeline(Readable.from([pdf]), sniffer, sink);
    await expect(sniffer.meta).rejects.toThrow(InvalidDicomError);
    expect(Buffer.concat(received).equals(pdf)).toBe(true);
  });

  it('rejects when the stream ends inside the header', async () => {
    const sniffer = createMetaSniffer();
    await pipeline(Readable.from([CT_SMALL.subarray(0, 300)]), sniffer, collector().sink);
    await expect(sniffer.meta).rejects.toThrow(InvalidDicomError);
  });

  it('rejects with the upstream error when the source fails before the header', async () => {
    const failing = new Readable({
      read() {
        this.push(CT_SMALL.subarray(0, 100));
        this.destroy(new Error('store went away'));
      },
    });
    const sniffer = createMetaSniffer();
    await expect(pipeline(failing, sniffer, collector().sink)).rejects.toThrow('store went away');
    await expect(sniffer.meta).rejects.toThrow('store went away');
  });

  it('does not raise an unhandled rejection when nobody awaits meta', async () => {
    // vitest fails the run on an unhandled rejection; this sniffer's meta rejects and is never awaited.
    const sniffer = createMetaSniffer();
    await pipeline(Readable.from([Buffer.from('not dicom')]), sniffer, collector().sink);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sniffer.readableEnded).toBe(true);
  });
});
