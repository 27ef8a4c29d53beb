import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { runCommand } from './e2e-stack.js';

export interface CurlResult {
  /** curl's exit code: 0, or 18 (partial file), 56 (receive failure), 28 (timeout)... */
  exitCode: number | null;
  status: number;
  headers: Record<string, string>;
  file: string;
  elapsedMs: number;
  stderr: string;
}

export interface CurlOptions {
  /** `--limit-rate`, e.g. '2M': a slow patient connection. */
  limitRate?: string;
  /** Source address (127.0.0.x), so each scenario is its own client for nginx's per-address limits. */
  from?: string;
  maxTimeS?: number;
  /** Called once curl runs, e.g. to watch the file grow or to kill curl (a patient who gives up). */
  onSpawn?: (file: string, curl: ChildProcess) => void;
  /** Extra request headers, e.g. the Fetch Metadata a browser sends when the page's link is clicked. */
  headers?: Record<string, string>;
}

/** Downloads `url` with curl into a fresh temp dir, as a patient's browser would; never throws on HTTP errors. */
export async function curlDownload(url: string, opts: CurlOptions = {}): Promise<CurlResult> {
  const dir = await mkdtemp(join(tmpdir(), 'studylink-dl-'));
  const file = join(dir, 'download.zip');
  const headerFile = join(dir, 'headers.txt');
  const args = [
    '-sS',
    '-o',
    file,
    '-D',
    headerFile,
    '-w',
    '%{http_code}',
    '--max-time',
    String(opts.maxTimeS ?? 90),
  ];
  if (opts.limitRate) args.push('--limit-rate', opts.limitRate);
  if (opts.from) args.push('--interface', opts.from);
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(url);
  const started = Date.now();
  const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  opts.onSpawn?.(file, child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const elapsedMs = Date.now() - started;
  const headers: Record<string, string> = {};
  const rawHeaders = await readFile(headerFile, 'latin1').catch(() => '');
  for (const line of rawHeaders.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { exitCode, status: Number(stdout.trim()) || 0, headers, file, elapsedMs, stderr };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** True if the bytes hold a zip end-of-central-directory record (what a complete zip ends with). */
export function hasEndOfCentralDirectory(bytes: Buffer): boolean {
  return bytes.includes(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
}

export interface ExtractedZip {
  dir: string;
  /** Entry names as the zip lists them. */
  entries: string[];
  /** Relative path → bytes of every extracted file. */
  files: Map<string, Buffer>;
}

/** `unzip -t` must pass; then lists and extracts the archive. */
export async function testAndExtract(zipFile: string): Promise<{ test: string; zip: ExtractedZip }> {
  const test = await runCommand('unzip', ['-t', zipFile]);
  if (test.code !== 0) throw new Error(`unzip -t failed (${test.code}): ${test.stdout}${test.stderr}`);
  const list = await runCommand('unzip', ['-Z1', zipFile]);
  const dir = await mkdtemp(join(tmpdir(), 'studylink-unzip-'));
  const unzip = await runCommand('unzip', ['-q', zipFile, '-d', dir]);
  if (unzip.code !== 0) throw new Error(`unzip failed: ${unzip.stderr}`);
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), await readFile(path));
  }
  return { test: test.stdout, zip: { dir, entries: list.stdout.split('\n').filter(Boolean), files } };
}

export interface DicomdirRecord {
  type: string;
  /** Tag (lower-case `gggg,eeee`) → value as dcmdump prints it, brackets removed. */
  values: Map<string, string>;
}

/** Parses a DICOMDIR with dcmdump (DCMTK): one entry per directory record, UIDs as numbers. */
export async function readDicomdir(path: string): Promise<{ records: DicomdirRecord[]; dump: string }> {
  const r = await runCommand('dcmdump', ['-Un', path]);
  if (r.code !== 0) throw new Error(`dcmdump ${path} failed (${r.code}): ${r.stderr}`);
  if (/^[EW]: /m.test(r.stderr)) throw new Error(`dcmdump complained about ${path}: ${r.stderr}`);
  const records: DicomdirRecord[] = [];
  let current: DicomdirRecord | null = null;
  for (const line of r.stdout.split('\n')) {
    const item = /\(fffe,e000\) na "Directory Record" (\w+)/.exec(line);
    if (item) {
      current = { type: item[1] as string, values: new Map() };
      records.push(current);
      continue;
    }
    const el = /^\s+\(([0-9a-f]{4},[0-9a-f]{4})\) [A-Za-z]{2} (?:\[([^\]]*)\]|(\S+))/.exec(line);
    if (el && current) current.values.set(el[1] as string, el[2] ?? el[3] ?? '');
  }
  return { records, dump: r.stdout };
}

/** (0002,0003) and (0002,0010) of each PS3.10 file, read with dcmdump. */
export async function readFileMetas(
  paths: string[],
): Promise<Map<string, { sopInstanceUid: string; transferSyntaxUid: string }>> {
  const out = new Map<string, { sopInstanceUid: string; transferSyntaxUid: string }>();
  for (const path of paths) {
    const r = await runCommand('dcmdump', ['-Un', '-M', '+P', '0002,0003', '+P', '0002,0010', path]);
    if (r.code !== 0) throw new Error(`dcmdump ${path} failed: ${r.stderr}`);
    const value = (tag: string) => new RegExp(`\\(${tag}\\) UI \\[([^\\]]*)\\]`).exec(r.stdout)?.[1] ?? '';
    out.set(path, { sopInstanceUid: value('0002,0003'), transferSyntaxUid: value('0002,0010') });
  }
  return out;
}
