/**
 * A tiny in-memory Handlers for transport tests only: the transport must carry whatever the
 * services answer, so these tests pin the transport, not the services (which have their own
 * tests against real SQLite). Records what each handler received.
 */
import { ApiError, type Handlers, type PixelFrame } from '../../electron/contract/api.js';

export interface FakeHandlers extends Handlers {
  received: { method: string; params: unknown }[];
}

/** A 512x512 int16 CT-like ramp: value = (x + y) - 1024. */
export function ctFrame(width = 512, height = 512): PixelFrame {
  const values = new Int16Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) values[y * width + x] = x + y - 1024;
  return {
    width,
    height,
    samplesPerPixel: 1,
    dtype: 'int16',
    photometric: 'MONOCHROME2',
    rescaleSlope: 1,
    rescaleIntercept: -1024,
    minValue: -1024,
    maxValue: width + height - 2 - 1024,
    data: new Uint8Array(values.buffer),
  };
}

export function fakeHandlers(frame: PixelFrame = ctFrame()): FakeHandlers {
  const received: { method: string; params: unknown }[] = [];
  const rec =
    <T>(method: string, answer: (p: any) => T) =>
    (params: unknown): T => {
      received.push({ method, params });
      return answer(params);
    };
  const notHere = (method: string) => rec(method, () => {
    throw new ApiError('not_found', `${method} is not in the fake`);
  });
  const handlers = {
    received,
    'app.info': rec('app.info', () => ({ version: '0.0.0-test', transport: 'browser' as const, user: 'tester' })),
    'project.create': notHere('project.create'),
    'project.open': rec('project.open', (p: { path: string }) => {
      throw new ApiError('schema_too_new', 'Project was written by a newer Delineate', `${p.path}/project.sqlite`);
    }),
    'project.current': rec('project.current', () => null),
    'project.close': rec('project.close', () => {
      throw new Error('disk on fire');
    }),
    'images.list': rec('images.list', () => [{ id: 1, bogus: true }]), // invalid on purpose
    'images.importPaths': notHere('images.importPaths'),
    'images.importFiles': rec('images.importFiles', (p: { files: { name: string; bytes: Uint8Array }[] }) => ({
      imported: p.files.map((f, i) => ({ file: f.name, imageId: i + 1 })),
      duplicates: [],
      failed: [],
      warnings: [],
      cancelled: 0,
      elapsedMs: 1,
    })),
    'images.setStatus': notHere('images.setStatus'),
    'image.get': notHere('image.get'),
    'image.pixels': rec('image.pixels', () => frame),
    'image.thumbnail': notHere('image.thumbnail'),
    'labels.list': rec('labels.list', () => []),
    'labels.upsert': notHere('labels.upsert'),
    'labels.delete': notHere('labels.delete'),
    'masks.list': notHere('masks.list'),
    'masks.save': notHere('masks.save'),
    'masks.delete': notHere('masks.delete'),
    'audit.list': rec('audit.list', () => []),
  };
  return handlers as unknown as FakeHandlers;
}
