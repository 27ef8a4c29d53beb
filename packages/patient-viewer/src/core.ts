// The interactive viewer: Cornerstone3D and its decoders, loaded by boot.ts after the first image is
// on screen (a chunk of its own: most of the viewer's code). It loads frames at full fidelity,
// shows them when the page asks, and does windowing, zoom and pan on them.
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
  Enums as ToolEnums,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
} from '@cornerstonejs/tools';
import { letterbox } from './canvas.js';
import { LinkGoneError } from './gateway.client.js';
import { instanceImageId, registerInstanceLoader } from './instance.loader.js';
import { nextPixelPath, type PixelPath } from './pixel-path.js';
import { presetsFor, voiRange } from './presets.js';
import { registerRenderedLoader, renderedImageId } from './rendered.loader.js';
import { isTransientStatus, RETRY_DELAYS_MS, whenOnline } from './retry.js';
import type { CoreContext, FullFidelity, PrimaryTool } from './stage.types.js';
import { loadOrder, type ViewerSeries } from './study.model.js';
import { decodePathFor } from './transfer-syntax.js';

const ENGINE_ID = 'studylink';
const VIEWPORT_ID = 'main';
const TOOL_GROUP_ID = 'main';
/** Frames fetched at once: what a browser opens to one origin over HTTP/1.1. */
const PARALLEL = 6;

