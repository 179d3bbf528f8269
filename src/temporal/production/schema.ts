import { cleanEnvironment, execOk } from './exec';
import { binaryPath } from './layout';
import { sql } from './postgres';
import { DATABASES, schemaSteps, schemaToolEnvironment, type DatabaseAddress } from './topology';

/*
 * Temporal's two databases and their schema, through temporal-sql-tool (the admin-tools image's
 * tool, built from the server's module, carrying the server's schema files): created the first
 * time, then brought to the newest version the tool carries. Run before every start, so a newer
 * server binary finds its schema; with nothing to apply it changes nothing.
 */

export interface SchemaReport {
  database: string;
  created: boolean;
  /** Schema version before (undefined: the database did not exist) and after. */
  before?: string;
  after: string;
  /** Rows in schema_update_history: one per version step ever applied. */
  updates: number;
}

const quoted = (s: string) => `'${s.replaceAll("'", "''")}'`;

async function version(db: DatabaseAddress, name: string): Promise<string> {
  return sql(
    db.port,
    db.password,
    name,
    `SELECT curr_version FROM schema_version WHERE version_partition = 0 AND db_name = ${quoted(name)}`,
  );
}

async function updates(db: DatabaseAddress, name: string): Promise<number> {
  return Number(await sql(db.port, db.password, name, 'SELECT count(*) FROM schema_update_history'));
}

export async function ensureSchema(db: DatabaseAddress): Promise<SchemaReport[]> {
  const reports: SchemaReport[] = [];
  for (const database of DATABASES) {
    const exists =
      (await sql(
        db.port,
        db.password,
        'postgres',
        `SELECT 1 FROM pg_database WHERE datname = ${quoted(database.name)}`,
      )) === '1';
    const before = exists ? await version(db, database.name) : undefined;
    for (const step of schemaSteps(database, exists)) {
      await execOk([binaryPath('temporal-sql-tool'), ...step], `temporal-sql-tool ${step.join(' ')}`, {
        env: cleanEnvironment(schemaToolEnvironment(db)),
        timeoutMs: 300_000,
      });
    }
    reports.push({
      database: database.name,
      created: !exists,
      ...(before !== undefined && { before }),
      after: await version(db, database.name),
      updates: await updates(db, database.name),
    });
  }
  return reports;
}

export function describeSchema(r: SchemaReport): string {
  if (r.created) return `${r.database}: created, schema ${r.after}`;
  return r.before === r.after
    ? `${r.database}: schema ${r.after}, up to date`
    : `${r.database}: schema ${r.before} → ${r.after}`;
}
