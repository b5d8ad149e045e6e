import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupImages, aggregateStatus, filterRows, neighbourLeaf, formatDicomDate, NO_FILTER, type BrowserRow } from '../../renderer/src/lib/grouping.ts';
import type { ImageSummary } from '../../electron/contract/api.ts';

let nextId = 1;
function img(p: Partial<ImageSummary>): ImageSummary {
  return {
    id: nextId++, kind: 'dicom', fileName: 'x.dcm', folder: 'in', status: 'unlabelled', width: 4, height: 4, frames: 1,
    modality: 'CT', patientName: 'DOE^JANE', patientId: 'P1', studyUid: '1.2', studyDescription: 'Chest', seriesUid: '1.2.3',
    seriesDescription: 'Axial', seriesNumber: 2, seriesIndex: 0, maskCount: 0, validationPinned: false,
    accessionNumber: 'ACC1', studyDate: '20260101', slicePosition: null, sliceThickness: null, ...p,
  };
}

test('DICOM series collapse to one row with slices in seriesIndex order; rasters group by folder', () => {
  const images = [
    img({ seriesIndex: 2, fileName: 'c.dcm' }),
    img({ seriesIndex: 0, fileName: 'a.dcm', status: 'done' }),
    img({ seriesIndex: 1, fileName: 'b.dcm' }),
    img({ seriesUid: '1.2.9', seriesDescription: 'Cine', seriesNumber: 1, frames: 10, modality: 'US' }),
    img({ kind: 'raster', fileName: 'weld10.png', folder: 'plates', patientId: null, patientName: null, studyUid: null, seriesUid: null, modality: null }),
    img({ kind: 'raster', fileName: 'weld2.png', folder: 'plates', patientId: null, patientName: null, studyUid: null, seriesUid: null, modality: null }),
  ];
  const rows = groupImages(images);
  assert.deepEqual(rows.map((r) => `${r.type}:${r.label}`), ['patient:DOE JANE', 'study:Chest', 'series:Cine', 'series:Axial', 'folder:plates', 'image:weld2.png', 'image:weld10.png']);
  const axial = rows[3]!;
  assert.ok(axial.type === 'series');
  assert.equal(axial.detail, 'CT · 3 slices');
  assert.deepEqual(axial.stack.map((s) => s.imageId), [images[1]!.id, images[2]!.id, images[0]!.id]);
  assert.equal(axial.status, 'in_progress', 'one of three done');
  const cine = rows[2]!;
  assert.ok(cine.type === 'series');
  assert.equal(cine.detail, 'US · 10 frames');
  assert.deepEqual(cine.stack.map((s) => s.frame), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('aggregateStatus', () => {
  assert.equal(aggregateStatus(['done', 'done']), 'done');
  assert.equal(aggregateStatus(['unlabelled', 'unlabelled']), 'unlabelled');
  assert.equal(aggregateStatus(['unlabelled', 'done']), 'in_progress');
  assert.equal(aggregateStatus([]), 'unlabelled');
});

/** Two patients, three studies on different dates, and a folder of photographs. */
function library() {
  return groupImages([
    img({ patientName: 'DOE^JANE', patientId: 'P1', studyUid: '1.1', studyDescription: 'CT CHEST', accessionNumber: 'A-100', studyDate: '20250310', seriesUid: '1.1.1', seriesDescription: 'Axial' }),
    img({ patientName: 'DOE^JANE', patientId: 'P1', studyUid: '1.2', studyDescription: 'CT ABDOMEN', accessionNumber: 'A-200', studyDate: '20260101', seriesUid: '1.2.1', seriesDescription: 'Venous' }),
    img({ patientName: 'ROE^RICHARD', patientId: 'P2', studyUid: '2.1', studyDescription: 'MR BRAIN', accessionNumber: 'B-7', studyDate: '20260215', seriesUid: '2.1.1', seriesDescription: 'T1', modality: 'MR' }),
    img({ kind: 'raster', fileName: 'weld_03.png', folder: 'plates', patientId: null, patientName: null, studyUid: null, seriesUid: null, modality: null, accessionNumber: null, studyDate: null, studyDescription: null }),
  ]);
}
const shape = (rows: BrowserRow[]) => rows.map((r) => `${r.type}:${r.label}`);

test('study rows show their date and accession number; the UID on hover', () => {
  const study = library().find((r) => r.type === 'study' && r.label === 'CT ABDOMEN')!;
  assert.equal(study.detail, '2026-01-01 · A-200');
  assert.ok(study.type === 'study' && study.title === '1.2');
  assert.equal(formatDicomDate('20260215'), '2026-02-15');
  assert.equal(formatDicomDate('2026'), '2026', 'a malformed date is shown as it is');
  assert.equal(formatDicomDate(null), '');
});

test('the filter finds by patient name, patient ID, accession, study date and description, under their patient and study', () => {
  const rows = library();
  const find = (text: string, from = '', to = '') => shape(filterRows(rows, { text, from, to }));
  assert.deepEqual(find('roe'), ['patient:ROE RICHARD', 'study:MR BRAIN', 'series:T1']);
  assert.deepEqual(find('jane doe'), ['patient:DOE JANE', 'study:CT ABDOMEN', 'series:Venous', 'study:CT CHEST', 'series:Axial'], 'every word, in any order, of DOE^JANE');
  assert.deepEqual(find('P2'), ['patient:ROE RICHARD', 'study:MR BRAIN', 'series:T1']);
  assert.deepEqual(find('a-100'), ['patient:DOE JANE', 'study:CT CHEST', 'series:Axial']);
  assert.deepEqual(find('2026-01-01'), ['patient:DOE JANE', 'study:CT ABDOMEN', 'series:Venous']);
  assert.deepEqual(find('20250310'), ['patient:DOE JANE', 'study:CT CHEST', 'series:Axial'], 'the date as DICOM writes it');
  assert.deepEqual(find('abdomen'), ['patient:DOE JANE', 'study:CT ABDOMEN', 'series:Venous']);
  assert.deepEqual(find('weld'), ['folder:plates', 'image:weld_03.png'], 'file names of non-DICOM images');
  assert.deepEqual(find('nobody'), [], 'nothing matches: no empty patient or study rows either');
  assert.deepEqual(find('jane brain'), [], 'words are all required');
  assert.equal(filterRows(rows, NO_FILTER), rows, 'no filter: the rows as they are');
});

test('the study date range: inclusive ends, either end open, rows without a date left out', () => {
  const rows = library();
  const find = (from: string, to: string, text = '') => shape(filterRows(rows, { text, from, to }));
  assert.deepEqual(find('2026-01-01', '2026-01-31'), ['patient:DOE JANE', 'study:CT ABDOMEN', 'series:Venous']);
  assert.deepEqual(find('2026-01-01', ''), ['patient:DOE JANE', 'study:CT ABDOMEN', 'series:Venous', 'patient:ROE RICHARD', 'study:MR BRAIN', 'series:T1']);
  assert.deepEqual(find('', '2025-12-31'), ['patient:DOE JANE', 'study:CT CHEST', 'series:Axial']);
  assert.deepEqual(find('2026-02-15', '2026-02-15'), ['patient:ROE RICHARD', 'study:MR BRAIN', 'series:T1'], 'one day');
  assert.deepEqual(find('2026-01-01', '', 'roe'), ['patient:ROE RICHARD', 'study:MR BRAIN', 'series:T1'], 'text and dates together');
  assert.deepEqual(find('2027-01-01', ''), []);
});

test('neighbourLeaf walks series and images in list order, clamped at the ends', () => {
  const rows = library();
  const leaves = rows.filter((r) => r.type === 'series' || r.type === 'image').map((r) => r.label);
  assert.deepEqual(leaves, ['Venous', 'Axial', 'T1', 'weld_03.png']);
  const key = (label: string) => rows.find((r) => r.label === label)!.key;
  assert.equal(neighbourLeaf(rows, key('Axial'), 1)!.label, 'T1');
  assert.equal(neighbourLeaf(rows, key('Axial'), -1)!.label, 'Venous');
  assert.equal(neighbourLeaf(rows, key('weld_03.png'), 1)!.label, 'weld_03.png', 'stays on the last');
  assert.equal(neighbourLeaf(rows, null, 1)!.label, 'Venous', 'nothing open: the first');
  assert.equal(neighbourLeaf(rows, null, -1)!.label, 'weld_03.png', 'nothing open, going back: the last');
  const filtered = filterRows(rows, { text: 'doe', from: '', to: '' });
  assert.equal(neighbourLeaf(filtered, key('Axial'), 1)!.label, 'Axial', 'the filter decides what comes next');
  assert.equal(neighbourLeaf([], null, 1), null);
});
