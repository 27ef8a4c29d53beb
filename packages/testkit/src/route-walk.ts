/** One route as the services register it (`registeredRoutes`, `/internal/v1/routes`). */
export interface WalkRoute {
  method: string;
  path: string;
}

/** A value that fits each kind of route parameter, so the concrete path reaches the handler. */
const PARAM_VALUES: Record<string, string> = {
  studyInstanceUid: '1.2.826.0.1.3680043.8.498.1',
  id: '1',
};

/**
 * The route template with each `:param` filled with a plausible value.
 * @example concretePath('/api/v1/studies/:studyInstanceUid/token') // '/api/v1/studies/1.2.826.../token'
 */
export function concretePath(template: string): string {
  return template.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_m, name: string) => PARAM_VALUES[name] ?? '1');
}

const encodeFirstLetter = (segment: string) => {
  const i = segment.search(/[A-Za-z]/);
  if (i < 0) return segment;
  const hex = segment.charCodeAt(i).toString(16).toUpperCase();
  return `${segment.slice(0, i)}%${hex}${segment.slice(i + 1)}`;
};

/** The first letter of a segment in upper case: `Api`, `Staff`. */
const capitalise = (segment: string) => segment.replace(/[a-z]/, (c) => c.toUpperCase());

/**
 * Spellings of `path` that a path-prefix check might miss while a router still matches them: other
 * case, doubled and trailing slashes, `.` and `..` segments, percent-encoded letters and slashes. The
 * first entry is the path itself.
 * @example pathVariants('/api/v1/access-log').includes('/api/V1/access-log') // true
 */
export function pathVariants(path: string): string[] {
  const segments = path.split('/').slice(1);
  const join = (s: string[]) => `/${s.join('/')}`;
  const variants = new Set<string>([path]);
  variants.add(path.toUpperCase());
  variants.add(join(segments.map(capitalise)));
  segments.forEach((_, i) => {
    variants.add(join(segments.map((s, j) => (j === i ? capitalise(s) : s))));
    variants.add(join(segments.map((s, j) => (j === i ? s.toUpperCase() : s))));
    variants.add(join(segments.map((s, j) => (j === i ? encodeFirstLetter(s) : s))));
  });
  variants.add(`${path}/`);
  variants.add(`/${path}`);
  variants.add(path.replace(/\/(?=[^/]*$)/, '//'));
  variants.add(`/.${path}`);
  variants.add(join([segments[0] ?? '', '.', ...segments.slice(1)]));
  variants.add(join([segments[0] ?? '', 'x', '..', ...segments.slice(1)]));
  variants.add(path.replace(/\//g, (m, offset: number) => (offset > 0 ? '%2F' : m)));
  variants.add(`${path}%20`);
  variants.add(`${path};x=1`);
  return [...variants].filter((v) => v !== '');
}
