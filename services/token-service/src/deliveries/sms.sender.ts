import { request } from 'undici';
import { PermanentDeliveryError } from './mail.sender.js';

export interface SmsSender {
  sendOrThrow(message: { to: string; body: string }): Promise<void>;
}

export interface SmsApiConfig {
  /** The API's root, `https://api.twilio.com` or a gateway offering the same Messages API. */
  apiUrl: string;
  accountSid: string;
  authToken: string;
  from: string;
  timeoutMs?: number;
}

/**
 * SMS through a Twilio-shaped Messages API: `POST {apiUrl}/2010-04-01/Accounts/{sid}/Messages.json`,
 * form fields To, From, Body, HTTP Basic sid:token. A 4xx other than 408/429 is a refusal that
 * retrying will not cure; 5xx, 408, 429 and network errors are tried again later.
 */
export function messagesApiSmsSender(c: SmsApiConfig): SmsSender {
  const url = `${c.apiUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(c.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${c.accountSid}:${c.authToken}`).toString('base64')}`;
  const timeout = c.timeoutMs ?? 20_000;
  return {
    async sendOrThrow({ to, body }) {
      const res = await request(url, {
        method: 'POST',
        headers: {
          authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ To: to, From: c.from, Body: body }).toString(),
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      const text = (await res.body.text()).slice(0, 2000);
      if (res.statusCode >= 200 && res.statusCode < 300) return;
      let detail = '';
      try {
        const json = JSON.parse(text) as { message?: unknown; code?: unknown };
        detail = [json.code, json.message].filter((v) => v !== undefined).join(' ');
      } catch {
        detail = '';
      }
      const message = `SMS API answered ${res.statusCode}${detail ? `: ${detail}` : ''}`;
      if (res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 408 && res.statusCode !== 429)
        throw new PermanentDeliveryError(message);
      throw new Error(message);
    },
  };
}
