/**
 * Compressed-frame decoders: the Cornerstone WASM builds of libjpeg-turbo (8-bit JPEG),
 * CharLS (JPEG-LS) and OpenJPEG (JPEG 2000); dcmjs-codecs' WASM build of dcmtk's IJG
 * library for 12-bit JPEG (Cornerstone's libjpeg-turbo build is 8-bit only, and IJG is the
 * family GDCM and dcmtk decode with); jpeg-lossless-decoder-js (JPEG lossless, process 14);
 * and our own PackBits RLE. The WASM modules are instantiated once, on first use.
 *
 * Colour JPEGs are decoded with no colour transform (see jpeg-markers.ts); the caller
 * converts YCbCr to RGB once, the same way for every encoding.
 *
 * Runtime: Node (loads WASM through require).
 */
import { createRequire } from 'node:module';
import { jpegHoldsYcbcr, readJpegInfo, withoutColourTransform } from './jpeg-markers.js';
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
  /** Colour JPEG only: the components are YCbCr still, to be converted by the caller. */
  ycbcr?: boolean;
}

/** A codec failed on this frame; `detail` is the codec's own words. */
export class CodecError extends Error {
  constructor(
    readonly codec: string,
    readonly detail: string,
  ) {
    super(`${codec}: ${detail}`);
    this.name = 'CodecError';
  }
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
      throw new CodecError(ctor, `${e instanceof Error ? e.message : `native exception ${String(e)}`} (${data.length} bytes)`);
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
  let out: ArrayBufferView;
  try {
    out = decoder.decode(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength, bytesPerSample);
  } catch (e) {
    throw new CodecError('JPEG lossless decoder', e instanceof Error ? e.message : String(e));
  }
  const d = decoder as unknown as { frame?: { dimX?: number; dimY?: number }; numComp?: number; xDim?: number; yDim?: number };
  return {
    bytes: new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
    bitsAllocated: bytesPerSample * 8,
    components: d.numComp ?? 1,
    width: d.xDim ?? 0,
    height: d.yDim ?? 0,
  };
}

// dcmjs-codecs: the part we use (its package types cover the rest).
interface DcmjsCodecs {
  NativeCodecs: { initializeAsync(opts?: Record<string, unknown>): Promise<void>; decodeJpeg(ctx: DcmjsContext, p?: Record<string, unknown>): DcmjsContext };
  Context: new (attrs: Record<string, unknown>) => DcmjsContext;
}
interface DcmjsContext {
  getDecodedBuffer(): Uint8Array;
}
let dcmjsCodecs: Promise<DcmjsCodecs> | undefined;

function loadDcmjsCodecs(): Promise<DcmjsCodecs> {
  dcmjsCodecs ??= (async () => {
    const lib = require('dcmjs-codecs') as DcmjsCodecs & { log?: { setLevel?(l: string): void } };
    lib.log?.setLevel?.('silent');
    await lib.NativeCodecs.initializeAsync({ logCodecsInfo: false, logCodecsTrace: false });
    return lib;
  })();
  return dcmjsCodecs;
}

/** 12-bit JPEG (process 2 & 4) through dcmtk's IJG 12-bit library; 16-bit little-endian samples out. */
async function decodeJpeg12(data: Uint8Array, components: number, width: number, height: number, signed: boolean): Promise<DecodedSamples> {
  const lib = await loadDcmjsCodecs();
  const ctx = new lib.Context({
    width, height, bitsAllocated: 16, bitsStored: 12, samplesPerPixel: components, pixelRepresentation: signed ? 1 : 0,
    planarConfiguration: 0, photometricInterpretation: components === 3 ? 'RGB' : 'MONOCHROME2', encodedBuffer: data,
  });
  let bytes: Uint8Array;
  try {
    bytes = lib.NativeCodecs.decodeJpeg(ctx, { convertColorspaceToRgb: false }).getDecodedBuffer().slice();
  } catch (e) {
    throw new CodecError('IJG 12-bit JPEG decoder', e instanceof Error ? e.message : String(e));
  }
  if (bytes.length < width * height * components * 2) throw new CodecError('IJG 12-bit JPEG decoder', `returned ${bytes.length} bytes for ${width}x${height}`);
  return { bytes, bitsAllocated: 16, components, width, height };
}

/** 8- or 12-bit lossy JPEG. Colour comes back as the stream's components, flagged when they are YCbCr. */
async function decodeJpegLossy(data: Uint8Array, photometric: string, width: number, height: number, signed: boolean): Promise<DecodedSamples> {
  let info;
  try {
    info = readJpegInfo(data);
  } catch (e) {
    throw new CodecError('JPEG', (e as Error).message);
  }
  if (info.precision > 8) {
    if (info.components === 3) throw new CodecError('JPEG', '12-bit colour JPEG is not supported');
    return decodeJpeg12(data, info.components, width, height, signed);
  }
  if (info.components !== 3) return decodeWithWasm('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', 'JPEGDecoder', data);
  const d = await decodeWithWasm('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', 'JPEGDecoder', withoutColourTransform(data, info));
  return { ...d, ycbcr: jpegHoldsYcbcr(info, photometric) };
}

export interface FrameContext {
  bitsAllocated: number;
  photometric: string;
  width: number;
  height: number;
  signed: boolean;
}

/** Decode one encapsulated frame. Throws a CodecError saying what failed. */
export async function decodeCompressedFrame(encoding: PixelEncoding, data: Uint8Array, f: FrameContext): Promise<DecodedSamples> {
  const bitsAllocated = f.bitsAllocated;
  switch (encoding) {
    case 'jpeg-baseline':
      return decodeJpegLossy(data, f.photometric, f.width, f.height, f.signed);
    case 'jpeg-ls':
      return decodeWithWasm('@cornerstonejs/codec-charls/decodewasmjs', 'JpegLSDecoder', data);
    case 'jpeg-2000':
      return decodeWithWasm('@cornerstonejs/codec-openjpeg/decodewasmjs', 'J2KDecoder', data);
    case 'jpeg-lossless':
      return decodeJpegLossless(data, bitsAllocated);
    default:
      throw new CodecError(encoding, 'no decoder for this encoding');
  }
}
