/**
 * A window (VOI) as radiologists name it: width and centre (level) in the image's output units (HU for
 * CT). Its label is the message `viewer.preset.<id>`, in the page's language.
 */
export interface WindowPreset {
  id: string;
  width: number;
  center: number;
}

/** The CT presets patients are shown by radiologists; "As stored" (`viewer.asStored`, the file's own window) comes first in the menu. */
export const CT_PRESETS: readonly WindowPreset[] = Object.freeze([
  { id: 'soft-tissue', width: 400, center: 40 },
  { id: 'lung', width: 1500, center: -600 },
  { id: 'bone', width: 1800, center: 400 },
  { id: 'brain', width: 80, center: 40 },
]);

/**
 * The VOI range Cornerstone takes for a width/centre pair (DICOM PS3.3 C.11.2.1.2, linear function).
 * @example voiRange({ width: 400, center: 40 }) // { lower: -160, upper: 240 }
 */
export function voiRange(p: { width: number; center: number }): { lower: number; upper: number } {
  return { lower: p.center - p.width / 2, upper: p.center + p.width / 2 };
}

/** The presets that mean something for a modality: the CT ones for CT, none otherwise. */
export function presetsFor(modality: string): readonly WindowPreset[] {
  return modality === 'CT' ? CT_PRESETS : [];
}
