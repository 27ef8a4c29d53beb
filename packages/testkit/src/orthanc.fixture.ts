import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError, freePort, waitForHttp } from './net.helpers.js';
import { killOnExit, tailFile } from './process.helpers.js';

const DEFAULT_BINARY = '/usr/sbin/Orthanc';
const DEFAULT_DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
const SETPRIV = '/usr/bin/setpriv';

export interface StartOrthancOptions {
  /** Parent of the temporary directory holding config, storage and logs (default: the OS temp dir). */
  dir?: string;
  /** Orthanc executable (default `ORTHANC_BIN` or /usr/sbin/Orthanc). */
  binary?: string;
  /** DICOMweb plugin (default `ORTHANC_DICOMWEB_PLUGIN` or Debian's libOrthancDicomWeb.so). */
  dicomWebPlugin?: string;
  /**
   * 'tuned' (default): the project's fixture, with DefaultEncoding Utf8 and full metadata modes set.
   * 'stock': Orthanc as Debian installs it and most sites leave it, with nothing configured but the
   * DICOMweb root: the values of Debian's orthanc.json (DefaultEncoding Latin1, HTTP compression
   * and keep-alive on, 50 HTTP threads) and the DICOMweb plugin's default metadata modes. Only what
   * a private test instance needs is set either way (port, loopback only, no DICOM listener,
   * storage in a temp dir).
   */
  preset?: 'tuned' | 'stock';
  /**
   * Encoding Orthanc assumes for instances without SpecificCharacterSet and uses for its QIDO-RS answers.
   * Default 'Utf8': with Orthanc's own default, 'Latin1', QIDO-RS drops every non-Latin-1 character of
   * names (Greek comes back empty, Russian as "ceyp").
   */
  defaultEncoding?: 'Utf8' | 'Latin1';
  /** Extra top-level configuration keys; each replaces ours whole (e.g. `{ OverwriteInstances: true }`). */
  config?: Record<string, unknown>;
  /** How long to wait for `GET /system` to answer (default 30 s). */
  timeoutMs?: number;
  /** Keep the temporary directory after stop() (for debugging). */
  keepDir?: boolean;
}

export interface UploadResult {
  /** Orthanc's instance id. */
  id: string;
  /** 'Success', or 'AlreadyStored' when an instance with that SOP Instance UID was there already. */
  status: string;
  /** Orthanc's id of the study. */
  parentStudy: string;
  /** The study's DICOM StudyInstanceUID. */
  studyInstanceUid: string;
}

export interface OrthancInstance {
  /** Orthanc's REST root, e.g. http://127.0.0.1:40123 */
  httpUrl: string;
  /** The DICOMweb root (QIDO-RS, WADO-RS, STOW-RS), e.g. http://127.0.0.1:40123/dicom-web */
  dicomwebUrl: string;
  port: number;
  /** The temporary directory: config.json, logs and the storage/ directory. */
  dir: string;
  storageDir: string;
  logFile: string;
  pid: number;
  /** Stops Orthanc (SIGTERM, SIGKILL after 10 s) and removes the temporary directory. Idempotent. */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL) right away, e.g. to test a store that dies; stop() still cleans up. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves once the process has exited (with its exit code, or the signal name). */
  exited: Promise<number | string>;
  /** POST /instances with a file path or the bytes of a DICOM file. */
  upload(fileOrBytes: string | Uint8Array): Promise<UploadResult>;
}

/**
 * Starts a private Orthanc with the DICOMweb plugin on a free loopback port, storage in a temp dir,
 * no DICOM listener and no authentication.
 * @example const orthanc = await startOrthanc(); afterAll(() => orthanc.stop());
 */
export async function startOrthanc(options: StartOrthancOptions = {}): Promise<OrthancInstance> {
  // The port is free when we look but could be taken before Orthanc binds it: try a few.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOrthancOnce(options);
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= 3) throw err;
    }
  }
}

class PortTakenError extends Error {}

