/**
 * Differential test: every file of the variant corpus (tests/fixtures/dicom-variants.ts, made
 * with dcmtk, GDCM and the project's own writer) is decoded by the app and by pydicom with
 * its pylibjpeg / GDCM / Pillow plugins (tests/reference/decode_frames.py, in a light venv of
 * its own), and the frames must be equal value for value. Lossless files must match whatever
 * decodes them; lossy ones are compared with the same decoder family (see decode_frames.py).
 *
 * Then the same folder goes through the real import, as one batch: every good file is
 * imported, every bad one reported with its reason, nothing is lost, and the frames the
 * project serves (what the viewer shows, what SAM and training see) equal the reference.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ImportReport, PixelFrame } from '../../electron/contract/api.js';
import type { ProjectService } from '../../electron/services/index.js';
import { decodeDicomFrame, parseDicomFile } from '../../electron/services/imaging/dicom-file.js';
import { FileProblem } from '../../electron/services/imaging/file-problem.js';
import { transferSyntaxName } from '../../electron/services/imaging/transfer-syntax.js';
import { probeFile } from '../../electron/services/importer/file-probe.js';
import { generateVariants, type Variant } from '../fixtures/dicom-variants.js';
import { newProject, removeDir, tempDir } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Reference {
  file: string;
  ok: boolean;
  dtype?: string;
  shape?: number[];
  data?: string;
  error?: string;
}

/** The reference values, frame by frame, as numbers. */
interface RefFrames {
  frames: Float64Array[];
  samplesPerPixel: number;
  dtype: string;
}

function refFrames(r: Reference): RefFrames {
  const raw = readFileSync(r.data!);
  const ctor = { uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array, int32: Int32Array, float32: Float32Array }[r.dtype!];
  assert.ok(ctor, `reference dtype ${r.dtype} is handled`);
  const all = new ctor(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const [frames, rows, cols, spp = 1] = r.shape!;
  const per = rows! * cols! * spp;
  return {
    frames: Array.from({ length: frames! }, (_, f) => Float64Array.from(all.subarray(f * per, (f + 1) * per))),
    samplesPerPixel: spp,
    dtype: r.dtype!,
  };
}

function values(f: PixelFrame): Float64Array {
  const b = f.data.slice();
  const ctor = { uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, float32: Float32Array }[f.dtype];
  return Float64Array.from(new ctor(b.buffer));
}

/** "" when equal, else what differs. */
function compare(ours: PixelFrame[], ref: RefFrames): string {
  if (ours.length !== ref.frames.length) return `${ours.length} frame(s), reference ${ref.frames.length}`;
  for (let f = 0; f < ours.length; f++) {
    const o = ours[f]!;
    if (o.samplesPerPixel !== ref.samplesPerPixel) return `frame ${f}: ${o.samplesPerPixel} samples/pixel, reference ${ref.samplesPerPixel}`;
    const a = values(o);
    const b = ref.frames[f]!;
    if (a.length !== b.length) return `frame ${f}: ${a.length} values, reference ${b.length}`;
    let diff = 0;
    let max = 0;
    let first = -1;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      if (d > 0) {
        if (first < 0) first = i;
        diff++;
        max = Math.max(max, d);
      }
    }
    if (diff) return `frame ${f}: ${diff} of ${a.length} values differ (max ${max}; first at ${first}: ${a[first]} vs ${b[first]})`;
  }
  return '';
}

