import { createTransport, type Transporter } from 'nodemailer';

/** One message to one patient. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  language: string;
}

export interface MailSender {
  sendOrThrow(message: MailMessage): Promise<void>;
  close(): void;
}

/** A refusal that retrying will not cure (a 5xx reply: no such mailbox, relay denied, auth failed). */
export class PermanentDeliveryError extends Error {}

/**
 * E-mail over SMTP with nodemailer: `smtp://host:port` (STARTTLS whenever the server offers it),
 * `smtps://user:password@host:465` (TLS from the start); multipart text and HTML.
 */
export function smtpMailSender(smtpUrl: string, from: string, timeoutMs = 20_000): MailSender {
  const transport: Transporter = createTransport({
    url: smtpUrl,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    // Never log (nodemailer's logger would print addresses and message text).
    logger: false,
    debug: false,
  });
  return {
    async sendOrThrow(m) {
      try {
        await transport.sendMail({
          from,
          to: m.to,
          subject: m.subject,
          text: m.text,
          html: m.html,
          headers: { 'Content-Language': m.language },
        });
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode;
        const message = `${(err as Error).message}`;
        if (typeof code === 'number' && code >= 500) throw new PermanentDeliveryError(message);
        throw err;
      }
    },
    close() {
      transport.close();
    },
  };
}