async function startOrthancOnce(options: StartOrthancOptions): Promise<OrthancInstance> {
  const binary = options.binary ?? process.env.ORTHANC_BIN ?? DEFAULT_BINARY;
  const plugin = options.dicomWebPlugin ?? process.env.ORTHANC_DICOMWEB_PLUGIN ?? DEFAULT_DICOMWEB_PLUGIN;
  for (const file of [binary, plugin]) {
    if (!existsSync(file))
      throw new Error(`startOrthanc: ${file} not found (apt-get install orthanc orthanc-dicomweb)`);
  }
  const dir = await mkdtemp(join(options.dir ?? tmpdir(), 'studylink-orthanc-'));
  const storageDir = join(dir, 'storage');
  const logFile = join(dir, 'orthanc.log');
  const consoleFile = join(dir, 'console.log');
  const configFile = join(dir, 'config.json');
  const port = await freePort();
  const stock = options.preset === 'stock';
  const base = {
    Name: `studylink-test-${port}`,
    HttpPort: port,
    // Orthanc 1.10 has no bind-address setting: it listens on all interfaces, and this refuses every
    // client that is not on loopback (401), so it is reachable from 127.0.0.1 only.
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomServerEnabled: false,
    StorageDirectory: storageDir,
    IndexDirectory: storageDir,
    SaveJobs: false,
    Plugins: [plugin],
  };
  const stockConfig = {
    ...base,
    // The values of Debian's /etc/orthanc/orthanc.json for what touches DICOMweb answers.
    DefaultEncoding: options.defaultEncoding ?? 'Latin1',
    HttpCompressionEnabled: true,
    KeepAlive: true,
    TcpNoDelay: true,
    HttpThreadsCount: 50,
    StorageCompression: false,
    StableAge: 60,
    // As Debian's /etc/orthanc/dicomweb.json has it.
    DicomWeb: { Enable: true, Root: '/dicom-web/' },
    ...options.config,
  };
  const tunedConfig = {
    Name: `studylink-test-${port}`,
    HttpPort: port,
    // Orthanc 1.10 has no bind-address setting: it listens on all interfaces, and this refuses every
    // client that is not on loopback (401), so it is reachable from 127.0.0.1 only.
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomServerEnabled: false,
    HttpCompressionEnabled: false,
    StorageDirectory: storageDir,
    IndexDirectory: storageDir,
    StorageCompression: false,
    DefaultEncoding: options.defaultEncoding ?? 'Utf8',
    StableAge: 1,
    SaveJobs: false,
    HttpThreadsCount: 20,
    Plugins: [plugin],
    DicomWeb: {
      Enable: true,
      Root: '/dicom-web/',
      EnableWado: false,
      Ssl: false,
      // Read every instance for /metadata so it is complete (the plugin's default is "Full" as well).
      StudiesMetadata: 'Full',
      SeriesMetadata: 'Full',
    },
    ...options.config,
  };
  const config = stock ? stockConfig : tunedConfig;
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);

  // Orthanc logs to --logfile; stdout/stderr (crash messages, early failures) go to console.log.
  const consoleFd = openSync(consoleFile, 'a');
  const args = [`--logfile=${logFile}`, configFile];
  let child: ChildProcess;
  try {
    // setpriv --pdeathsig: the kernel kills Orthanc if this process dies, even by SIGKILL, where no
    // 'exit' handler runs. It execs Orthanc, so child.pid is Orthanc's pid.
    child = existsSync(SETPRIV)
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', binary, ...args], {
          stdio: ['ignore', consoleFd, consoleFd],
        })
      : spawn(binary, args, { stdio: ['ignore', consoleFd, consoleFd] });
  } finally {
    closeSync(consoleFd);
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? code ?? -1));
  });
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  spawnFailed.catch(() => {});
  const forgetOnExit = killOnExit(child, () => {
    if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
  });
  const logTail = () => [tailFile(consoleFile, 10), tailFile(logFile, 30)].filter(Boolean).join('\n');

  const httpUrl = `http://127.0.0.1:${port}`;
  const gaveUp = new AbortController();
  try {
    await Promise.race([
      waitForHttp(`${httpUrl}/system`, {
        timeoutMs: options.timeoutMs ?? 30_000,
        isReady: (res) => res.ok,
        signal: gaveUp.signal,
      }),
      spawnFailed,
      exited.then((how) => {
        throw new Error(`exited (${typeof how === 'number' ? `code ${how}` : how}) while starting`);
      }),
    ]);
  } catch (err) {
    gaveUp.abort();
    child.kill('SIGKILL');
    await exited;
    forgetOnExit();
    const tail = logTail();
    if (!options.keepDir) await rm(dir, { recursive: true, force: true });
    const message = `Orthanc on port ${port} did not start: ${describeError(err)}\n${tail}`;
    throw /bind|address already in use|port/i.test(tail) ? new PortTakenError(message) : new Error(message);
  }
  gaveUp.abort();

  let stopping: Promise<void> | null = null;
  const studyUids = new Map<string, string>();

  async function studyInstanceUid(orthancStudyId: string): Promise<string> {
    const known = studyUids.get(orthancStudyId);
    if (known) return known;
    const res = await fetch(`${httpUrl}/studies/${orthancStudyId}`);
    if (!res.ok) throw new Error(`GET /studies/${orthancStudyId}: HTTP ${res.status} ${await res.text()}`);
    const study = (await res.json()) as { MainDicomTags?: { StudyInstanceUID?: string } };
    const uid = study.MainDicomTags?.StudyInstanceUID;
    if (!uid) throw new Error(`Orthanc study ${orthancStudyId} has no StudyInstanceUID`);
    studyUids.set(orthancStudyId, uid);
    return uid;
  }

  return {
    httpUrl,
    dicomwebUrl: `${httpUrl}/dicom-web`,
    port,
    dir,
    storageDir,
    logFile,
    pid: child.pid ?? -1,
    exited,
    kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
        forgetOnExit();
        if (!options.keepDir) await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
    async upload(fileOrBytes) {
      const body = typeof fileOrBytes === 'string' ? await readFile(fileOrBytes) : fileOrBytes;
      const res = await fetch(`${httpUrl}/instances`, {
        method: 'POST',
        headers: { 'content-type': 'application/dicom' },
        body,
      });
      const text = await res.text();
      const what = typeof fileOrBytes === 'string' ? fileOrBytes : `${body.byteLength} bytes`;
      if (!res.ok) throw new Error(`Orthanc refused ${what}: HTTP ${res.status} ${text}`);
      const answer = JSON.parse(text) as { ID: string; Status: string; ParentStudy: string };
      return {
        id: answer.ID,
        status: answer.Status,
        parentStudy: answer.ParentStudy,
        studyInstanceUid: await studyInstanceUid(answer.ParentStudy),
      };
    },
  };
}
