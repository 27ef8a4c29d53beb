#!/usr/bin/env node
// The floor of this architecture for `make bench`: a bare node:http process that relays the store's
// study-level WADO-RS response to its client unparsed (no multipart parsing, no zip), as the export
// service would if it did no work. GET /<anything>?<StudyInstanceUID>. Env: RELAY_PORT, DICOMWEB_URL.
import { createServer, request } from 'node:http';

const port = Number(process.env.RELAY_PORT);
const base = new URL(`${process.env.DICOMWEB_URL.replace(/\/+$/, '')}/`);

createServer((req, res) => {
  const uid = (req.url ?? '').split('?')[1] ?? '';
  if (!/^[0-9.]{1,64}$/.test(uid)) {
    res.writeHead(404).end();
    return;
  }
  const upstream = request(
    new URL(`studies/${uid}`, base),
    {
      headers: {
        accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
        'accept-encoding': 'identity',
      },
    },
    (up) => {
      res.writeHead(up.statusCode ?? 502, {
        'content-type': up.headers['content-type'] ?? 'application/octet-stream',
      });
      up.pipe(res);
    },
  );
  upstream.on('error', () => res.destroy());
  res.on('close', () => upstream.destroy());
  upstream.end();
}).listen(port, '127.0.0.1');
