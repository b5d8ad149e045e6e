/**
 * Mapping a URL path to a file under the renderer's build folder, refusing anything that
 * would leave it (.., encoded separators, NUL, dotfiles, symlinks pointing outside).
 *
 * Runtime: Node.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';

const MIME: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

export function mimeTypeFor(file: string): string {
  return MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Pure part: URL pathname -> absolute path inside `root`, or null when the request must be
 * refused. "/" maps to index.html.
 */
export function resolveStaticPath(root: string, urlPathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPathname);
  } catch {
    return null; // malformed %-escape
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').filter((s) => s !== '');
  // Any "." / ".." segment or dotfile is refused outright rather than normalised away.
  if (segments.some((s) => s.startsWith('.'))) return null;
  const relative = segments.length === 0 ? 'index.html' : segments.join('/');
  const absRoot = path.resolve(root);
  const candidate = path.resolve(absRoot, relative);
  return candidate.startsWith(absRoot + path.sep) ? candidate : null;
}

/** I/O part: the real file for a request, after following symlinks, or null (404). */
export async function findStaticFile(root: string, urlPathname: string): Promise<{ file: string; size: number } | null> {
  const candidate = resolveStaticPath(root, urlPathname);
  if (candidate === null) return null;
  try {
    const [realRoot, realFile] = await Promise.all([realpath(root), realpath(candidate)]);
    if (!realFile.startsWith(realRoot + path.sep)) return null;
    const info = await stat(realFile);
    return info.isFile() ? { file: realFile, size: info.size } : null;
  } catch {
    return null;
  }
}
