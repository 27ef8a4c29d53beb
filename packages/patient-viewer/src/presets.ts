/** A window (VOI) as radiologists name it: width and centre (level) in the image's output units (HU for CT). */
export interface WindowPreset {
  id: string;
  label: string;
  width: number;
  center: number;
}

/** The CT presets patients are shown by radiologists; "As stored" (the file's own window) comes first in the menu. */
export const CT_PRESETS: readonly WindowPreset[] = Object.freeze([
  { id: 'soft-tissue', label: 'Soft tissue', width: 400, center: 40 },
  { id: 'lung', label: 'Lung', width: 1500, center: -600 },
  { id: 'bone', label: 'Bone', width: 1800, center: 400 },
  { id: 'brain', label: 'Brain', width: 80, center: 40 },
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
