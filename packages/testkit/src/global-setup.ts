// vitest globalSetup for the `services` and `e2e` projects: migrates one template database per run and
// hands its name to the test files (`inject('pgTemplate')`, used by `createTestDatabase()`).
// Runs in vitest's main process, so it must not import 'vitest' itself (only 'vitest/node' types).
import type { TestProject } from 'vitest/node';
import { createTemplateDatabase, dropStaleTestDatabases, dropTemplateDatabase } from './test-database.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await dropStaleTestDatabases();
  const template = await createTemplateDatabase();
  project.provide('pgTemplate', template);
  return async () => {
    await dropTemplateDatabase(template);
  };
}
