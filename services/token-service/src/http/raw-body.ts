import { AppError } from '@studylink/service-kit';
import type { Context } from 'koa';

export class PayloadTooLargeError extends AppError {
  constructor(limit: number) {
    super(413, 'payload_too_large', `the body must be at most ${limit} bytes`);
  }
}

export class UnsupportedBodyTypeError extends AppError {
  constructor(types: readonly string[]) {
    super(
      415,
      'unsupported_media_type',
      `the body must be sent as ${types.join(' or ')}, without a Content-Encoding`,
    );
  }
}

/**
 * A binary request body (a logo, a report) read whole, refused past `limit` bytes (before reading
 * when Content-Length says so) or when its Content-Type is not one of `types`.
 * @example const pdf = await readRawBodyOrThrow(ctx, ['application/pdf'], 20 * 1024 * 1024);
 */
export async function readRawBodyOrThrow(
  ctx: Context,
  types: readonly string[],
  limit: number,
): Promise<Buffer> {
  if (!ctx.is(...types)) throw new UnsupportedBodyTypeError(types);
  const encoding = ctx.get('content-encoding').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') throw new UnsupportedBodyTypeError(types);
  const declared = Number(ctx.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) throw new PayloadTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new PayloadTooLargeError(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