function referencePython(): string {
  const lock = path.join(root, 'tests', 'reference', 'requirements.lock');
  const r = spawnSync('python3', [path.join(root, 'python-runtime', 'tools', 'ensure_env.py'), '--lock', lock], { encoding: 'utf8', timeout: 15 * 60_000 });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  assert.equal(r.status, 0, `the reference environment could not be made:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  return last;
}

function toolsPresent(): void {
  for (const tool of ['dcmconv', 'dcmcjpeg', 'dcmcjpls', 'dcmcrle', 'dcmmkdir', 'gdcmconv']) {
    const r = spawnSync('which', [tool]);
    assert.equal(r.status, 0, `${tool} is needed to make the corpus: apt-get install dcmtk libgdcm-tools (.ci/run does)`);
  }
}

describe('DICOM decoding against pydicom, file for file', () => {
  let dir: string;
  let variants: Variant[];
  const refs = new Map<string, Reference>();
  let s: ProjectService;
  let projectDir: string;
  let report: ImportReport;

  before(() => {
    toolsPresent();
    dir = tempDir('variants');
    variants = generateVariants(path.join(dir, 'corpus'));
    const python = referencePython();
    const input = variants.map((v) => JSON.stringify({ file: v.file, plugin: v.reference?.plugin })).join('\n');
    const out = execFileSync(python, [path.join(root, 'tests', 'reference', 'decode_frames.py'), path.join(dir, 'reference')], {
      input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['pipe', 'pipe', 'ignore'],
    });
    for (const line of out.trim().split('\n')) {
      const r = JSON.parse(line) as Reference;
      refs.set(r.file, r);
    }
  });
  after(() => {
    s?.close();
    if (projectDir) removeDir(path.dirname(projectDir));
    removeDir(dir);
  });

  test('every variant decodes to the reference values or is refused with a plain reason', async () => {
    const rows: string[][] = [];
    const failures: string[] = [];
    for (const v of variants) {
      const bytes = readFileSync(v.file);
      const sameAs = v.reference?.sameAs ? variants.find((x) => x.name === v.reference!.sameAs)! : v;
      const ref = refs.get(sameAs.file);
      let syntax = '';
      let outcome: string;
      let verdict = 'ok';
      try {
        const probed = await probeFile(path.basename(v.file), bytes);
        const parsed = parseDicomFile(bytes);
        syntax = transferSyntaxName(parsed.header.transferSyntax);
        const frames: PixelFrame[] = [];
        for (let f = 0; f < parsed.header.frames; f++) frames.push(await decodeDicomFrame(parsed, f));
        const first = frames[0]!;
        outcome = `${first.dtype} ${parsed.header.frames}x${first.height}x${first.width}${first.samplesPerPixel > 1 ? `x${first.samplesPerPixel}` : ''}${probed.warnings.length ? ' (warned)' : ''}`;
        if (v.expect.kind === 'refused') verdict = `imported, expected refusal (${v.expect.code})`;
        else if (!ref?.ok) verdict = `reference failed: ${ref?.error ?? 'no result'}`;
        else {
          verdict = compare(frames, refFrames(ref)) || 'ok';
          if (probed.samplesPerPixel !== first.samplesPerPixel || probed.photometric !== first.photometric) {
            verdict = `image row says ${probed.samplesPerPixel}/${probed.photometric}, frames are ${first.samplesPerPixel}/${first.photometric}`;
          }
          const warning = v.expect.warning;
          if (warning && !probed.warnings.some((w) => warning.test(w))) verdict = `no warning matching ${warning} (got: ${probed.warnings.join(' | ') || 'none'})`;
          if (!warning && probed.warnings.length) verdict = `unexpected warning: ${probed.warnings.join(' | ')}`;
        }
      } catch (e) {
        const problem = e instanceof FileProblem ? e : null;
        outcome = problem ? `refused ${problem.code}: ${problem.message}` : `CRASH ${(e as Error).stack}`;
        if (!problem) verdict = 'crashed';
        else if (v.expect.kind !== 'refused') verdict = 'refused, expected pixels';
        else if (problem.code !== v.expect.code) verdict = `refused as ${problem.code}, expected ${v.expect.code}`;
        else if (!v.expect.sentence.test(problem.message)) verdict = `reason "${problem.message}" does not match ${v.expect.sentence}`;
        else if (/dicomParser|ByteStream|codec error|\d+ bytes, expected/.test(problem.message)) verdict = `reason is not plain words: ${problem.message}`;
      }
      const refText = ref ? (ref.ok ? `${ref.dtype} ${ref.shape!.join('x')}${sameAs !== v ? ` (as ${sameAs.name})` : ''}` : `error: ${ref.error!.split('\n')[0]!.slice(0, 60)}`) : '-';
      rows.push([v.name, syntax, refText, outcome.slice(0, 90), verdict === 'ok' ? 'ok' : 'MISMATCH']);
      if (verdict !== 'ok') failures.push(`${v.name}: ${verdict}`);
    }
    const widths = [0, 1, 2, 3, 4].map((c) => Math.max(...rows.map((r) => r[c]!.length), 4));
    const line = (r: string[]) => r.map((x, c) => x.padEnd(widths[c]!)).join(' | ');
    console.log(`\n${line(['file', 'transfer syntax', 'pydicom', 'app', 'result'])}\n${rows.map(line).join('\n')}\n`);
    assert.ok(variants.length >= 75, `the corpus has ${variants.length} files`);
    assert.deepEqual(failures, [], `${failures.length} of ${variants.length} files differ from the reference`);
  });

  test('the folder imports as one batch: every good file stored, each bad one reported alone, nothing lost', async () => {
    ({ s, dir: projectDir } = newProject());
    report = await s['images.importPaths']({ paths: [path.join(dir, 'corpus')] });
    const accounted = new Map<string, string>();
    for (const i of report.imported) accounted.set(path.basename(i.file), 'imported');
    for (const d of report.duplicates) accounted.set(path.basename(d.file), 'duplicate');
    for (const f of report.failed) accounted.set(path.basename(f.file), `failed:${f.code}`);
    for (const v of variants) {
      const got = accounted.get(path.basename(v.file));
      if (v.expect.kind === 'same') assert.ok(got === 'imported' || got === 'duplicate', `${v.name}: ${got ?? 'lost'}`);
      else assert.equal(got, `failed:${v.expect.code}`, v.name);
    }
    for (const f of report.failed) {
      assert.ok(f.reason.length > 20 && !/dicomParser|ByteStream|codec error/.test(f.reason), `plain reason for ${f.file}: ${f.reason}`);
    }
    for (const v of variants.filter((x) => x.expect.kind === 'same' && x.expect.warning)) {
      const w = report.warnings.find((x) => path.basename(x.file) === path.basename(v.file));
      assert.ok(w && (v.expect as { warning: RegExp }).warning.test(w.message), `${v.name} is imported with its warning`);
    }
  });

  test('the frames the project serves equal the reference (what the viewer, SAM and training see)', async () => {
    const byFile = new Map(report.imported.map((i) => [path.basename(i.file), i.imageId]));
    let checked = 0;
    for (const v of variants.filter((x) => x.expect.kind === 'same')) {
      const id = byFile.get(path.basename(v.file));
      if (id === undefined) continue; // a duplicate of another variant's bytes
      const ref = refs.get(variants.find((x) => x.name === (v.reference?.sameAs ?? v.name))!.file)!;
      const expected = refFrames(ref);
      const detail = await s['image.get']({ imageId: id });
      assert.equal(detail.frames, expected.frames.length, `${v.name}: frames recorded`);
      const served: PixelFrame[] = [];
      for (let f = 0; f < detail.frames; f++) served.push(await s['image.pixels']({ imageId: id, frame: f }));
      assert.equal(compare(served, expected), '', v.name);
      assert.equal(detail.samplesPerPixel, expected.samplesPerPixel, `${v.name}: samples per pixel recorded`);
      checked++;
    }
    assert.ok(checked >= 70, `${checked} imported variants checked`);
  });
});