/** Starts Cornerstone on the page's viewport element and returns the page's handle on it. */
export async function startCore(ctx: CoreContext): Promise<FullFidelity> {
  const { gateway, studyUid, app } = ctx;
  // Whole instances only when the link may receive original files (the gateway refuses them otherwise).
  const originalFiles = app.dataset.originalFiles !== 'no';
  const framePath = (s: ViewerSeries, sop: string, frame: number) =>
    `studies/${studyUid}/series/${s.seriesInstanceUid}/instances/${sop}/frames/${frame}`;

  initCore();
  initLoader({
    // Half the cores, at most two: on two cores a second decoder did not load a 400-image series
    // faster (make bench-viewer: 7.7–9.0 s against 7.1–8.3 s), the page needs the other core.
    maxWebWorkers: Math.max(1, Math.min(2, Math.floor((navigator.hardwareConcurrency || 2) / 2))),
    wasmBasePath: new URL(app.dataset.assets ?? './', location.href).href,
    beforeSend: () => ({ Authorization: gateway.authorization }),
    errorInterceptor: (error) => {
      if ((error as { status?: number }).status === 401) ctx.onLinkGone();
    },
  });
  registerRenderedLoader(gateway);
  registerInstanceLoader(gateway);
  initTools({ showSVGCursors: false } as never);

  const engine = new RenderingEngine(ENGINE_ID);
  engine.enableElement({
    viewportId: VIEWPORT_ID,
    type: Enums.ViewportType.STACK,
    element: ctx.viewport,
    defaultOptions: { background: [0, 0, 0] as Types.Point3 },
  });
  const viewport = engine.getViewport(VIEWPORT_ID) as Types.IStackViewport;
  // Cornerstone takes the element out of the tab order; the image must stay reachable by keyboard.
  ctx.viewport.tabIndex = 0;
  new ResizeObserver(() => engine.resize(true, true)).observe(ctx.viewport);
  const tools = setUpTools();

  const paths = new Map<string, PixelPath>();
  /** Series whose path has shown an image: one failed frame no longer switches the whole series. */
  const confirmed = new Set<string>();
  const firstPathOf = (s: ViewerSeries): PixelPath =>
    s.instances.every((i) => decodePathFor(i.transferSyntaxUid) === 'rendered') ? 'rendered' : 'wadors';
  const pathOf = (s: ViewerSeries) => paths.get(s.seriesInstanceUid) ?? firstPathOf(s);
  const registered = new Set<string>();

  /** Cornerstone image ids of a series along one path. */
  const imageIdsOf = (s: ViewerSeries, path: PixelPath): string[] => {
    if (path === 'wadors' && !registered.has(s.seriesInstanceUid)) {
      registered.add(s.seriesInstanceUid);
      for (const instance of s.instances) {
        // Multi-frame instances: frame 1 carries the metadata, the loader derives the other frames'.
        wadors.metaDataManager.add(
          `wadors:${gateway.base}${framePath(s, instance.sopInstanceUid, 1)}`,
          instance.metadata as never,
        );
      }
    }
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
  };
  const ids = new Map<string, string[]>();
  const idsOf = (s: ViewerSeries) => {
    const path = pathOf(s);
    const key = `${s.seriesInstanceUid}|${path}`;
    let list = ids.get(key);
    if (!list) {
      list = imageIdsOf(s, path);
      ids.set(key, list);
    }
    return list;
  };
  const loaded = new Map<string, Set<number>>();
  const loadedOf = (s: ViewerSeries) => {
    const key = `${s.seriesInstanceUid}|${pathOf(s)}`;
    let set = loaded.get(key);
    if (!set) {
      set = new Set();
      loaded.set(key, set);
    }
    return set;
  };

  /** Loads one frame at full fidelity, moving the series to the next path while none has worked. */
  const loadOne = async (s: ViewerSeries, index: number): Promise<boolean> => {
    for (let busy = 0, lost = 0; !ctx.isGone(); ) {
      await whenOnline();
      const path = pathOf(s);
      if (loadedOf(s).has(index)) return true;
      const id = idsOf(s)[index];
      if (!id) return false;
      try {
        await imageLoader.loadAndCacheImage(id);
        confirmed.add(s.seriesInstanceUid);
        loadedOf(s).add(index);
        progress(s);
        ctx.onArrive(s, index);
        return true;
      } catch (err) {
        forget(id);
        if (ctx.isGone() || err instanceof LinkGoneError) return false;
        // Busy (a rate limit, the store): the same again after its Retry-After, not another path.
        const wait = busyWaitMs(err);
        if (wait !== null && busy < 5) {
          busy += 1;
          await sleep(wait);
          continue;
        }
        // A frame lost on the way is asked again on the same path: once the series' path works, after
        // any transient failure (a reset, a cut, a 5xx); before, only when nothing answered at all
        // (a 5xx may be the store unable to cut this file's frames: the next path, below).
        const status = xhrOf(err)?.status ?? -1;
        const delay = RETRY_DELAYS_MS[lost];
        const confirmedPath = confirmed.has(s.seriesInstanceUid);
        if (delay !== undefined && (status === 0 || (confirmedPath && isTransientStatus(status)))) {
          lost += 1;
          await sleep(delay);
          continue;
        }
        if (confirmedPath) return false;
        const next = nextPixelPath(path, originalFiles);
        // Another frame of the series may have moved it on already.
        if (pathOf(s) !== path) continue;
        console.info(
          `viewer: ${path} could not show series ${s.seriesNumber}`,
          err instanceof Error ? err.stack : JSON.stringify(err),
        );
        if (!next) return false;
        paths.set(s.seriesInstanceUid, next);
      }
    }
    return false;
  };

  // One queue of frames to load: wanted ones first, then whole series in the order asked.
  const wanted: Array<{ s: ViewerSeries; index: number; force: boolean }> = [];
  const background: ViewerSeries[] = [];
  const backgroundOrders = new Map<string, number[]>();
  /** A series' first frame goes alone: it settles the series' path before six go along it. */
  const probes = new Map<string, Promise<boolean>>();
  let workers = 0;
  const nextItem = (): { s: ViewerSeries; index: number } | null => {
    while (wanted.length > 0) {
      const w = wanted.shift() as (typeof wanted)[number];
      if ((!ctx.dataLight() || w.force) && !loadedOf(w.s).has(w.index)) return w;
    }
    if (ctx.dataLight()) return null;
    while (background.length > 0) {
      const s = background[0] as ViewerSeries;
      const order = backgroundOrders.get(s.seriesInstanceUid) ?? [];
      while (order.length > 0) {
        const index = order.shift() as number;
        if (!loadedOf(s).has(index)) return { s, index };
      }
      background.shift();
    }
    return null;
  };
  const work = async () => {
    workers += 1;
    try {
      for (let item = nextItem(); item && !ctx.isGone(); item = nextItem()) {
        const { s, index } = item;
        const uid = s.seriesInstanceUid;
        let probe = probes.get(uid);
        if (!probe) {
          probe = loadOne(s, index);
          probes.set(uid, probe);
          await probe;
          continue;
        }
        if (!(await probe) && !confirmed.has(uid)) continue;
        await loadOne(s, index);
      }
    } finally {
      workers -= 1;
    }
  };
  const pump = () => {
    while (workers < PARALLEL && (wanted.length > 0 || (!ctx.dataLight() && background.length > 0))) {
      const before = workers;
      void work();
      if (workers === before) break;
    }
  };

  const progressEl = document.getElementById('progress') as HTMLElement;
  const progressBar = document.getElementById('progress-bar') as HTMLElement;
  const progress = (s: ViewerSeries) => {
    const done = loadedOf(s).size;
    const total = s.images.length;
    if (ctx.current().series?.seriesInstanceUid === s.seriesInstanceUid) {
      app.dataset.loaded = `${done}/${total}`;
      progressEl.hidden = total < 2 || done >= total;
      progressBar.style.width = `${Math.round((done / total) * 100)}%`;
      progressEl.setAttribute('aria-valuenow', String(Math.round((done / total) * 100)));
    }
    if (done >= total) {
      app.dataset.seriesLoaded = s.seriesInstanceUid;
      if (!performance.getEntriesByName('studylink:series-loaded').length)
        performance.mark('studylink:series-loaded');
    }
  };

  // What is on the viewport, and how it is displayed.
  let stackKey = '';
  const state = { invert: false, preset: 'default', custom: null as { lower: number; upper: number } | null };
  let applying = false;
  const presetSelect = ctx.presetSelect;
  const modalityOnScreen = () => ctx.current().series?.modality ?? '';

  const applyDisplay = () => {
    const preset = presetsFor(modalityOnScreen()).find((p) => p.id === state.preset);
    const range = preset ? voiRange(preset) : state.preset === 'custom' ? state.custom : null;
    applying = true;
    try {
      viewport.resetProperties();
      viewport.setProperties({ invert: state.invert, ...(range ? { voiRange: range } : {}) });
    } finally {
      applying = false;
    }
  };

  const fillPresets = (modality: string) => {
    const presets = presetsFor(modality);
    presetSelect.replaceChildren(
      new Option(ctx.t('viewer.asStored'), 'default'),
      ...presets.map((p) => new Option(ctx.t(`viewer.preset.${p.id}`), p.id)),
    );
    if (!presets.some((p) => p.id === state.preset)) state.preset = 'default';
    state.custom = null;
    presetSelect.value = state.preset;
    presetSelect.disabled = presets.length === 0;
  };

  // A drag of the window (the Contrast tool) leaves the presets: the menu says what is on screen.
  // Only the patient's drags count (Cornerstone also sets the window when it shows a new stack).
  let dragging = false;
  ctx.viewport.addEventListener('pointerdown', () => {
    dragging = true;
  });
  for (const type of ['pointerup', 'pointercancel'])
    window.addEventListener(type, () => {
      dragging = false;
    });
  ctx.viewport.addEventListener(Enums.Events.VOI_MODIFIED, () => {
    if (applying || !dragging) return;
    const range = viewport.getProperties().voiRange;
    if (!range) return;
    const match = presetsFor(modalityOnScreen()).find((p) => {
      const r = voiRange(p);
      return Math.abs(r.lower - range.lower) < 1 && Math.abs(r.upper - range.upper) < 1;
    });
    if (match) {
      state.preset = match.id;
    } else {
      state.preset = 'custom';
      state.custom = { lower: range.lower, upper: range.upper };
      if (!presetSelect.querySelector('option[value="custom"]'))
        presetSelect.append(new Option(ctx.t('viewer.customWindow'), 'custom'));
    }
    presetSelect.value = state.preset;
    app.dataset.preset = state.preset;
  });

  presetSelect.addEventListener('change', () => {
    state.preset = presetSelect.value;
    presetSelect.querySelector('option[value="custom"]')?.remove();
    if (state.preset !== 'custom') state.custom = null;
    app.dataset.preset = state.preset;
    applyDisplay();
    viewport.render();
  });
  ctx.invertButton.addEventListener('click', (e) => {
    state.invert = !state.invert;
    (e.currentTarget as HTMLElement).setAttribute('aria-pressed', String(state.invert));
    applyDisplay();
    viewport.render();
  });
  ctx.resetButton.addEventListener('click', () => {
    state.invert = false;
    state.preset = 'default';
    state.custom = null;
    presetSelect.querySelector('option[value="custom"]')?.remove();
    presetSelect.value = 'default';
    app.dataset.preset = 'default';
    ctx.invertButton.setAttribute('aria-pressed', 'false');
    // Shown again as when it opened: the file's own window, fitted, at the same image.
    stackKey = '';
    const { series, index } = ctx.current();
    if (series && loadedOf(series).has(index)) void full.display(series, index);
  });

  const full: FullFidelity = {
    has: (s, index) => loadedOf(s).has(index),
    async display(s, index) {
      if (!loadedOf(s).has(index)) return false;
      const list = idsOf(s);
      const key = `${s.seriesInstanceUid}|${pathOf(s)}`;
      try {
        if (key !== stackKey) {
          const sameSeries = stackKey.startsWith(`${s.seriesInstanceUid}|`);
          stackKey = key;
          if (!sameSeries) fillPresets(s.modality);
          await viewport.setStack(list, index);
          applyDisplay();
        } else if (viewport.getCurrentImageIdIndex() !== index) {
          await viewport.setImageIdIndex(index);
        }
        viewport.render();
        app.dataset.decodePath = pathOf(s);
        return true;
      } catch (err) {
        console.info('viewer: could not display', err instanceof Error ? err.message : err);
        stackKey = '';
        return false;
      }
    },
    load: (s, index) => loadOne(s, index),
    want(s, index, force = false) {
      if (loadedOf(s).has(index)) return;
      wanted.unshift({ s, index, force });
      pump();
    },
    queue(s, first = false) {
      const uid = s.seriesInstanceUid;
      const at = background.findIndex((x) => x.seriesInstanceUid === uid);
      if (at >= 0) background.splice(at, 1);
      const from = ctx.current().series?.seriesInstanceUid === uid ? ctx.current().index : 0;
      if (!backgroundOrders.has(uid) || first)
        backgroundOrders.set(uid, loadOrder(Math.min(from, s.images.length - 1), s.images.length));
      if (first) background.unshift(s);
      else background.push(s);
      progress(s);
      pump();
    },
    count: (s) => loadedOf(s).size,
    dataLightChanged: () => pump(),
    setTool: (tool) => tools.bindPrimary(tool),
    async thumbnail(s, canvas) {
      for (let tries = 0; tries < 3 && !ctx.isGone(); tries++) {
        const list = idsOf(s);
        const path = pathOf(s);
        try {
          await drawThumbnail(canvas, list[Math.floor(list.length / 2)] as string);
          confirmed.add(s.seriesInstanceUid);
          return true;
        } catch {
          if (confirmed.has(s.seriesInstanceUid)) return false;
          const next = nextPixelPath(path, originalFiles);
          if (!next) return false;
          if (pathOf(s) === path) paths.set(s.seriesInstanceUid, next);
        }
      }
      return false;
    },
    zoomBy(factor) {
      const camera = viewport.getCamera();
      viewport.setCamera({ parallelScale: (camera.parallelScale ?? 1) * factor });
      viewport.render();
    },
  };
  return full;
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

/** The request behind a failed image load (dicom-image-loader rejects with it, or an error holding it). */
function xhrOf(err: unknown): XMLHttpRequest | null {
  const xhr = err instanceof XMLHttpRequest ? err : (err as { request?: unknown })?.request;
  return xhr instanceof XMLHttpRequest ? xhr : null;
}

/**
 * For a failed image load that the server refused for now (429 or 503, from nginx or the gateway):
 * how long to wait, from its Retry-After (capped at 10 s); null for any other failure.
 */
function busyWaitMs(err: unknown): number | null {
  const xhr = xhrOf(err);
  if (!xhr || (xhr.status !== 429 && xhr.status !== 503)) return null;
  const after = Number(xhr.getResponseHeader('retry-after'));
  return (Number.isFinite(after) && after > 0 ? Math.min(after, 10) : 1) * 1000;
}

/** Cornerstone's tools for the primary button / one finger; scrolling is the page's (see boot.ts). */
function setUpTools() {
  for (const t of [WindowLevelTool, PanTool, ZoomTool]) addTool(t);
  const group = ToolGroupManager.createToolGroup(TOOL_GROUP_ID);
  if (!group) throw new Error('tool group');
  for (const t of [WindowLevelTool, PanTool, ZoomTool]) group.addTool(t.toolName);
  group.addViewport(VIEWPORT_ID, ENGINE_ID);
  const { MouseBindings } = ToolEnums;
  const names: Record<Exclude<PrimaryTool, 'scroll'>, string> = {
    contrast: WindowLevelTool.toolName,
    pan: PanTool.toolName,
    zoom: ZoomTool.toolName,
  };
  const bindPrimary = (tool: PrimaryTool) => {
    // Two fingers always zoom (pinch); the primary button / one finger does the chosen tool.
    for (const [k, name] of Object.entries(names) as Array<[PrimaryTool, string]>) {
      const bindings: Array<Record<string, number>> = [];
      if (k === tool) bindings.push({ mouseButton: MouseBindings.Primary });
      if (k === 'zoom') bindings.push({ mouseButton: MouseBindings.Secondary }, { numTouchPoints: 2 });
      if (k === 'pan') bindings.push({ mouseButton: MouseBindings.Auxiliary });
      group.setToolPassive(name);
      group.setToolActive(name, { bindings: bindings as never });
    }
  };
  return { bindPrimary };
}

/** loadImageToCanvas sizes its canvas to the image: draw it into the strip's own, letterboxed. */
async function drawThumbnail(canvas: HTMLCanvasElement, imageId: string): Promise<void> {
  const scratch = document.createElement('canvas');
  await utilities.loadImageToCanvas({ canvas: scratch, imageId, thumbnail: true });
  letterbox(canvas, scratch);
}
