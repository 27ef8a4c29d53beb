import { type OrthancInstance, type StartOrthancOptions, startOrthanc } from '@studylink/testkit';
import { type E2EStack, startE2EStack } from './e2e-stack.js';
import { type StoreProxy, startStoreProxy } from './store-proxy.js';

export interface ProxiedStack {
  s: E2EStack;
  /** The real store; kill() it to take the store away. */
  orthanc: OrthancInstance;
  /** Between both services and the store: counts WADO-RS retrievals, can stall them. */
  proxy: StoreProxy;
  stop(): Promise<void>;
}

/**
 * The real stack (startE2EStack) whose services reach their private Orthanc through a StoreProxy.
 * @example const p = await startProxiedStack('export', { MAX_CONCURRENT_EXPORTS: '1' });
 */
export async function startProxiedStack(
  name: string,
  env: Record<string, string> = {},
  orthancOptions: StartOrthancOptions = {},
): Promise<ProxiedStack> {
  const orthanc = await startOrthanc(orthancOptions);
  let proxy: StoreProxy | null = null;
  try {
    proxy = await startStoreProxy(orthanc.port);
    const s = await startE2EStack(name, { orthanc, env: { DICOMWEB_URL: proxy.dicomwebUrl, ...env } });
    const p = proxy;
    return {
      s,
      orthanc,
      proxy: p,
      async stop() {
        await s.stop();
        await p.close();
        await orthanc.stop();
      },
    };
  } catch (err) {
    await proxy?.close();
    await orthanc.stop();
    throw err;
  }
}
