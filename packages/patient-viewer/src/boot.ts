// The viewer's entry: small, so that it runs at once. It finds the study's first image and shows
// the store's rendered preview of it, then every preview of the first series (for scrolling at
// once, and when the connection is gone), while the interactive viewer (core.ts: Cornerstone3D,
// most of the code) loads behind it and replaces each preview with the image at full fidelity.
import type { DicomJsonObject } from '../../dicomweb/src/dicom-json.helpers.js';
import {
  isTextStructuredReport,
  type ReportItem,
  readableItems,
  readStructuredReport,
  type StructuredReport,
} from '../../dicomweb/src/structured-report.js';
import { letterbox } from './canvas.js';
import { GatewayClient, LinkGoneError } from './gateway.client.js';
import { formatter, imageCounter, parseMessages, seriesLabel } from './messages.js';
import { Previews } from './previews.js';
import type { FullFidelity, PrimaryTool } from './stage.types.js';
import {
  buildSeries,
  type DicomJson,
  NON_IMAGE,
  type OtherSeries,
  otherSeries,
  type ViewerSeries,
} from './study.model.js';

const TOKEN = /^[A-Za-z0-9]{64}$/;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const app = $('app');
const viewportEl = $<HTMLDivElement>('viewport');
const previewEl = $<HTMLImageElement>('preview');
const qualityEl = $('quality');
const loadFullEl = $<HTMLButtonElement>('load-full');
const statusEl = $('status');
const counterEl = $('counter');
const stripEl = $('series');
const seriesProgressEl = $('series-progress');
const dataLightEl = $<HTMLButtonElement>('data-light');
const reportEl = $('report');
const reportBodyEl = $('report-body');
const reportToggleEl = $<HTMLButtonElement>('report-toggle');
// The page's language and its `viewer.*` messages (ICU MessageFormat), from the server.
const t = formatter(app.dataset.lang ?? document.documentElement.lang, parseMessages(app.dataset.messages));

// The token is the page's own query string (as for the study page). It stays in the address bar so
// that reloading and the back button work as the patient expects; it leaves this page only in the
// Authorization header of the gateway requests (Referrer-Policy no-referrer covers the rest).
// Tracking parameters a mail system may have appended (`&utm_source=...`) are not part of it.
const token = location.search.slice(1).split('&')[0] ?? '';
const studyUid = app.dataset.study ?? '';
const gateway = new GatewayClient(
  new URL(app.dataset.gateway ?? '/token/dicomweb/', location.origin).href,
  token,
);

let gone = false;
let series: ViewerSeries[] = [];
let others: OtherSeries[] = [];
let active = -1;
let index = 0;
let full: FullFidelity | null = null;
let tool: PrimaryTool = matchMedia('(pointer: coarse)').matches ? 'scroll' : 'contrast';
/**
 * Data-light mode (previews only until the patient asks for full quality): on when the browser says
 * the connection is slow or the patient asked it to save data (navigator.connection, where there is one).
 */
let dataLight = (() => {
  const c = (navigator as { connection?: { saveData?: boolean; effectiveType?: string } }).connection;
  return Boolean(c?.saveData) || ['slow-2g', '2g', '3g'].includes(c?.effectiveType ?? '');
})();
const previews = new Previews(gateway, studyUid, () => gone);

/** What the page shows in its status line; `state` is also on <body data-state> for tests and styling. */
function setStatus(text: string, state: 'loading' | 'ready' | 'error' | 'gone', link = false): void {
  // Once the link is gone nothing else is said: a load that finishes late must not look like success.
  if (gone && state !== 'gone') return;
  document.body.dataset.state = state;
  statusEl.textContent = text;
  statusEl.hidden = text === '';
  if (link) {
    const zip = document.querySelector<HTMLAnchorElement>('a.zip');
    if (zip) {
      const a = document.createElement('a');
      a.href = zip.href;
      a.textContent = t('viewer.downloadZip');
      a.setAttribute('download', '');
      statusEl.append(' ', a);
    }
  }
}

