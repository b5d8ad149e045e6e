/**
 * Model packages on disk (format: contract/model-package.ts): written from an installed model
 * as a folder plus one .tar archive, and read back (folder or archive) only after every file
 * matches its hash. Runtime: node.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { PACKAGE_CARD, PACKAGE_FORMAT, PACKAGE_MANIFEST, PACKAGE_MODEL_DIR, PACKAGE_VERSION, PackageManifest } from '../../contract/model-package.js';
import { MANIFEST_NAME } from './bundle-manifest.js';
import { renderModelCard } from './model-card.js';

/** A package that cannot be used: the sentence names the file at fault. */
export class PackageError extends Error {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'PackageError';
  }
}

/** The SHA-256 of a file, read as a stream (model files are hundreds of MB). */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

/** Every regular file under `dir`, as package paths (forward slashes); links and others are refused. */
function filesUnder(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    const rel = path.relative(base, full).split(path.sep).join('/');
    if (e.isDirectory()) out.push(...filesUnder(full, base));
    else if (e.isFile()) out.push(rel);
    else throw new PackageError(`${rel} is not a plain file (a link?): a package holds files only`, rel);
  }
  return out;
}

/** The files of an installed model that a package carries: everything but the PyTorch checkpoint and the app's own notes. */
const CARRIED = (name: string) => name === MANIFEST_NAME || name.endsWith('.onnx') || name.endsWith('.onnx.data');

export interface PackageInput {
  /** The installed model's folder (model.json and its ONNX files). */
  modelDir: string;
  /** Everything of the manifest but `format`, `package_version` and `files`. */
  manifest: Omit<PackageManifest, 'format' | 'package_version' | 'files'>;
  /** The folder to write into: the package becomes <outDir>/<slug>/ and <outDir>/<slug>.tar. */
  outDir: string;
}

export function packageSlug(name: string, version: string): string {
  const s = `${name}-${version}`.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '');
  return s.slice(0, 120) || 'model';
}

