/** The toolbar line of an export job, for each kind and state. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exportStateText } from '../../renderer/src/lib/exportState.ts';

const wrote = (kind: 'seg' | 'rtstruct' | 'coco' | undefined, frames: number, segments: number, reused = false) => ({
  ...(kind ? { kind } : {}),
  file: 'exports/x',
  sopInstanceUid: '2.25.1',
  seriesInstanceUid: '2.25.2',
  version: 2,
  frames,
  segments,
  reused,
});

test('what each kind wrote, in its own words', () => {
  assert.equal(exportStateText({ state: 'succeeded', detail: '', exported: wrote('seg', 1, 1) }, 'seg'), 'SEG v2: 1 frame, 1 segment');
  assert.equal(exportStateText({ state: 'succeeded', detail: '', exported: wrote('rtstruct', 3, 2, true) }, 'rtstruct'), 'RTSTRUCT v2 (unchanged): 3 frames, 2 ROIs');
  assert.equal(exportStateText({ state: 'succeeded', detail: '', exported: wrote('coco', 40, 1) }, 'coco'), 'COCO v2: 40 images, 1 annotation');
  // A job recorded before kinds existed was a SEG.
  assert.equal(exportStateText({ state: 'succeeded', detail: '', exported: wrote(undefined, 2, 2) }, 'seg'), 'SEG v2: 2 frames, 2 segments');
});

test('running shows its progress sentence; a failure says which export', () => {
  assert.equal(exportStateText({ state: 'running', detail: 'Writing image 5 of 100', exported: null }, 'coco'), 'Writing image 5 of 100');
  assert.equal(exportStateText({ state: 'failed', detail: 'mono1.dcm: no geometry', exported: null }, 'rtstruct'), 'RTSTRUCT not written');
});
