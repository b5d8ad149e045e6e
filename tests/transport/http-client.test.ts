import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiError } from '../../electron/contract/api.js';
import { startHost, type RunningHost } from '../../electron/host/server.js';
import type { DelineateBridge, IpcEnvelope } from '../../electron/ipc/bridge-types.js';
import { createBridgeApi } from '../../renderer/src/transport/bridge-client.js';
import { createHttpApi } from '../../renderer/src/transport/http-client.js';
import { ctFrame, fakeHandlers, type FakeHandlers } from './fake-handlers.js';

let host: RunningHost;
let handlers: FakeHandlers;

before(async () => {
  handlers = fakeHandlers();
  host = await startHost({ handlers, logInternal: () => {} });
});
after(() => host.close());

const client = (validateResults = true) => createHttpApi({ baseUrl: host.origin, token: host.token, validateResults });

test('a call round-trips through the real host', async () => {
  assert.deepEqual(await client().call('app.info', {}), { version: '0.0.0-test', transport: 'browser', user: 'tester' });
  assert.equal(await client().call('project.current', {}), null);
});

test('image.pixels: a 512x512 int16 frame arrives byte-exact, viewable as Int16Array', async () => {
  const expected = ctFrame();
  const frame = await client().call('image.pixels', { imageId: 3, frame: 0 });
  assert.ok(frame.data instanceof Uint8Array);
  assert.equal(frame.data.byteLength, 512 * 512 * 2);
  assert.ok(Buffer.from(frame.data).equals(Buffer.from(expected.data)));
  const values = new Int16Array(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength / 2);
  assert.equal(values[0], -1024);
  assert.equal(values[511 * 512 + 511], 511 + 511 - 1024);
  assert.deepEqual({ ...frame, data: null }, { ...expected, data: null });
});

test('Uint8Array params reach the service as Uint8Array, byte-exact', async () => {
  const a = new Uint8Array(70_001).map((_, i) => (i * 7) % 256);
  const b = new Uint8Array([0, 255]);
  const report = await client().call('images.importFiles', { files: [{ name: 'a.dcm', bytes: a }, { name: 'b.png', bytes: b }] });
  assert.deepEqual(report.imported, [{ file: 'a.dcm', imageId: 1 }, { file: 'b.png', imageId: 2 }]);
  const got = handlers.received.at(-1)!.params as { files: { bytes: Uint8Array }[] };
  assert.ok(got.files[0]!.bytes instanceof Uint8Array);
  assert.ok(Buffer.from(got.files[0]!.bytes).equals(Buffer.from(a)));
  assert.ok(Buffer.from(got.files[1]!.bytes).equals(Buffer.from(b)));
});

test('service errors come back as ApiError with code and file', async () => {
  await assert.rejects(client().call('project.open', { path: '/data/p' }), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.code, 'schema_too_new');
    assert.equal(e.file, '/data/p/project.sqlite');
    assert.match(e.message, /newer Delineate/);
    return true;
  });
  await assert.rejects(client().call('project.close', {}), (e: unknown) => e instanceof ApiError && e.code === 'internal' && /went wrong inside Delineate/.test(e.message) && !e.message.includes('disk on fire'));
  await assert.rejects(client().call('image.get', { imageId: 9 }), (e: unknown) => e instanceof ApiError && e.code === 'not_found');
});

test('params the caller gets wrong are refused by the host, not trusted', async () => {
  const sloppy = client() as unknown as { call(m: string, p: unknown): Promise<unknown> };
  const before = handlers.received.length;
  await assert.rejects(sloppy.call('image.pixels', { imageId: 1, frame: 0, extra: 1 }), (e: unknown) => e instanceof ApiError && e.code === 'bad_request');
  await assert.rejects(sloppy.call('no.such', {}), (e: unknown) => e instanceof ApiError && /Unknown method/.test(e.message));
  assert.equal(handlers.received.length, before);
});

test('results are checked against the contract when validation is on', async () => {
  await assert.rejects(client(true).call('images.list', {}), (e: unknown) => e instanceof ApiError && e.code === 'internal' && /invalid result for images\.list/.test(e.message));
  const unchecked = await client(false).call('images.list', {});
  assert.equal(unchecked.length, 1);
});

test('a wrong token or an unreachable host rejects with ApiError', async () => {
  const wrong = createHttpApi({ baseUrl: host.origin, token: 'wrong' });
  await assert.rejects(wrong.call('app.info', {}), (e: unknown) => e instanceof ApiError && /Wrong token/.test(e.message));
  const gone = createHttpApi({ baseUrl: 'http://127.0.0.1:1', token: 'x' });
  await assert.rejects(gone.call('app.info', {}), (e: unknown) => e instanceof ApiError && e.code === 'io');
});

test('the Electron bridge client rethrows envelope errors as ApiError and validates results', async () => {
  const answers: Record<string, IpcEnvelope> = {
    'app.info': { ok: true, result: { version: '1', transport: 'electron', user: 'u' } },
    'image.get': { ok: false, error: { code: 'not_found', message: 'No image 5', file: 'x.dcm' } },
    'labels.list': { ok: true, result: [{ id: 0, name: '', color: 'red' }] },
  };
  const bridge = {
    call: async (method: string) => answers[method] ?? { ok: false, error: { nonsense: true } as never },
  } as unknown as DelineateBridge;
  const api = createBridgeApi(bridge, { validateResults: true });
  assert.deepEqual(await api.call('app.info', {}), { version: '1', transport: 'electron', user: 'u' });
  await assert.rejects(api.call('image.get', { imageId: 5 }), (e: unknown) => e instanceof ApiError && e.code === 'not_found' && e.file === 'x.dcm');
  await assert.rejects(api.call('labels.list', {}), (e: unknown) => e instanceof ApiError && e.code === 'internal');
  await assert.rejects(api.call('audit.list', {}), (e: unknown) => e instanceof ApiError && e.code === 'internal' && /audit\.list failed/.test(e.message));
});
