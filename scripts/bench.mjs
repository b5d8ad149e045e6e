#!/usr/bin/env node
// `npm run bench`: runs every tests/bench/*.bench.ts (each default-exports an async function
// returning JSON-able figures), each in its own process, and prints ONE JSON document on
// stdout. Progress and bench logs go to stderr. `npm run bench -- --only import,render`
// runs the benches whose file names contain those words.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildRenderer } from './lib/build.mjs';
import { ensureDeps, ensureNativeForNode } from './lib/deps.mjs';
import { log, run } from './lib/proc.mjs';
import { collectFiles } from './lib/test-files.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { only: { type: 'string' } }, strict: true });
const filters = values.only?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];

if (!(await ensureDeps(root)) || !(await ensureNativeForNode(root)) || !(await buildRenderer(root))) process.exit(1);

const files = collectFiles(root, ['tests/bench'], '.bench.ts').filter((f) => filters.length === 0 || filters.some((w) => path.basename(f).includes(w)));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'delineate-bench-'));
const benches = {};
let failures = 0;
for (const file of files) {
  const name = path.basename(file, '.bench.ts');
  const resultFile = path.join(tmp, `${name}.json`);
  log(`bench ${name}…`);
  const started = performance.now();
  const { code, out } = await run(process.execPath, ['--import', 'tsx', path.join('scripts', 'lib', 'bench-child.mjs'), file, resultFile], {
    cwd: root,
    // stdout of a bench is noise for the JSON document: send everything to our stderr.
    stdio: ['ignore', process.stderr, process.stderr],
    timeoutMs: 45 * 60 * 1000, // the retrain bench embeds 50 images with a vit_b encoder on the CPU
  });
  const seconds = Number(((performance.now() - started) / 1000).toFixed(2));
  if (code === 0) {
    benches[name] = { ok: true, seconds, result: JSON.parse(readFileSync(resultFile, 'utf8')) };
  } else {
    failures++;
    benches[name] = { ok: false, seconds, error: `exit ${code}${out ? `: ${out.slice(-2000)}` : ''}` };
  }
}
rmSync(tmp, { recursive: true, force: true });

const cpus = os.cpus();
const document = {
  generatedAt: new Date().toISOString(),
  machine: {
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
  },
  benches,
};
console.log(JSON.stringify(document, null, 2));
process.exit(failures > 0 ? 1 : 0);