gateway.onLinkGone = () => {
  if (gone) return;
  gone = true;
  setStatus(t('viewer.linkGone'), 'gone');
  viewportEl.hidden = true;
  previewEl.hidden = true;
  qualityEl.hidden = true;
  loadFullEl.hidden = true;
  $('progress').hidden = true;
};

const mark = (name: string) => {
  if (!performance.getEntriesByName(name).length) performance.mark(name);
};

/** What is on screen: the preview, the image at full fidelity, or nothing yet. */
function setShown(quality: 'preview' | 'full' | 'none'): void {
  app.dataset.quality = quality;
  previewEl.hidden = quality === 'full';
  qualityEl.hidden = quality === 'none';
  qualityEl.dataset.quality = quality;
  qualityEl.textContent = quality === 'preview' ? t('viewer.preview') : t('viewer.fullQuality');
  loadFullEl.hidden = !(quality === 'preview' && dataLight);
  if (quality === 'none') return;
  setStatus('', 'ready');
  // For `make bench` (and anyone's devtools): the first image on screen, two frames after it was drawn.
  if (!performance.getEntriesByName('studylink:first-image').length) {
    const decoded = quality === 'preview' ? previewEl.decode().catch(() => {}) : Promise.resolve();
    void decoded.then(() =>
      requestAnimationFrame(() => requestAnimationFrame(() => mark('studylink:first-image'))),
    );
  }
}

let paintSeq = 0;
/** Shows the current image: at full fidelity when it is loaded, else its preview, else nothing. */
async function paint(): Promise<void> {
  const seq = ++paintSeq;
  const s = series[active];
  const i = index;
  if (!s || gone) return;
  if (full?.has(s, i)) {
    const ok = await full.display(s, i);
    if (seq !== paintSeq) return;
    if (ok) {
      setShown('full');
      return;
    }
  }
  const url = previews.get(s, i);
  if (url) {
    if (previewEl.getAttribute('src') !== url) previewEl.src = url;
    setShown('preview');
  } else {
    previewEl.removeAttribute('src');
    setShown('none');
  }
  if (!full) return;
  if (url || !previews.settled(s)) {
    full.want(s, i);
    return;
  }
  // No preview of this one (the store cannot render it): the full image is all there is.
  const ok = await full.load(s, i);
  if (seq !== paintSeq) return;
  if (ok) void paint();
  else setStatus(t('viewer.cannotShowImage'), 'error', true);
}

/** Moves to image `i` of the series on screen. */
function go(i: number): void {
  const s = series[active];
  if (!s) return;
  index = Math.max(0, Math.min(s.images.length - 1, i));
  counterEl.textContent = imageCounter(t, index, s.images.length);
  app.dataset.imageIndex = String(index);
  void paint();
}

/** Puts series `k` on screen at its first image; its previews first, then its frames at full fidelity. */
function select(k: number): void {
  const s = series[k];
  if (!s) return;
  active = k;
  for (const b of stripEl.querySelectorAll('button'))
    b.setAttribute('aria-pressed', String(b.dataset.series === s.seriesInstanceUid));
  go(0);
  // Its frames at full fidelity after its previews (which are light, and come first on a slow link).
  if (previews.settled(s)) full?.queue(s, true);
  else
    void previews.all(s, 0).then(() => {
      seriesProgress();
      if (series[active] === s) full?.queue(s, true);
    }, fail);
}

/** Every image of the series can be shown now, with no network: its preview or its full image is here. */
const showable = (s: ViewerSeries) => s.images.every((_, i) => previews.get(s, i) || full?.has(s, i));

/** A preview or a full image arrived: the image on screen may change, the series may be ready. */
function arrived(s: ViewerSeries, i: number): void {
  if (s === series[active] && i === index && app.dataset.quality !== 'full') void paint();
  if (showable(s)) {
    seriesProgress();
    // For `make bench-viewer` and the tests: the first series can be scrolled through offline.
    if (s === series[0]) mark('studylink:series-previews');
    if (s === series[active]) app.dataset.previews = s.seriesInstanceUid;
  }
}
previews.onArrive = arrived;