/** Write the package folder and its archive; both appear whole or not at all. */
export async function writePackage(p: PackageInput): Promise<{ folder: string; archive: string; manifest: PackageManifest }> {
  const slug = packageSlug(p.manifest.name, p.manifest.version);
  const folder = path.join(p.outDir, slug);
  const archive = `${folder}.tar`;
  if (existsSync(folder) || existsSync(archive)) throw new PackageError(`${folder} (or its .tar) already exists: choose another folder, or remove it first`, folder);
  mkdirSync(p.outDir, { recursive: true });
  const tmp = path.join(p.outDir, `.${slug}.partial-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(path.join(tmp, PACKAGE_MODEL_DIR), { recursive: true });
    const files: PackageManifest['files'] = {};
    for (const name of readdirSync(p.modelDir).filter(CARRIED).sort()) {
      const from = path.join(p.modelDir, name);
      if (!statSync(from).isFile()) continue;
      const rel = `${PACKAGE_MODEL_DIR}/${name}`;
      await copyFile(from, path.join(tmp, rel));
      files[rel] = { bytes: statSync(from).size, sha256: await sha256File(path.join(tmp, rel)) };
    }
    const bundleManifest = `${PACKAGE_MODEL_DIR}/${MANIFEST_NAME}`;
    if (!files[bundleManifest]) throw new PackageError(`${p.modelDir} has no ${MANIFEST_NAME}: not an installed model`, p.modelDir);
    // The bundle's own manifest lists what it holds: the files left behind (the checkpoint) go from it.
    const bm = JSON.parse(readFileSync(path.join(tmp, bundleManifest), 'utf8')) as { checkpoint?: string; files?: Record<string, unknown> };
    delete bm.checkpoint;
    if (bm.files) for (const name of Object.keys(bm.files)) if (!files[`${PACKAGE_MODEL_DIR}/${name}`]) delete bm.files[name];
    const bmText = `${JSON.stringify(bm, null, 2)}\n`;
    writeFileSync(path.join(tmp, bundleManifest), bmText);
    files[bundleManifest] = { bytes: Buffer.byteLength(bmText), sha256: createHash('sha256').update(bmText).digest('hex') };
    const base: PackageManifest = { format: PACKAGE_FORMAT, package_version: PACKAGE_VERSION, ...p.manifest, files };
    const card = renderModelCard(base);
    writeFileSync(path.join(tmp, PACKAGE_CARD), card);
    const manifest: PackageManifest = { ...base, files: { ...files, [PACKAGE_CARD]: { bytes: Buffer.byteLength(card), sha256: createHash('sha256').update(card).digest('hex') } } };
    writeFileSync(path.join(tmp, PACKAGE_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    // The archive holds the folder under its final name.
    const tarTmp = `${tmp}.tar`;
    renameSync(tmp, folder);
    try {
      await tar.create({ file: tarTmp, cwd: p.outDir, portable: true, noMtime: true }, [slug]);
      renameSync(tarTmp, archive);
    } catch (e) {
      rmSync(folder, { recursive: true, force: true });
      rmSync(tarTmp, { force: true });
      throw e;
    }
    return { folder, archive, manifest };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Check a package folder: its manifest, its version, and every file against its size and
 * hash; a file that is not listed is refused too. The manifest, or a PackageError naming what
 * is wrong.
 */
export async function verifyPackage(dir: string): Promise<PackageManifest> {
  const manifestFile = path.join(dir, PACKAGE_MANIFEST);
  if (!existsSync(manifestFile)) throw new PackageError(`${dir}: no ${PACKAGE_MANIFEST}, not a Delineate model package`, dir);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(manifestFile, 'utf8'));
  } catch (e) {
    throw new PackageError(`${manifestFile}: not valid JSON (${(e as Error).message})`, manifestFile);
  }
  const version = (raw as { package_version?: unknown } | null)?.package_version;
  if ((raw as { format?: unknown } | null)?.format !== PACKAGE_FORMAT) throw new PackageError(`${manifestFile}: not a Delineate model package (format ${JSON.stringify((raw as { format?: unknown } | null)?.format)})`, manifestFile);
  if (typeof version === 'number' && version > PACKAGE_VERSION) {
    throw new PackageError(`${manifestFile}: package version ${version} is newer than this Delineate reads (${PACKAGE_VERSION}); update Delineate to use it`, manifestFile);
  }
  const parsed = PackageManifest.safeParse(raw);
  if (!parsed.success) throw new PackageError(`${manifestFile}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, manifestFile);
  const m = parsed.data;
  const present = filesUnder(dir).filter((f) => f !== PACKAGE_MANIFEST);
  for (const f of present) if (!m.files[f]) throw new PackageError(`${f}: in the package folder but not in its manifest (added after export?)`, f);
  for (const [f, want] of Object.entries(m.files)) {
    const full = path.join(dir, ...f.split('/'));
    if (!existsSync(full) || !lstatSync(full).isFile()) throw new PackageError(`${f}: listed in the package but missing`, f);
    const bytes = statSync(full).size;
    if (bytes !== want.bytes || (await sha256File(full)) !== want.sha256) {
      throw new PackageError(`${f}: does not match the package's hash (changed or damaged after export); the package is refused`, f);
    }
  }
  if (!m.files[m.model.manifest]) throw new PackageError(`${manifestFile}: names ${m.model.manifest} as the model, which it does not list`, manifestFile);
  return m;
}

/**
 * Open a package (folder or .tar) and verify it; an archive is unpacked under `scratch`
 * first (plain files only: no links, no absolute or parent paths). The folder and manifest.
 */
export async function openPackage(where: string, scratch: string): Promise<{ dir: string; manifest: PackageManifest }> {
  if (!existsSync(where)) throw new PackageError(`${where}: not found`, where);
  if (statSync(where).isDirectory()) return { dir: where, manifest: await verifyPackage(where) };
  mkdirSync(scratch, { recursive: true });
  // Looked at before anything is written: plain files and folders only (no links, devices...).
  // Throwing from tar's callbacks would escape its promise, so problems are collected.
  const tops = new Set<string>();
  const odd: string[] = [];
  try {
    await tar.list({ file: where, strict: true, onReadEntry: (e) => {
      if (e.type !== 'File' && e.type !== 'Directory') odd.push(`${e.path} is a ${e.type}`);
      tops.add(e.path.split('/')[0]!);
    } });
    if (odd.length === 0) await tar.extract({ file: where, cwd: scratch, strict: true });
  } catch (e) {
    throw new PackageError(`${where}: not a readable package archive (${(e as Error).message})`, where);
  }
  if (odd.length) throw new PackageError(`${where}: ${odd[0]}, not a plain file; the package is refused`, where);
  if (tops.size !== 1) throw new PackageError(`${where}: a package archive holds one folder, this one holds ${tops.size}`, where);
  const dir = path.join(scratch, [...tops][0]!);
  return { dir, manifest: await verifyPackage(dir) };
}
