/**
 * The project's SAM models: list, import (bundle folder, official ONNX pair, .pth checkpoint
 * through the Python runtime), delete, and the active model. Runtime: node.
 *
 * Models live in `<project>/models/<id>/` as bundles (model.json + ONNX files). Every import
 * is staged in `<project>/models/.staging-*`, validated there (manifest, listed files, sizes
 * and checksums, ONNX signatures opened with onnxruntime) and only then renamed into place,
 * so a wrong or truncated file never leaves a half-installed model. Errors name the file.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RuntimeClient } from '../runtime/runtime-client.node.js';
import { exportOnnx, type JobProgress } from '../runtime/runtime-methods.js';
import type { ModelFiles } from '../inference/sam-engine.node.js';
import { ModelSpeedLog, type MeasuredSpeed } from './model-speed.node.js';
import { FORMAT_VERSION, int8MaskIou, MANIFEST_NAME, modelFiles, parseManifest, variantsOf, variantToRun, type BundleManifest, type Variant, type VariantChoice } from './bundle-manifest.js';
import { RuntimeRequestError } from '../runtime/runtime-client.node.js';
import { decoderCropProblems } from './decoder-crop-check.node.js';
import { decoderOutputProblems, decoderProblems, encoderProblems, fastDecoderProblems, pairProblems, readOnnxIo, type OnnxIo, type TensorInfo } from './onnx-signature.node.js';
import { externalDataFiles } from './onnx-external-data.node.js';
import { PACKAGE_MODEL_DIR, PackageManifest } from '../../contract/model-package.js';
import { openPackage, PackageError, sha256File } from './model-package.node.js';

export const ACTIVE_FILE = 'active.json';
/** The user's int8/fp32 choice per model ({id: 'int8' | 'fp32'}; absent: auto). */
export const VARIANTS_FILE = 'variants.json';
/** Written by the app beside model.json of a model it trained: where it came from and the gate's verdict. */
export const LINEAGE_FILE = 'lineage.json';
/** Beside an installed model: the manifest of the package it came from (never carried into a package: CARRIED). */
export const PACKAGE_ORIGIN_FILE = 'package-origin.json';

export interface Lineage {
  /** The name the app gave the model (bundles exported by the runtime carry none). */
  name?: string;
  datasetHash: string | null;
  trainedBy: string | null;
  parentModelId: string | null;
  config: Record<string, unknown>;
  gate: Record<string, unknown> | null;
}
const SAM_MEAN = [123.675, 116.28, 103.53];
const SAM_STD = [58.395, 57.12, 57.375];

export interface InstalledModel {
  id: string;
  name: string;
  arch: string;
  baseModel: string | null;
  imageSize: number;
  sizeBytes: number;
  variants: Variant[];
  /** The variant SAM runs (see variantToRun), the user's choice, and int8's measured agreement. */
  variant: Variant;
  variantChoice: VariantChoice;
  int8MaskIou: number | null;
  /** Measured here while it ran (the variant in use); null before its first embedding. */
  speed: MeasuredSpeed | null;
  created: string;
  metrics: Record<string, unknown>;
  lineage: Lineage | null;
}

/** An import that failed; `file` is the file or folder at fault. */
export class ModelImportError extends Error {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'ModelImportError';
  }
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? folderBytes(p) : statSync(p).size;
  }
  return n;
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'model';
}

/**
 * Official checkpoint names carry the architecture: sam_vit_b_01ec64.pth -> vit_b,
 * MobileSAM's mobile_sam.pt -> vit_t (its registry's name for TinyViT + SAM's decoder), and
 * EfficientSAM-Ti's efficient_sam_vitt.pt -> efficientsam_ti (EfficientSAM-S's
 * efficient_sam_vits.pt is not one Delineate imports, so it is not recognised).
 */
