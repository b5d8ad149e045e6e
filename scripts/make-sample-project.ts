/**
 * Writes resources/sample-project/: the sample a newcomer opens from the start screen.
 *
 *   npx tsx scripts/make-sample-project.ts
 *
 * - images/: a small synthetic abdominal CT (6 patients x 4 axial slices, 16-bit DICOM,
 *   soft-tissue window) with one dark lesion per slice and a bright vessel beside it
 *   (tests/fixtures/lesion-phantom.ts, deterministic);
 * - masks.json: accepted lesion masks of the first two patients (COCO RLE), as if drawn;
 * - starter-model/: the runtime's tiny demo model, trained on BRIGHT blobs, so it misses
 *   these dark lesions: clicks work at once, and "Retrain on my data" shows its effect within
 *   minutes on a laptop (the tiny encoder is fast on any CPU).
 *
 * Deterministic except the model's export bytes; rerun it when the phantom or the demo
 * model changes (the retrain e2e test uses what is committed).
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeRle } from '../electron/contract/rle.js';
import { phantomSeries, PHANTOM } from '../tests/fixtures/lesion-phantom.js';
import { tinyBlobBundle } from '../tests/inference/test-models.js';

export const SAMPLE = { patients: 6, slices: 4, labelledPatients: 2, seed: 11 };

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'resources', 'sample-project');
rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'images'), { recursive: true });
const series = phantomSeries(SAMPLE.patients, SAMPLE.slices, SAMPLE.seed);
for (const s of series) writeFileSync(path.join(out, 'images', s.fileName), s.dicom);
const masks = series
  .filter((s) => s.patient < SAMPLE.labelledPatients)
  .map((s) => ({ file: s.fileName, frame: 0, label: 'lesion', instance: 1, window: PHANTOM.window, rle: encodeRle(s.lesion, PHANTOM.size, PHANTOM.size) }));
writeFileSync(path.join(out, 'masks.json'), JSON.stringify({ version: 1, masks }) + '\n');
cpSync(tinyBlobBundle(), path.join(out, 'starter-model'), { recursive: true });
writeFileSync(
  path.join(out, 'sample.json'),
  JSON.stringify({ name: 'Sample: liver lesions (synthetic CT)', starterModel: 'Starter (bright blobs, tiny)', ...SAMPLE }, null, 2) + '\n',
);
console.log(`wrote ${out}: ${series.length} slices, ${masks.length} accepted masks, starter model`);
