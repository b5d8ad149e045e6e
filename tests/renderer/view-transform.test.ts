/**
 * The view's rotation and flips (viewer/viewTransform.ts): the image <-> canvas mapping both
 * ways under every orientation, pan and non-square pixels; rotate and flip act on the screen
 * as the user sees it; orientation markers follow them; pans and zooms move the image by the
 * asked distance whatever the orientation. The viewport maps pointers through cornerstone,
 * whose transform this mirrors: the end-to-end test checks that a stroke lands where the
 * mapping says under a rotation and a flip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  UPRIGHT, canvasToImage, fitScale, flipView, imageToCanvas, orientationMatrix, orientationOf, rotateView, translationForShift, viewedMarkers,
  type Rotation, type ViewGeometry, type ViewOrientation,
} from '../../renderer/src/viewer/viewTransform.ts';
import { directionLetters, orientationMarkers, type Orientation } from '../../electron/contract/geometry.ts';

const ALL: ViewOrientation[] = ([0, 90, 180, 270] as Rotation[]).flatMap((rotation) => [false, true].flatMap((hflip) => [false, true].map((vflip) => ({ rotation, hflip, vflip }))));

function geometry(over: Partial<ViewGeometry> = {}): ViewGeometry {
  return { canvasWidth: 400, canvasHeight: 300, imageWidth: 100, imageHeight: 50, spacing: null, scale: 2, translation: { x: 0, y: 0 }, orientation: UPRIGHT, ...over };
}

const close = (a: { x: number; y: number }, b: { x: number; y: number }, what: string, eps = 1e-9) =>
  assert.ok(Math.abs(a.x - b.x) < eps && Math.abs(a.y - b.y) < eps, `${what}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);

test('known answers: where the image corners land upright, turned a quarter, mirrored', () => {
  // A 100 x 50 image at scale 2, centred in 400 x 300: it covers x 100..300, y 100..200.
  close(imageToCanvas(geometry(), { x: 0, y: 0 }), { x: 100, y: 100 }, 'upright top-left');
  close(imageToCanvas(geometry(), { x: 100, y: 50 }), { x: 300, y: 200 }, 'upright bottom-right');
  // A quarter turn clockwise: 100 tall, 200 high; the image's top-left corner goes to the top right.
  close(imageToCanvas(geometry({ orientation: { rotation: 90, hflip: false, vflip: false } }), { x: 0, y: 0 }), { x: 250, y: 50 }, 'turned top-left');
  close(imageToCanvas(geometry({ orientation: { rotation: 90, hflip: false, vflip: false } }), { x: 100, y: 0 }), { x: 250, y: 250 }, 'turned top-right');
  close(imageToCanvas(geometry({ orientation: { rotation: 0, hflip: true, vflip: false } }), { x: 0, y: 0 }), { x: 300, y: 100 }, 'mirrored top-left');
  close(imageToCanvas(geometry({ orientation: { rotation: 0, hflip: false, vflip: true } }), { x: 0, y: 0 }), { x: 100, y: 200 }, 'upside down top-left');
  // A pan of (10, 5) at scale 2 moves the picture by (20, 10) whatever the orientation (square pixels).
  for (const orientation of ALL) {
    const a = imageToCanvas(geometry({ orientation }), { x: 30, y: 20 });
    const b = imageToCanvas(geometry({ orientation, translation: { x: 10, y: 5 } }), { x: 30, y: 20 });
    close({ x: b.x - a.x, y: b.y - a.y }, { x: 20, y: 10 }, `pan under ${JSON.stringify(orientation)}`);
  }
});

test('canvas -> image -> canvas and image -> canvas -> image are exact under every orientation, pan and pixel shape', () => {
  const spacings: ([number, number] | null)[] = [null, [0.5, 0.5], [1.0, 0.5], [0.3, 0.9]];
  for (const orientation of ALL) {
    for (const spacing of spacings) {
      const g = geometry({ orientation, spacing, scale: 1.7, translation: { x: -12.5, y: 33 }, canvasWidth: 733, canvasHeight: 411, imageWidth: 317, imageHeight: 129 });
      for (const p of [{ x: 0, y: 0 }, { x: 317, y: 129 }, { x: 12.25, y: 100.5 }, { x: 160, y: 3 }]) {
        close(canvasToImage(g, imageToCanvas(g, p)), p, `image round trip ${JSON.stringify({ orientation, spacing, p })}`, 1e-9);
      }
      for (const c of [{ x: 0, y: 0 }, { x: 733, y: 411 }, { x: 400.5, y: 17 }]) {
        close(imageToCanvas(g, canvasToImage(g, c)), c, `canvas round trip ${JSON.stringify({ orientation, spacing, c })}`, 1e-9);
      }
    }
  }
});

test('non-square pixels are shown at their true shape at every rotation', () => {
  // Rows 1.0 mm apart, columns 0.5 mm: one image row is twice as tall as a column is wide, on screen.
  for (const orientation of ALL) {
    const g = geometry({ orientation, spacing: [1.0, 0.5] });
    const o = imageToCanvas(g, { x: 10, y: 10 });
    const across = imageToCanvas(g, { x: 11, y: 10 });
    const down = imageToCanvas(g, { x: 10, y: 11 });
    const len = (a: { x: number; y: number }) => Math.hypot(a.x - o.x, a.y - o.y);
    assert.ok(Math.abs(len(down) / len(across) - 2) < 1e-9, `${JSON.stringify(orientation)}: ${len(down)} / ${len(across)}`);
  }
});

test('rotate and flip act on the screen as the user sees it, from any orientation', () => {
  const centred = (g: ViewGeometry, p: { x: number; y: number }) => {
    const c = imageToCanvas(g, p);
    return { x: c.x - g.canvasWidth / 2, y: c.y - g.canvasHeight / 2 };
  };
  const points = [{ x: 0, y: 0 }, { x: 80, y: 10 }, { x: 33, y: 49 }];
  for (const v of ALL) {
    for (const p of points) {
      const before = centred(geometry({ orientation: v }), p);
      const mirroredLR = centred(geometry({ orientation: flipView(v, 'horizontal') }), p);
      close(mirroredLR, { x: -before.x, y: before.y }, `flip left-right from ${JSON.stringify(v)}`);
      const mirroredTB = centred(geometry({ orientation: flipView(v, 'vertical') }), p);
      close(mirroredTB, { x: before.x, y: -before.y }, `flip top-bottom from ${JSON.stringify(v)}`);
      // Clockwise on screen (y down): right goes down, down goes left.
      const cw = centred(geometry({ orientation: rotateView(v, 1) }), p);
      close(cw, { x: -before.y, y: before.x }, `rotate clockwise from ${JSON.stringify(v)}`);
      const ccw = centred(geometry({ orientation: rotateView(v, -1) }), p);
      close(ccw, { x: before.y, y: -before.x }, `rotate counter-clockwise from ${JSON.stringify(v)}`);
    }
  }
  // Four quarter turns and two flips come back; a vertical flip is a horizontal one turned 180°.
  let v: ViewOrientation = { rotation: 90, hflip: true, vflip: false };
  for (let i = 0; i < 4; i++) v = rotateView(v, 1);
  assert.deepEqual(v, { rotation: 90, hflip: true, vflip: false });
  assert.deepEqual(flipView(flipView(UPRIGHT, 'horizontal'), 'horizontal'), UPRIGHT);
  assert.deepEqual(flipView(UPRIGHT, 'vertical'), { rotation: 180, hflip: true, vflip: false });
  // After a quarter turn, cornerstone's own hflip would mirror top and bottom: a screen flip left-right is its vflip.
  const m = (v: ViewOrientation) => orientationMatrix(v).map((x) => x + 0); // -0 is 0
  assert.deepEqual(m(flipView({ rotation: 90, hflip: false, vflip: false }, 'horizontal')), m({ rotation: 90, hflip: false, vflip: true }));
  assert.throws(() => orientationOf([2, 0, 0, 1]), /not a rotation or flip/);
});

test('orientation markers follow the rotation and flips', () => {
  const axial: Orientation = [1, 0, 0, 0, 1, 0];
  assert.deepEqual(viewedMarkers(axial, UPRIGHT), { left: 'R', right: 'L', top: 'A', bottom: 'P' });
  const cw = rotateView(UPRIGHT, 1);
  assert.deepEqual(viewedMarkers(axial, cw), { left: 'P', right: 'A', top: 'R', bottom: 'L' }, 'a quarter turn clockwise: the anterior edge goes right');
  assert.deepEqual(viewedMarkers(axial, flipView(UPRIGHT, 'horizontal')), { left: 'L', right: 'R', top: 'A', bottom: 'P' });
  assert.deepEqual(viewedMarkers(axial, flipView(cw, 'horizontal')), { left: 'A', right: 'P', top: 'R', bottom: 'L' });
  assert.deepEqual(viewedMarkers(axial, flipView(UPRIGHT, 'vertical')), { left: 'R', right: 'L', top: 'P', bottom: 'A' });
  const coronal: Orientation = [1, 0, 0, 0, 0, -1];
  const sagittal: Orientation = [0, 1, 0, 0, 0, -1];
  const c = Math.cos(Math.PI / 6);
  const s = Math.sin(Math.PI / 6);
  const oblique: Orientation = [c, s, 0, 0, 0, -1];
  for (const o of [axial, coronal, sagittal, oblique]) {
    assert.deepEqual(viewedMarkers(o, UPRIGHT), orientationMarkers(o), 'upright: as geometry.ts says');
    // Whatever the view, the right-hand edge names the patient direction of the image step that the mapping shows going right.
    for (const v of ALL) {
      const g = geometry({ orientation: v, imageWidth: 100, imageHeight: 100 });
      const o0 = canvasToImage(g, { x: 200, y: 150 });
      const o1 = canvasToImage(g, { x: 201, y: 150 });
      const [dx, dy] = [o1.x - o0.x, o1.y - o0.y];
      const patient: [number, number, number] = [o[0] * dx + o[3] * dy, o[1] * dx + o[4] * dy, o[2] * dx + o[5] * dy];
      assert.equal(viewedMarkers(o, v).right, directionLetters(patient), `${JSON.stringify(o)} ${JSON.stringify(v)}`);
    }
  }
});

test('a pan or a zoom correction moves the picture by exactly the asked canvas distance, at any orientation and pixel shape', () => {
  for (const orientation of ALL) {
    for (const spacing of [null, [1.0, 0.5], [0.4, 1.2]] as ([number, number] | null)[]) {
      const g = geometry({ orientation, spacing, scale: 1.3, translation: { x: 4, y: -7 } });
      const d = translationForShift(orientation.rotation, g.scale, spacing, 25, -40);
      const moved = { ...g, translation: { x: g.translation.x + d.x, y: g.translation.y + d.y } };
      for (const p of [{ x: 0, y: 0 }, { x: 70, y: 30 }]) {
        const a = imageToCanvas(g, p);
        const b = imageToCanvas(moved, p);
        close({ x: b.x - a.x, y: b.y - a.y }, { x: 25, y: -40 }, `${JSON.stringify({ orientation, spacing })}`, 1e-9);
      }
    }
  }
});

test('fit scale: the turned image fits the canvas', () => {
  const g = { canvasWidth: 400, canvasHeight: 300, imageWidth: 100, imageHeight: 50, spacing: null };
  assert.equal(fitScale(g, 0), 4);
  assert.equal(fitScale(g, 90), 3, 'turned: 50 wide, 100 tall');
  for (const rotation of [0, 90, 180, 270] as Rotation[]) {
    const geo = geometry({ ...g, scale: fitScale(g, rotation), orientation: { rotation, hflip: false, vflip: false } });
    const corners = [{ x: 0, y: 0 }, { x: 100, y: 50 }].map((p) => imageToCanvas(geo, p));
    for (const c of corners) assert.ok(c.x >= -1e-9 && c.x <= 400 + 1e-9 && c.y >= -1e-9 && c.y <= 300 + 1e-9, `${rotation}: ${JSON.stringify(c)}`);
  }
});