export function archFromCheckpointName(file: string): string | null {
  const name = path.basename(file);
  if (/mobile[_-]?sam/i.test(name)) return 'vit_t';
  if (/efficient[_-]?sam[_-]?(vitt|ti)(?![a-z])/i.test(name)) return 'efficientsam_ti';
  if (/efficient[_-]?sam/i.test(name)) return null;
  const m = /vit_([bhlt])/i.exec(name);
  return m ? `vit_${m[1]!.toLowerCase()}` : null;
}

/**
 * Validate a bundle folder in place; returns its manifest or throws naming what is wrong.
 * `hashesVerified`: its files were just checked against a package's hashes, so only their
 * sizes are checked again here (a vit_h bundle is gigabytes to read).
 */
export async function validateBundle(dir: string, shownAs: string, hashesVerified = false): Promise<BundleManifest> {
  const manifestPath = path.join(dir, MANIFEST_NAME);
  if (!existsSync(manifestPath)) throw new ModelImportError(`${shownAs}: no ${MANIFEST_NAME} — not a model bundle folder`, shownAs);
  let m: BundleManifest;
  try {
    m = parseManifest(readFileSync(manifestPath, 'utf8'), `${shownAs}/${MANIFEST_NAME}`);
  } catch (e) {
    throw new ModelImportError((e as Error).message, path.join(shownAs, MANIFEST_NAME));
  }
  const needed = [m.encoder.file, m.decoder.file, ...[m.encoder_int8, m.decoder_int8, m.decoder_fast].flatMap((f) => (f ? [f.file] : []))];
  for (const f of needed) {
    if (f.includes('..') || path.isAbsolute(f)) throw new ModelImportError(`${shownAs}/${MANIFEST_NAME}: file name ${JSON.stringify(f)} leaves the bundle`, shownAs);
    if (!existsSync(path.join(dir, f))) throw new ModelImportError(`${shownAs}: ${f} is missing (listed in ${MANIFEST_NAME})`, path.join(shownAs, f));
  }
  for (const [f, expected] of Object.entries(m.files)) {
    if (f.includes('..') || path.isAbsolute(f)) throw new ModelImportError(`${shownAs}/${MANIFEST_NAME}: file name ${JSON.stringify(f)} leaves the bundle`, shownAs);
    const p = path.join(dir, f);
    if (!existsSync(p)) throw new ModelImportError(`${shownAs}: ${f} is missing (listed in ${MANIFEST_NAME} files)`, path.join(shownAs, f));
    const size = statSync(p).size;
    if (size !== expected.bytes) throw new ModelImportError(`${shownAs}: ${f} has ${size} bytes, ${MANIFEST_NAME} says ${expected.bytes} (truncated or replaced?)`, path.join(shownAs, f));
    if (!hashesVerified && (await sha256File(p)) !== expected.sha256) throw new ModelImportError(`${shownAs}: ${f} does not match its sha256 in ${MANIFEST_NAME} (changed after export?)`, path.join(shownAs, f));
  }
  const size = m.preprocessing.image_size;
  const problems: string[] = [];
  const ios = new Map<string, OnnxIo>();
  const checks = [[m.encoder.file, 'enc'], [m.decoder.file, 'dec'], [m.encoder_int8?.file, 'enc'], [m.decoder_int8?.file, 'dec'], [m.decoder_fast?.file, 'fast']] as const;
  for (const [f, kind] of checks) {
    if (!f) continue;
    const label = `${shownAs}/${f}`;
    let io;
    try {
      io = await readOnnxIo(path.join(dir, f), label);
    } catch (e) {
      throw new ModelImportError((e as Error).message, path.join(shownAs, f));
    }
    ios.set(f, io);
    if (kind === 'enc') problems.push(...encoderProblems(io, label, size).problems);
    else if (kind === 'fast') problems.push(...fastDecoderProblems(io, label));
    else problems.push(...decoderProblems(io, label), ...decoderOutputProblems(io, label));
  }
  // Each variant's encoder and decoder must fit each other (the app may run either pair).
  const pairs = [[m.encoder.file, m.decoder.file], [m.encoder_int8?.file, m.decoder_int8?.file], [m.encoder.file, m.decoder_fast?.file], [m.encoder_int8?.file, m.decoder_fast?.file]] as const;
  for (const [e, d] of pairs) {
    const ei = e ? ios.get(e) : undefined;
    const di = d ? ios.get(d) : undefined;
    if (ei && di) problems.push(...pairProblems(ei, di, `${shownAs}/${e}`, `${shownAs}/${d}`));
  }
  if (problems.length) throw new ModelImportError(problems.join('; '), shownAs);
  for (const f of [m.decoder.file, m.decoder_int8?.file]) {
    if (f) problems.push(...(await decoderCropProblems(path.join(dir, f), `${shownAs}/${f}`, size)));
  }
  if (problems.length) throw new ModelImportError(problems.join('; '), shownAs);
  return m;
}

