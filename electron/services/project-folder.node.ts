/**
 * The project folder as a trust boundary: where a project may be created, one app per
 * project (a lock file), and paths built from database content that must stay inside the
 * folder (a project handed over by a colleague is data, not instructions).
 *
 * Runtime: Node.
 */
import { closeSync, constants, type Dirent, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, rmSync, statfsSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { ApiError } from '../contract/api.js';

/**
 * An absolute project path, or an error that says to give one. A relative path would land
 * wherever the host process happened to start, which the user cannot see.
 */
export function projectPathFrom(raw: string): string {
  const trimmed = raw.trim();
  if (!trimmed) throw new ApiError('bad_request', 'Give the full path of the project folder.');
  if (trimmed.includes('\0')) throw new ApiError('bad_request', 'The project path contains a NUL character.');
  if (!path.isAbsolute(trimmed)) {
    throw new ApiError('bad_request', `Give the full path of the project folder (starting with ${path.sep === '/' ? '/' : 'a drive letter'}), not "${trimmed}".`);
  }
  return path.resolve(trimmed);
}

// statfs f_type magic numbers of kernel filesystems a project can never live on.
const SPECIAL_FILESYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpf'],
  [0x6e736673, 'nsfs'],
  [0x42494e4d, 'binfmt_misc'],
  [0x1373, 'devfs'],
]);

/**
 * Check, before creating anything, that a project can be made at `dir`: its parent folder
 * exists, is a folder on an ordinary filesystem, and may be written. Throws an ApiError with
 * a sentence; fast, whatever the path (no recursive mkdir into /proc).
 */
export function checkCreateTarget(dir: string): void {
  const parent = path.dirname(dir);
  let real: string;
  try {
    real = realpathSync(parent);
  } catch {
    throw new ApiError('not_found', `The folder ${parent} does not exist: create it first, or choose another place for the project.`, dir);
  }
  if (!statSync(real).isDirectory()) throw new ApiError('bad_request', `${parent} is not a folder.`, dir);
  const special = specialFilesystem(real);
  if (special) throw new ApiError('bad_request', `${parent} is on the system's ${special} filesystem, which cannot hold files: choose a folder on a disk.`, dir);
  try {
    // access(W_OK) is not enough on read-only mounts and ACL'd folders: try to make a file.
    const probe = path.join(real, `.delineate-write-test-${process.pid}`);
    closeSync(openSync(probe, 'wx'));
    rmSync(probe, { force: true });
  } catch {
    throw new ApiError('io', `Delineate may not write in ${parent}: choose a folder you can write to.`, dir);
  }
  if (existsSync(dir) && !lstatSync(dir).isDirectory()) throw new ApiError('conflict', `${dir} exists and is not a folder.`, dir);
}

function specialFilesystem(dir: string): string | null {
  if (process.platform !== 'linux') return null;
  try {
    return SPECIAL_FILESYSTEMS.get(Number(statfsSync(dir).type)) ?? null;
  } catch {
    return null;
  }
}

/** Create the project folder (its parent checked by checkCreateTarget) and its subfolders, one level at a time. */
export function makeProjectFolders(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir);
  for (const sub of ['media', 'models']) if (!existsSync(path.join(dir, sub))) mkdirSync(path.join(dir, sub));
}

// ------------------------------------------------------------------ one app per project

export const LOCK_FILE = 'project.lock';

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Take the project's lock file, or refuse with "open elsewhere". A lock left by a process
 * that is gone (a crash, a kill) is taken over. Same process: allowed (one app per process).
 * Returns the release function.
 */
export function lockProject(dir: string): () => void {
  const file = path.join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      return () => releaseLock(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new ApiError('io', 'The project folder cannot be written (the lock file could not be made).', dir);
    }
    const owner = readOwner(file);
    if (owner && owner.pid === process.pid && owner.host === me.host) return () => {};
    if (owner && owner.host === me.host && alive(owner.pid)) {
      throw new ApiError('conflict', `This project is open in another Delineate (process ${owner.pid}, since ${owner.since}). Close it there first.`, dir);
    }
    if (owner && owner.host !== me.host) {
      throw new ApiError('conflict', `This project is open in Delineate on ${owner.host} (since ${owner.since}). Close it there first, or delete ${LOCK_FILE} if that app is gone.`, dir);
    }
    rmSync(file, { force: true }); // stale (its process is gone) or unreadable: take it over
  }
  throw new ApiError('conflict', 'This project is being opened by another Delineate at this moment. Try again.', dir);
}

function readOwner(file: string): LockOwner | null {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    return typeof v.pid === 'number' && typeof v.host === 'string' ? { pid: v.pid, host: v.host, since: String(v.since ?? '?') } : null;
  } catch {
    return null;
  }
}

