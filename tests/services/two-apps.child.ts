/**
 * A second (third...) app process for the two-processes fault test. Modes:
 *   migrate <db file> <start ms>  open the database (migrating it) directly, as two apps
 *                                 would without the project lock
 *   open <project dir> <start ms> open the project with the real service, hold it 300 ms
 *   saves <db file> <start ms>    200 read-then-write transactions (IMMEDIATE, as the service
 *                                 writes) against a database another process writes too
 * Starts at <start ms> (epoch) so the processes collide. Exit 0: done; 3: refused as open
 * elsewhere; 1: anything else (printed).
 */
import { ApiError } from '../../electron/contract/api.js';
import { ProjectService } from '../../electron/services/index.js';
import { openProjectDatabase } from '../../electron/services/store/project-database.js';

const [mode, target, start] = process.argv.slice(2) as [string, string, string];
while (Date.now() < Number(start)) {
  /* spin: start together */
}
try {
  if (mode === 'migrate') {
    openProjectDatabase(target, { create: true }).close();
  } else if (mode === 'open') {
    const s = new ProjectService({ user: `pid${process.pid}`, transport: 'browser' });
    s['project.open']({ path: target });
    await new Promise((r) => setTimeout(r, 300));
    s.close();
  } else if (mode === 'saves') {
    const db = openProjectDatabase(target, { create: false });
    const bump = db.transaction(() => {
      const v = Number((db.prepare("SELECT value FROM meta WHERE key = 'counter'").pluck().get() as string | undefined) ?? '0');
      db.prepare("INSERT INTO meta (key, value) VALUES ('counter', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(v + 1));
    });
    for (let i = 0; i < 200; i++) bump.immediate();
    db.close();
  }
  process.exit(0);
} catch (e) {
  console.log(e instanceof ApiError ? `${e.code}: ${e.message}` : e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  process.exit(e instanceof ApiError && e.code === 'conflict' ? 3 : 1);
}
