/**
 * Turning what the user picked (paths, or file contents sent by the renderer) into a flat,
 * ordered list of import sources, each with the folder it is grouped under.
 *
 * Runtime: Node (fs).
 */
import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

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

/** Expand files and folders (recursively). Paths that do not exist are returned as unreadable. */
export async function sourcesFromPaths(paths: readonly string[]): Promise<{ sources: ImportSource[]; unreadable: UnreadableSource[] }> {
  const sources: ImportSource[] = [];
  const unreadable: UnreadableSource[] = [];
  for (const raw of paths) {
    const p = path.resolve(raw);
    let isDir: boolean;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch (e) {
      unreadable.push({ file: p, reason: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      continue;
    }
    const files: string[] = [];
    if (isDir) {
      try {
        await walk(p, files);
      } catch (e) {
        unreadable.push({ file: p, reason: `cannot list folder: ${(e as Error).message}` });
      }
    } else {
      files.push(p);
    }
    const base = path.dirname(p);
    for (const f of files) {
      const rel = toPosix(path.relative(base, path.dirname(f)));
      // Synchronous read on purpose: for files of a few MB it is about twice as fast as
      // fs.promises.readFile (which goes through the thread pool in chunks), and it blocks
      // the event loop only for the length of one read.
      sources.push({ file: f, fileName: path.basename(f), folder: rel || path.basename(base) || '/', read: async () => readFileSync(f) });
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
