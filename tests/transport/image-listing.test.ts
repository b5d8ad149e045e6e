/**
 * The browser's image list in columns (images.listing): the same rows as images.list, over
 * the real project store and across the browser host's wire format; malformed columns are
 * refused, not read past; and 50,000 rows pack into a fraction of the JSON.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import type { ImageSummary } from '../../electron/contract/api.js';
import { decodeListing, encodeListing, ImageListing, ListingFormatError } from '../../electron/contract/image-listing.js';
import { encodeRle } from '../../electron/contract/rle.js';
import { decodeMessage, encodeMessage } from '../../electron/host/wire.js';
import { discMask, newProject, removeDir, sharedCorpus } from '../services/helpers.js';

const cleanup: string[] = [];
after(() => cleanup.forEach(removeDir));

const row = (over: Partial<ImageSummary>): ImageSummary => ({
  id: 1,
  kind: 'dicom',
  fileName: 'a.dcm',
  folder: '',
  status: 'unlabelled',
  width: 512,
  height: 512,
  frames: 1,
  modality: 'CT',
  patientName: 'Doe^Jane',
  patientId: 'P1',
  studyUid: '1.2.3',
  studyDescription: null,
  seriesUid: '1.2.3.4',
  seriesDescription: 'AXIAL',
  seriesNumber: 3,
  seriesIndex: 0,
  maskCount: 0,
  validationPinned: false,
  accessionNumber: 'ACC-7',
  studyDate: '20260101',
  slicePosition: -120,
  sliceThickness: 2.5,
  ...over,
});

test('rows survive the columns and the wire: nulls, every kind and status, unicode, negative and fractional numbers', () => {
  const rows = [
    row({}),
    row({ id: 2, kind: 'raster', fileName: 'défaut 01.tiff', folder: 'line 3/ünder', status: 'in_progress', modality: null, patientName: null, patientId: null, studyUid: null, seriesUid: null, seriesDescription: null, seriesNumber: null, frames: 1, width: 4000, height: 3000 }),
    row({ id: 2_000_000_000, status: 'done', seriesNumber: -2.5, seriesIndex: 299, maskCount: 41, validationPinned: true, studyDescription: '胸部 CT' }),
    row({ id: 4, fileName: '' }),
    // The study and slice fields: absent, fractional, zero, and strings shared with other columns.
    row({ id: 5, accessionNumber: null, studyDate: null, slicePosition: null, sliceThickness: null }),
    row({ id: 6, accessionNumber: 'P1', studyDate: '19991231', slicePosition: 0, sliceThickness: 0.625 }),
    row({ id: 7, slicePosition: -0.3125, sliceThickness: 5 }),
  ];
  const listing = encodeListing(rows);
  // Repeated strings travel once.
  assert.equal(listing.strings.filter((s) => s === 'CT').length, 1);
  assert.equal(listing.strings.filter((s) => s === 'P1').length, 1, 'an accession number equal to a patient id travels once');
  assert.deepEqual(decodeListing(listing), rows);
  // Through the browser host's wire format, with the contract's own schema on the way.
  const back = ImageListing.parse(decodeMessage(encodeMessage(listing)));
  assert.deepEqual(decodeListing(back), rows);
  assert.deepEqual(decodeListing(encodeListing([])), []);
});

test('malformed columns are refused with what is wrong, never read past', () => {
  const good = encodeListing([row({}), row({ id: 2 })]);
  assert.throws(() => decodeListing({ ...good, count: 3 }), (e: unknown) => e instanceof ListingFormatError && /ints column holds 48 bytes, 72 expected for 3 images/.test(e.message));
  assert.throws(() => decodeListing({ ...good, codes: good.codes.subarray(1) }), /codes column/);
  assert.throws(() => decodeListing({ ...good, numbers: good.numbers.subarray(8) }), /numbers column holds 40 bytes, 48 expected for 2 images/);
  assert.throws(() => decodeListing({ ...good, strings: good.strings.slice(0, 1) }), (e: unknown) => e instanceof ListingFormatError && /string index \d+ of image 0 is outside the 1 strings/.test(e.message));
  const badCode = good.codes.slice();
  badCode[1] = 9;
  assert.throws(() => decodeListing({ ...good, codes: badCode }), /unknown status code 9/);
});

test('images.listing decodes to exactly images.list on a real project, masks and status included', async () => {
  const p = newProject();
  cleanup.push(path.dirname(p.dir));
  const { dir } = await sharedCorpus();
  const r = await p.s['images.importPaths']({ paths: [path.join(dir, 'dicom'), path.join(dir, 'ct')] });
  assert.ok(r.imported.length >= 3, `imported ${r.imported.length}`);
  const first = r.imported[0]!.imageId;
  const lesion = p.s['labels.list']({})[0]!;
  const img = p.s['images.list']({}).find((i) => i.id === first)!;
  p.s['masks.save']({ imageId: first, frame: 0, labelId: lesion.id, instance: 1, rle: encodeRle(discMask(img.height, img.width, 10, 10, 4), img.height, img.width), source: 'brush' });
  p.s['images.setStatus']({ imageId: r.imported[1]!.imageId, status: 'done' });
  const listed = p.s['images.list']({});
  assert.ok(listed.some((i) => i.maskCount === 1) && listed.some((i) => i.status === 'done'));
  assert.deepEqual(decodeListing(p.s['images.listing']({})), listed);
  // The study and slice fields come from the files, through the store and the columns.
  const ct = listed.filter((i) => i.modality === 'CT');
  assert.ok(ct.length >= 3);
  for (const i of ct) {
    assert.equal(i.accessionNumber, 'ACC001');
    assert.equal(i.studyDate, '20260101');
    assert.equal(i.sliceThickness, 2.5);
    assert.equal(typeof i.slicePosition, 'number');
  }
  assert.equal(new Set(ct.map((i) => i.slicePosition)).size, ct.length, 'each slice has its own location');
  assert.ok(listed.some((i) => i.modality !== 'CT' && i.slicePosition === null && i.accessionNumber === null), 'files without them list null');
});

test('50,000 rows: the columns are a small fraction of the JSON objects', () => {
  const rows: ImageSummary[] = [];
  for (let i = 0; i < 50_000; i++) {
    const series = Math.floor(i / 100);
    rows.push(row({ id: i + 1, fileName: `img_${i}.dcm`, patientName: `Patient^${series % 50}`, patientId: `P${series % 50}`, studyUid: `1.2.3.${series % 50}`, seriesUid: `1.2.3.${series % 50}.${series}`, seriesNumber: series, seriesIndex: i % 100 }));
  }
  const columns = encodeMessage(encodeListing(rows)).byteLength;
  const objects = encodeMessage(rows).byteLength;
  assert.ok(columns * 4 < objects, `columns ${columns} bytes vs objects ${objects}`);
  assert.deepEqual(decodeListing(ImageListing.parse(decodeMessage(encodeMessage(encodeListing(rows))))), rows);
});
