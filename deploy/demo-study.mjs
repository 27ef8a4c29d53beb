// The demo study of `make up` (docker) — the same UID as scripts/stack.mjs DEMO_STUDY_UID
// (`make dev`), so both demos show the same synthetic CT. Kept here, free of dependencies, because
// the demo-data image and the host-side helper (deploy/demo.mjs) both read it.
export const DEMO_STUDY_UID = '2.25.271828182845904523536028747135266249775';

/** pydicom test files loaded next to it when the image has them: plain, JPEG 2000 and non-Latin names. */
export const DEMO_SAMPLES = [
  'CT_small.dcm',
  'MR_small.dcm',
  'JPEG2000.dcm',
  'chrH31.dcm',
  'chrGreek.dcm',
  'chrRuss.dcm',
];