/** "3 of 4 series ready": a series is ready when every image of it can be shown (preview or full). */
function seriesProgress(): void {
  const ready = series.filter(showable).length;
  app.dataset.seriesReady = `${ready}/${series.length}`;
  seriesProgressEl.textContent = t('viewer.seriesReady', { ready, total: series.length });
  seriesProgressEl.hidden = series.length < 2;
}

function renderStrip(): void {
  const existing = new Map(
    [...stripEl.querySelectorAll<HTMLElement>('[data-series]')].map((b) => [b.dataset.series, b]),
  );
  const entries: Array<{ n: number; el: HTMLElement }> = [];
  for (const s of series) {
    let b = existing.get(s.seriesInstanceUid);
    if (!b) {
      b = document.createElement('button');
      (b as HTMLButtonElement).type = 'button';
      b.className = 'thumb';
      b.dataset.series = s.seriesInstanceUid;
      const canvas = document.createElement('canvas');
      canvas.width = 96;
      canvas.height = 96;
      canvas.setAttribute('aria-hidden', 'true');
      const label = document.createElement('span');
      label.textContent = seriesLabel(t, s);
      const count = document.createElement('small');
      count.textContent = t('viewer.imageCount', { count: s.images.length });
      b.append(canvas, label, count);
      b.setAttribute('aria-pressed', String(series[active] === s));
      const uid = s.seriesInstanceUid;
      b.addEventListener('click', () => select(series.findIndex((x) => x.seriesInstanceUid === uid)));
    }
    entries.push({ n: s.seriesNumber, el: b });
  }
  for (const o of others) {
    let d = existing.get(o.seriesInstanceUid);
    // A report the link shows: the SR opens the report panel, the PDF opens in the browser's viewer.
    const pdf = reportPdfs.get(o.seriesInstanceUid);
    if (d && (pdf || reportSeries.has(o.seriesInstanceUid)) && d.dataset.report !== 'yes') d = undefined;
    if (!d && (pdf || reportSeries.has(o.seriesInstanceUid))) {
      const el = pdf ? document.createElement('a') : document.createElement('button');
      if (el instanceof HTMLAnchorElement && pdf) {
        el.href = pdf;
        el.target = '_blank';
        el.rel = 'noopener noreferrer';
        el.type = 'application/pdf';
      } else if (el instanceof HTMLButtonElement) {
        el.type = 'button';
        el.addEventListener('click', () => showReport(true));
      }
      el.className = 'thumb other report';
      el.dataset.series = o.seriesInstanceUid;
      el.dataset.kind = o.kind;
      el.dataset.report = 'yes';
      const kind = document.createElement('b');
      kind.textContent = o.modality || '?';
      const label = document.createElement('span');
      label.textContent = [t(pdf ? 'viewer.nonImage.reportPdf' : 'viewer.nonImage.SR'), o.description]
        .filter(Boolean)
        .join(' · ');
      const note = document.createElement('small');
      note.textContent = t(pdf ? 'viewer.reportPdf' : 'viewer.showReport');
      el.append(kind, label, note);
      d = el;
    }
    if (!d) {
      // Listed with what it is (a segmentation, a report...): it is in the zip, not drawn here.
      d = document.createElement('div');
      d.className = 'thumb other';
      d.dataset.series = o.seriesInstanceUid;
      d.dataset.kind = o.kind;
      const kind = document.createElement('b');
      kind.textContent = o.modality || '?';
      const label = document.createElement('span');
      label.textContent = [t(`viewer.nonImage.${o.kind}`), o.description].filter(Boolean).join(' · ');
      const note = document.createElement('small');
      note.textContent = t('viewer.notAnImage');
      d.append(kind, label, note);
    }
    entries.push({ n: o.seriesNumber, el: d });
  }
  stripEl.replaceChildren(...entries.sort((a, b) => a.n - b.n).map((e) => e.el));
}

