import { readFileSync } from 'node:fs';

/**
 * The stylesheets and the staff script, real .css/.js files in services/token-service/assets/ (biome
 * checks them), read once when the module loads. The path resolves from src/ (tests) and from dist/
 * (the build) alike, both one level below the package; the Dockerfile copies the folder.
 */
function read(name: string): string {
  return readFileSync(new URL(`../assets/${name}`, import.meta.url), 'utf8');
}

/** Each script in its own fonts: the same rules on the patient's and the staff's pages. */
const SCRIPT_FONTS_CSS = read('script-fonts.css');
export const PATIENT_CSS = `${read('patient.css')}\n${SCRIPT_FONTS_CSS}`;
export const STAFF_CSS = `${read('staff.css')}\n${SCRIPT_FONTS_CSS}`;
export const STAFF_JS = read('staff.js');
/** Tells the server a browser (not a link scanner) loaded the patient page: POST /token/opened. */
export const PATIENT_OPENED_JS = read('patient-opened.js');
/** The shared-link page's copy button. */
export const PATIENT_SHARE_JS = read('patient-share.js');
