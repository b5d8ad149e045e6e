/**
 * Opens a project's SQLite database: pragmas, schema-version check, migrations.
 *
 * Durability: WAL with synchronous=NORMAL. A commit is in the WAL file (in the OS page
 * cache) when `run()` returns, so it survives the process being killed; only a power
 * loss or OS crash can drop the last transactions, and never corrupts the file.
 */
import Database from 'better-sqlite3';
import { ApiError } from '../../contract/api.js';
import { latestSchemaVersion, migrations } from './migrations.js';

export type Db = Database.Database;

export function openProjectDatabase(file: string, opts: { create: boolean }): Db {
  // Two apps opening a new project at the same moment can meet SQLite's deadlock guard
  // (SQLITE_BUSY without waiting: both hold a read lock and want to write, e.g. while one
  // switches the file to WAL). The loser backs off and opens again; nothing was written.
  for (let attempt = 1; ; attempt++) {
    try {
      return openOnce(file, opts);
    } catch (e) {
      if (!(e instanceof ApiError) || !/database is locked|SQLITE_BUSY/.test(e.message) || attempt >= 20) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25 + Math.floor(Math.random() * 75 * attempt));
    }
  }
}

function openOnce(file: string, opts: { create: boolean }): Db {
  let db: Db;
  try {
    db = new Database(file, { fileMustExist: !opts.create, timeout: 5000 });
  } catch (e) {
    throw new ApiError(opts.create ? 'io' : 'not_found', `Cannot open project database: ${(e as Error).message}`, file);
  }
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > latestSchemaVersion) {
      throw new ApiError(
        'schema_too_new',
        `This project was written by a newer version of Delineate (schema ${version}; this version understands up to ${latestSchemaVersion}). ` +
          'Open it with a newer Delineate; it was not modified.',
        file,
      );
    }
    // The busy timeout first: switching to WAL and migrating wait for another process then.
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new ApiError('io', `Project database is damaged: ${String(check)}`, file);
    return db;
  } catch (e) {
    db.close();
    if (e instanceof ApiError) throw e;
    throw new ApiError('io', `Cannot open project database: ${(e as Error).message}`, file);
  }
}

/**
 * Apply every migration newer than the database, each in its own IMMEDIATE transaction that
 * reads the version inside it: two processes opening a new project at once take turns, and
 * the second finds the migration done instead of failing on "table meta already exists".
 */
export function migrate(db: Db): number {
  for (const m of migrations) {
    if ((db.pragma('user_version', { simple: true }) as number) >= m.version) continue;
    // A table rebuild runs with foreign keys off (they cannot change inside a transaction).
    const fkOff = m.rebuildsTables === true && db.pragma('foreign_keys', { simple: true }) === 1;
    if (fkOff) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        if ((db.pragma('user_version', { simple: true }) as number) >= m.version) return;
        db.exec(m.sql);
        if (m.rebuildsTables && (db.pragma('foreign_key_check') as unknown[]).length > 0) {
          throw new Error(`migration ${m.version} (${m.name}) would leave rows referring to nothing`);
        }
        db.pragma(`user_version = ${m.version}`);
      }).immediate();
    } finally {
      if (fkOff) db.pragma('foreign_keys = ON');
    }
  }
  return db.pragma('user_version', { simple: true }) as number;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}
