// The slice of pngjs the test fixtures use (writing 8/16-bit grey PNGs). pngjs ships no
// types, and @types/pngjs wants a full PNG instance where pngjs itself takes plain image data.
declare module 'pngjs' {
  interface PngImage {
    width: number;
    height: number;
    data: Buffer;
  }
  interface PngWriteOptions {
    colorType?: number;
    inputColorType?: number;
    bitDepth?: 8 | 16;
    inputHasAlpha?: boolean;
  }
  const pngjs: {
    PNG: { sync: { write(image: PngImage, options?: PngWriteOptions): Buffer; read(data: Buffer): PngImage } };
  };
  export default pngjs;
}
