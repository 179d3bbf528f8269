import * as path from 'node:path';
import { clientIdentity, ensureCertificates } from '../../temporal/production/certificates';
import {
  frontendAddress,
  productionLayout,
  productionStatus,
  startProduction,
  stopProduction,
  tlsClientEnvironment,
  uiUrl,
} from '../../temporal/production';
import { UI_PORT } from '../../temporal/production/topology';
import type { CertsFlags } from '../commands/server';
import type { ServerFlags } from './server';

/** `deploy server start --backend postgres`: everything in the background, returns once it all answers. */
export async function startProductionServer(flags: ServerFlags): Promise<void> {
  await startProduction({
    ip: flags.ip,
    port: flags.port,
    uiIp: flags.uiIp ?? flags.ip,
    uiPort: flags.uiPort ?? UI_PORT,
    dbPort: flags.dbPort,
    tls: flags.tls,
  });
}

/** Says what it stopped; false when nothing of the production topology ran. */
export async function stopProductionServer(): Promise<boolean> {
  const r = await stopProduction();
  const parts = [
    r.ui !== undefined && `Web UI (pid ${r.ui})`,
    r.server !== undefined && `temporal-server (pid ${r.server})`,
    r.postgres !== undefined && `PostgreSQL (pid ${r.postgres})`,
  ].filter(Boolean);
  if (parts.length > 0) console.log(`stopped ${parts.join(', ')}; data kept in ${productionLayout().root}`);
  return parts.length > 0;
}

/**
 * `deploy server status` while the production topology of this checkout runs (in part): each
 * process, and whether the frontend answers this machine's client certificate. Exit code 0 when it
 * does, 3 when not; undefined when nothing of it runs (the caller reports the dev server instead).
 */
export async function productionServerStatus(): Promise<number | undefined> {
  const st = await productionStatus();
  if (!st || (st.postgres.pid === undefined && st.server.pid === undefined && st.ui.pid === undefined)) {
    return undefined;
  }
  const s = st.settings;
  const pid = (p?: number) => (p === undefined ? 'not running' : `pid ${p}`);
  console.log(
    `production Temporal (PostgreSQL backend${s.tls ? ', mTLS' : ''}), state ${productionLayout().root}`,
  );
  console.log(
    `  PostgreSQL       ${pid(st.postgres.pid)}, 127.0.0.1:${s.dbPort}${st.postgres.ready ? '' : ' (not ready)'}`,
  );
  console.log(
    `  temporal-server  ${pid(st.server.pid)}, gRPC ${frontendAddress(s)}${st.server.answers ? '' : ' (not answering)'}`,
  );
  console.log(`  Web UI           ${pid(st.ui.pid)}, ${uiUrl(s)}`);
  console.log(`  clients: TEMPORAL_CONFIG_FILE=${productionLayout().clientProfile}`);
  return st.server.answers ? 0 : 3;
}

/** `deploy certs`: the production Temporal's CA, server and client certificates. */
export async function certs(flags: CertsFlags): Promise<void> {
  const dir = path.resolve(flags.dir ?? productionLayout().tls);
  const clients = flags.client.length > 0 ? flags.client : ['client'];
  const r = await ensureCertificates(dir, { ips: flags.ip, dns: flags.dns }, clients);
  console.log(`${dir}: made ${r.made.join(', ') || 'nothing'}; kept ${r.kept.join(', ') || 'nothing'}`);
  for (const name of clients) {
    const env = Object.entries(tlsClientEnvironment(clientIdentity(dir, name))).map(([k, v]) => `${k}=${v}`);
    console.log(
      `${name}: copy ca.pem, ${name}.pem and ${name}.key to its machine (the key stays private); there ${env.join(' ')}`,
    );
  }
}
