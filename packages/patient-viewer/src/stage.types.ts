import type { GatewayClient } from './gateway.client.js';
import type { Format } from './messages.js';
import type { ViewerSeries } from './study.model.js';

/** What the primary button or one finger does on the image. Scrolling is the page's own (it works on previews too). */
export type PrimaryTool = 'scroll' | 'contrast' | 'pan' | 'zoom';

/** What the page (boot.ts) hands the interactive viewer (core.ts) once its code has arrived. */
export interface CoreContext {
  gateway: GatewayClient;
  studyUid: string;
  t: Format;
  app: HTMLElement;
  viewport: HTMLDivElement;
  presetSelect: HTMLSelectElement;
  invertButton: HTMLElement;
  resetButton: HTMLElement;
  /** Data-light mode: nothing at full fidelity is fetched unless asked for (`want(..., true)`). */
  dataLight: () => boolean;
  isGone: () => boolean;
  onLinkGone: () => void;
  /** A frame at full fidelity arrived (is in Cornerstone's cache). */
  onArrive: (s: ViewerSeries, index: number) => void;
  /** The series on screen and the image of it, as the page has them. */
  current: () => { series: ViewerSeries | undefined; index: number };
}

/** The interactive viewer (Cornerstone3D): frames at full fidelity, windowing, zoom, pan. */
export interface FullFidelity {
  /** The image at full fidelity is loaded and can be displayed at once (no network). */
  has(s: ViewerSeries, index: number): boolean;
  /** Shows the image (loaded: see has) in the viewport; false when it could not. */
  display(s: ViewerSeries, index: number): Promise<boolean>;
  /** Loads this image now, whatever the mode (the page has nothing else to show for it); true once loaded. */
  load(s: ViewerSeries, index: number): Promise<boolean>;
  /** Loads this image soon (before the background queue); in data-light mode only when forced. */
  want(s: ViewerSeries, index: number, force?: boolean): void;
  /** Loads a whole series in the background (after those queued before, or first). */
  queue(s: ViewerSeries, first?: boolean): void;
  /** How many images of the series are loaded at full fidelity. */
  count(s: ViewerSeries): number;
  /** Data-light mode changed: pauses or resumes the background loads. */
  dataLightChanged(): void;
  setTool(tool: PrimaryTool): void;
  /** Draws the series' middle image at full fidelity into a strip canvas (when its preview failed). */
  thumbnail(s: ViewerSeries, canvas: HTMLCanvasElement): Promise<boolean>;
  /** Zooms the image (+/- keys). */
  zoomBy(factor: number): void;
}
