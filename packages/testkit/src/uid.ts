import { randomBytes, randomInt } from 'node:crypto';

/**
 * A new DICOM UID under the UUID arc: `2.25.` and the decimal value of a random (version 4) UUID.
 * @example newUid() // '2.25.150469237218016123974813204227361040711'
 */
export function newUid(): string {
  const bytes = randomBytes(16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  return `2.25.${BigInt(`0x${bytes.toString('hex')}`).toString()}`;
}

/**
 * A new random UID of exactly `length` characters (6 to 64) under 2.25, for replacing a UID in place.
 * The first component after 2.25 has at most 38 digits, so it stays below 2^128 as that arc requires.
 * @example newUidOfLength(44).length // 44
 */
export function newUidOfLength(length: number): string {
  if (!Number.isInteger(length) || length < 6 || length > 64) throw new Error(`no UID of length ${length}`);
  const digits = length - '2.25.'.length;
  if (digits <= 38) return `2.25.${randomDigits(digits)}`;
  // 39 would be a lone 39-digit number; split as 37 + '.' + 1 instead.
  const head = digits === 39 ? 37 : 38;
  return `2.25.${randomDigits(head)}.${randomDigits(digits - head - 1)}`;
}

function randomDigits(count: number): string {
  let out = String(randomInt(1, 10)); // no leading zero in a UID component
  while (out.length < count) out += String(randomInt(0, 10));
  return out;
}