const tensorSpec = (t: TensorInfo) => ({ name: t.name, dtype: t.dtype, shape: t.shape });

export class ModelManager {
  /** Each model's measured speed on this machine (the SAM service records, the listing shows). */
  readonly speed: ModelSpeedLog;

  constructor(
    readonly modelsDir: string,
    /** The Python runtime, started (and its environment built) on first use. */
    private readonly runtime: () => Promise<RuntimeClient>,
  ) {
    this.speed = new ModelSpeedLog(modelsDir);
  }

  private staging(): string {
    mkdirSync(this.modelsDir, { recursive: true });
    const dir = path.join(this.modelsDir, `.staging-${randomUUID().slice(0, 8)}`);
    mkdirSync(dir);
    return dir;
  }

  /** Clear staging folders left by a crash mid-import (called when a project opens). */
  sweep(): void {
    if (!existsSync(this.modelsDir)) return;
    for (const n of readdirSync(this.modelsDir)) if (n.startsWith('.staging-')) rmSync(path.join(this.modelsDir, n), { recursive: true, force: true });
  }

  private async install(staging: string, shownAs: string, name: string, hashesVerified = false): Promise<InstalledModel> {
    try {
      const m = await validateBundle(staging, shownAs, hashesVerified);
      const twin = this.sameWeights(m);
      if (twin) throw new ModelImportError(`${shownAs}: this model is installed already, as "${twin.name}" (the same encoder and decoder files)`, shownAs);
      const id = `${slug(name)}-${randomUUID().slice(0, 6)}`;
      // Installing does not change which model is in use: pin the current one (it may only be
      // "the newest", which the new model would otherwise become under the user's clicks).
      const inUse = this.effectiveActive();
      renameSync(staging, path.join(this.modelsDir, id));
      if (inUse && this.activeId() !== inUse.id) this.setActive(inUse.id);
      return this.describe(id, m);
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      throw e;
    }
  }

  /** An installed model with the very same encoder and decoder files as `m` (by sha256), if any. */
  private sameWeights(m: BundleManifest): InstalledModel | null {
    const sig = (x: BundleManifest) => [x.files[x.encoder.file]?.sha256, x.files[x.decoder.file]?.sha256];
    const [e, d] = sig(m);
    if (!e || !d) return null;
    for (const installed of this.list()) {
      const [ie, id] = sig(this.manifest(installed.id));
      if (ie === e && id === d) return installed;
    }
    return null;
  }

  private describe(id: string, m: BundleManifest): InstalledModel {
    const arch = typeof m.architecture.arch === 'string' ? m.architecture.arch : 'unknown';
    const lineage = this.lineage(id, m);
    const variantChoice = this.variantChoice(id);
    const variant = variantToRun(m, variantChoice);
    return {
      id,
      name: lineage?.name ?? (typeof m.name === 'string' ? m.name : m.base_model ?? id),
      arch,
      baseModel: m.base_model ?? null,
      imageSize: m.preprocessing.image_size,
      sizeBytes: folderBytes(path.join(this.modelsDir, id)),
      variants: variantsOf(m),
      variant,
      speed: this.speed.get(`${id}:${variant}`),
      variantChoice,
      int8MaskIou: int8MaskIou(m),
      created: m.created,
      metrics: m.metrics,
      lineage,
    };
  }

