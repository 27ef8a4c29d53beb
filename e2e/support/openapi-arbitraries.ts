import fc from 'fast-check';

/** The part of JSON Schema (2020-12, as zod's toJSONSchema writes it) the API documents use. */
export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean;
  items?: JsonSchema;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
}

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema: JsonSchema;
}

export interface OpenApiOperation {
  parameters?: OpenApiParameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, unknown>;
  security?: unknown[];
}

export interface OpenApiDocument {
  servers?: { url: string }[];
  paths: Record<string, Record<string, OpenApiOperation | OpenApiParameter[]>>;
}

/** One documented operation with its path-level and operation-level parameters merged. */
export interface Operation {
  method: string;
  /** Full path template, server prefix included, e.g. /api/v1/studies/{studyInstanceUid}/token */
  path: string;
  parameters: OpenApiParameter[];
  body: JsonSchema | null;
  statuses: Set<number>;
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Every operation of an OpenAPI 3 document. */
export function operationsOf(doc: OpenApiDocument): Operation[] {
  const prefix = doc.servers?.[0]?.url ?? '';
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    const shared = (item.parameters as OpenApiParameter[] | undefined) ?? [];
    for (const [method, op] of Object.entries(item)) {
      if (!HTTP_METHODS.includes(method)) continue;
      const o = op as OpenApiOperation;
      ops.push({
        method: method.toUpperCase(),
        path: `${prefix}${path}`,
        parameters: [...shared, ...(o.parameters ?? [])],
        body: o.requestBody?.content['application/json']?.schema ?? null,
        statuses: new Set(Object.keys(o.responses).map(Number)),
      });
    }
  }
  return ops;
}

const DATE_TIME_EDGES = [
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999999Z',
  '2024-02-29T12:00:00+23:59',
  '1970-01-01T00:00:00-23:59',
  '2038-01-19T03:14:08Z',
];

/** Text that breaks naive handling: line breaks, NUL, bidi controls, astral characters, markup, SQL. */
export const NASTY_STRINGS = [
  '',
  ' ',
  '\r\n{"level":"fatal","msg":"injected"}',
  '\n',
  '\0',
  'a\0b',
  '\u202e\u2066',
  '\ud83d\ude00',
  '\ud800',
  '<script>alert(1)</script>',
  "'; DROP TABLE tokens;--",
  '../../etc/passwd',
  '%00%0d%0a',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a Log4Shell-style payload, literally
  '${jndi:ldap://x}',
  '__proto__',
  'constructor',
];

/** Any text: unicode (lone surrogates included), control characters, or the nasty strings above. */
export const anyText = (maxLength = 80): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength }) },
    { weight: 2, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    {
      weight: 1,
      arbitrary: fc.string({ unit: fc.constantFrom('\r', '\n', '\0', 'a', '%', '"', '\\'), maxLength }),
    },
  );

/** Numbers around and beyond a range, JavaScript's awkward ones included. */
function numbers(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? -(2 ** 31);
  const max = schema.maximum ?? 2 ** 31;
  const edges = [min, max, min - 1, max + 1, 0, -1, 0.5, 2 ** 53, 2 ** 53 + 2, 1e21, -1e21, 1e308, 5e-324];
  return fc.oneof(
    {
      weight: 3,
      arbitrary: integer
        ? fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31) })
        : fc.double({ min, max, noNaN: true }),
    },
    { weight: 2, arbitrary: fc.constantFrom(...edges) },
    { weight: 1, arbitrary: fc.double() },
  );
}

function strings(schema: JsonSchema): fc.Arbitrary<string> {
  // Addresses and mobile numbers: mostly valid, so an operation that takes one gets past its
  // validation now and then; near misses and garbage too.
  if (schema.format === 'email')
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('jane.doe@example.org', 'a@b.example') },
      { weight: 1, arbitrary: fc.constantFrom('x@@example.org', 'no-at-sign.example', '') },
      { weight: 1, arbitrary: anyText(40) },
    );
  if (schema.pattern?.startsWith('^\\+[1-9]'))
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('+447700900123', '+33612345678') },
      { weight: 1, arbitrary: fc.constantFrom('0044770090', '+0123456789', '') },
      { weight: 1, arbitrary: anyText(20) },
    );
  const options: fc.Arbitrary<string>[] = [anyText(schema.maxLength ? schema.maxLength + 4 : 80)];
  if (schema.format === 'date-time') {
    options.push(
      fc.constantFrom(...DATE_TIME_EDGES),
      fc
        .date({
          min: new Date('0001-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59Z'),
          noInvalidDate: true,
        })
        .map((d) => d.toISOString()),
    );
  } else if (schema.pattern?.startsWith('^[0-9]+')) {
    // DICOM UIDs: digits and dots, at most 64 characters; near misses too.
    const uid = fc
      .array(fc.bigInt({ min: 0n, max: 10n ** 20n }), { minLength: 1, maxLength: 12 })
      .map((parts) => parts.join('.'));
    // 65 characters, but no run of 64 digits: that would look like a token in the logs it reaches.
    const tooLong = `${'1'.repeat(32)}.${'2'.repeat(32)}`;
    options.push(
      uid,
      uid.map((u) => u.slice(0, 64)),
      uid.map((u) => `${u}.`),
      fc.constant(tooLong),
    );
  }
  return fc.oneof(...options);
}

/**
 * Values for a JSON Schema: mostly valid-looking (so requests get past the first check and reach
 * deeper code), with edges and plain garbage mixed in.
 * @example fc.sample(valueFor({ type: 'integer', minimum: 1, maximum: 500 }), 5)
 */
export function valueFor(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...schema.enum) }, anyText(20));
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => valueFor(s, depth)));
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length > 1) return fc.oneof(...types.map((type) => valueFor({ ...schema, type }, depth)));
  switch (types[0]) {
    case 'string':
      return strings(schema);
    case 'integer':
      return numbers(schema, true);
    case 'number':
      return numbers(schema, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return depth > 3
        ? fc.constant([])
        : fc.array(valueFor(schema.items ?? {}, depth + 1), { maxLength: 4 });
    case 'object': {
      const props = Object.fromEntries(
        Object.entries(schema.properties ?? {}).map(([k, s]) => [
          k,
          fc.oneof(
            { weight: 4, arbitrary: valueFor(s, depth + 1) },
            { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
          ),
        ]),
      );
      const known = fc.record(props, { requiredKeys: [] });
      return fc.oneof(
        { weight: 5, arbitrary: known },
        {
          weight: 1,
          arbitrary: fc
            .tuple(known, anyText(10), fc.jsonValue({ maxDepth: 1 }))
            .map(([o, k, v]) => ({ ...o, [k]: v })),
        },
      );
    }
    default:
      return fc.jsonValue({ maxDepth: 3 });
  }
}

/**
 * How a value travels in a URL: percent-encoded properly, or raw except for the characters that
 * would end the request line (space, CR, LF) and the fragment mark.
 */
export function urlPart(text: string, raw: boolean): string {
  if (!raw) return encodeURIComponent(text.replace(/[\ud800-\udfff]/g, '\ufffd'));
  return text.replace(
    /[ \r\n#?/]/g,
    (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`,
  );
}
