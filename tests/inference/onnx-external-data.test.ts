/**
 * External-data locations are found wherever they sit in the model file, including across
 * the scanner's chunk boundaries (16 MiB), and names that leave the folder are refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { externalDataFiles, locationsIn } from '../../electron/services/models/onnx-external-data.node.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'onnx-ext-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The protobuf bytes of one StringStringEntryProto { key: "location", value: name }. */
function entry(name: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  return Buffer.concat([Buffer.from([0x0a, 0x08]), Buffer.from('location'), Buffer.from([0x12, n.length]), n]);
}

test('a location split across the 16 MiB chunk boundary is found', () => {
  const chunk = 16 * 1024 * 1024;
  for (const offset of [chunk - 5, chunk - 13, chunk + 3]) {
    const model = path.join(dir, `m${offset}.onnx`);
    writeFileSync(model, Buffer.concat([Buffer.alloc(offset), entry('w.bin'), Buffer.alloc(100)]));
    writeFileSync(path.join(dir, 'w.bin'), 'weights');
    assert.deepEqual(externalDataFiles(model), ['w.bin'], `entry at ${offset}`);
  }
});

test('names that leave the folder or do not exist are refused, naming the model', () => {
  const model = path.join(dir, 'bad.onnx');
  writeFileSync(model, entry('../secret'));
  assert.throws(() => externalDataFiles(model), /bad\.onnx: external data location "\.\.\/secret" is not a file next to the model/);
  writeFileSync(model, entry('gone.bin'));
  assert.throws(() => externalDataFiles(model), /bad\.onnx: its weights file gone\.bin is missing/);
  assert.deepEqual(locationsIn(Buffer.concat([entry('a'), entry('a'), entry('b')])), ['a', 'b']);
});
