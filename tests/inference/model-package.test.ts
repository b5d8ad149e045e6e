/**
 * Model packages (issue 12): "Export model" writes a folder and one .tar with the ONNX bundle,
 * the label classes with their codes, a card and every file's hash; another project installs
 * it from either; a changed, added or missing file, an unknown newer version, and an archive
 * with a link in it are refused by name, with nothing installed; a model installed from a
 * package exports again with that package's record.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as tar from 'tar';
import { ApiError } from '../../electron/contract/api.js';
import type { PackageManifest } from '../../electron/contract/model-package.js';
import { createServices, type Services } from '../../electron/services/index.js';
import { tinyBlobBundle } from './test-models.js';

let root: string;
let a: Services;
let b: Services;
let exported: { folder: string; archive: string };
let modelId: string;

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const manifestOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'delineate-package.json'), 'utf8')) as PackageManifest;

before(async () => {
  root = mkdtempSyncSafe();
  a = createServices({ user: 'Dr Export', transport: 'browser', version: 'test' });
  a['project.create']({ path: path.join(root, 'a') });
  const label = (await a['labels.list']({})).find((l) => l.name === 'lesion')!;
  a['labels.upsert']({ id: label.id, name: 'lesion', color: label.color, code: 'metastasis' });
  modelId = (await a['models.import']({ kind: 'bundle', path: tinyBlobBundle() })).id;
  exported = await a['models.exportPackage']({ id: modelId, folder: path.join(root, 'out') });
  b = createServices({ user: 'Dr Import', transport: 'browser', version: 'test' });
  b['project.create']({ path: path.join(root, 'b') });
});
after(async () => {
  await a?.close();
  await b?.close();
  rmSync(root, { recursive: true, force: true });
});

function mkdtempSyncSafe(): string {
  const d = path.join(os.tmpdir(), `pkg-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(d, { recursive: true });
  return d;
}

async function refused(where: string, pattern: RegExp): Promise<void> {
  const before = (await b['models.list']({})).models.length;
  await assert.rejects(async () => b['models.import']({ kind: 'package', path: where }), (e: unknown) => e instanceof Error && pattern.test(e.message));
  assert.equal((await b['models.list']({})).models.length, before, 'nothing installed');
  assert.deepEqual(readdirSync(path.join(root, 'b', 'models')).filter((n) => n.startsWith('.')), [], 'no staging folder left');
}

function copyOf(name: string): string {
  const dir = path.join(root, 'copies', name, path.basename(exported.folder));
  cpSync(exported.folder, dir, { recursive: true });
  return dir;
}

test('Export model: a folder and a .tar, every file hashed, the card and the labels with their codes', async () => {
  assert.ok(existsSync(exported.archive));
  const m = manifestOf(exported.folder);
  assert.equal(m.format, 'delineate-model-package');
  assert.equal(m.package_version, 1);
  assert.equal(m.version, modelId);
  assert.equal(m.created_by, 'Dr Export');
  assert.ok(['model/model.json', 'model/encoder.onnx', 'model/decoder.onnx', 'model/encoder.int8.onnx', 'model/decoder.int8.onnx', 'model/decoder.fast.onnx', 'MODEL_CARD.md'].every((f) => m.files[f]), Object.keys(m.files).join(', '));
  assert.ok(!Object.keys(m.files).some((f) => f.endsWith('.pt')), 'no PyTorch checkpoint: a package runs, it does not train');
  for (const [f, h] of Object.entries(m.files)) assert.equal(sha(path.join(exported.folder, f)), h.sha256, f);
  // The same bytes as the installed model.
  assert.equal(m.files['model/encoder.onnx']!.sha256, sha(path.join(tinyBlobBundle(), 'encoder.onnx')));
  const lesion = m.labels.find((l) => l.name === 'lesion')!;
  assert.deepEqual(lesion.type, { scheme: 'SCT', value: '14799000', meaning: 'Neoplasm, metastatic' }, 'the code chosen for the label');
  assert.deepEqual(m.model.variants, ['int8', 'fp32']);
  assert.equal(m.card.training, null, 'not trained in this project: the card says so');
  const card = readFileSync(path.join(exported.folder, 'MODEL_CARD.md'), 'utf8');
  assert.match(card, /## Intended use/);
  assert.match(card, /Not a medical device/);
  assert.match(card, new RegExp(`\\| model/encoder\\.onnx \\| ${m.files['model/encoder.onnx']!.bytes} \\| ${m.files['model/encoder.onnx']!.sha256} \\|`));
  // An existing package is not overwritten.
  await assert.rejects(async () => a['models.exportPackage']({ id: modelId, folder: path.join(root, 'out') }), /already exists/);
});

test('another project installs it from the archive and from the folder, same files', async () => {
  const fromTar = await b['models.import']({ kind: 'package', path: exported.archive });
  assert.equal(fromTar.name, manifestOf(exported.folder).name);
  const installed = path.join(root, 'b', 'models', fromTar.id);
  assert.equal(sha(path.join(installed, 'encoder.onnx')), manifestOf(exported.folder).files['model/encoder.onnx']!.sha256);
  assert.deepEqual(readdirSync(path.join(root, 'b', 'models')).filter((n) => n.startsWith('.')), [], 'the unpacked archive is cleared');
  await b['models.delete']({ id: fromTar.id });
  const fromFolder = await b['models.import']({ kind: 'package', path: exported.folder });
  assert.equal(sha(path.join(root, 'b', 'models', fromFolder.id, 'decoder.onnx')), manifestOf(exported.folder).files['model/decoder.onnx']!.sha256);
  await b['models.delete']({ id: fromFolder.id });
});

test("a model installed from a package is exported again with the package's record: version, labels, training card, metrics, window", async () => {
  const src = copyOf('trained');
  const m = manifestOf(src);
  const training = { dataset_hash: 'abc123', images: 40, annotations: 52, train_images: 32, validation_images: 8, studies: 6, modalities: ['CT'], split_by: 'patient' };
  const metrics = [{ mode: 'auto', label: 'lesion', n: 8, before: 0.12, after: 0.81 }];
  const origin: PackageManifest = { ...m, version: 'liver-7', model: { ...m.model, fixed_window: { center: 60, width: 160, modality: 'CT' }, prompt_modes: ['auto', 'box'] }, card: { ...m.card, training, metrics, trained_by: 'Dr Train', trained_at: '2026-11-30T10:00:00Z' } };
  writeFileSync(path.join(src, 'delineate-package.json'), JSON.stringify(origin));
  const installed = await b['models.import']({ kind: 'package', path: src });
  try {
    const again = await b['models.exportPackage']({ id: installed.id, folder: path.join(root, 'reexport') });
    const r = manifestOf(again.folder);
    assert.equal(r.version, 'liver-7', 'the same model keeps its version');
    assert.equal(r.created_by, 'Dr Import');
    assert.deepEqual(r.card.training, training, "not 'no training record'");
    assert.deepEqual(r.card.metrics, metrics);
    assert.deepEqual([r.card.trained_by, r.card.trained_at], ['Dr Train', '2026-11-30T10:00:00Z']);
    assert.deepEqual(r.model.fixed_window, origin.model.fixed_window);
    assert.deepEqual(r.model.prompt_modes, ['auto', 'box']);
    assert.deepEqual(r.labels, origin.labels);
    assert.ok(!Object.keys(r.files).some((f) => f.includes('package-origin')), 'the record rides in the manifest, not as a file');
    for (const [f, h] of Object.entries(r.files)) assert.equal(sha(path.join(again.folder, f)), h.sha256, f);
  } finally {
    await b['models.delete']({ id: installed.id });
  }
});

test('a changed, added or missing file is refused by name; so is a newer package version', async () => {
  const changed = copyOf('changed');
  appendFileSync(path.join(changed, 'model', 'decoder.onnx'), Buffer.from([0]));
  await refused(changed, /model\/decoder\.onnx: does not match the package's hash \(changed or damaged after export\)/);

  const flipped = copyOf('flipped');
  const enc = path.join(flipped, 'model', 'encoder.int8.onnx');
  const bytes = readFileSync(enc);
  const at = bytes.length >> 1;
  bytes[at] = bytes[at]! ^ 0xff; // same size, other content
  writeFileSync(enc, bytes);
  await refused(flipped, /model\/encoder\.int8\.onnx: does not match the package's hash/);

  const added = copyOf('added');
  writeFileSync(path.join(added, 'model', 'extra.onnx'), 'x');
  await refused(added, /model\/extra\.onnx: in the package folder but not in its manifest/);

  const missing = copyOf('missing');
  rmSync(path.join(missing, 'MODEL_CARD.md'));
  await refused(missing, /MODEL_CARD\.md: listed in the package but missing/);

  const newer = copyOf('newer');
  const m = manifestOf(newer);
  writeFileSync(path.join(newer, 'delineate-package.json'), JSON.stringify({ ...m, package_version: 2 }));
  await refused(newer, /package version 2 is newer than this Delineate reads \(1\); update Delineate/);

  await refused(path.join(root, 'b'), /no delineate-package\.json, not a Delineate model package/);
});

test('an archive with a link in it, or two folders, is refused before anything is used', async () => {
  const src = copyOf('linked');
  symlinkSync('/etc/passwd', path.join(src, 'model', 'passwd'));
  const linked = path.join(root, 'linked.tar');
  await tar.create({ file: linked, cwd: path.dirname(src), portable: true }, [path.basename(src)]);
  await refused(linked, /is a SymbolicLink, not a plain file; the package is refused/);

  const two = path.join(root, 'two.tar');
  mkdirSync(path.join(root, 'twodirs', 'x'), { recursive: true });
  mkdirSync(path.join(root, 'twodirs', 'y'), { recursive: true });
  await tar.create({ file: two, cwd: path.join(root, 'twodirs'), portable: true }, ['x', 'y']);
  await refused(two, /holds one folder, this one holds 2/);

  const notTar = path.join(root, 'not.tar');
  writeFileSync(notTar, 'not an archive');
  await refused(notTar, /not a readable package archive/);
});

test('the receiver checks the request: a relative folder is refused', async () => {
  await assert.rejects(async () => a['models.exportPackage']({ id: modelId, folder: 'relative/out' }), (e: unknown) => e instanceof ApiError && /full path/.test(e.message));
});
