/**
 * Compressed-frame decoders: the Cornerstone WASM builds of libjpeg-turbo (JPEG baseline),
 * CharLS (JPEG-LS) and OpenJPEG (JPEG 2000), plus jpeg-lossless-decoder-js (JPEG lossless,
 * process 14) and our own PackBits RLE. The WASM modules are instantiated once, on first use.
 *
 * Runtime: Node (loads WASM through require).
 */
import { createRequire } from 'node:module';
import type { PixelEncoding } from './transfer-syntax.js';

const require = createRequire(import.meta.url);

// The package ships no type declarations; this is the part we use.
interface JpegLosslessDecoderInstance {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes: number): ArrayBufferView;
}
const { Decoder: JpegLosslessDecoder } = require('jpeg-lossless-decoder-js') as { Decoder: new () => JpegLosslessDecoderInstance };

/** Decoded samples: little endian, interleaved, `bitsAllocated` (8 or 16) per sample. */
export interface DecodedSamples {
  bytes: Uint8Array;
  bitsAllocated: number;
  components: number;
  width: number;
  height: number;
}

interface WasmFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): WasmFrameInfo;
  getDecodedBuffer(): Uint8Array;
  delete(): void;
}

type WasmModule = Record<string, new () => WasmDecoder>;

const modules = new Map<string, Promise<WasmModule>>();

function loadWasm(spec: string): Promise<WasmModule> {
  let m = modules.get(spec);
  if (!m) {
    const factory = require(spec) as () => Promise<WasmModule>;
    m = factory();
    modules.set(spec, m);
  }
  return m;
}

async function decodeWithWasm(spec: string, ctor: string, data: Uint8Array): Promise<DecodedSamples> {
  const mod = await loadWasm(spec);
  const Ctor = mod[ctor];
  if (!Ctor) throw new Error(`${spec} has no ${ctor}`);
  const decoder = new Ctor();
  try {
    decoder.getEncodedBuffer(data.length).set(data);
    try {
      decoder.decode();
    } catch (e) {
      // Emscripten builds throw a bare number (a C++ exception pointer) on corrupt input.
      throw new Error(`${ctor} could not decode the frame (${data.length} bytes): ${e instanceof Error ? e.message : `codec error ${String(e)}`}`);
    }
    const info = decoder.getFrameInfo();
    // Copy out of the WASM heap: the view dies with the decoder.
    const bytes = decoder.getDecodedBuffer().slice();
    return {
      bytes,
      bitsAllocated: info.bitsPerSample > 8 ? 16 : 8,
      components: info.componentCount,
      width: info.width,
      height: info.height,
    };
  } finally {
    decoder.delete();
  }
}

function decodeJpegLossless(data: Uint8Array, bitsAllocated: number): DecodedSamples {
  const decoder = new JpegLosslessDecoder();
  const bytesPerSample = bitsAllocated <= 8 ? 1 : 2;
  const out = decoder.decode(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength, bytesPerSample);
  const d = decoder as unknown as { frame?: { dimX?: number; dimY?: number }; numComp?: number; xDim?: number; yDim?: number };
  return {
    bytes: new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
    bitsAllocated: bytesPerSample * 8,
    components: d.numComp ?? 1,
    width: d.xDim ?? 0,
    height: d.yDim ?? 0,
  };
}

/** Decode one encapsulated frame. Throws an Error saying what failed. */
export async function decodeCompressedFrame(encoding: PixelEncoding, data: Uint8Array, bitsAllocated: number): Promise<DecodedSamples> {
  switch (encoding) {
    case 'jpeg-baseline':
      return decodeWithWasm('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', 'JPEGDecoder', data);
    case 'jpeg-ls':
      return decodeWithWasm('@cornerstonejs/codec-charls/decodewasmjs', 'JpegLSDecoder', data);
    case 'jpeg-2000':
      return decodeWithWasm('@cornerstonejs/codec-openjpeg/decodewasmjs', 'J2KDecoder', data);
    case 'jpeg-lossless':
      return decodeJpegLossless(data, bitsAllocated);
    default:
      throw new Error(`no compressed decoder for ${encoding}`);
  }
}
