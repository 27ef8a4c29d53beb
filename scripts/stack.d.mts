import type { ChildProcess } from 'node:child_process';

export const ROOT: string;
export const DEMO_STUDY_UID: string;

export interface StackOptions {
  env?: Record<string, string | undefined>;
  publicPort?: number;
  tokenPort?: number;
  exportPort?: number;
  tokenInternalPort?: number;
  exportInternalPort?: number;
  logDir?: string;
  stateDir?: string;
  /** Ports of more replicas of both services (the first replica uses tokenPort/exportPort). */
  replicaPorts?: Array<{ token: number; tokenInternal: number; export: number; exportInternal: number }>;
}

export interface Stack {
  publicUrl: string;
  /** The services' connection (the application role). */
  databaseUrl: string;
  /** The owner's connection the migrations ran with (null: none was given). */
  ownerUrl: string | null;
  /** The staff administrator the token service makes on start (demo / make dev). */
  staffAdmin: { username: string; password: string };
  dicomwebUrl: string;
  adminApiKey: string;
  internalSecret: string;
  /** METRICS_TOKEN: the bearer token /metrics takes on the internal listeners. */
  metricsToken: string;
  secretsFile: string;
  tokenPort: number;
  exportPort: number;
  /** The internal listeners (grant checks, access events, /metrics), behind the shared secret. */
  tokenInternalPort: number;
  exportInternalPort: number;
  /** The demo study's link on this stack's own public port (make dev). */
  demoLink: string | null;
  /** The same link as the server setup builds it (its host and port may differ). */
  configuredDemoLink: string | null;
  accessLog: string;
  processes: Record<'token-service' | 'export-service' | 'nginx', ChildProcess> &
    Record<string, ChildProcess>;
  exited: Promise<{ name: string; code: number | null; signal: string | null }>;
  stop(): Promise<void>;
}

export function startStack(options?: StackOptions): Promise<Stack>;
export function renderTemplate(text: string, vars: Record<string, string | number>): string;
