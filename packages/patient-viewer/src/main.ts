import {
  cache,
  Enums,
  imageLoader,
  init as initCore,
  RenderingEngine,
  type Types,
  utilities,
} from '@cornerstonejs/core';
import { init as initLoader, wadors } from '@cornerstonejs/dicom-image-loader';
import {
  addTool,
  init as initTools,
  PanTool,
  StackScrollTool,
  Enums as ToolEnums,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
} from '@cornerstonejs/tools';
import { GatewayClient, LinkGoneError } from './gateway.client.js';
import { instanceImageId, registerInstanceLoader } from './instance.loader.js';
import { formatter, imageCounter, parseMessages, seriesLabel } from './messages.js';
import { nextPixelPath, type PixelPath } from './pixel-path.js';
import { presetsFor, voiRange } from './presets.js';
import { registerRenderedLoader, renderedImageId } from './rendered.loader.js';
import { buildSeries, type DicomJson, loadOrder, type ViewerSeries } from './study.model.js';
import { decodePathFor } from './transfer-syntax.js';

const TOKEN = /^[A-Za-z0-9]{64}$/;
const ENGINE_ID = 'studylink';
const VIEWPORT_ID = 'main';
const TOOL_GROUP_ID = 'main';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const app = $('app');
const viewportEl = $('viewport');
const statusEl = $('status');
const counterEl = $('counter');
const stripEl = $('series');
const progressEl = $('progress');
const progressBar = $('progress-bar');
const presetSelect = $<HTMLSelectElement>('preset');
// The page's language and its `viewer.*` messages (ICU MessageFormat), from the server.
const t = formatter(app.dataset.lang ?? document.documentElement.lang, parseMessages(app.dataset.messages));

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
gateway.onLinkGone = () => {
  if (gone) return;
  gone = true;
  imageLoader.cancelLoadAll();
  setStatus(t('viewer.linkGone'), 'gone');
  viewportEl.hidden = true;
  progressEl.hidden = true;
};

const framePath = (s: ViewerSeries, sop: string, frame: number) =>
  `studies/${studyUid}/series/${s.seriesInstanceUid}/instances/${sop}/frames/${frame}`;

// Whole instances only when the link may receive original files (the gateway refuses them otherwise).
const originalFiles = app.dataset.originalFiles !== 'no';

/** Cornerstone image ids of a series along one path. */
function imageIdsOf(s: ViewerSeries, path: PixelPath): string[] {
  return s.images.map(({ instance, frame }) => {
    const fp = framePath(s, instance.sopInstanceUid, frame);
    if (path === 'rendered') return renderedImageId(fp, instance.metadata);
    if (path === 'instance')
      return instanceImageId(
        `studies/${studyUid}/series/${s.seriesInstanceUid}/instances/${instance.sopInstanceUid}`,
        frame,
        instance.frames,
      );
    return `wadors:${gateway.base}${fp}`;
  });
}

/** The first path worth trying for a series: syntaxes the browser has no decoder for go to rendered. */
function firstPathOf(s: ViewerSeries): PixelPath {
  return s.instances.every((i) => decodePathFor(i.transferSyntaxUid) === 'rendered') ? 'rendered' : 'wadors';
}

function registerMetadata(s: ViewerSeries): void {
  for (const instance of s.instances) {
    // Multi-frame instances: frame 1 carries the metadata, the loader derives the other frames'.
    wadors.metaDataManager.add(
      `wadors:${gateway.base}${framePath(s, instance.sopInstanceUid, 1)}`,
      instance.metadata as never,
    );
  }
}

