/*
 * The production Temporal — PostgreSQL, the Temporal server, its schema tool and the Web UI — as
 * one set of settings that both ways of running it read:
 *   - natively, `deploy server start --backend postgres` (src/temporal/production/*) starts the
 *     binaries scripts/build-temporal.sh builds with these environments and config;
 *   - in containers, docker-compose.temporal.yml runs the images of the same versions with the
 *     same environments (test/unit/compose.test.ts compares that file with this one, and
 *     scripts/build-temporal.sh with the versions).
 * Pure and import-free, so the compose check and `deploy server --help` read it without loading
 * anything.
 */

/** go.temporal.io/server: temporal-server, and temporal-sql-tool (admin-tools) from the same module. */
export const TEMPORAL_SERVER_VERSION = '1.31.0';
/** github.com/temporalio/ui-server: the temporalio/ui image's server. */
export const TEMPORAL_UI_VERSION = '2.49.1';
/** Debian bookworm's `postgresql`, so the compose file runs the major the native topology runs. */
export const POSTGRES_MAJOR = 15;

/** temporal-sql-tool's and the server's name for PostgreSQL ≥ 12 (database/sql with lib/pq). */
export const DB_PLUGIN = 'postgres12';
/** The database role Temporal connects as (the owner of both databases). */
export const DB_USER = 'temporal';

/** The two databases and the schema embedded in temporal-sql-tool that each gets. */
export const DATABASES = [
  { name: 'temporal', schema: 'postgresql/v12/temporal' },
  { name: 'temporal_visibility', schema: 'postgresql/v12/visibility' },
] as const;

export const NAMESPACE = 'default';
/** How long closed workflows stay in the namespace: a week, to read a past deploy's history. */
export const NAMESPACE_RETENTION_HOURS = 168;
// The namespace's search attributes are the workflows' own: src/shared/searchAttributes.ts.

/** The ports the compose file publishes, and the native defaults. */
export const FRONTEND_PORT = 7233;
export const UI_PORT = 8080;
/** PostgreSQL inside the compose network. */
export const COMPOSE_POSTGRES_PORT = 5432;
/**
 * PostgreSQL of the native topology, on loopback only. Not 5432: that is Debian's own cluster
 * (`pg_lsclusters`), which this tool leaves alone.
 */
export const NATIVE_POSTGRES_PORT = 7432;

/**
 * The name in the server certificate that the server's own services (and the UI) check when they
 * call the frontend: it holds wherever the server listens (the container's address, a bridge), so
 * the certificate does not depend on addresses. Clients that connect by an address in the
 * certificate need no server name.
 */
export const TLS_SERVER_NAME = 'temporal';

/**
 * The server's other ports relative to the frontend's, as the server's embedded config template
 * (config/docker.yaml of go.temporal.io/server) places them by default around 7233: with the
 * frontend on 7233 these are its defaults, so nothing needs setting; on another port (tests, a
 * second server) every port moves with it.
 */
const SERVICE_PORT_OFFSETS = {
  HISTORY_GRPC_PORT: 1,
  MATCHING_GRPC_PORT: 2,
  WORKER_GRPC_PORT: 6,
  FRONTEND_HTTP_PORT: 10,
  FRONTEND_MEMBERSHIP_PORT: -300,
  HISTORY_MEMBERSHIP_PORT: -299,
  MATCHING_MEMBERSHIP_PORT: -298,
  WORKER_MEMBERSHIP_PORT: -294,
} as const;

/** Every port a server with this frontend port listens on (frontend first). */
export function serverPorts(frontendPort: number): number[] {
  return [frontendPort, ...Object.values(SERVICE_PORT_OFFSETS).map((o) => frontendPort + o)];
}

/**
 * The highest port a server service may use: the SQL schema keeps each service's membership port
 * in a SMALLINT column (cluster_membership.rpc_port), and a server on a higher port dies at start
 * with `value "35834" is out of range for type smallint`.
 */
export const MAX_SERVER_PORT = 32767;

/** Why a frontend port cannot carry the server's port block, or undefined when it can. */
export function frontendPortProblem(port: number): string | undefined {
  const ports = serverPorts(port);
  const low = Math.min(...ports);
  const high = Math.max(...ports);
  if (low >= 1024 && high <= MAX_SERVER_PORT) return undefined;
  return (
    `the server's ports around ${port} run from ${low} to ${high}; they must lie within 1024–${MAX_SERVER_PORT} ` +
    `(membership ports are a SMALLINT in the SQL schema): pick --port between ${1024 + 300} and ${MAX_SERVER_PORT - 10}`
  );
}

function servicePortEnvironment(frontendPort: number): Record<string, string> {
  if (frontendPort === FRONTEND_PORT) return {};
  return {
    FRONTEND_GRPC_PORT: String(frontendPort),
    ...Object.fromEntries(
      Object.entries(SERVICE_PORT_OFFSETS).map(([k, o]) => [k, String(frontendPort + o)]),
    ),
  };
}

/** Files of one TLS identity: the CA that signs every peer, this side's certificate and key. */
export interface TlsIdentity {
  ca: string;
  cert: string;
  key: string;
}

export interface DatabaseAddress {
  host: string;
  port: number;
  /** A value or, in the compose file, a `${…}` reference that compose substitutes. */
  password: string;
}

export interface ServerPlacement {
  db: DatabaseAddress;
  /** Where every service listens (`0.0.0.0` in a container, whose entrypoint then broadcasts its own address). */
  bindOnIp: string;
  frontendPort: number;
  dynamicConfigFile: string;
  /** mTLS on the frontend and between the services; the server's certificate serves both. */
  tls?: TlsIdentity;
}

