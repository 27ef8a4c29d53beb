import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { assertValidEntryName, createStudyZip, ZipEntryNameError } from './study-zip.writer.js';

const work = mkdtempSync(join(tmpdir(), 'study-zip-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const DATE = new Date('2024-05-01T12:00:00Z');
const SIG_LOCAL = 0x04034b50;
const SIG_DESCRIPTOR = 0x08074b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_ZIP64_END = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;

let fileCounter = 0;
async function writeZip(output: Readable): Promise<string> {
  fileCounter += 1;
  const path = join(work, `archive-${fileCounter}.zip`);
  await pipeline(output, createWriteStream(path));
  return path;
}

function unzip(args: string[]) {
  return spawnSync('unzip', args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
}

/**
 * A stream of `total` bytes made on demand from `chunk`, counting how much has been pulled. `slow`
 * makes each chunk wait for the next event loop turn, as network data does.
 */
function generated(total: number, chunk: Buffer, slow = false) {
  const state = { pulled: 0 };
  const stream = new Readable({
    highWaterMark: chunk.length,
    read() {
      if (state.pulled >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(chunk.length, total - state.pulled);
      state.pulled += size;
      const next = size === chunk.length ? chunk : chunk.subarray(0, size);
      if (slow) setImmediate(() => this.push(next));
      else this.push(next);
    },
  });
  return { stream, state };
}

/** Everything a stream emitted before it ended or failed, and how it stopped. */
function capture(output: Readable): Promise<{ bytes: Buffer; error: Error | null }> {
  const chunks: Buffer[] = [];
  output.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => {
    output.on('end', () => resolve({ bytes: Buffer.concat(chunks), error: null }));
    output.on('error', (error) => resolve({ bytes: Buffer.concat(chunks), error }));
  });
}

interface CentralEntry {
  name: string;
  versionNeeded: number;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  hasZip64Extra: boolean;
}

/**
 * Reads the end records and the central directory from the last bytes of an archive whose first
 * `tailStart` bytes are not at hand (ZIP64 sizes come from the ZIP64 extra field, APPNOTE 4.5.3).
 */
function readCentralDirectory(tail: Buffer, tailStart: number) {
  const endAt = tail.length - 22;
  expect(tail.readUInt32LE(endAt)).toBe(SIG_END);
  let entryCount = tail.readUInt16LE(endAt + 10);
  let directorySize = tail.readUInt32LE(endAt + 12);
  let directoryOffset = tail.readUInt32LE(endAt + 16);
  const zip64 = tail.readUInt32LE(endAt - 20) === SIG_ZIP64_LOCATOR;
  if (zip64) {
    const zip64EndAt = Number(tail.readBigUInt64LE(endAt - 20 + 8)) - tailStart;
    expect(tail.readUInt32LE(zip64EndAt)).toBe(SIG_ZIP64_END);
    expect(zip64EndAt + 56).toBe(endAt - 20); // the locator follows the 56-byte ZIP64 end record
    expect(Number(tail.readBigUInt64LE(zip64EndAt + 24))).toBe(Number(tail.readBigUInt64LE(zip64EndAt + 32)));
    entryCount = Number(tail.readBigUInt64LE(zip64EndAt + 32));
    directorySize = Number(tail.readBigUInt64LE(zip64EndAt + 40));
    directoryOffset = Number(tail.readBigUInt64LE(zip64EndAt + 48));
    expect(directoryOffset + directorySize).toBe(zip64EndAt + tailStart);
  } else {
    expect(directoryOffset + directorySize).toBe(endAt + tailStart);
  }
  const entries: CentralEntry[] = [];
  let at = directoryOffset - tailStart;
  for (let n = 0; n < entryCount; n++) {
    // Plain asserts in this loop: it runs for every one of 70,000 entries.
    assert.equal(tail.readUInt32LE(at), SIG_CENTRAL, 'central directory header');
    const nameLength = tail.readUInt16LE(at + 28);
    const extraLength = tail.readUInt16LE(at + 30);
    const commentLength = tail.readUInt16LE(at + 32);
    const entry: CentralEntry = {
      name: tail.toString('latin1', at + 46, at + 46 + nameLength),
      versionNeeded: tail.readUInt16LE(at + 6),
      flags: tail.readUInt16LE(at + 8),
      method: tail.readUInt16LE(at + 10),
      crc: tail.readUInt32LE(at + 16),
      compressedSize: tail.readUInt32LE(at + 20),
      size: tail.readUInt32LE(at + 24),
      localHeaderOffset: tail.readUInt32LE(at + 42),
      hasZip64Extra: false,
    };
    for (let x = at + 46 + nameLength; x < at + 46 + nameLength + extraLength; ) {
      const id = tail.readUInt16LE(x);
      const length = tail.readUInt16LE(x + 2);
      if (id === 0x0001) {
        entry.hasZip64Extra = true;
        let field = x + 4;
        const next = () => {
          const value = Number(tail.readBigUInt64LE(field));
          field += 8;
          return value;
        };
        if (entry.size === 0xffffffff) entry.size = next();
        if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
        if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = next();
        assert(field <= x + 4 + length, 'ZIP64 extra field holds the fields it replaces');
      }
      x += 4 + length;
    }
    entries.push(entry);
    at += 46 + nameLength + extraLength + commentLength;
  }
  expect(at).toBe(directoryOffset - tailStart + directorySize);
  return { zip64, entries, directoryOffset };
}

describe('createStudyZip', () => {
  it('writes stored entries that unzip reads back byte for byte', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 17);
    const files: [string, Buffer, () => Readable | Buffer][] = [
      ['DICOMDIR', Buffer.from('directory'), () => Buffer.from('directory')],
      ['DICOM/S0000001/I0000001', big, () => Readable.from([big.subarray(0, 1000), big.subarray(1000)])],
      ['DICOM/S0000001/I0000002', Buffer.alloc(0), () => Readable.from([])],
      ['README.txt', Buffer.from('read me\r\n'), () => Buffer.from('read me\r\n')],
    ];
    const zip = createStudyZip({ date: DATE });
    const written = writeZip(zip.output);
    for (const [name, , source] of files) await zip.addFile(name, source());
    await zip.finalize();
    const path = await written;

    expect(unzip(['-tq', path]).status).toBe(0);
    for (const [name, content] of files) {
      const extracted = unzip(['-p', path, name]);
      expect(extracted.status).toBe(0);
      expect(Buffer.compare(extracted.stdout, content), name).toBe(0);
    }
    const bytes = readFileSync(path);
    const { zip64, entries } = readCentralDirectory(bytes, 0);
    expect(entries.map((entry) => entry.name)).toEqual(files.map(([name]) => name));
    for (const entry of entries) expect(entry.method).toBe(0); // stored
    // Streamed entries carry a data descriptor (flag bit 3); buffers have their sizes up front.
    expect(entries.map((entry) => (entry.flags & 0x8) !== 0)).toEqual([false, true, true, false]);
    expect(entries[1]?.crc).toBe(crc32(big));
    // A small archive stays plain ZIP, readable by tools that predate ZIP64.
    expect(zip64).toBe(false);
    expect(entries.some((entry) => entry.hasZip64Extra)).toBe(false);
    const listing = spawnSync('zipinfo', ['-l', path], { encoding: 'utf8' }).stdout;
    expect(listing).toContain('24-May-01 12:00');
  });

  it('switches to ZIP64 end records past 65,535 entries', { timeout: 60_000 }, async () => {
    const count = 70_000;
    const zip = createStudyZip({ date: DATE });
    const written = writeZip(zip.output);
    for (let n = 0; n < count; n++)
      await zip.addFile(`DICOM/S0000001/I${String(n).padStart(7, '0')}`, Buffer.from(`${n}`));
    await zip.finalize();
    const path = await written;

    const { zip64, entries } = readCentralDirectory(readFileSync(path), 0);
    expect(zip64).toBe(true);
    expect(entries).toHaveLength(count);
    const tested = unzip(['-tq', path]);
    expect(tested.stdout.toString()).toContain('No errors detected');
    expect(tested.status).toBe(0);
    expect(unzip(['-p', path, 'DICOM/S0000001/I0069999']).stdout.toString()).toBe('69999');
  });

  it('writes a valid ZIP64 archive around a streamed entry larger than 4 GiB', {
    timeout: 120_000,
  }, async () => {
    const bigSize = 2 ** 32 + 5000;
    const zip = createStudyZip({ date: DATE });
    // Only the first and last bytes are kept; a 4 GiB file on disk and `unzip -t` over it take too long
    // here. (Checked by hand: such an archive passes `unzip -t` and reads back in Python and Java.)
    const keep = 1024 * 1024;
    const head: Buffer[] = [];
    let headLength = 0;
    const tail: Buffer[] = [];
    let tailLength = 0;
    let total = 0;
    const sink = new Writable({
      highWaterMark: keep,
      write(chunk: Buffer, _encoding, callback) {
        if (headLength < 64 * 1024) {
          head.push(chunk);
          headLength += chunk.length;
        }
        tail.push(chunk);
        tailLength += chunk.length;
        while (tailLength - (tail[0]?.length ?? 0) >= keep) tailLength -= tail.shift()?.length ?? 0;
        total += chunk.length;
        callback();
      },
    });
    const written = pipeline(zip.output, sink);
    await zip.addFile('first', Buffer.from('before the big one'));
    await zip.addFile('big', generated(bigSize, Buffer.alloc(1024 * 1024)).stream);
    await zip.addFile('after', Buffer.from('after the big one'));
    await zip.addFile('after-streamed', Readable.from([Buffer.from('streamed after')]));
    await zip.finalize();
    await written;

    const tailBytes = Buffer.concat(tail);
    const tailStart = total - tailBytes.length;
    const { zip64, entries } = readCentralDirectory(tailBytes, tailStart);
    expect(zip64).toBe(true);
    const [first, big, after, afterStreamed] = entries;
    expect(entries.map((entry) => entry.name)).toEqual(['first', 'big', 'after', 'after-streamed']);
    expect(first).toMatchObject({ localHeaderOffset: 0, hasZip64Extra: false });
    expect(big).toMatchObject({
      size: bigSize,
      compressedSize: bigSize,
      hasZip64Extra: true,
      versionNeeded: 45,
    });
    // Entries that start past 4 GiB find their local header through the ZIP64 extra field.
    expect(after?.localHeaderOffset).toBeGreaterThan(2 ** 32);
    expect(after?.hasZip64Extra).toBe(true);
    expect(afterStreamed?.hasZip64Extra).toBe(true);
    for (const entry of [after, afterStreamed]) {
      expect(tailBytes.readUInt32LE((entry?.localHeaderOffset ?? 0) - tailStart)).toBe(SIG_LOCAL);
    }
    expect(after?.crc).toBe(crc32(Buffer.from('after the big one')));

    // The big entry's local header could not know its size; its data descriptor, right before the next
    // local header, has the CRC and 8-byte sizes.
    const headBytes = Buffer.concat(head);
    const bigLocal = big?.localHeaderOffset ?? 0;
    expect(headBytes.readUInt32LE(bigLocal)).toBe(SIG_LOCAL);
    expect(headBytes.readUInt16LE(bigLocal + 6) & 0x8).toBe(0x8);
    const descriptorAt = (after?.localHeaderOffset ?? 0) - 24 - tailStart;
    expect(tailBytes.readUInt32LE(descriptorAt)).toBe(SIG_DESCRIPTOR);
    expect(tailBytes.readUInt32LE(descriptorAt + 4)).toBe(big?.crc);
    expect(Number(tailBytes.readBigUInt64LE(descriptorAt + 8))).toBe(bigSize);
    expect(Number(tailBytes.readBigUInt64LE(descriptorAt + 16))).toBe(bigSize);
    // Local header, name, data and descriptor of the big entry fill the gap up to the next entry exactly.
    expect(bigLocal + 30 + 'big'.length + bigSize + 24).toBe(after?.localHeaderOffset);
  });

  it('fails the output and writes no end record when a source fails midway', async () => {
    const zip = createStudyZip({ date: DATE });
    const captured = capture(zip.output);
    await zip.addFile('DICOMDIR', Buffer.from('directory'));
    let sent = 0;
    const failing = new Readable({
      read() {
        sent += 1;
        if (sent <= 3) this.push(Buffer.alloc(64 * 1024, sent));
        else this.destroy(new Error('store connection reset'));
      },
    });
    await expect(zip.addFile('DICOM/S0000001/I0000001', failing)).rejects.toThrow('store connection reset');
    await expect(zip.finalize()).rejects.toThrow('store connection reset');
    await expect(zip.addFile('more', Buffer.from('x'))).rejects.toThrow('store connection reset');

    const { bytes, error } = await captured;
    expect(error?.message).toBe('store connection reset');
    expect(bytes.length).toBeGreaterThan(64 * 1024); // the entry had started streaming
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x05, 0x06]))).toBe(false); // no end of central directory
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x01, 0x02]))).toBe(false); // no central directory
    const path = join(work, 'failed.zip');
    await pipeline(Readable.from([bytes]), createWriteStream(path));
    expect(unzip(['-tq', path]).status).not.toBe(0);
  });

  it('fails the archive when a source closes without ending', async () => {
    const zip = createStudyZip({ date: DATE });
    const captured = capture(zip.output);
    const source = new PassThrough();
    const adding = zip.addFile('DICOM/S0000001/I0000001', source);
    source.write(Buffer.alloc(5000));
    source.destroy();
    await expect(adding).rejects.toThrow(/premature close/i);
    expect((await captured).error).not.toBeNull();
  });

  it('abort() fails the output with the given error and stops reading the source', async () => {
    const zip = createStudyZip({ date: DATE });
    const captured = capture(zip.output);
    const { stream, state } = generated(Number.MAX_SAFE_INTEGER, Buffer.alloc(64 * 1024, 7), true);
    const adding = zip.addFile('DICOM/S0000001/I0000001', stream);
    while (state.pulled < 1024 * 1024) await new Promise((resolve) => setImmediate(resolve));
    const reason = new Error('token revoked');
    zip.abort(reason);
    await expect(adding).rejects.toBe(reason);
    await expect(zip.finalize()).rejects.toBe(reason);
    const { bytes, error } = await captured;
    expect(error).toBe(reason);
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x05, 0x06]))).toBe(false);
    expect(stream.destroyed).toBe(true);
    const pulled = state.pulled;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(state.pulled).toBe(pulled);
  });

  it('stops reading the source when the consumer goes away', async () => {
    const zip = createStudyZip({ date: DATE });
    const { stream, state } = generated(64 * 1024 * 1024, Buffer.alloc(64 * 1024, 7));
    const adding = zip.addFile('DICOM/S0000001/I0000001', stream);
    zip.output.once('data', () => zip.output.destroy()); // the client hung up
    await expect(adding).rejects.toThrow(/closed before the archive was complete/);
    expect(stream.destroyed).toBe(true);
    expect(state.pulled).toBeLessThan(8 * 1024 * 1024);
  });

  it('reads a source only as fast as the output is consumed', async () => {
    const zip = createStudyZip({ date: DATE });
    const total = 32 * 1024 * 1024;
    const { stream, state } = generated(total, Buffer.alloc(64 * 1024, 1));
    let consumed = 0;
    let maxLead = 0;
    const slowClient = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        consumed += chunk.length;
        maxLead = Math.max(maxLead, state.pulled - consumed);
        setImmediate(callback);
      },
    });
    const received = pipeline(zip.output, slowClient);
    await zip.addFile('DICOM/S0000001/I0000001', stream);
    await zip.finalize();
    await received;
    expect(state.pulled).toBe(total);
    // A handful of chunks held in the stream buffers between source and client (about 320 KiB on
    // Node 20, more where default buffers are 64 KiB), not the 32 MiB source.
    expect(maxLead).toBeLessThan(2 * 1024 * 1024);
  });

  it('accepts only safe, unique entry names', async () => {
    for (const name of ['DICOMDIR', 'README.txt', 'DICOM/S0000001/I0000001', 'a-b_c.d']) {
      expect(() => assertValidEntryName(name)).not.toThrow();
    }
    const unsafe = ['', '/etc/passwd', '../x', 'DICOM/../x', 'a\\b', 'a//b', 'a/', './a', 'é', 'a b', 'C:x'];
    for (const name of unsafe) expect(() => assertValidEntryName(name), name).toThrow(ZipEntryNameError);

    const zip = createStudyZip({ date: DATE });
    const captured = capture(zip.output);
    await expect(zip.addFile('../evil', Buffer.from('x'))).rejects.toThrow(ZipEntryNameError);
    await zip.addFile('DICOMDIR', Buffer.from('x'));
    await expect(zip.addFile('DICOMDIR', Buffer.from('y'))).rejects.toThrow(/duplicate/);
    await zip.finalize();
    const { entries } = readCentralDirectory((await captured).bytes, 0);
    expect(entries.map((entry) => entry.name)).toEqual(['DICOMDIR']);
  });

  it('takes one entry at a time and none after finalize', async () => {
    const zip = createStudyZip({ date: DATE });
    const captured = capture(zip.output);
    const source = new PassThrough();
    const first = zip.addFile('a', source);
    await expect(zip.addFile('b', Buffer.from('b'))).rejects.toThrow(/has not finished/);
    await expect(zip.finalize()).rejects.toThrow(/being written/);
    source.end(Buffer.from('a'));
    await first;
    await zip.finalize();
    await expect(zip.addFile('c', Buffer.from('c'))).rejects.toThrow(/finalized/);
    zip.abort(new Error('too late')); // a complete archive stays complete
    const { bytes, error } = await captured;
    expect(error).toBeNull();
    expect(readCentralDirectory(bytes, 0).entries.map((entry) => entry.name)).toEqual(['a']);
  });
});