async function start(): Promise<void> {
  if (!TOKEN.test(token) || !studyUid) {
    setStatus(t('viewer.invalidLink'), 'error');
    return;
  }
  setStatus(t('viewer.loading'), 'loading');
  // Asked for before Cornerstone starts (WebGL, workers): the answers arrive while it does.
  const seriesAnswer = gateway.json<DicomJson[]>(`studies/${studyUid}/series`);
  const bySeriesNumber = (a: DicomJson, b: DicomJson) =>
    Number(a['00200011']?.Value?.[0] ?? 0) - Number(b['00200011']?.Value?.[0] ?? 0);
  const uidOf = (d: DicomJson | undefined) => {
    const v = d?.['0020000E']?.Value?.[0];
    return typeof v === 'string' ? v : undefined;
  };
  const metadataOf = (uid: string) => gateway.json<DicomJson[]>(`studies/${studyUid}/series/${uid}/metadata`);
  const firstMetadata = seriesAnswer.then((list) => {
    const uid = uidOf([...list].sort(bySeriesNumber)[0]);
    return uid ? metadataOf(uid) : [];
  });
  firstMetadata.catch(() => {});
  initCore();
  initLoader({
    // Half the cores, at most two: on two cores a second decoder did not load a 400-image series
    // faster (make bench-viewer: 7.7–9.0 s against 7.1–8.3 s), the page needs the other core.
    maxWebWorkers: Math.max(1, Math.min(2, Math.floor((navigator.hardwareConcurrency || 2) / 2))),
    wasmBasePath: new URL(app.dataset.assets ?? './', location.href).href,
    beforeSend: () => ({ Authorization: gateway.authorization }),
    errorInterceptor: (error) => {
      if ((error as { status?: number }).status === 401) gateway.onLinkGone();
    },
  });
  registerRenderedLoader(gateway);
  registerInstanceLoader(gateway);
  initTools({ showSVGCursors: false } as never);

  const engine = new RenderingEngine(ENGINE_ID);
  engine.enableElement({
    viewportId: VIEWPORT_ID,
    type: Enums.ViewportType.STACK,
    element: viewportEl as HTMLDivElement,
    defaultOptions: { background: [0, 0, 0] as Types.Point3 },
  });
  const viewport = engine.getViewport(VIEWPORT_ID) as Types.IStackViewport;
  // Cornerstone takes the element out of the tab order; the image must stay reachable by keyboard.
  viewportEl.tabIndex = 0;
  new ResizeObserver(() => engine.resize(true, true)).observe(viewportEl);
  const tools = setUpTools();

  const seriesQido = await seriesAnswer;
  const metadata = new Map<string, DicomJson[]>();
  // The first series (by number) first: the patient sees an image before the rest is asked for.
  const ordered = [...seriesQido].sort(bySeriesNumber);
  let series: ViewerSeries[] = [];
  const state = { active: -1, invert: false, preset: 'default' };
  const paths = new Map<string, PixelPath>();
  const pathOf = (x: ViewerSeries) => paths.get(x.seriesInstanceUid) ?? firstPathOf(x);

  const show = async (index: number, imageIndex = 0, busyRetries = 0): Promise<void> => {
    const s = series[index];
    if (!s) return;
    state.active = index;
    for (const [i, b] of [...stripEl.querySelectorAll('button')].entries())
      b.setAttribute('aria-pressed', String(i === index));
    registerMetadata(s);
    fillPresets(s.modality);
    const path = pathOf(s);
    const ids = imageIdsOf(s, path);
    app.dataset.decodePath = path;
    const at = Math.min(imageIndex, ids.length - 1);
    try {
      // Loaded first, on its own: setStack does not fail when its image does, this does.
      await imageLoader.loadAndCacheImage(ids[at] as string);
      await viewport.setStack(ids, at);
      applyDisplay();
      viewport.render();
      setStatus('', 'ready');
      // For `make bench` (and anyone's devtools): the first image on screen, two frames after its render.
      if (!performance.getEntriesByName('studylink:first-image').length)
        requestAnimationFrame(() => requestAnimationFrame(() => performance.mark('studylink:first-image')));
    } catch (err) {
      if (gone || err instanceof LinkGoneError) return;
      // Busy (a rate limit, the store): the same again after its Retry-After, not another path.
      const wait = busyWaitMs(err);
      if (wait !== null && busyRetries < 5) {
        forget(ids[at] as string);
        await sleep(wait);
        return show(index, imageIndex, busyRetries + 1);
      }
      // This path failed for this series: the next one (see PixelPath).
      console.info(
        `viewer: ${path} could not show series ${s.seriesNumber}`,
        err instanceof Error ? err.stack : JSON.stringify(err),
      );
      const next = nextPixelPath(path, originalFiles);
      if (next) {
        paths.set(s.seriesInstanceUid, next);
        return show(index, imageIndex);
      }
      setStatus(t('viewer.cannotShowImage'), 'error', true);
    }
    void prefetch(s, viewport.getCurrentImageIdIndex());
  };

  const applyDisplay = () => {
    const preset = presetsFor(series[state.active]?.modality ?? '').find((p) => p.id === state.preset);
    viewport.resetProperties();
    viewport.setProperties({ invert: state.invert, ...(preset ? { voiRange: voiRange(preset) } : {}) });
  };

  const fillPresets = (modality: string) => {
    const presets = presetsFor(modality);
    presetSelect.replaceChildren(
      new Option(t('viewer.asStored'), 'default'),
      ...presets.map((p) => new Option(t(`viewer.preset.${p.id}`), p.id)),
    );
    if (!presets.some((p) => p.id === state.preset)) state.preset = 'default';
    presetSelect.value = state.preset;
    presetSelect.disabled = presets.length === 0;
  };

  let prefetching: ViewerSeries | null = null;
  const prefetch = async (s: ViewerSeries, from: number) => {
    if (prefetching === s) return;
    prefetching = s;
    const ids = imageIdsOf(s, pathOf(s));
    let done = 0;
    progressEl.hidden = ids.length < 2;
    const order = loadOrder(from, ids.length);
    const retries = new Map<number, number>();
    const next = async (): Promise<void> => {
      while (order.length > 0 && prefetching === s && !gone) {
        const at = order.shift() as number;
        const id = ids[at] as string;
        try {
          if (!cache.getImageLoadObject(id)) await imageLoader.loadAndCacheImage(id);
        } catch (err) {
          const wait = busyWaitMs(err);
          if (wait !== null && (retries.get(at) ?? 0) < 5) {
            // Refused for now (429/503): back in the queue after its Retry-After.
            retries.set(at, (retries.get(at) ?? 0) + 1);
            forget(id);
            await sleep(wait);
            order.unshift(at);
            continue;
          }
          // Otherwise shown (or explained) when the patient scrolls to it.
        }
        done += 1;
        app.dataset.loaded = `${done}/${ids.length}`;
        progressBar.style.width = `${Math.round((done / ids.length) * 100)}%`;
        progressEl.setAttribute('aria-valuenow', String(Math.round((done / ids.length) * 100)));
      }
    };
    // Six at a time: what a browser opens to one origin over HTTP/1.1.
    await Promise.all(Array.from({ length: 6 }, next));
    if (prefetching === s) {
      progressEl.hidden = true;
      app.dataset.seriesLoaded = s.seriesInstanceUid;
      if (!performance.getEntriesByName('studylink:series-loaded').length)
        performance.mark('studylink:series-loaded');
    }
  };

  viewportEl.addEventListener(Enums.Events.STACK_NEW_IMAGE, () => {
    const i = viewport.getCurrentImageIdIndex();
    counterEl.textContent = imageCounter(t, i, viewport.getImageIds().length);
    app.dataset.imageIndex = String(i);
  });

  // Toolbar.
  presetSelect.addEventListener('change', () => {
    state.preset = presetSelect.value;
    applyDisplay();
    viewport.render();
  });
  $('invert').addEventListener('click', (e) => {
    state.invert = !state.invert;
    (e.currentTarget as HTMLElement).setAttribute('aria-pressed', String(state.invert));
    applyDisplay();
    viewport.render();
  });
  $('reset').addEventListener('click', () => {
    state.invert = false;
    state.preset = 'default';
    presetSelect.value = 'default';
    $('invert').setAttribute('aria-pressed', 'false');
    // Shown again as when it opened: the file's own window, fitted, at the same image.
    void show(state.active, viewport.getCurrentImageIdIndex());
  });
  viewportEl.addEventListener('keydown', (e) => {
    const n = viewport.getImageIds().length;
    const i = viewport.getCurrentImageIdIndex();
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
      const to = Math.max(0, Math.min(n - 1, i + (step[e.key] as number)));
      if (to !== i) void viewport.setImageIdIndex(to);
    } else if (e.key === '+' || e.key === '-') {
      e.preventDefault();
      const camera = viewport.getCamera();
      viewport.setCamera({ parallelScale: (camera.parallelScale ?? 1) * (e.key === '+' ? 0.8 : 1.25) });
      viewport.render();
    }
  });
  tools.bindPrimary(matchMedia('(pointer: coarse)').matches ? 'scroll' : 'contrast');

  for (const [i, s] of ordered.entries()) {
    const uid = uidOf(s);
    if (uid === undefined) continue;
    metadata.set(uid, await (i === 0 ? firstMetadata : metadataOf(uid)));
    const before = series.length;
    series = buildSeries(ordered, metadata).filter((x) => metadata.has(x.seriesInstanceUid));
    renderStrip(series, (i) => void show(i));
    if (state.active === -1 && series.length > before) await show(0);
  }
  if (series.length === 0) {
    setStatus(t('viewer.nothingToShow'), 'error', true);
    return;
  }
  app.dataset.ready = 'true';
  await makeThumbnails(series, pathOf, (x, p) => paths.set(x.seriesInstanceUid, p));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Drops a failed load from Cornerstone's cache, if it kept it, so that the next try loads again. */
