import { z } from 'zod';

/** An e-mail address as the API takes it (zod's practical pattern), at most 254 characters. */
export const emailAddressSchema = z.email().max(254);

/** A mobile number in E.164: `+`, a country code, at most 15 digits in all. */
export const phoneNumberSchema = z
  .string()
  .regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number, e.g. +447700900123');

/**
 * An address as staff, the API and the logs see it: enough to recognise, not enough to use.
 * @example maskRecipient('email', 'jane.doe@example.org') === 'j***@example.org'
 * @example maskRecipient('sms', '+447700900123') === '+44*******123'
 */
export function maskRecipient(channel: 'email' | 'sms', to: string): string {
  if (channel === 'email') {
    const at = to.lastIndexOf('@');
    return `${to.slice(0, Math.min(1, at))}***${to.slice(at)}`;
  }
  return `${to.slice(0, 3)}${'*'.repeat(Math.max(0, to.length - 6))}${to.slice(-3)}`;
}

/**
 * An error text from a mail server or an SMS API, safe to store and log: it may quote the address
 * or number it refused, so anything shaped like one is masked, and it is kept short.
 */
export function redactRecipients(text: string): string {
  return text
    .replace(/[^\s<>"'(),;:]+@[^\s<>"'(),;:]+/g, (m) => maskRecipient('email', m))
    .replace(/\+?\d[\d\s().-]{5,}\d/g, (m) => maskRecipient('sms', m.replace(/[^\d+]/g, '')))
    .replace(/[A-Za-z0-9]{64}/g, '[token]')
    .slice(0, 300);
}
