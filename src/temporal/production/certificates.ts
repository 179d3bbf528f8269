import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { exec, execOk } from './exec';
import { TLS_SERVER_NAME, type TlsIdentity } from './topology';

/*
 * The mTLS material of a production Temporal, made with Debian's openssl: one CA, one server
 * certificate (frontend and internode), and a client certificate per machine that connects (the
 * CLI, each worker machine, the UI server). Keys are written 0600 into a 0700 folder and only
 * their paths ever travel: not into workflow inputs, not into logs.
 */

/** Leaf certificates are renewed when they expire within this long. */
const RENEW_WITHIN_S = 30 * 24 * 3600;
const CA_DAYS = 3650;
const LEAF_DAYS = 397;

export interface ServerNames {
  ips: string[];
  dns: string[];
}

export const CA_FILE = 'ca.pem';

export function serverIdentity(dir: string): TlsIdentity {
  return {
    ca: path.join(dir, CA_FILE),
    cert: path.join(dir, 'server.pem'),
    key: path.join(dir, 'server.key'),
  };
}

export function clientIdentity(dir: string, name = 'client'): TlsIdentity {
  return {
    ca: path.join(dir, CA_FILE),
    cert: path.join(dir, `${name}.pem`),
    key: path.join(dir, `${name}.key`),
  };
}

const openssl = (args: string[], what: string) => execOk(['openssl', ...args], what);

/** EC P-256: small, fast to make, accepted by Go's TLS, rustls (the SDK's core) and Chromium. */
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function ensureCa(dir: string): Promise<boolean> {
  const ca = path.join(dir, CA_FILE);
  if (fs.existsSync(ca) && fs.existsSync(path.join(dir, 'ca.key'))) return false;
  await openssl(
    [
      'req',
      '-x509',
      ...NEW_KEY,
      '-keyout',
      path.join(dir, 'ca.key'),
      '-out',
      ca,
      '-days',
      String(CA_DAYS),
      '-subj',
      `/CN=omni-deploy Temporal CA ${os.hostname()}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    'making the certificate authority',
  );
  return true;
}

/** The names a certificate holds (subjectAltName), as `DNS:x` / `IP:y` words. */
async function subjectAltNames(cert: string): Promise<string[]> {
  const r = await exec(['openssl', 'x509', '-in', cert, '-noout', '-ext', 'subjectAltName']);
  if (r.code !== 0) return [];
  return (r.stdout.split('\n')[1] ?? '')
    .split(',')
    .map((s) => s.trim().replace(/^IP Address:/, 'IP:'))
    .filter(Boolean);
}

async function valid(cert: string, caFile: string): Promise<boolean> {
  if (!fs.existsSync(cert) || !fs.existsSync(cert.replace(/\.pem$/, '.key'))) return false;
  const fresh = await exec(['openssl', 'x509', '-in', cert, '-noout', '-checkend', String(RENEW_WITHIN_S)]);
  const signed = await exec(['openssl', 'verify', '-CAfile', caFile, cert]);
  return fresh.code === 0 && signed.code === 0;
}

async function issue(dir: string, name: string, subject: string, extensions: string[]): Promise<void> {
  const ext = path.join(dir, `.${name}.ext`);
  const csr = path.join(dir, `.${name}.csr`);
  fs.writeFileSync(ext, `${extensions.join('\n')}\n`);
  try {
    await openssl(
      ['req', '-new', ...NEW_KEY, '-keyout', path.join(dir, `${name}.key`), '-subj', subject, '-out', csr],
      `making the key of ${name}`,
    );
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        path.join(dir, CA_FILE),
        '-CAkey',
        path.join(dir, 'ca.key'),
        '-days',
        String(LEAF_DAYS),
        '-extfile',
        ext,
        '-out',
        path.join(dir, `${name}.pem`),
      ],
      `signing the certificate of ${name}`,
    );
  } finally {
    fs.rmSync(ext, { force: true });
    fs.rmSync(csr, { force: true });
  }
}

function sanWords(names: ServerNames): string[] {
  const dns = [...new Set([TLS_SERVER_NAME, 'localhost', ...names.dns])];
  const ips = [...new Set(['127.0.0.1', ...names.ips.filter((ip) => net.isIP(ip) && ip !== '0.0.0.0')])];
  return [...dns.map((d) => `DNS:${d}`), ...ips.map((ip) => `IP:${ip}`)];
}

export interface CertificateReport {
  dir: string;
  made: string[];
  kept: string[];
}

/**
 * The CA, the server certificate (re-issued when it lacks one of the names or is about to
 * expire: clients check the address they dial against it) and the named client certificates.
 * What exists and still fits is kept, so running it again changes nothing.
 */
export async function ensureCertificates(
  dir: string,
  server: ServerNames,
  clients: string[] = ['client'],
): Promise<CertificateReport> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const report: CertificateReport = { dir, made: [], kept: [] };
  ((await ensureCa(dir)) ? report.made : report.kept).push('ca');
  const ca = path.join(dir, CA_FILE);

  const wanted = sanWords(server);
  const s = serverIdentity(dir);
  const has = (await valid(s.cert, ca)) ? await subjectAltNames(s.cert) : [];
  if (wanted.every((w) => has.includes(w))) {
    report.kept.push('server');
  } else {
    await issue(dir, 'server', `/CN=${TLS_SERVER_NAME}`, [
      `subjectAltName=${[...new Set([...has, ...wanted])].join(',')}`,
      // The server's services call each other (and the frontend) with this same certificate.
      'extendedKeyUsage=serverAuth,clientAuth',
      'keyUsage=critical,digitalSignature',
      'basicConstraints=CA:FALSE',
    ]);
    report.made.push('server');
  }

  for (const name of clients) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || ['ca', 'server'].includes(name)) {
      throw new Error(`client certificate name "${name}": use letters, digits, . _ - (not ca or server)`);
    }
    if (await valid(clientIdentity(dir, name).cert, ca)) {
      report.kept.push(name);
      continue;
    }
    await issue(dir, name, `/CN=${name}`, [
      `subjectAltName=DNS:${name}`,
      'extendedKeyUsage=clientAuth',
      'keyUsage=critical,digitalSignature',
      'basicConstraints=CA:FALSE',
    ]);
    report.made.push(name);
  }
  return report;
}
