/**
 * Child process of the crash-safety test: opens a project and saves masks as fast as it
 * can, printing "ack <instance> <area>" after each save returned (= committed). The parent
 * kills it with SIGKILL at an arbitrary point.
 *
 *   node --import tsx tests/services/crash-writer.child.ts <projectDir> <imageId> <height> <width>
 */
import { encodeRle } from '../../electron/contract/rle.js';
import { createServices } from '../../electron/services/index.js';

const [dir, imageIdArg, hArg, wArg] = process.argv.slice(2);
const imageId = Number(imageIdArg);
const h = Number(hArg);
const w = Number(wArg);
const s = createServices({ user: 'crash-writer', transport: 'browser', version: 'test' });
s['project.open']({ path: dir! });

for (let instance = 1; instance < 1_000_000; instance++) {
  // each instance paints a different number of pixels so the parent can check content, not just presence
  const mask = new Uint8Array(h * w);
  const area = 1 + (instance % (h * w - 1));
  mask.fill(1, 0, area);
  s['masks.save']({ imageId, frame: 0, labelId: 1, instance, rle: encodeRle(mask, h, w), source: 'sam', prompts: { points: [{ x: instance, y: 1, label: 1 }] } });
  // every 3rd edit also rewrites instance 1, so updates are covered as well as inserts
  if (instance % 3 === 0) {
    const m1 = new Uint8Array(h * w).fill(1, 0, instance);
    s['masks.save']({ imageId, frame: 0, labelId: 1, instance: 1, rle: encodeRle(m1, h, w), source: 'brush' });
    process.stdout.write(`ack 1 ${instance}\n`);
  }
  process.stdout.write(`ack ${instance} ${area}\n`);
}
