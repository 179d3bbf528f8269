import * as fs from 'node:fs';
import { clientIdentity } from './certificates';
import type { ProductionLayout } from './layout';
import { NAMESPACE, TLS_SERVER_NAME, type TlsIdentity } from './topology';

/**
 * What `deploy server start --backend postgres` was asked for, kept beside the data so that
 * `stop`, `status` and a second `start` know the running topology. Holds no secret.
 */
export interface ProductionSettings {
  /** Where the server's services listen (the frontend on `port`). */
  ip: string;
  port: number;
  uiIp: string;
  uiPort: number;
  dbPort: number;
  /** mTLS on the frontend; certificates in the layout's tls folder. */
  tls: boolean;
}

export function readSettings(layout: ProductionLayout): ProductionSettings | undefined {
  try {
    return JSON.parse(fs.readFileSync(layout.settings, 'utf8')) as ProductionSettings;
  } catch {
    return undefined;
  }
}

export function writeSettings(layout: ProductionLayout, s: ProductionSettings): void {
  fs.mkdirSync(layout.root, { recursive: true });
  fs.writeFileSync(layout.settings, `${JSON.stringify(s, null, 2)}\n`);
}

export const sameSettings = (a: ProductionSettings, b: ProductionSettings) =>
  (Object.keys(a) as (keyof ProductionSettings)[]).every((k) => a[k] === b[k]);

/** The address clients dial: the listen address, or loopback when the server listens on all. */
export const frontendAddress = (s: Pick<ProductionSettings, 'ip' | 'port'>) =>
  `${s.ip === '0.0.0.0' ? '127.0.0.1' : s.ip}:${s.port}`;

export const uiUrl = (s: Pick<ProductionSettings, 'uiIp' | 'uiPort'>) =>
  `http://${s.uiIp === '0.0.0.0' ? '127.0.0.1' : s.uiIp}:${s.uiPort}`;

/**
 * An envconfig profile (the TOML every Temporal client reads: `deploy`, `deploy worker`, the
 * `temporal` CLI) for this server, with this machine's client certificate:
 * TEMPORAL_CONFIG_FILE=<file>. Other machines need their own copy of the CA and a client
 * certificate (`deploy certs --client NAME`), with the same settings as TEMPORAL_TLS_* variables.
 */
export function writeClientProfile(layout: ProductionLayout, s: ProductionSettings): void {
  const lines = [
    '[profile.default]',
    `address = ${JSON.stringify(frontendAddress(s))}`,
    `namespace = "${NAMESPACE}"`,
  ];
  if (s.tls) {
    const id = clientIdentity(layout.tls);
    lines.push(
      '',
      '[profile.default.tls]',
      `server_ca_cert_path = ${JSON.stringify(id.ca)}`,
      `client_cert_path = ${JSON.stringify(id.cert)}`,
      `client_key_path = ${JSON.stringify(id.key)}`,
      `server_name = "${TLS_SERVER_NAME}"`,
    );
  }
  fs.writeFileSync(layout.clientProfile, `${lines.join('\n')}\n`);
}

/**
 * A client identity as the TEMPORAL_TLS_* variables envconfig reads. The server is checked by the
 * name in its certificate, whatever address is dialled (Node also warns about an IP address as a
 * TLS server name).
 */
export function tlsClientEnvironment(id: TlsIdentity): Record<string, string> {
  return {
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: id.ca,
    TEMPORAL_TLS_CLIENT_CERT_PATH: id.cert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: id.key,
    TEMPORAL_TLS_SERVER_NAME: TLS_SERVER_NAME,
  };
}

/** The whole connection as TEMPORAL_* variables, for a shell or another machine's worker. */
export function clientEnvironment(s: ProductionSettings, tls?: TlsIdentity): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: frontendAddress(s),
    TEMPORAL_NAMESPACE: NAMESPACE,
    ...(tls && tlsClientEnvironment(tls)),
  };
}
