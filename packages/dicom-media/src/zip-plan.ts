import { crc32 } from 'node:zlib';

/**
 * A zip archive whose every byte is known before the first is sent: stored entries whose sizes and
 * CRC-32s are known in advance, so each local header carries them (no data descriptors), and the
 * whole archive, its length and every entry's offset, follows from the list of entries alone. Any
 * range of it can then be produced on its own: the headers and the central directory from the plan,
 * an entry's data from its source.
 *
 * ZIP64 where the format needs it: an entry of 4 GiB or more (a ZIP64 extra field in both headers),
 * a local header at or past 4 GiB (in the central directory), and the ZIP64 end records once there are
 * 65,535 entries or more or the central directory starts or ends at or past 4 GiB. Thresholds are
 * inclusive (0xFFFFFFFF itself goes to ZIP64), so every reader agrees on every field.
 */

export interface ZipPlanEntry {
  /** A safe relative name (checked by the caller: assertValidEntryName). ASCII. */
  name: string;
  size: number;
  crc32: number;
  /** The entry's bytes when they are in memory, else the index of a source the reader opens. */
  data: Buffer | { source: number };
}

/** A run of bytes of the archive: in memory, or the whole data of one source. */
export type ZipSegment =
  | { start: number; length: number; bytes: Buffer }
  | { start: number; length: number; source: number; crc32: number };

export interface ZipPlan {
  length: number;
  /** In order, back to back, from 0 to `length`. */
  segments: ZipSegment[];
}

const U32 = 0xffffffff;
const U16 = 0xffff;

