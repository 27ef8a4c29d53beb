import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Json } from './harness.js';

// Real message receivers for the delivery tests (issue 21), on 127.0.0.1 only.
const PYTHON = process.env.PYTHON3 ?? '/usr/bin/python3';
const SINK = fileURLToPath(new URL('./fixtures/smtp-sink.py', import.meta.url));

/** A real SMTP server (Debian's python3-aiosmtpd) writing each message it receives as JSON into a folder. */
export class SmtpSink {
  proc: ChildProcess | null = null;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}
  async start(): Promise<void> {
    const proc = spawn(PYTHON, [SINK, String(this.port), this.dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      proc.once('exit', (code) => reject(new Error(`smtp sink exited with ${code}`)));
      proc.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve();
      });
    });
    // Accepting connections (the controller says ready once it has probed itself).
    await new Promise<void>((resolve, reject) => {
      const s = connect(this.port, '127.0.0.1', () => {
        s.end();
        resolve();
      });
      s.once('error', reject);
    });
  }
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.removeAllListeners('exit');
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
    this.proc = null;
  }
  async messages(): Promise<Json[]> {
    const files = (await readdir(this.dir)).filter((f) => f.endsWith('.json')).sort();
    return Promise.all(files.map(async (f) => JSON.parse(await readFile(join(this.dir, f), 'utf8')) as Json));
  }
  async clear(): Promise<void> {
    for (const f of await readdir(this.dir)) await rm(join(this.dir, f));
  }
}

/** A Twilio-shaped Messages API: records what it is sent, answers as told. */
export class MessagesApi {
  readonly requests: { path: string; authorization: string; form: URLSearchParams }[] = [];
  answer: { status: number; body: unknown } = { status: 201, body: { sid: 'SM1', status: 'queued' } };
  server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      this.requests.push({
        path: req.url ?? '',
        authorization: req.headers.authorization ?? '',
        form: new URLSearchParams(body),
      });
      res.writeHead(this.answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.answer.body));
    });
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  }
}