  /** The app's lineage record, else what model.json says (bundles exported elsewhere). */
  private lineage(id: string, m: BundleManifest): Lineage | null {
    try {
      const l = JSON.parse(readFileSync(path.join(this.modelsDir, id, LINEAGE_FILE), 'utf8')) as Partial<Lineage>;
      return {
        ...(typeof l.name === 'string' ? { name: l.name } : {}),
        datasetHash: typeof l.datasetHash === 'string' ? l.datasetHash : null,
        trainedBy: typeof l.trainedBy === 'string' ? l.trainedBy : null,
        parentModelId: typeof l.parentModelId === 'string' ? l.parentModelId : null,
        config: l.config && typeof l.config === 'object' ? l.config : {},
        gate: l.gate && typeof l.gate === 'object' ? l.gate : null,
      };
    } catch {
      const extra = m as unknown as { dataset_hash?: unknown; training_config?: unknown };
      if (typeof extra.dataset_hash !== 'string') return null;
      const config = extra.training_config && typeof extra.training_config === 'object' ? (extra.training_config as Record<string, unknown>) : {};
      return { datasetHash: extra.dataset_hash, trainedBy: typeof config.trained_by === 'string' ? config.trained_by : null, parentModelId: null, config, gate: null };
    }
  }

  /**
   * Install a bundle the runtime exported from a training run (moved, not copied; it is
   * validated like any import) and record its lineage beside it.
   */
  async installTrained(bundleDir: string, name: string, lineage: Lineage): Promise<InstalledModel> {
    const staging = this.staging();
    rmSync(staging, { recursive: true, force: true });
    renameSync(bundleDir, staging);
    writeFileSync(path.join(staging, LINEAGE_FILE), JSON.stringify({ ...lineage, name }, null, 2));
    return this.install(staging, bundleDir, name);
  }

  list(): InstalledModel[] {
    if (!existsSync(this.modelsDir)) return [];
    const out: InstalledModel[] = [];
    for (const e of readdirSync(this.modelsDir, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      try {
        out.push(this.describe(e.name, this.manifest(e.name)));
      } catch {
        /* a folder without a readable model.json is not a model; leave it alone */
      }
    }
    return out.sort((a, b) => a.created.localeCompare(b.created));
  }

  manifest(id: string): BundleManifest {
    const dir = this.dirOf(id);
    return parseManifest(readFileSync(path.join(dir, MANIFEST_NAME), 'utf8'), `${dir}/${MANIFEST_NAME}`);
  }

  private dirOf(id: string): string {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(id)) throw new ModelImportError(`no model ${JSON.stringify(id)}`);
    const dir = path.join(this.modelsDir, id);
    if (!existsSync(path.join(dir, MANIFEST_NAME))) throw new ModelImportError(`no model ${JSON.stringify(id)} in ${this.modelsDir}`);
    return dir;
  }

  files(id: string, variant: Variant | 'auto' = 'auto'): ModelFiles {
    const m = this.manifest(id);
    const v = variant === 'auto' ? variantToRun(m, this.variantChoice(id)) : variant;
    return modelFiles(this.dirOf(id), m, v, id, path.join);
  }

  async importBundle(folder: string): Promise<InstalledModel> {
    if (existsSync(folder) && statSync(folder).isFile() && /\.(pth|pt)$/i.test(folder)) {
      throw new ModelImportError(`${folder} is a checkpoint file, not a bundle folder: choose "Official .pth checkpoint" to convert and install it`, folder);
    }
    if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new ModelImportError(`${folder}: not a folder (choose the bundle folder that holds ${MANIFEST_NAME})`, folder);
    await validateBundle(folder, folder); // fail fast, before copying gigabytes
    const staging = this.staging();
    try {
      cpSync(folder, staging, { recursive: true });
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      throw new ModelImportError(`copying ${folder} failed: ${(e as Error).message}`, folder);
    }
    return this.install(staging, folder, path.basename(folder));
  }

