#!/usr/bin/env node
// `make dev`: the whole stack in the foreground on loopback; Ctrl-C or SIGTERM stops all of it.
import { join } from 'node:path';
import { ROOT, startStack } from './stack.mjs';

// STUDYLINK_STATE_DIR: where secrets and the demo store live (default .dev); the e2e test of this
// command gives its own, with its own database (STUDYLINK_DEV_DATABASE), so it never touches yours.
const stack = await startStack({ stateDir: process.env.STUDYLINK_STATE_DIR || join(ROOT, '.dev') }).catch(
  (err) => {
    process.stderr.write(`make dev: ${err.message}\n`);
    process.exit(1);
  },
);

let stopping = false;
const shutdown = async (why) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`stopping (${why})...\n`);
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));

process.stdout.write(
  [
    '',
    `studylink is running at ${stack.publicUrl}/`,
    `  API:        ${stack.publicUrl}/api/v1/openapi.json (admin key in ${stack.secretsFile})`,
    `  Staff:      ${stack.publicUrl}/staff/ as ${stack.staffAdmin.username} (STAFF_ADMIN_PASSWORD in ${stack.secretsFile})`,
    stack.demoLink
      ? `  Demo link:  ${stack.demoLink}`
      : '  (no demo study: DICOMWEB_URL points at your own store)',
    ...(stack.configuredDemoLink && stack.configuredDemoLink !== stack.demoLink
      ? [`  (the server setup builds it as ${stack.configuredDemoLink})`]
      : []),
    '  Stop with Ctrl-C.',
    '',
  ].join('\n'),
);

const ended = await stack.exited;
if (!stopping) {
  process.stderr.write(
    `${ended.name} exited (code ${ended.code}, signal ${ended.signal}); stopping the stack\n`,
  );
  await stack.stop();
  process.exit(1);
}
