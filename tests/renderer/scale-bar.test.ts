/**
 * The scale bar's length (viewer/scaleBar.ts): a round 1-2-5 length that fits, in mm with a
 * pixel spacing and in image pixels (labelled px) without; its screen scale from cornerstone's
 * transform at any rotation; and the brush size in mm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brushSizeText, chooseScaleBar, horizontalPxPerUnit } from '../../renderer/src/viewer/scaleBar.ts';
import { imageToCanvas, type Rotation, type ViewGeometry } from '../../renderer/src/viewer/viewTransform.ts';

test('the longest round length that fits', () => {
  assert.deepEqual(chooseScaleBar(2.5, 160, 'mm'), { px: 125, value: 50, unit: 'mm', label: '50 mm' });
  assert.deepEqual(chooseScaleBar(1, 160, 'mm'), { px: 100, value: 100, unit: 'mm', label: '100 mm' });
  assert.equal(chooseScaleBar(0.3, 160, 'mm')!.label, '500 mm');
  assert.equal(chooseScaleBar(40, 160, 'mm')!.label, '2 mm', 'zoomed in: 4 mm fit, 2 mm is the round length');
  assert.equal(chooseScaleBar(400, 160, 'mm')!.label, '0.2 mm');
  assert.equal(chooseScaleBar(1.6, 160, 'mm')!.label, '100 mm', 'exactly the room');
  // Without a pixel spacing the bar counts image pixels, and says so.
  assert.deepEqual(chooseScaleBar(3, 160, 'px'), { px: 150, value: 50, unit: 'px', label: '50 px' });
  assert.equal(chooseScaleBar(400, 160, 'px'), null, 'less than one image pixel: no bar');
  assert.equal(chooseScaleBar(0, 160, 'mm'), null);
  assert.equal(chooseScaleBar(Number.NaN, 160, 'mm'), null);
  assert.equal(chooseScaleBar(2, 0, 'mm'), null);
  // Never longer than the room, never shorter than 40 % of it (1, 2, 5 are at most 2.5 apart).
  for (let ppu = 0.01; ppu < 500; ppu *= 1.37) {
    const b = chooseScaleBar(ppu, 160, 'mm')!;
    assert.ok(b.px <= 160 + 1e-9 && b.px >= 0.4 * 160 - 1e-9, `${ppu} px/mm: ${JSON.stringify(b)}`);
    assert.match(String(b.value), /^(1|2|5)(0*|\.0*[125]?)$|^0\.0*[125]$/, `${b.value} is 1, 2 or 5 times a power of ten`);
  }
});

test('screen pixels per mm along the horizontal, from the drawn transform, at any rotation', () => {
  const affine = (g: ViewGeometry): [number, number, number, number, number, number] => {
    const o = imageToCanvas(g, { x: 0, y: 0 });
    const ex = imageToCanvas(g, { x: 1, y: 0 });
    const ey = imageToCanvas(g, { x: 0, y: 1 });
    return [ex.x - o.x, ex.y - o.y, ey.x - o.x, ey.y - o.y, o.x, o.y];
  };
  const g = (rotation: Rotation, spacing: [number, number] | null, hflip = false): ViewGeometry => ({
    canvasWidth: 500, canvasHeight: 400, imageWidth: 256, imageHeight: 256, spacing, scale: 2, translation: { x: 3, y: 4 }, orientation: { rotation, hflip, vflip: false },
  });
  // Square 0.8 mm pixels at scale 2: 2 screen px per 0.8 mm.
  for (const r of [0, 90, 180, 270] as Rotation[]) {
    assert.ok(Math.abs(horizontalPxPerUnit(affine(g(r, [0.8, 0.8], r === 90)), [0.8, 0.8]) - 2.5) < 1e-9, `rotation ${r}`);
    assert.ok(Math.abs(horizontalPxPerUnit(affine(g(r, null)), null) - 2) < 1e-9, `rotation ${r}, no spacing: per image pixel`);
  }
  // Rows 1.0 mm apart, columns 0.5 mm: upright the horizontal runs along a row (0.5 mm per column),
  // a quarter turn puts the columns' direction (1.0 mm per row) across the screen.
  const aniso: [number, number] = [1.0, 0.5];
  assert.ok(Math.abs(horizontalPxPerUnit(affine(g(0, aniso)), aniso) - 4) < 1e-9, 'upright: 2 px per 0.5 mm');
  assert.ok(Math.abs(horizontalPxPerUnit(affine(g(90, aniso)), aniso) - 4) < 1e-9, 'turned: rows drawn 4 px tall, per 1.0 mm');
  assert.equal(horizontalPxPerUnit([0, 0, 0, 0, 0, 0], null), 0, 'no transform: no scale');
});

test('brush size in mm where the spacing is known, in px otherwise', () => {
  assert.equal(brushSizeText(12, [0.8, 0.8]), '9.6 mm');
  assert.equal(brushSizeText(15, [0.8, 0.8]), '12.0 mm');
  assert.equal(brushSizeText(12, null), '12 px');
  assert.equal(brushSizeText(12, [1.0, 0.5]), '6.0 × 12.0 mm', 'non-square pixels: across × down');
  assert.equal(brushSizeText(200, [0.7, 0.7]), '140 mm');
});
