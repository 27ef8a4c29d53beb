import { escapeHtml, SafeHtml } from '@studylink/service-kit';
import QRCode from 'qrcode';

/**
 * A QR code of `text` as inline SVG markup (no script, no style attribute: fine under the strict
 * CSP), labelled for screen readers.
 */
export async function qrCodeSvg(text: string, label: string): Promise<SafeHtml> {
  const svg = await QRCode.toString(text, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
  return new SafeHtml(
    svg
      .trim()
      .replace(/^<svg /, `<svg class="qr" role="img" aria-label="${escapeHtml(label)}" focusable="false" `),
  );
}
