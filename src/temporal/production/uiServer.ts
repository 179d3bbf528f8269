import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { clientIdentity } from './certificates';
import { daemonPid, logTail, startDaemon, stopDaemon, waitFor } from './daemon';
import { cleanEnvironment } from './exec';
import { binaryPath, type ProductionLayout } from './layout';
import { frontendAddress, uiUrl, type ProductionSettings } from './settings';
import { NAMESPACE, uiConfig, uiEnvironment } from './topology';

/*
 * The Web UI server (github.com/temporalio/ui-server, the temporalio/ui image's program): the UI's
 * assets and its API proxy to the frontend, which it calls with a client certificate of its own
 * when the frontend wants mTLS.
 */

/** The UI's client certificate name (`deploy certs` makes it with the others). */
export const UI_CLIENT = 'ui';

function configText(layout: ProductionLayout, s: ProductionSettings): string {
  const env = uiEnvironment({
    temporalAddress: frontendAddress(s),
    port: s.uiPort,
    origin: uiUrl(s),
    ...(s.tls && { tls: clientIdentity(layout.tls, UI_CLIENT) }),
  });
  return `# Written by deploy server start --backend postgres from src/temporal/production/topology.ts\n${stringify(uiConfig(env, s.uiIp))}`;
}

/** The UI page loads and its API reaches the frontend (through TLS, when on). */
async function uiAnswers(s: ProductionSettings): Promise<boolean> {
  try {
    const page = await fetch(uiUrl(s), { signal: AbortSignal.timeout(2000) });
    const api = await fetch(`${uiUrl(s)}/api/v1/namespaces/${NAMESPACE}`, {
      signal: AbortSignal.timeout(3000),
    });
    return page.ok && api.ok;
  } catch {
    return false;
  }
}

export async function ensureUiServer(
  layout: ProductionLayout,
  s: ProductionSettings,
): Promise<{ pid: number; started: boolean }> {
  const text = configText(layout, s);
  const running = daemonPid(layout.ui.pid);
  const same = fs.existsSync(layout.ui.config) && fs.readFileSync(layout.ui.config, 'utf8') === text;
  if (running !== undefined && same) {
    await waitFor(`the Web UI on ${uiUrl(s)}`, 60_000, () => uiAnswers(s));
    return { pid: running, started: false };
  }
  // Its config is read at start only: a changed one (new addresses) needs a new process.
  if (running !== undefined) await stopDaemon(layout.ui.pid);
  fs.mkdirSync(path.dirname(layout.ui.config), { recursive: true });
  fs.writeFileSync(layout.ui.config, text);
  const daemon = startDaemon(
    [
      binaryPath('temporal-ui-server'),
      '--root',
      layout.ui.root,
      '--config',
      'config',
      '--env',
      'production',
      'start',
    ],
    { env: cleanEnvironment(), log: layout.ui.log, pidFile: layout.ui.pid },
  );
  try {
    await waitFor(`the Web UI on ${uiUrl(s)}`, 60_000, () => uiAnswers(s), daemon.exited);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${logTail(layout.ui.log)}`);
  }
  daemon.release();
  return { pid: daemon.pid, started: true };
}
