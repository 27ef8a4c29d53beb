/**
 * Folding of names for the staff search, the same for what the files hold and what staff type:
 * compatibility forms unified (half-width kana, full-width Latin), case and accents dropped
 * (Greek tonos, Cyrillic breve, Arabic harakat, Hebrew points, Latin diacritics; the Japanese voicing
 * marks kept, they change the sound), final sigma as sigma, ß as ss, katakana as hiragana.
 */
export function foldName(s: string): string {
  return s
    .normalize('NFKC')
    .normalize('NFD')
    .replace(/(?![\u3099\u309A])\p{M}/gu, '')
    .toLowerCase()
    .replace(/ς/g, 'σ')
    .replace(/ß/g, 'ss')
    .replace(/[\u30A1-\u30F6]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x60))
    .normalize('NFC');
}

/** What separates words in a name as stored (PN components, spaces, punctuation). */
const NAME_SEPARATORS = /[\s^=,.;:'"()/\\\-_]+/u;

/**
 * The words a study's name is found by: every word of every PN group folded, and each group's
 * components run together (`山田^太郎` is also `山田太郎`; `Buc^Jérôme` also `bucjerome`).
 */
export function nameWords(patientName: string): string[] {
  const words = new Set<string>();
  for (const group of patientName.split('=')) {
    const folded = foldName(group);
    for (const w of folded.split(NAME_SEPARATORS)) if (w) words.add(w);
    const joined = folded.replace(new RegExp(NAME_SEPARATORS.source, 'gu'), '');
    if (joined) words.add(joined);
  }
  return [...words].map((w) => w.slice(0, 200));
}

/** The name as ordered within a date: its first group folded. */
export function nameSortKey(patientName: string): string {
  return foldName(patientName.split('=').find((g) => g !== '') ?? '').slice(0, 200);
}

/**
 * What staff typed as LIKE patterns over the folded words, one per typed word, all to match: each
 * word is a prefix (`Люк` finds `Люкceмбypг`); `*` and `?` are DICOM's wildcards anywhere in it.
 */
export function nameSearchPatterns(typed: string): string[] {
  return foldName(typed)
    .split(/[\s^=,.;:'"()/\\\-_]+/u)
    .filter((w) => w !== '' && !/^[*?]*\*[*?]*$/.test(w))
    .map((w) => {
      const like = w
        .replace(/[\\%_]/g, (c) => `\\${c}`)
        .replace(/\*/g, '%')
        .replace(/\?/g, '_');
      return w.endsWith('*') ? like : `${like}%`;
    });
}
