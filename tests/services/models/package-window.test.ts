/** The window a model package carries for the headless node (package-window.ts), on hand-made training sets. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FIXED_WINDOW_SHARE, packageWindow, type TrainingImageWindow } from '../../../electron/services/models/package-window.js';

const liver = { center: 60, width: 160 };
const ct = (window: TrainingImageWindow['window']): TrainingImageWindow => ({ modality: 'CT', window });

test('CT drawn through one window: the package carries it (rounded), for CT only', () => {
  assert.deepEqual(packageWindow([ct(liver), ct({ center: 60.2, width: 159.8 }), ct(liver)]), { center: 60, width: 160, modality: 'CT' });
});

test('a window shared by at least the required share wins; below it, or split evenly, none', () => {
  const n = 10;
  const agreeing = Math.ceil(FIXED_WINDOW_SHARE * n);
  const mixed = (k: number) => [...Array(k)].map(() => ct(liver)).concat([...Array(n - k)].map(() => ct({ center: 40, width: 400 })));
  assert.deepEqual(packageWindow(mixed(agreeing)), { ...liver, modality: 'CT' });
  assert.equal(packageWindow(mixed(agreeing - 1)), null);
  assert.equal(packageWindow(mixed(n / 2)), null);
});

test('relative units, mixed modalities, unknown modality, no windows, nothing: each file keeps its stored window', () => {
  assert.equal(packageWindow([{ modality: 'MR', window: liver }, { modality: 'MR', window: liver }]), null, 'MR values are not comparable between scanners');
  assert.equal(packageWindow([ct(liver), { modality: 'MR', window: liver }]), null);
  assert.equal(packageWindow([{ modality: null, window: liver }]), null);
  assert.equal(packageWindow([ct(null), ct(null)]), null, 'shown as stored');
  assert.equal(packageWindow([ct({ center: 40, width: 0 }), ct({ center: Number.NaN, width: 400 })]), null, 'invalid windows never count');
  assert.equal(packageWindow([]), null);
});

test('windows a drag left a fraction apart agree; the width never rounds to 0; the modality is read in any case', () => {
  assert.deepEqual(packageWindow([ct({ center: 40.5, width: 400 }), ct({ center: 40.4, width: 400 })]), { center: 40, width: 400, modality: 'CT' }, 'not split by rounding');
  assert.deepEqual(packageWindow([ct({ center: 41.6, width: 399 }), ct({ center: 40, width: 400 }), ct({ center: 39, width: 401.5 })]), { center: 40, width: 400, modality: 'CT' });
  assert.equal(packageWindow([ct({ center: 40, width: 400 }), ct({ center: 45, width: 400 })]), null, 'five HU apart: two windows');
  assert.deepEqual(packageWindow([ct({ center: 0, width: 0.3 })]), { center: 0, width: 1, modality: 'CT' });
  assert.deepEqual(packageWindow([{ modality: 'ct', window: liver }]), { ...liver, modality: 'CT' });
});