function forget(imageId: string): void {
  try {
    if (cache.getImageLoadObject(imageId)) cache.removeImageLoadObject(imageId, { force: true });
  } catch {
    // Not in the cache: nothing to forget.
  }
}

/**
 * For a failed image load that the server refused for now (429 or 503, from nginx or the gateway):
 * how long to wait, from its Retry-After (capped at 10 s); null for any other failure.
 */
function busyWaitMs(err: unknown): number | null {
  const xhr = err instanceof XMLHttpRequest ? err : (err as { request?: unknown })?.request;
  if (!(xhr instanceof XMLHttpRequest) || (xhr.status !== 429 && xhr.status !== 503)) return null;
  const after = Number(xhr.getResponseHeader('retry-after'));
  return (Number.isFinite(after) && after > 0 ? Math.min(after, 10) : 1) * 1000;
}

type PrimaryTool = 'scroll' | 'contrast' | 'pan' | 'zoom';

function setUpTools() {
  for (const t of [StackScrollTool, WindowLevelTool, PanTool, ZoomTool]) addTool(t);
  const group = ToolGroupManager.createToolGroup(TOOL_GROUP_ID);
  if (!group) throw new Error('tool group');
  for (const t of [StackScrollTool, WindowLevelTool, PanTool, ZoomTool]) group.addTool(t.toolName);
  group.addViewport(VIEWPORT_ID, ENGINE_ID);
  const { MouseBindings } = ToolEnums;
  const names: Record<PrimaryTool, string> = {
    scroll: StackScrollTool.toolName,
    contrast: WindowLevelTool.toolName,
    pan: PanTool.toolName,
    zoom: ZoomTool.toolName,
  };
  const buttons: Record<PrimaryTool, HTMLElement> = {
    scroll: $('tool-scroll'),
    contrast: $('tool-wl'),
    pan: $('tool-pan'),
    zoom: $('tool-zoom'),
  };
  const bindPrimary = (tool: PrimaryTool) => {
    // Wheel always scrolls, two fingers always zoom (pinch); the primary button / one finger does the chosen tool.
    for (const [k, name] of Object.entries(names) as Array<[PrimaryTool, string]>) {
      const bindings: Array<Record<string, number>> = [];
      if (k === tool) bindings.push({ mouseButton: MouseBindings.Primary });
      if (k === 'scroll') bindings.push({ mouseButton: MouseBindings.Wheel });
      if (k === 'zoom') bindings.push({ mouseButton: MouseBindings.Secondary }, { numTouchPoints: 2 });
      if (k === 'pan') bindings.push({ mouseButton: MouseBindings.Auxiliary });
      group.setToolPassive(name);
      group.setToolActive(name, { bindings: bindings as never });
      buttons[k].setAttribute('aria-pressed', String(k === tool));
    }
    document.body.dataset.tool = tool;
  };
  for (const [k, b] of Object.entries(buttons) as Array<[PrimaryTool, HTMLElement]>)
    b.addEventListener('click', () => bindPrimary(k));
  return { bindPrimary };
}