/**
 * The environment temporal-server runs with: its embedded config template (the one the
 * temporalio/server image uses) renders these into its config. Everything not here keeps the
 * template's default in both topologies.
 */
export function serverEnvironment(p: ServerPlacement): Record<string, string> {
  return {
    DB: DB_PLUGIN,
    DB_PORT: String(p.db.port),
    // The template takes the visibility store's port from POSTGRES_PORT (not DB_PORT) or this.
    VISIBILITY_DB_PORT: String(p.db.port),
    POSTGRES_USER: DB_USER,
    POSTGRES_PWD: p.db.password,
    POSTGRES_SEEDS: p.db.host,
    BIND_ON_IP: p.bindOnIp,
    DYNAMIC_CONFIG_FILE_PATH: p.dynamicConfigFile,
    // mTLS is the gate: any holder of a client certificate from this CA may use every API. An
    // authorizer with per-namespace claims is beyond this tool; saying so keeps the server from
    // warning about it at every start.
    TEMPORAL_ALLOW_NO_AUTH: 'true',
    ...servicePortEnvironment(p.frontendPort),
    ...(p.tls && serverTlsEnvironment(p.tls)),
  };
}

function serverTlsEnvironment(t: TlsIdentity): Record<string, string> {
  return {
    // Frontend: clients must present a certificate signed by the CA.
    TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: 'true',
    TEMPORAL_TLS_FRONTEND_CERT: t.cert,
    TEMPORAL_TLS_FRONTEND_KEY: t.key,
    // The template lists two client CAs whenever the first is set; the second is the same one.
    TEMPORAL_TLS_CLIENT1_CA_CERT: t.ca,
    TEMPORAL_TLS_CLIENT2_CA_CERT: t.ca,
    // Between the services (history, matching, the system worker calling the frontend): the same
    // certificate, presented as server and as client, checked by name.
    TEMPORAL_TLS_SERVER_CERT: t.cert,
    TEMPORAL_TLS_SERVER_KEY: t.key,
    TEMPORAL_TLS_SERVER_CA_CERT: t.ca,
    TEMPORAL_TLS_INTERNODE_SERVER_NAME: TLS_SERVER_NAME,
    TEMPORAL_TLS_FRONTEND_SERVER_NAME: TLS_SERVER_NAME,
  };
}

/** temporal-sql-tool's connection, as the environment variables it reads for its flags. */
export function schemaToolEnvironment(db: DatabaseAddress): Record<string, string> {
  return {
    SQL_PLUGIN: DB_PLUGIN,
    SQL_HOST: db.host,
    SQL_PORT: String(db.port),
    SQL_USER: DB_USER,
    SQL_PASSWORD: db.password,
  };
}

/**
 * The schema set-up, one database at a time: create it and lay down the versioning tables when it
 * does not exist, then apply every embedded schema version it has not had yet (none: a no-op).
 */
export function schemaSteps(database: { name: string; schema: string }, exists: boolean): string[][] {
  const db = ['--db', database.name];
  return [
    ...(exists
      ? []
      : [
          [...db, 'create-database'],
          [...db, 'setup-schema', '-v', '0.0'],
        ]),
    [...db, 'update-schema', '--schema-name', database.schema],
  ];
}

export interface UiPlacement {
  /** The frontend, as the UI server reaches it. */
  temporalAddress: string;
  port: number;
  /** The page's origin as browsers see it (CORS). */
  origin: string;
  /** A client identity for the frontend's mTLS. */
  tls?: TlsIdentity;
}

/**
 * The environment of the temporalio/ui image, whose config template (config/docker.yaml of
 * github.com/temporalio/ui-server) reads it; natively uiConfig() turns the same map into that
 * config.
 */
export function uiEnvironment(p: UiPlacement): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: p.temporalAddress,
    ...(p.port !== UI_PORT && { TEMPORAL_UI_PORT: String(p.port) }),
    TEMPORAL_CORS_ORIGINS: p.origin,
    TEMPORAL_DEFAULT_NAMESPACE: NAMESPACE,
    ...(p.tls && {
      TEMPORAL_TLS_CA: p.tls.ca,
      TEMPORAL_TLS_CERT: p.tls.cert,
      TEMPORAL_TLS_KEY: p.tls.key,
      TEMPORAL_TLS_ENABLE_HOST_VERIFICATION: 'true',
      TEMPORAL_TLS_SERVER_NAME: TLS_SERVER_NAME,
    }),
  };
}

/**
 * The UI server's config from uiEnvironment(), key for key as the image's template maps the
 * variables (unset ones keep that template's defaults), plus the address to listen on, which a
 * container does not need.
 */
export function uiConfig(env: Record<string, string>, host: string): Record<string, unknown> {
  return {
    temporalGrpcAddress: env.TEMPORAL_ADDRESS,
    host,
    port: Number(env.TEMPORAL_UI_PORT ?? UI_PORT),
    publicPath: '',
    enableUi: true,
    defaultNamespace: env.TEMPORAL_DEFAULT_NAMESPACE,
    cors: { allowOrigins: (env.TEMPORAL_CORS_ORIGINS ?? '').split(','), cookieInsecure: false },
    tls: {
      caFile: env.TEMPORAL_TLS_CA ?? '',
      certFile: env.TEMPORAL_TLS_CERT ?? '',
      keyFile: env.TEMPORAL_TLS_KEY ?? '',
      enableHostVerification: env.TEMPORAL_TLS_ENABLE_HOST_VERIFICATION === 'true',
      serverName: env.TEMPORAL_TLS_SERVER_NAME ?? '',
    },
  };
}