/** A series' thumbnail: its middle image's preview, else (once the viewer is loaded) the image itself. */
async function thumbnail(s: ViewerSeries): Promise<void> {
  const b = stripEl.querySelector<HTMLButtonElement>(`button[data-series="${s.seriesInstanceUid}"]`);
  const canvas = b?.querySelector('canvas');
  if (!b || !canvas || b.dataset.thumbnail === 'ready') return;
  const middle = Math.floor(s.images.length / 2);
  await previews.one(s, middle);
  const url = previews.get(s, middle);
  let ok = false;
  if (url) {
    const img = new Image();
    img.src = url;
    ok = await img.decode().then(
      () => {
        letterbox(canvas, img);
        return true;
      },
      () => false,
    );
  }
  if (!ok) ok = (await (await loadCore())?.thumbnail(s, canvas)) ?? false;
  b.dataset.thumbnail = ok ? 'ready' : 'failed';
}

let core: Promise<FullFidelity | null> | null = null;
/** The interactive viewer: its code (a chunk of its own) is asked for once the first image is up. */
function loadCore(): Promise<FullFidelity | null> {
  core ??= import('./core.js')
    .then((m) =>
      m.startCore({
        gateway,
        studyUid,
        t,
        app,
        viewport: viewportEl,
        presetSelect: $('preset'),
        invertButton: $('invert'),
        resetButton: $('reset'),
        dataLight: () => dataLight,
        isGone: () => gone,
        onLinkGone: () => gateway.onLinkGone(),
        onArrive: arrived,
        current: () => ({ series: series[active], index }),
      }),
    )
    .then((f) => {
      full = f;
      f.setTool(tool);
      app.dataset.core = 'ready';
      void paint();
      return f;
    })
    .catch((err: unknown) => {
      console.error(err);
      return null;
    });
  return core;
}

function fail(err: unknown): void {
  if (gone || err instanceof LinkGoneError) return;
  console.error(err);
  setStatus(t('viewer.unavailable'), 'error', true);
}

// The study's reports, when the link shows them (the gateway lists none otherwise): each SR's text
// in the report panel, each encapsulated PDF linked to its token-scoped path.
const ENCAPSULATED_PDF = '1.2.840.10008.5.1.4.1.1.104.1';
const reportPdfs = new Map<string, string>();
const reportSeries = new Set<string>();

function showReport(open: boolean): void {
  reportEl.hidden = !open;
  reportToggleEl.setAttribute('aria-expanded', String(open));
  if (open) reportEl.querySelector('h2')?.scrollIntoView({ block: 'nearest' });
}
reportToggleEl.addEventListener('click', () => showReport(reportEl.hidden !== false));
$('report-close').addEventListener('click', () => showReport(false));

function reportItems(list: readonly ReportItem[], depth: number): HTMLElement[] {
  return list.map((i) => {
    const el = document.createElement(i.valueType === 'CONTAINER' ? 'section' : 'div');
    el.className = i.valueType === 'CONTAINER' ? 'report-section' : 'report-item';
    if (i.heading) {
      const h = document.createElement(i.valueType === 'CONTAINER' ? (depth === 0 ? 'h3' : 'h4') : 'p');
      h.className = 'report-heading';
      h.textContent = i.heading;
      el.append(h);
    }
    if (i.value) {
      const p = document.createElement('p');
      p.className = 'report-text';
      p.textContent = i.value;
      el.append(p);
    }
    el.append(...reportItems(i.children, depth + 1));
    return el;
  });
}

function appendReport(r: StructuredReport): void {
  const article = document.createElement('article');
  article.className = 'report';
  article.dataset.sop = r.sopInstanceUid;
  const title = document.createElement('h3');
  title.textContent = r.title || t('viewer.report');
  article.append(title, ...reportItems(readableItems(r.content), 0));
  reportBodyEl.append(article);
}

