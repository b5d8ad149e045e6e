/**
 * A 16-bit greyscale PNG encoder (PNG 1.2: IHDR bit depth 16, colour type 0; rows filtered
 * with "None" and deflated with zlib), for label masks whose values must come back exactly.
 * sharp converts colour spaces on the way; this writes the samples as they are. Runtime: node.
 */
import { crc32, deflateSync } from 'node:zlib';

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** PNG bytes of a row-major 16-bit greyscale image. */
export function encodePng16(values: Uint16Array, width: number, height: number): Buffer {
  if (values.length !== width * height) throw new Error(`a ${width}x${height} PNG needs ${width * height} values, not ${values.length}`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(16, 8); // bit depth
  ihdr.writeUInt8(0, 9); // greyscale
  const stride = 1 + width * 2;
  const raw = Buffer.alloc(stride * height); // each row: filter type 0, then big-endian samples
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.writeUInt16BE(values[y * width + x]!, y * stride + 1 + x * 2);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}