/** MS-DOS time and date of `date` in UTC (zip has no time zone: UTC keeps every plan identical). */
function dosDateTime(date: Date): { time: number; day: number } {
  const year = Math.min(Math.max(date.getUTCFullYear(), 1980), 2107);
  return {
    time: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | Math.floor(date.getUTCSeconds() / 2),
    day: ((year - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
  };
}

function zip64Extra(values: number[]): Buffer {
  if (values.length === 0) return Buffer.alloc(0);
  const extra = Buffer.alloc(4 + 8 * values.length);
  extra.writeUInt16LE(0x0001, 0);
  extra.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => {
    extra.writeBigUInt64LE(BigInt(v), 4 + 8 * i);
  });
  return extra;
}

function localHeader(entry: ZipPlanEntry, time: number, day: number): Buffer {
  const name = Buffer.from(entry.name, 'ascii');
  const big = entry.size >= U32;
  const extra = big ? zip64Extra([entry.size, entry.size]) : Buffer.alloc(0);
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(big ? 45 : 20, 4);
  h.writeUInt16LE(0, 6); // flags: sizes and CRC in this header, no data descriptor
  h.writeUInt16LE(0, 8); // stored
  h.writeUInt16LE(time, 10);
  h.writeUInt16LE(day, 12);
  h.writeUInt32LE(entry.crc32 >>> 0, 14);
  h.writeUInt32LE(big ? U32 : entry.size, 18);
  h.writeUInt32LE(big ? U32 : entry.size, 22);
  h.writeUInt16LE(name.length, 26);
  h.writeUInt16LE(extra.length, 28);
  return Buffer.concat([h, name, extra]);
}

function centralHeader(entry: ZipPlanEntry, offset: number, time: number, day: number): Buffer {
  const name = Buffer.from(entry.name, 'ascii');
  const bigSize = entry.size >= U32;
  const bigOffset = offset >= U32;
  const extra = zip64Extra([...(bigSize ? [entry.size, entry.size] : []), ...(bigOffset ? [offset] : [])]);
  const h = Buffer.alloc(46);
  h.writeUInt32LE(0x02014b50, 0);
  h.writeUInt16LE((3 << 8) | 45, 4); // made by: Unix, 4.5
  h.writeUInt16LE(bigSize || bigOffset ? 45 : 20, 6);
  h.writeUInt16LE(0, 8);
  h.writeUInt16LE(0, 10);
  h.writeUInt16LE(time, 12);
  h.writeUInt16LE(day, 14);
  h.writeUInt32LE(entry.crc32 >>> 0, 16);
  h.writeUInt32LE(bigSize ? U32 : entry.size, 20);
  h.writeUInt32LE(bigSize ? U32 : entry.size, 24);
  h.writeUInt16LE(name.length, 28);
  h.writeUInt16LE(extra.length, 30);
  h.writeUInt16LE(0, 32); // comment
  h.writeUInt16LE(0, 34); // disk
  h.writeUInt16LE(0, 36); // internal attributes
  h.writeUInt32LE((0o100644 << 16) >>> 0, 38); // a regular file, rw-r--r--
  h.writeUInt32LE(bigOffset ? U32 : offset, 42);
  return Buffer.concat([h, name, extra]);
}

function endRecords(entries: number, cdOffset: number, cdSize: number): Buffer {
  const zip64 = entries >= U16 || cdOffset >= U32 || cdOffset + cdSize >= U32;
  const parts: Buffer[] = [];
  if (zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE((3 << 8) | 45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeUInt32LE(0, 16);
    rec.writeUInt32LE(0, 20);
    rec.writeBigUInt64LE(BigInt(entries), 24);
    rec.writeBigUInt64LE(BigInt(entries), 32);
    rec.writeBigUInt64LE(BigInt(cdSize), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeUInt32LE(0, 4);
    locator.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8);
    locator.writeUInt32LE(1, 16);
    parts.push(rec, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(zip64 ? U16 : entries, 8);
  end.writeUInt16LE(zip64 ? U16 : entries, 10);
  end.writeUInt32LE(zip64 ? U32 : cdSize, 12);
  end.writeUInt32LE(zip64 ? U32 : cdOffset, 16);
  end.writeUInt16LE(0, 20);
  parts.push(end);
  return Buffer.concat(parts);
}

/**
 * The byte-for-byte plan of a stored zip of `entries`, in that order, every entry stamped `date`.
 * @example const plan = planZip([{ name: 'README.txt', size: 5, crc32: zlib.crc32('hello'), data: Buffer.from('hello') }], new Date(0));
 */
export function planZip(entries: readonly ZipPlanEntry[], date: Date): ZipPlan {
  const { time, day } = dosDateTime(date);
  const segments: ZipSegment[] = [];
  const offsets: number[] = [];
  let at = 0;
  const push = (bytes: Buffer) => {
    if (bytes.length === 0) return;
    // Small in-memory runs back to back are merged: fewer, larger writes.
    const last = segments[segments.length - 1];
    if (last && 'bytes' in last && last.length + bytes.length <= 64 * 1024) {
      last.bytes = Buffer.concat([last.bytes, bytes]);
      last.length += bytes.length;
    } else segments.push({ start: at, length: bytes.length, bytes });
    at += bytes.length;
  };
  for (const entry of entries) {
    offsets.push(at);
    push(localHeader(entry, time, day));
    if (Buffer.isBuffer(entry.data)) push(entry.data);
    else if (entry.size > 0) {
      segments.push({ start: at, length: entry.size, source: entry.data.source, crc32: entry.crc32 >>> 0 });
      at += entry.size;
    }
  }
  const cdOffset = at;
  // The central directory in runs of about 64 KiB, so a range into it builds no more than it needs.
  let run: Buffer[] = [];
  let runLength = 0;
  const flush = () => {
    if (runLength === 0) return;
    segments.push({ start: at, length: runLength, bytes: Buffer.concat(run, runLength) });
    at += runLength;
    run = [];
    runLength = 0;
  };
  entries.forEach((entry, i) => {
    const h = centralHeader(entry, offsets[i] as number, time, day);
    run.push(h);
    runLength += h.length;
    if (runLength >= 64 * 1024) flush();
  });
  flush();
  push(endRecords(entries.length, cdOffset, at - cdOffset));
  return { length: at, segments };
}

/** The source no longer holds the bytes the plan was made from (size or CRC-32 differ, or it is gone). */
export class ZipSourceChangedError extends Error {
  override name = 'ZipSourceChangedError';
}

export interface ZipRangeOptions {
  /** Opens source `index` from its first byte; the reader destroys it (or reads it to the end). */
  open(index: number, signal: AbortSignal): Promise<AsyncIterable<Buffer>>;
  signal: AbortSignal;
  /**
   * A source up to this size is held until its size and CRC-32 are checked, so none of its bytes is
   * sent if it changed; a larger one streams and is checked at its end (the cut comes then).
   */
  holdBackBytes: number;
  /** Sources opened ahead of the one being sent (their requests start, their bodies wait). */
  prefetch: number;
}

/**
 * The bytes `start`..`end` (inclusive) of the archive `plan` describes, in order. Every source the
 * range touches is read whole and checked against its size and CRC-32; one that differs throws
 * ZipSourceChangedError (the stream is cut: never different bytes under the same plan).
 * @example Readable.from(readZipRange(plan, 0, plan.length - 1, { open, signal, holdBackBytes: 8 << 20, prefetch: 3 }))
 */
export async function* readZipRange(
  plan: ZipPlan,
  start: number,
  end: number,
  opts: ZipRangeOptions,
): AsyncGenerator<Buffer> {
  const touched = plan.segments.filter((s) => s.start <= end && s.start + s.length > start);
  const sources = touched.filter((s): s is Extract<ZipSegment, { source: number }> => 'source' in s);
  const opened = new Map<number, Promise<AsyncIterable<Buffer>>>();
  let next = 0;
  const openAhead = (upTo: number) => {
    while (next < sources.length && next <= upTo) {
      const s = sources[next] as Extract<ZipSegment, { source: number }>;
      const p = opts.open(s.source, opts.signal);
      p.catch(() => {}); // observed when its turn comes
      opened.set(s.start, p);
      next += 1;
    }
  };
  let sourceIndex = 0;
  try {
    for (const seg of touched) {
      const from = Math.max(start, seg.start) - seg.start;
      const to = Math.min(end, seg.start + seg.length - 1) - seg.start + 1;
      if ('bytes' in seg) {
        yield seg.bytes.subarray(from, to);
        continue;
      }
      openAhead(sourceIndex + opts.prefetch);
      const body = await (opened.get(seg.start) as Promise<AsyncIterable<Buffer>>);
      opened.delete(seg.start);
      sourceIndex += 1;
      yield* readSource(body, seg, from, to, opts.holdBackBytes);
    }
  } finally {
    // Sources opened ahead and never read: close them so their requests end.
    for (const p of opened.values())
      p.then(
        (it) => (it as AsyncIterable<Buffer> & { destroy?: () => void }).destroy?.(),
        () => {},
      );
  }
}

async function* readSource(
  body: AsyncIterable<Buffer>,
  seg: Extract<ZipSegment, { source: number }>,
  from: number,
  to: number,
  holdBackBytes: number,
): AsyncGenerator<Buffer> {
  let crc = 0;
  let at = 0;
  const hold = seg.length <= holdBackBytes;
  const held: Buffer[] = [];
  for await (const chunk of body) {
    if (at + chunk.length > seg.length)
      throw new ZipSourceChangedError(`source ${seg.source} is larger than planned`);
    crc = crc32(chunk, crc);
    const lo = Math.max(from, at);
    const hi = Math.min(to, at + chunk.length);
    if (hi > lo) {
      const part = chunk.subarray(lo - at, hi - at);
      if (hold) held.push(part);
      else yield part;
    }
    at += chunk.length;
  }
  if (at !== seg.length) throw new ZipSourceChangedError(`source ${seg.source} is smaller than planned`);
  if (crc >>> 0 !== seg.crc32) throw new ZipSourceChangedError(`source ${seg.source} has other bytes`);
  // The checked instance, as the chunks it came in: no copy into one buffer (with 20 downloads at
  // once, a copy per instance doubled the buffers waiting for the garbage collector).
  yield* held;
}