  /**
   * A model package (folder or .tar, contract/model-package.ts): every file checked against
   * the package's hashes and its version against what this app reads, then its model/ bundle
   * installed under the package's name. A tampered file is refused by name, nothing installed.
   */
  async importPackage(where: string): Promise<InstalledModel> {
    const scratch = this.staging(); // an archive unpacks here; swept like any staging folder after a crash
    try {
      const { dir, manifest } = await openPackage(where, scratch).catch((e: unknown) => {
        throw e instanceof PackageError ? new ModelImportError(e.message, e.file ?? where) : e;
      });
      const bundle = path.join(dir, PACKAGE_MODEL_DIR);
      const staging = this.staging();
      // An unpacked archive is ours to move; a package folder stays as the user keeps it.
      if (dir === where) cpSync(bundle, staging, { recursive: true });
      else {
        rmSync(staging, { recursive: true });
        renameSync(bundle, staging);
      }
      // The package's manifest (card, labels, fixed window) stays with the model: a re-export passes it on.
      writeFileSync(path.join(staging, PACKAGE_ORIGIN_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
      return await this.install(staging, where, manifest.name, true);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  /** The manifest of the package a model was installed from; null for any other model (or an unreadable record). */
  packageOrigin(id: string): PackageManifest | null {
    try {
      const r = PackageManifest.safeParse(JSON.parse(readFileSync(path.join(this.dirOf(id), PACKAGE_ORIGIN_FILE), 'utf8')));
      return r.success ? r.data : null;
    } catch {
      return null;
    }
  }

  /** An installed model's folder (exports read its files). */
  folderOf(id: string): string {
    return this.dirOf(id);
  }

  /** An encoder + canonical decoder exported by the official segment-anything scripts (or any exporter with that signature). */
  async importOnnxPair(encoder: string, decoder: string, name?: string): Promise<InstalledModel> {
    for (const f of [encoder, decoder]) if (!existsSync(f) || !statSync(f).isFile()) throw new ModelImportError(`${f}: file not found`, f);
    // Weights kept beside the .onnx files (external data, e.g. a vit_h encoder) travel with them
    // under their own names, since the models refer to them by relative location.
    const sideFiles = new Map<string, string>(); // name in the bundle -> source path
    for (const model of [encoder, decoder]) {
      let names: string[];
      try {
        names = externalDataFiles(model);
      } catch (e) {
        throw new ModelImportError((e as Error).message, model);
      }
      for (const n of names) {
        const src = path.join(path.dirname(model), n);
        const taken = sideFiles.get(n);
        if (['encoder.onnx', 'decoder.onnx', MANIFEST_NAME].includes(n) || (taken !== undefined && taken !== src)) {
          throw new ModelImportError(`${model}: its weights file name ${n} clashes with another file of the model; re-export with a distinct external data name`, model);
        }
        sideFiles.set(n, src);
      }
    }
    const encIo = await readOnnxIo(encoder, encoder).catch((e: Error) => Promise.reject(new ModelImportError(e.message, encoder)));
    const enc = encoderProblems(encIo, encoder);
    if (enc.problems.length) throw new ModelImportError(enc.problems.join('; '), encoder);
    const decIo = await readOnnxIo(decoder, decoder).catch((e: Error) => Promise.reject(new ModelImportError(e.message, decoder)));
    const dec = [...decoderProblems(decIo, decoder), ...decoderOutputProblems(decIo, decoder)];
    if (dec.length) throw new ModelImportError(dec.join('; '), decoder);
    const pair = pairProblems(encIo, decIo, encoder, decoder);
    if (pair.length) throw new ModelImportError(pair.join('; '), decoder);
    const crop = await decoderCropProblems(decoder, decoder, enc.size!);
    if (crop.length) throw new ModelImportError(crop.join('; '), decoder);
    const staging = this.staging();
    try {
      cpSync(encoder, path.join(staging, 'encoder.onnx'));
      cpSync(decoder, path.join(staging, 'decoder.onnx'));
      for (const [n, src] of sideFiles) cpSync(src, path.join(staging, n));
      const files: Record<string, { bytes: number; sha256: string }> = {};
      for (const f of ['encoder.onnx', 'decoder.onnx', ...sideFiles.keys()]) files[f] = { bytes: statSync(path.join(staging, f)).size, sha256: await sha256File(path.join(staging, f)) };
      const manifest = {
        format_version: FORMAT_VERSION,
        name: name ?? path.basename(decoder).replace(/\.onnx$/i, ''),
        created: new Date().toISOString(),
        runtime_version: 'app-import',
        architecture: { arch: archFromCheckpointName(decoder) ?? archFromCheckpointName(encoder) ?? 'unknown', source: 'onnx import' },
        preprocessing: { image_size: enc.size!, pixel_mean: SAM_MEAN, pixel_std: SAM_STD, resize: 'longest_side' },
        encoder: { file: 'encoder.onnx', inputs: encIo.inputs.map(tensorSpec), outputs: encIo.outputs.map(tensorSpec), opset: 0 },
        decoder: { file: 'decoder.onnx', inputs: decIo.inputs.map(tensorSpec), outputs: decIo.outputs.map(tensorSpec), opset: 0 },
        base_model: path.basename(encoder),
        metrics: {},
        parity: {},
        files,
      };
      writeFileSync(path.join(staging, MANIFEST_NAME), JSON.stringify(manifest, null, 2));
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      throw e;
    }
    return this.install(staging, path.dirname(encoder), name ?? manifestNameOf(encoder));
  }

  /** An official .pth checkpoint, converted and exported (fp32 + int8) by the Python runtime. */
  async importCheckpoint(
    file: string,
    opts: {
      arch?: string;
      /** For non-official sizes (tiny test models): the ModelSpec fields besides arch. */
      modelOptions?: Record<string, unknown>;
      onProgress?: (p: JobProgress) => void;
      signal?: AbortSignal;
    } = {},
  ): Promise<InstalledModel> {
    const arch = checkpointArch(file, opts.arch);
    const staging = this.staging();
    const out = path.join(staging, 'bundle');
    try {
      const runtime = await this.runtime();
      if (opts.signal?.aborted) throw new Error('cancelled before the conversion started');
      await runtime.runJob(
        exportOnnx,
        { model: { checkpoint: file, arch, ...modelRefOptions(opts.modelOptions) }, out_dir: out, quantize: 'dynamic', base_model: path.basename(file) },
        { ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), ...(opts.signal ? { signal: opts.signal } : {}) },
      );
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      // The runtime's sentence, not its protocol method name ("export.onnx: ...").
      const why = e instanceof RuntimeRequestError ? e.reason : (e as Error).message;
      throw new ModelImportError(`${file}: ${why}`, file);
    }
    // The runtime publishes the bundle into out/ atomically; move it up to become the staging folder.
    const inner = `${staging}-b`;
    renameSync(out, inner);
    rmSync(staging, { recursive: true, force: true });
    return this.install(inner, file, path.basename(file).replace(/\.pth$/i, ''));
  }

  delete(id: string): void {
    const dir = this.dirOf(id);
    // Rename first so a crash mid-delete leaves a hidden folder, never a half model under its id.
    const trash = path.join(this.modelsDir, `.staging-del-${randomUUID().slice(0, 8)}`);
    renameSync(dir, trash);
    rmSync(trash, { recursive: true, force: true });
    this.speed.forget(id);
    if (this.activeId() === id) this.setActive(null);
  }

  activeId(): string | null {
    try {
      const v = JSON.parse(readFileSync(path.join(this.modelsDir, ACTIVE_FILE), 'utf8')) as { id?: unknown };
      return typeof v.id === 'string' && existsSync(path.join(this.modelsDir, v.id, MANIFEST_NAME)) ? v.id : null;
    } catch {
      return null;
    }
  }

  /** The chosen model, else the only/newest installed one (so one import is enough to start). */
  effectiveActive(models: readonly InstalledModel[] = this.list()): InstalledModel | null {
    const id = this.activeId();
    return models.find((m) => m.id === id) ?? models.at(-1) ?? null;
  }

  private variantChoices(): Record<string, VariantChoice> {
    try {
      const v = JSON.parse(readFileSync(path.join(this.modelsDir, VARIANTS_FILE), 'utf8')) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(v).filter((e): e is [string, Variant] => e[1] === 'int8' || e[1] === 'fp32'));
    } catch {
      return {};
    }
  }

  variantChoice(id: string): VariantChoice {
    return this.variantChoices()[id] ?? 'auto';
  }

  /** Pin a model to int8 or fp32, or back to 'auto'; refuses a variant the bundle does not have. */
  setVariant(id: string, choice: VariantChoice): void {
    const has = variantsOf(this.manifest(id));
    if (choice !== 'auto' && !has.includes(choice)) throw new ModelImportError(`this model has no ${choice} variant (it has ${has.join(' and ')})`);
    const all = this.variantChoices();
    if (choice === 'auto') delete all[id];
    else all[id] = choice;
    mkdirSync(this.modelsDir, { recursive: true });
    const tmp = path.join(this.modelsDir, `${VARIANTS_FILE}.tmp`);
    writeFileSync(tmp, JSON.stringify(all));
    renameSync(tmp, path.join(this.modelsDir, VARIANTS_FILE));
  }

  setActive(id: string | null): void {
    if (id !== null) this.dirOf(id);
    mkdirSync(this.modelsDir, { recursive: true });
    const tmp = path.join(this.modelsDir, `${ACTIVE_FILE}.tmp`);
    writeFileSync(tmp, JSON.stringify({ id }));
    renameSync(tmp, path.join(this.modelsDir, ACTIVE_FILE));
  }
}

/** The runtime's ModelRef takes image_size on its own and the other spec fields as model_options. */
function modelRefOptions(spec: Record<string, unknown> | undefined): { image_size?: number; model_options?: Record<string, unknown> } {
  if (!spec) return {};
  const { image_size, ...rest } = spec;
  return { ...(typeof image_size === 'number' ? { image_size } : {}), model_options: rest };
}

/**
 * What can be said about a .pth before the runtime starts: a file (not a folder, not missing),
 * and its architecture (given, or from an official name). Returns the architecture.
 */
export function checkpointArch(file: string, arch?: string): string {
  if (existsSync(file) && statSync(file).isDirectory()) {
    const bundle = existsSync(path.join(file, MANIFEST_NAME));
    throw new ModelImportError(`${file} is a folder${bundle ? ` holding a model bundle: choose "Bundle folder" to install it` : ': choose the .pth checkpoint file inside it'}`, file);
  }
  if (!existsSync(file) || !statSync(file).isFile()) throw new ModelImportError(`${file}: file not found`, file);
  const found = arch ?? archFromCheckpointName(file);
  if (!found) throw new ModelImportError(`${file}: cannot tell the architecture from the name; official names are sam_vit_b_01ec64.pth, sam_vit_l_0b3195.pth, sam_vit_h_4b8939.pth, MobileSAM's mobile_sam.pt and EfficientSAM-Ti's efficient_sam_vitt.pt (or choose vit_b/vit_l/vit_h/vit_t/efficientsam_ti)`, file);
  return found;
}

function manifestNameOf(file: string): string {
  return path.basename(file).replace(/\.onnx$/i, '').replace(/[._-]?(encoder|decoder)$/i, '') || 'onnx-model';
}