function renderStrip(series: ViewerSeries[], onPick: (index: number) => void): void {
  const existing = new Map(
    [...stripEl.querySelectorAll<HTMLButtonElement>('button')].map((b) => [b.dataset.series, b]),
  );
  const buttons = series.map((s, i) => {
    const b = existing.get(s.seriesInstanceUid) ?? document.createElement('button');
    if (!b.dataset.series) {
      b.type = 'button';
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
      b.setAttribute('aria-pressed', 'false');
    }
    b.onclick = () => onPick(i);
    return b;
  });
  stripEl.replaceChildren(...buttons);
}

async function makeThumbnails(
  series: ViewerSeries[],
  pathOf: (s: ViewerSeries) => PixelPath,
  setPath: (s: ViewerSeries, p: PixelPath) => void,
): Promise<void> {
  for (const s of series) {
    const b = stripEl.querySelector<HTMLButtonElement>(`button[data-series="${s.seriesInstanceUid}"]`);
    const canvas = b?.querySelector('canvas');
    if (!canvas || s.images.length === 0) continue;
    registerMetadata(s);
    // The thumbnail is the series' middle image, along the first path that works (the series keeps it).
    let ok = false;
    for (
      let path: PixelPath | null = pathOf(s);
      path && !ok && !gone;
      path = nextPixelPath(path, originalFiles)
    ) {
      const ids = imageIdsOf(s, path);
      try {
        await drawThumbnail(canvas, ids[Math.floor(ids.length / 2)] as string);
        setPath(s, path);
        ok = true;
      } catch {
        // Next path.
      }
    }
    b?.setAttribute('data-thumbnail', ok ? 'ready' : 'failed');
  }
  document.body.dataset.thumbnails = 'ready';
}

/** loadImageToCanvas sizes its canvas to the image: draw it into the strip's own, letterboxed. */
async function drawThumbnail(canvas: HTMLCanvasElement, imageId: string): Promise<void> {
  const scratch = document.createElement('canvas');
  await utilities.loadImageToCanvas({ canvas: scratch, imageId, thumbnail: true });
  const g = canvas.getContext('2d') as CanvasRenderingContext2D;
  const scale = Math.min(canvas.width / scratch.width, canvas.height / scratch.height);
  const w = scratch.width * scale;
  const h = scratch.height * scale;
  g.fillStyle = '#000';
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.drawImage(scratch, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
}

start().catch((err: unknown) => {
  if (gone || err instanceof LinkGoneError) return;
  console.error(err);
  setStatus(t('viewer.unavailable'), 'error', true);
});
