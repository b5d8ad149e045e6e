/**
 * A second app process for the lock test: opens the project named on the command line with
 * the real services. Exit 0: opened (and closed); 3: refused as open elsewhere; 1: other.
 */
import { ApiError } from '../../electron/contract/api.js';
import { ProjectService } from '../../electron/services/index.js';

const s = new ProjectService({ user: 'second', transport: 'browser' });
try {
  s['project.open']({ path: process.argv[2]! });
  s.close();
  process.exit(0);
} catch (e) {
  console.log(e instanceof ApiError ? `${e.code}: ${e.message}` : String(e));
  process.exit(e instanceof ApiError && e.code === 'conflict' ? 3 : 1);
}