async function loadReports(ordered: DicomJson[], metadata: Map<string, DicomJson[]>): Promise<void> {
  for (const q of ordered) {
    const uid = q['0020000E']?.Value?.[0];
    const modality = String(q['00080060']?.Value?.[0] ?? '');
    if (typeof uid !== 'string' || (modality !== 'SR' && modality !== 'DOC')) continue;
    const datasets = await gateway
      .json<DicomJson[]>(`studies/${studyUid}/series/${uid}/metadata`)
      .catch(() => null);
    if (!datasets) continue;
    metadata.set(uid, datasets);
    for (const d of datasets) {
      const sop = String(d['00080018']?.Value?.[0] ?? '');
      if (isTextStructuredReport(d as DicomJsonObject)) {
        appendReport(readStructuredReport(d as DicomJsonObject));
        reportSeries.add(uid);
      } else if (String(d['00080016']?.Value?.[0]) === ENCAPSULATED_PDF && /^[0-9.]{1,64}$/.test(sop)) {
        const href = `/token/report/${sop}.pdf?${token}`;
        reportPdfs.set(uid, href);
        const a = document.createElement('a');
        a.className = 'report-pdf';
        a.href = href;
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        a.type = 'application/pdf';
        a.textContent = t('viewer.reportPdf');
        reportBodyEl.prepend(a);
      }
    }
  }
  const any = reportSeries.size > 0 || reportPdfs.size > 0;
  reportToggleEl.hidden = !any;
  app.dataset.report = any ? 'ready' : 'none';
}

async function start(): Promise<void> {
  if (!TOKEN.test(token) || !studyUid) {
    setStatus(t('viewer.invalidLink'), 'error');
    return;
  }
  setStatus(t('viewer.loading'), 'loading');
  const stopped = () => gone;
  const qido = await gateway.json<DicomJson[]>(`studies/${studyUid}/series`, stopped);
  const num = (d: DicomJson) => Number(d['00200011']?.Value?.[0] ?? 0);
  const ordered = [...qido].sort((a, b) => num(a) - num(b));
  const metadata = new Map<string, DicomJson[]>();
  const rebuild = () => {
    // A series already listed keeps its object: everything else holds on to it.
    const known = new Map(series.map((s) => [s.seriesInstanceUid, s]));
    series = buildSeries(ordered, metadata)
      .filter((s) => metadata.has(s.seriesInstanceUid) && s.images.length > 0)
      .map((s) => known.get(s.seriesInstanceUid) ?? s);
    others = otherSeries(ordered, metadata);
    renderStrip();
    seriesProgress();
  };
  rebuild();
  // The reports beside the images: read while the images load, listed as reports once read.
  void loadReports(ordered, metadata)
    .then(rebuild)
    .catch(() => {
      app.dataset.report = 'none';
    });
  // The series with images, in order: each one's metadata and thumbnail as soon as they can be had;
  // their previews one series after the other (the first series' first), each followed by its
  // frames at full fidelity.
  let previewChain = Promise.resolve();
  let firstPreviews = Promise.resolve();
  for (const q of ordered) {
    const uid = q['0020000E']?.Value?.[0];
    const modality = q['00080060']?.Value?.[0];
    if (typeof uid !== 'string' || NON_IMAGE.has(String(modality))) continue;
    metadata.set(uid, await gateway.json<DicomJson[]>(`studies/${studyUid}/series/${uid}/metadata`, stopped));
    rebuild();
    const s = series.find((x) => x.seriesInstanceUid === uid);
    if (!s) continue;
    if (active === -1) {
      select(series.indexOf(s));
      firstPreviews = previews.all(s, 0);
      // The first image first, alone; then the first series' previews (every image can then be
      // shown offline), and only then the viewer's code (4 MiB of script to fetch and compile,
      // which took the link and the core from the previews), or after 3 s if they are slow.
      await previews.one(s, 0);
      void Promise.race([firstPreviews, new Promise((r) => setTimeout(r, 3_000))]).then(loadCore, fail);
    }
    // The other series' thumbnails once the first series' previews are in: those come first, on
    // every connection the browser has.
    void firstPreviews.then(() => thumbnail(s)).catch(fail);
    previewChain = previewChain
      .then(() => previews.all(s, s === series[active] ? index : 0))
      .then(() => loadCore())
      .then((f) => f?.queue(s, s === series[active]));
  }
  if (series.length === 0) {
    setStatus(t('viewer.nothingToShow'), 'error', true);
    return;
  }
  // Every series is in the strip.
  app.dataset.ready = 'true';
  await firstPreviews;
  await Promise.all(series.map((s) => thumbnail(s)));
  document.body.dataset.thumbnails = 'ready';
  await previewChain;
}

