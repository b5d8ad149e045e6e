/** The small part of cornerstone-core 2.6 that Delineate uses (the package ships no types). */
declare module 'cornerstone-core' {
  export interface CsImage {
    imageId: string;
    minPixelValue: number;
    maxPixelValue: number;
    slope: number;
    intercept: number;
    windowCenter: number;
    windowWidth: number;
    getPixelData: () => ArrayLike<number>;
    rows: number;
    columns: number;
    height: number;
    width: number;
    color: boolean;
    rgba?: boolean;
    invert: boolean;
    columnPixelSpacing: number;
    rowPixelSpacing: number;
    sizeInBytes: number;
  }
  export interface Viewport {
    scale: number;
    translation: { x: number; y: number };
    voi: { windowWidth: number; windowCenter: number };
    invert: boolean;
    pixelReplication: boolean;
    rotation: number;
    hflip: boolean;
    vflip: boolean;
  }
  export interface Point {
    x: number;
    y: number;
  }
  export interface EnabledElement {
    element: HTMLElement;
    canvas: HTMLCanvasElement;
    image?: CsImage;
    viewport?: Viewport;
  }
  export type ImageLoader = (imageId: string, options?: unknown) => { promise: Promise<CsImage>; cancelFn?: () => void };
  export function enable(element: HTMLElement, options?: Record<string, unknown>): void;
  export function disable(element: HTMLElement): void;
  export function registerImageLoader(scheme: string, loader: ImageLoader): void;
  export function loadAndCacheImage(imageId: string, options?: unknown): Promise<CsImage>;
  export function displayImage(element: HTMLElement, image: CsImage, viewport?: Partial<Viewport>): void;
  export function getViewport(element: HTMLElement): Viewport | undefined;
  export function setViewport(element: HTMLElement, viewport: Partial<Viewport>): void;
  export function getDefaultViewportForImage(element: HTMLElement, image: CsImage): Viewport;
  export function getEnabledElement(element: HTMLElement): EnabledElement;
  export function pixelToCanvas(element: HTMLElement, pt: Point): Point;
  export function canvasToPixel(element: HTMLElement, pt: Point): Point;
  export function pageToPixel(element: HTMLElement, pageX: number, pageY: number): Point;
  export function fitToWindow(element: HTMLElement): void;
  export function resize(element: HTMLElement, forceFitToWindow?: boolean): void;
  export function updateImage(element: HTMLElement, invalidated?: boolean): void;
  export function reset(element: HTMLElement): void;
  export const imageCache: {
    setMaximumSizeBytes(n: number): void;
    getImageLoadObject(imageId: string): { promise: Promise<CsImage> } | undefined;
    /** A load that someone else started; a rejected promise takes the entry out of the cache again. */
    putImageLoadObject(imageId: string, loadObject: { promise: Promise<CsImage> }): void;
    purgeCache(): void;
    getCacheInfo(): { maximumSizeInBytes: number; cacheSizeInBytes: number; numberOfImagesCached: number };
  };
  export const EVENTS: { IMAGE_RENDERED: string; NEW_IMAGE: string; IMAGE_LOADED: string };
}
