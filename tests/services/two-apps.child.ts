/**
 * A second (third...) app process for the two-processes fault test. Modes:
 *   migrate <db file> <start ms>  open the database (migrating it) directly, as two apps
 *                                 would without the project lock
 *   open <project dir> <start ms> open the project with the real service, hold it 300 ms
 *   saves <db file> <start ms>    200 read-then-write transactions (IMMEDIATE, as the service
 *                                 writes) against a database another process writes too
 *   import <project dir> <start ms> <folder>  the import service on the project's database
 *                                 directly (no lock), as a second app would have before it
 * Starts at <start ms> (epoch) so the processes collide. Exit 0: done; 3: refused as open
 * elsewhere; 1: anything else (printed).
 */
import { ApiError } from '../../electron/contract/api.js';
import { ProjectService } from '../../electron/services/index.js';
import { sourcesFromPaths } from '../../electron/services/importer/import-sources.js';
import { ImportService } from '../../electron/services/importer/import.service.js';
import { AuditRepository } from '../../electron/services/store/audit.repository.js';
import { ImagesRepository } from '../../electron/services/store/images.repository.js';
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
  } else if (mode === 'import') {
    const db = openProjectDatabase(`${target}/project.sqlite`, { create: false });
    const images = new ImagesRepository(db);
    const importer = new ImportService({ db, images, audit: new AuditRepository(db), projectDir: target, user: `pid${process.pid}`, now: () => new Date().toISOString() });
    const { sources } = await sourcesFromPaths([process.argv[5]!]);
    const report = await importer.importSources(sources, { batchSize: 7 });
    db.close();
    console.log(JSON.stringify({ imported: report.imported.length, duplicates: report.duplicates.length, failed: report.failed }));
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
