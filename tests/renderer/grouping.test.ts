import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupImages, aggregateStatus } from '../../renderer/src/lib/grouping.ts';
import type { ImageSummary } from '../../electron/contract/api.ts';

let nextId = 1;
function img(p: Partial<ImageSummary>): ImageSummary {
  return {
    id: nextId++, kind: 'dicom', fileName: 'x.dcm', folder: 'in', status: 'unlabelled', width: 4, height: 4, frames: 1,
    modality: 'CT', patientName: 'DOE^JANE', patientId: 'P1', studyUid: '1.2', studyDescription: 'Chest', seriesUid: '1.2.3',
    seriesDescription: 'Axial', seriesNumber: 2, seriesIndex: 0, maskCount: 0, validationPinned: false, ...p,
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
