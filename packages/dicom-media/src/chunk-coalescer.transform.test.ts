import { describe, expect, it } from 'vitest';
import { ChunkCoalescer } from './chunk-coalescer.transform.js';

function received(stream: ChunkCoalescer): Buffer[] {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return chunks;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ChunkCoalescer', () => {
  it('merges small chunks written in one go and releases them on the next turn', async () => {
    const coalescer = new ChunkCoalescer(16, 1024);
    const chunks = received(coalescer);
    for (const part of ['PK', '\u0003\u0004', 'name', 'data']) coalescer.write(Buffer.from(part));
    expect(chunks).toEqual([]);
    await tick();
    await tick();
    expect(chunks.map(String)).toEqual(['PK\u0003\u0004namedata']);
  });

  it('passes large chunks through as they are, after what was pending, in order', async () => {
    const coalescer = new ChunkCoalescer(16, 1024);
    const chunks = received(coalescer);
    const large = Buffer.alloc(100, 1);
    coalescer.write(Buffer.from('head'));
    coalescer.write(large);
    coalescer.write(Buffer.from('tail'));
    coalescer.end();
    await new Promise((resolve) => coalescer.on('end', resolve));
    expect(chunks.map((chunk) => chunk.length)).toEqual([4, 100, 4]);
    expect(chunks[1]).toBe(large);
    expect(String(chunks[2])).toBe('tail');
  });

  it('releases a batch as soon as it reaches the batch size', () => {
    const coalescer = new ChunkCoalescer(16, 32);
    const chunks = received(coalescer);
    for (let n = 0; n < 5; n++) coalescer.write(Buffer.alloc(10, n));
    // 10 + 10 + 10 + 10 ≥ 32: the first four leave together; the fifth waits for more or a turn.
    expect(chunks.map((chunk) => chunk.length)).toEqual([40]);
    coalescer.destroy();
  });

  it('drops what it holds when destroyed', async () => {
    const coalescer = new ChunkCoalescer(16, 1024);
    const chunks = received(coalescer);
    coalescer.on('error', () => {});
    coalescer.write(Buffer.from('partial'));
    coalescer.destroy(new Error('client gone'));
    await tick();
    await tick();
    expect(chunks).toEqual([]);
  });
});