function lexists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function releaseLock(file: string): void {
  const owner = readOwner(file);
  if (owner && owner.pid === process.pid) rmSync(file, { force: true });
}

// ------------------------------------------------------------------ paths from the database

/** `rel` resolved under `root` when its text stays inside (relative, no NUL, no ".." out); links are not looked at. */
function lexicallyInside(root: string, rel: string): string | null {
  if (typeof rel !== 'string' || !rel || rel.includes('\0') || path.isAbsolute(rel)) return null;
  const full = path.resolve(root, rel);
  return full.startsWith(root + path.sep) ? full : null;
}

/**
 * `rel` (read from project.sqlite) as a path inside the project folder, or null when it
 * would leave it: absolute, "..", or through a symbolic link that points outside. A crafted
 * database must not make the app read or write anywhere else.
 */
export function insideProject(projectDir: string, rel: string): string | null {
  const root = path.resolve(projectDir);
  const full = lexicallyInside(root, rel);
  if (full === null) return null;
  // Symbolic links anywhere along the way must not lead out of the folder.
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    return null;
  }
  // The deepest part that exists (a dangling link counts: realpath then fails and we refuse).
  let probe = full;
  while (!lexists(probe) && probe !== root) probe = path.dirname(probe);
  try {
    const real = realpathSync(probe);
    if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return null;
  } catch {
    return null;
  }
  return full;
}

/**
 * A name folded wider than any disk's own case folding (compatibility forms, then upper and
 * lower case: long s, dotless i, final sigma and ligatures meet their plain letters), so a
 * spelling a case-insensitive disk would resolve always meets its entry.
 */
export const foldName = (name: string): string => name.normalize('NFKC').toUpperCase().toLowerCase();

/**
 * Whether `name` is missing from a folder whose names, folded, are `folded`, on any disk:
 * no spelling of it is listed, and it is no Windows short name ("~": OUT~1.DCM may stand for
 * an entry listed under its long name). False means only an lstat can tell.
 */
export function missingUnderAnySpelling(name: string, folded: ReadonlySet<string>): boolean {
  return !name.includes('~') && !folded.has(foldName(name));
}

/**
 * insideProject for many paths at once (every row of a big project when it opens): the same
 * answer, but each folder is listed once (its entries' types say which are links) and its
 * real path looked up once, instead of two realpath walks per row (~2 s for 50,000 rows) or
 * an lstat per row (~100 ms). A name the listing has only in another spelling (case or
 * Unicode form, which a case-insensitive disk may resolve to it) gets its own lstat; a name
 * it lacks in every spelling is missing; a link, or a missing folder, takes insideProject's
 * own path.
 */
export function insideProjectMany(projectDir: string, rels: readonly string[]): (string | null)[] {
  const root = path.resolve(projectDir);
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    return rels.map(() => null);
  }
  const realDirs = new Map<string, string | null>();
  const realDir = (dir: string): string | null => {
    let r = realDirs.get(dir);
    if (r === undefined) {
      try {
        r = realpathSync(dir);
      } catch {
        r = null;
      }
      realDirs.set(dir, r);
    }
    return r;
  };
  const listings = new Map<string, { byName: Map<string, Dirent>; folded: Set<string> } | null>();
  const entry = (full: string): { exists: boolean; link: boolean } => {
    const dir = path.dirname(full);
    let listing = listings.get(dir);
    if (listing === undefined) {
      try {
        const byName = new Map(readdirSync(dir, { withFileTypes: true }).map((d) => [d.name, d]));
        listing = { byName, folded: new Set([...byName.keys()].map(foldName)) };
      } catch {
        listing = null;
      }
      listings.set(dir, listing);
    }
    const name = path.basename(full);
    const d = listing?.byName.get(name);
    if (d) return { exists: true, link: d.isSymbolicLink() };
    // No entry under any spelling: missing on any disk, no lstat needed (a project whose media
    // were deleted would otherwise pay one per row when it opens).
    if (listing && missingUnderAnySpelling(name, listing.folded)) return { exists: false, link: false };
    const st = lstatSync(full, { throwIfNoEntry: false });
    return { exists: st !== undefined, link: st?.isSymbolicLink() ?? false };
  };
  return rels.map((rel) => {
    const full = lexicallyInside(root, rel);
    if (full === null) return null;
    const st = entry(full);
    if (st.link) return insideProject(projectDir, rel);
    const dir = realDir(path.dirname(full));
    if (dir === null) return insideProject(projectDir, rel); // no such folder: insideProject walks further up
    // A missing file is judged by its folder; a file that is not a link: its folder's real path + its name.
    const real = st.exists ? path.join(dir, path.basename(full)) : dir;
    return real === realRoot || real.startsWith(realRoot + path.sep) ? full : null;
  });
}
