/**
 * Turning what the user picked (paths, or file contents sent by the renderer) into a flat,
 * ordered list of import sources, each with the folder it is grouped under.
 *
 * Runtime: Node (fs).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { FileProblem } from '../imaging/file-problem.js';

/** Largest file an import reads (a DICOM study file is rarely over a few hundred MB). */
export const MAX_IMPORT_FILE_BYTES = 2 * 1024 ** 3;
/** Up to this size a file is read synchronously (about twice as fast for a few MB); larger ones off the event loop. */
const SYNC_READ_BYTES = 32 * 1024 * 1024;

export interface ImportSource {
  /** What the report names: the absolute path, or the name the renderer sent. */
  file: string;
  fileName: string;
  /** Grouping folder for raster images: the path from the import root's parent, with '/' separators. */
  folder: string;
  read(): Promise<Uint8Array>;
}

export interface UnreadableSource {
  file: string;
  reason: string;
}

const SKIP = new Set(['.DS_Store', 'Thumbs.db', 'desktop.ini']);

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  for (const e of entries) {
    if (e.name.startsWith('.') || SKIP.has(e.name)) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) await walk(full, out);
    else if (e.isFile()) out.push(full);
  }
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

/**
 * Read one regular file. Opened non-blocking and checked on the open descriptor (no race with
 * a swap): a FIFO would block every request until someone writes to it, a device such as
 * /dev/zero never ends. Size-checked before reading.
 */
export async function readRegularFile(file: string): Promise<Uint8Array> {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new FileProblem('unreadable', 'The file could not be opened.', (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileProblem('unsupported_format', 'This is not an ordinary file (a device, pipe or socket) and was not read.', kindOf(st));
    if (st.size > MAX_IMPORT_FILE_BYTES) {
      throw new FileProblem('unsupported_format', `The file is ${(st.size / 1024 ** 3).toFixed(1)} GB, more than the ${MAX_IMPORT_FILE_BYTES / 1024 ** 3} GB an import reads.`, `${st.size} bytes`);
    }
    if (st.size > SYNC_READ_BYTES) {
      closeSync(fd);
      fd = -1;
      return await readLarge(file, st.size);
    }
    const out = new Uint8Array(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, out, off, st.size - off, off);
      if (n === 0) break; // shrank while we read: keep what is there
      off += n;
    }
    return off === st.size ? out : out.subarray(0, off);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

async function readLarge(file: string, size: number): Promise<Uint8Array> {
  const h = await open(file, 'r');
  try {
    if (!(await h.stat()).isFile()) throw new FileProblem('unsupported_format', 'This is not an ordinary file and was not read.');
    const out = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await h.read(out, off, Math.min(size - off, 16 * 1024 * 1024), off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return off === size ? out : out.subarray(0, off);
  } finally {
    await h.close();
  }
}

function kindOf(st: { isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  return st.isFIFO() ? 'FIFO' : st.isCharacterDevice() ? 'character device' : st.isBlockDevice() ? 'block device' : st.isSocket() ? 'socket' : 'special file';
}

/** Expand files and folders (recursively). Paths that do not exist are returned as unreadable. */
export async function sourcesFromPaths(paths: readonly string[]): Promise<{ sources: ImportSource[]; unreadable: UnreadableSource[] }> {
  const sources: ImportSource[] = [];
  const unreadable: UnreadableSource[] = [];
  for (const raw of paths) {
    if (!path.isAbsolute(raw)) {
      unreadable.push({ file: raw, reason: 'Give the full path (a relative path would be read from wherever Delineate was started).' });
      continue;
    }
    const p = path.resolve(raw);
    let isDir: boolean;
    try {
      const st = await stat(p);
      isDir = st.isDirectory();
      if (!isDir && !st.isFile()) {
        unreadable.push({ file: p, reason: `This is not an ordinary file (${kindOf(st)}) and was not read.` });
        continue;
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      unreadable.push({ file: p, reason: code === 'ENOENT' ? 'There is no file or folder at this path.' : code === 'EACCES' ? 'Permission denied: Delineate may not read it.' : 'It could not be read.' });
      continue;
    }
    const files: string[] = [];
    if (isDir) {
      try {
        await walk(p, files);
      } catch (e) {
        unreadable.push({ file: p, reason: `The folder could not be listed (${(e as NodeJS.ErrnoException).code ?? 'error'}).` });
      }
    } else {
      files.push(p);
    }
    const base = path.dirname(p);
    for (const f of files) {
      const rel = toPosix(path.relative(base, path.dirname(f)));
      sources.push({ file: f, fileName: path.basename(f), folder: rel || path.basename(base) || '/', read: () => readRegularFile(f) });
    }
  }
  return { sources, unreadable };
}

/** Files dropped into the browser: the name may carry a relative path ("scans/a.png"). */
export function sourcesFromUploads(files: readonly { name: string; bytes: Uint8Array }[]): ImportSource[] {
  return files.map((f) => {
    const name = f.name.replace(/\\/g, '/');
    const slash = name.lastIndexOf('/');
    return {
      file: f.name,
      fileName: slash >= 0 ? name.slice(slash + 1) : name,
      folder: slash >= 0 ? name.slice(0, slash) : '(uploaded)',
      read: () => Promise.resolve(f.bytes),
    };
  });
}
