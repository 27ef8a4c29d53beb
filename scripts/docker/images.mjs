#!/usr/bin/env node
// `make images`: builds the product's images and writes each to a tarball (`docker save`) for a
// site without a registry, with their digests:
//   build/images/<image>.tar      one per image (token-service, export-service, nginx, demo-data)
//   build/images/SHA256SUMS       the tarballs' sha256 (`sha256sum -c SHA256SUMS` after copying)
//   build/images/IMAGES           each image's name and ID (the config digest `docker load` restores)
// Base images: NODE_IMAGE, NGINX_IMAGE, DEBIAN_IMAGE from the environment (default: the official
// ones), or STANDINS=1 to build and use the stand-ins (deploy/standins). STUDYLINK_BUILD_CA: the
// CA bundle npm trusts in the build (default: the system's), a build secret, never in an image.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildProductImages,
  buildStandins,
  DOCKER,
  ensureDocker,
  must,
  PRODUCT_IMAGES,
  ROOT,
} from './engine.mjs';

const say = (msg) => process.stdout.write(`[images] ${msg}\n`);
const out = join(ROOT, 'build', 'images');

const sha256 = (file) =>
  new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });

const engine = await ensureDocker(say);
try {
  const bases = Object.fromEntries(
    ['NODE_IMAGE', 'NGINX_IMAGE', 'DEBIAN_IMAGE']
      .filter((k) => process.env[k])
      .map((k) => [k, process.env[k]]),
  );
  if (process.env.STANDINS === '1') {
    say('building the stand-in base images');
    Object.assign(bases, buildStandins());
  }
  say(`building the product images${Object.keys(bases).length ? ` on ${JSON.stringify(bases)}` : ''}`);
  buildProductImages({ bases });
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const sums = [];
  const ids = [];
  for (const { name } of PRODUCT_IMAGES) {
    const file = `${name.replace(/:.*$/, '')}.tar`;
    must(DOCKER, ['save', '-o', join(out, file), name]);
    const id = must(DOCKER, ['image', 'inspect', '--format', '{{.Id}}', name]).trim();
    sums.push(`${await sha256(join(out, file))}  ${file}`);
    ids.push(`${name} ${id}`);
    say(`${file}: ${name} ${id}`);
  }
  await writeFile(join(out, 'SHA256SUMS'), `${sums.join('\n')}\n`);
  await writeFile(join(out, 'IMAGES'), `${ids.join('\n')}\n`);
  say(
    `written to ${out}: load with \`for f in *.tar; do docker load -i "$f"; done\` after \`sha256sum -c SHA256SUMS\``,
  );
} finally {
  await engine.stop();
}