// Scrolling is the page's own, the same for previews and full images: the wheel, a drag with the
// Scroll tool, the keys.
const stage = $('stage');
stage.addEventListener(
  'wheel',
  (e) => {
    if (active < 0 || e.deltaY === 0) return;
    e.preventDefault();
    go(index + Math.sign(e.deltaY));
  },
  { passive: false },
);
const pointers = new Map<number, number>();
stage.addEventListener('pointerdown', (e) => {
  pointers.set(e.pointerId, e.clientY);
});
stage.addEventListener('pointermove', (e) => {
  const from = pointers.get(e.pointerId);
  if (from === undefined || tool !== 'scroll' || pointers.size !== 1) return;
  // One image per 12 px of a one-finger drag (or a drag with the primary button); up goes forward.
  const steps = Math.trunc((from - e.clientY) / 12);
  if (steps === 0) return;
  pointers.set(e.pointerId, from - steps * 12);
  go(index + steps);
});
for (const type of ['pointerup', 'pointercancel', 'pointerleave'])
  stage.addEventListener(type, (e) => pointers.delete((e as PointerEvent).pointerId));
viewportEl.addEventListener('keydown', (e) => {
  const n = series[active]?.images.length ?? 0;
  // Left and right follow the reading direction: the next image is to the left in Arabic.
  const forward = document.documentElement.dir === 'rtl' ? -1 : 1;
  const step: Record<string, number> = {
    ArrowDown: 1,
    ArrowRight: forward,
    ArrowUp: -1,
    ArrowLeft: -forward,
    PageDown: 10,
    PageUp: -10,
    Home: -n,
    End: n,
  };
  if (e.key in step) {
    e.preventDefault();
    go(index + (step[e.key] as number));
  } else if (e.key === '+' || e.key === '-') {
    e.preventDefault();
    full?.zoomBy(e.key === '+' ? 0.8 : 1.25);
  }
});

// The tools: chosen here (they work once the viewer is loaded; scrolling always does).
const toolButtons: Record<PrimaryTool, HTMLElement> = {
  scroll: $('tool-scroll'),
  contrast: $('tool-wl'),
  pan: $('tool-pan'),
  zoom: $('tool-zoom'),
};
function setTool(next: PrimaryTool): void {
  tool = next;
  for (const [k, b] of Object.entries(toolButtons)) b.setAttribute('aria-pressed', String(k === tool));
  document.body.dataset.tool = tool;
  full?.setTool(tool);
}
for (const [k, b] of Object.entries(toolButtons) as Array<[PrimaryTool, HTMLElement]>)
  b.addEventListener('click', () => setTool(k));
setTool(tool);

// The data-light switch, and the preview's "load full quality" when it is on.
function setDataLight(on: boolean): void {
  dataLight = on;
  dataLightEl.setAttribute('aria-pressed', String(on));
  app.dataset.dataLight = String(on);
  full?.dataLightChanged();
  if (app.dataset.quality === 'preview') setShown('preview');
  if (!on) void paint();
}
dataLightEl.addEventListener('click', () => setDataLight(!dataLight));
setDataLight(dataLight);
loadFullEl.addEventListener('click', () => {
  const s = series[active];
  if (s) void loadCore().then((f) => f?.want(s, index, true));
});

start().catch(fail);
