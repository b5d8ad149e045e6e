/** Shared set-up for the browser host tests: a temporary renderer build and raw HTTP requests. */
import { mkdtemp, mkdir, symlink, writeFile } from 'node:fs/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import os from 'node:os';
import path from 'node:path';

/** A fake dist/renderer with a page, an asset, a secret outside it and a symlink escaping it. */
export async function makeStaticDir(): Promise<{ root: string; staticDir: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'delineate-host-'));
  const staticDir = path.join(root, 'renderer');
  await mkdir(path.join(staticDir, 'assets'), { recursive: true });
  await writeFile(path.join(staticDir, 'index.html'), '<!doctype html><script type="module" src="./assets/app.js"></script>');
  await writeFile(path.join(staticDir, 'assets', 'app.js'), 'console.log("app")');
  await writeFile(path.join(staticDir, '.env'), 'SECRET=1');
  await writeFile(path.join(root, 'secret.txt'), 'TOP SECRET');
  await symlink(path.join(root, 'secret.txt'), path.join(staticDir, 'assets', 'link.txt'));
  return { root, staticDir };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** node:http rather than fetch: fetch normalises "..", and forbids setting Host. */
export function rawRequest(
  port: number,
  opts: { path: string; method?: string; headers?: Record<string, string>; body?: Uint8Array | string; host?: string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: opts.host ?? '127.0.0.1', port, path: opts.path, method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}
