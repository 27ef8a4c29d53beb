import { describe, expect, it } from 'vitest';
// What the page hands the script: messagesWithPrefix(lang, 'viewer.') of the catalogues.
import ar from '../../i18n/src/messages/ar.json' with { type: 'json' };
import de from '../../i18n/src/messages/de.json' with { type: 'json' };
import fr from '../../i18n/src/messages/fr.json' with { type: 'json' };
import he from '../../i18n/src/messages/he.json' with { type: 'json' };
import ja from '../../i18n/src/messages/ja.json' with { type: 'json' };
import pl from '../../i18n/src/messages/pl.json' with { type: 'json' };
import ru from '../../i18n/src/messages/ru.json' with { type: 'json' };
import uk from '../../i18n/src/messages/uk.json' with { type: 'json' };
import zhHans from '../../i18n/src/messages/zh-Hans.json' with { type: 'json' };
import { formatter, imageCounter, parseMessages, seriesLabel } from './messages.js';
import { CT_PRESETS } from './presets.js';

const viewerOnly = (catalogue: Record<string, string>) =>
  Object.fromEntries(Object.entries(catalogue).filter(([k]) => k.startsWith('viewer.')));

describe('the viewer formats its messages in the page language', () => {
  it('Polish plurals: one, few, many', () => {
    const t = formatter('pl', viewerOnly(pl));
    const count = (n: number) => t('viewer.imageCount', { count: n });
    expect([1, 2, 4, 5, 12, 22, 25, 101].map(count)).toEqual([
      '1 obraz',
      '2 obrazy',
      '4 obrazy',
      '5 obrazów',
      '12 obrazów',
      '22 obrazy',
      '25 obrazów',
      '101 obrazów',
    ]);
    expect(imageCounter(t, 0, 120)).toBe('obraz 1 z 120');
  });

  it('Arabic plurals: zero, one, two, few, many, other', () => {
    const t = formatter('ar', viewerOnly(ar));
    const count = (n: number) => t('viewer.imageCount', { count: n });
    expect([0, 1, 2, 3, 10, 11, 99, 100].map(count)).toEqual([
      'لا صور',
      'صورة واحدة',
      'صورتان',
      '3 صور',
      '10 صور',
      '11 صورة',
      '99 صورة',
      '100 صورة',
    ]);
    expect(imageCounter(t, 4, 20)).toBe('الصورة 5 من 20');
  });

  it('Hebrew plurals: one, two, other; Japanese and Chinese: one form, the page tag as the locale', () => {
    const h = formatter('he', viewerOnly(he));
    expect([1, 2, 3, 20].map((n) => h('viewer.imageCount', { count: n }))).toEqual([
      'תמונה אחת',
      'שתי תמונות',
      '3 תמונות',
      '20 תמונות',
    ]);
    expect(imageCounter(h, 0, 20)).toBe('תמונה 1 מתוך 20');
    const j = formatter('ja', viewerOnly(ja));
    expect([1, 2, 1234].map((n) => j('viewer.imageCount', { count: n }))).toEqual([
      '1枚の画像',
      '2枚の画像',
      '1,234枚の画像',
    ]);
    const z = formatter('zh-Hans', viewerOnly(zhHans));
    expect(imageCounter(z, 2, 1200)).toBe('第 3 张，共 1,200 张');
    expect(z('viewer.seriesReady', { ready: 1, total: 4 })).toBe('4 个序列中已有 1 个就绪');
  });

  it('Russian and Ukrainian plurals in the browser: one, few, many, other', () => {
    const tRu = formatter('ru', viewerOnly(ru));
    const tUk = formatter('uk', viewerOnly(uk));
    const ns = [1, 2, 5, 21, 12, 22, 111, 0.5];
    expect(ns.map((count) => tRu('viewer.imageCount', { count }))).toEqual([
      '1 изображение',
      '2 изображения',
      '5 изображений',
      '21 изображение',
      '12 изображений',
      '22 изображения',
      '111 изображений',
      '0,5 изображения',
    ]);
    expect(ns.map((count) => tUk('viewer.imageCount', { count }))).toEqual([
      '1 зображення',
      '2 зображення',
      '5 зображень',
      '21 зображення',
      '12 зображень',
      '22 зображення',
      '111 зображень',
      '0,5 зображення',
    ]);
    expect(imageCounter(tRu, 0, 1200)).toBe('снимок 1 из 1\u00a0200');
    expect(imageCounter(tUk, 20, 21)).toBe('знімок 21 з 21');
    expect(seriesLabel(tUk, { modality: 'CT', description: '', seriesNumber: 3 })).toBe('CT серія 3');
    expect(tRu('viewer.seriesReady', { ready: 2, total: 5 })).toBe('Готово серий: 2 из 5');
  });

  it('numbers with the language’s separators, series labels, presets', () => {
    const t = formatter('de', viewerOnly(de));
    expect(t('viewer.imageCount', { count: 1234 })).toBe('1.234 Bilder');
    expect(imageCounter(t, 999, 1200)).toBe('Bild 1.000 von 1.200');
    expect(seriesLabel(t, { modality: 'CT', description: '', seriesNumber: 3 })).toBe('CT Serie 3');
    expect(seriesLabel(t, { modality: 'MR', description: 'T2 axial', seriesNumber: 3 })).toBe('MR T2 axial');
    expect(t('viewer.preset.lung')).toBe('Lunge');
    expect(formatter('fr', viewerOnly(fr))('viewer.imageCount', { count: 0 })).toBe('0 image');
  });

  it('every window preset has a label message', () => {
    const t = formatter('en', {});
    for (const p of CT_PRESETS) expect(t(`viewer.preset.${p.id}`), p.id).not.toBe(`viewer.preset.${p.id}`);
    expect(t('viewer.preset.soft-tissue')).toBe('Soft tissue');
  });
});

describe('a missing or broken message never throws', () => {
  it('falls back to English, then to the key', () => {
    const t = formatter('fr', {
      'viewer.loading': 'Chargement des images…',
      'viewer.imageCount': '{count, plural,',
    });
    expect(t('viewer.loading')).toBe('Chargement des images…');
    // Not sent by the page: the English message.
    expect(t('viewer.linkGone')).toMatch(/^This link is no longer available/);
    // Does not parse: the English message, still formatted.
    expect(t('viewer.imageCount', { count: 2 })).toBe('2 images');
    // A value the message needs is missing, or the key is unknown: never an exception.
    expect(() => t('viewer.counter')).not.toThrow();
    expect(t('viewer.nonexistent')).toBe('viewer.nonexistent');
  });

  it('takes an unknown or malformed language as English, and bad page data as no messages', () => {
    expect(formatter('not a tag!', {})('viewer.imageCount', { count: 1 })).toBe('1 image');
    expect(formatter(undefined, {})('viewer.counter', { index: 2, total: 3 })).toBe('image 2 / 3');
    expect(parseMessages('{not json')).toEqual({});
    expect(parseMessages(undefined)).toEqual({});
    expect(parseMessages('["x"]')).toEqual({});
    expect(parseMessages('{"viewer.a":"A","viewer.b":3}')).toEqual({ 'viewer.a': 'A' });
  });
});
