import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { SAMPLE_DIR } from './dicom-samples.js';
import { type OrthancInstance, startOrthanc } from './orthanc.fixture.js';

// A process that has exited but was not reaped yet (a zombie) counts as gone.
const isAlive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

const nonLoopbackIpv4 = Object.values(networkInterfaces())
  .flat()
  .find((i) => i?.family === 'IPv4' && !i.internal)?.address;

describe('startOrthanc', () => {
  let orthanc: OrthancInstance;

  beforeAll(async () => {
    orthanc = await startOrthanc();
  });
  afterAll(async () => {
    await orthanc?.stop();
  });

  it('answers on loopback with DICOMweb and our configuration', async () => {
    expect(orthanc.httpUrl).toBe(`http://127.0.0.1:${orthanc.port}`);
    expect(orthanc.dicomwebUrl).toBe(`${orthanc.httpUrl}/dicom-web`);
    const system = (await (await fetch(`${orthanc.httpUrl}/system`)).json()) as Record<string, unknown>;
    expect(system.HttpPort).toBe(orthanc.port);
    const plugins = (await (await fetch(`${orthanc.httpUrl}/plugins`)).json()) as string[];
    expect(plugins).toContain('dicom-web');
    const qido = await fetch(`${orthanc.dicomwebUrl}/studies`, {
      headers: { accept: 'application/dicom+json' },
    });
    expect(qido.status).toBe(200);
    const config = JSON.parse(readFileSync(join(orthanc.dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      RemoteAccessAllowed: false,
      DicomServerEnabled: false,
      DefaultEncoding: 'Utf8',
    });
    expect(readFileSync(orthanc.logFile, 'utf8')).toMatch(/remote access is not allowed/);
  });

  it('opens no DICOM port and no port other than HttpPort', () => {
    // ss lists the sockets this pid listens on.
    const listening = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(`pid=${orthanc.pid},`));
    expect(listening).toHaveLength(1);
    expect(listening[0]).toContain(`:${orthanc.port} `);
  });

  it.skipIf(!nonLoopbackIpv4)('refuses clients that are not on loopback', async () => {
    const res = await fetch(`http://${nonLoopbackIpv4}:${orthanc.port}/system`);
    expect(res.status).toBe(401);
  });

  it('uploads a file path or bytes and tells whether it was new', async () => {
    const file = join(SAMPLE_DIR, 'CT_small.dcm');
    const first = await orthanc.upload(file);
    expect(first).toMatchObject({
      status: 'Success',
      studyInstanceUid: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322',
    });
    const again = await orthanc.upload(readFileSync(file));
    expect(again).toEqual({ ...first, status: 'AlreadyStored' });
    await expect(orthanc.upload(Buffer.from('not dicom'))).rejects.toThrow(
      /Orthanc refused 9 bytes: HTTP 400/,
    );
  });

  it('kill() ends the process at once and stop() still cleans up', async () => {
    const other = await startOrthanc();
    expect(existsSync(other.storageDir)).toBe(true);
    other.kill();
    expect(await other.exited).toBe('SIGKILL');
    await expect(fetch(`${other.httpUrl}/system`)).rejects.toThrow();
    await other.stop();
    expect(existsSync(other.dir)).toBe(false);
  });

  it('stop() ends Orthanc gracefully and removes its directory', async () => {
    const other = await startOrthanc();
    await other.stop();
    expect(await other.exited).toBe(0);
    expect(isAlive(other.pid)).toBe(false);
    expect(existsSync(other.dir)).toBe(false);
    await other.stop(); // idempotent
  });

  it('fails with the log tail when Orthanc cannot start', async () => {
    await expect(startOrthanc({ config: { DefaultEncoding: 'Klingon' } })).rejects.toThrow(
      /did not start: exited \(code \d+\) while starting[\s\S]*Parameter out of range/,
    );
  });

  it('dies with the process that started it', () => {
    // A child node process starts Orthanc and is SIGKILLed: no exit handler runs, pdeathsig must act.
    const script = `
      import { startOrthanc } from ${JSON.stringify(new URL('./orthanc.fixture.ts', import.meta.url).href)};
      const o = await startOrthanc();
      console.log(JSON.stringify({ pid: o.pid, dir: o.dir }));
      process.kill(process.pid, 'SIGKILL');
    `;
    let out = '';
    try {
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 30_000,
      });
    } catch (err) {
      out = String((err as { stdout?: string }).stdout ?? '');
    }
    const { pid, dir } = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { pid: number; dir: string };
    expect(pid).toBeGreaterThan(0);
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const deadline = Date.now() + 5_000;
    while (isAlive(pid) && Date.now() < deadline) execFileSync('sleep', ['0.05']);
    expect(isAlive(pid)).toBe(false);
  });
});
