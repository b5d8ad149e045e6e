import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError, methodNames, parseRequest } from '../../electron/contract/api.js';
import { createDispatch } from '../../electron/ipc/dispatch.js';
import { answerIpcCall, isTrustedRendererUrl } from '../../electron/ipc/ipc-envelope.js';
import { sshArgs } from '../../electron/services/training/ssh-host.node.js';
import { fakeHandlers } from './fake-handlers.js';

const badRequest = (re: RegExp) => (e: unknown) => e instanceof ApiError && e.code === 'bad_request' && re.test(e.message);

test('unknown and non-string method names are refused', () => {
  assert.throws(() => parseRequest('project.delete', {}), badRequest(/Unknown method: "project.delete"/));
  assert.throws(() => parseRequest('__proto__', {}), badRequest(/Unknown method/));
  assert.throws(() => parseRequest('toString', {}), badRequest(/Unknown method/));
  assert.throws(() => parseRequest(42, {}), badRequest(/Unknown method: 42/));
});

test('wrong types are refused, naming the field', () => {
  assert.throws(() => parseRequest('image.pixels', { imageId: '1', frame: 0 }), badRequest(/imageId/));
  assert.throws(() => parseRequest('image.pixels', { imageId: 1, frame: -1 }), badRequest(/frame/));
  assert.throws(() => parseRequest('image.pixels', { imageId: 1.5, frame: 0 }), badRequest(/imageId/));
  assert.throws(() => parseRequest('images.importFiles', { files: [{ name: 'a.dcm', bytes: 'AAEC' }] }), badRequest(/files\.0\.bytes/));
  assert.throws(() => parseRequest('labels.upsert', { name: 'lesion', color: 'red' }), badRequest(/color/));
  assert.throws(() => parseRequest('labels.upsert', { name: 'lesion', color: '#ff0000', code: 'SCT 1234' }), badRequest(/code/));
  assert.deepEqual(parseRequest('labels.upsert', { name: 'lesion', color: '#ff0000', code: null }).params, { name: 'lesion', color: '#ff0000', code: null });
  assert.throws(() => parseRequest('project.open', null), badRequest(/path/));
});

test('extra keys are refused (strict params)', () => {
  assert.throws(() => parseRequest('project.open', { path: '/p', evil: true }), badRequest(/evil|Unrecognized/));
  assert.throws(() => parseRequest('app.info', { x: 1 }), badRequest(/Unrecognized/));
  for (const m of methodNames) {
    // every method must refuse an unknown key: a loose schema would let junk through to services
    // (zod reports every issue at once, so the key is named even when required fields are missing)
    // (`kind` picks a branch of discriminated unions such as models.import and pacs.saveDestination)
    const kind = m === 'pacs.saveDestination' ? 'dimse' : 'bundle';
    assert.throws(() => parseRequest(m, { imageId: 1, frame: 0, path: '/p', kind, unexpectedKey: 1 }), badRequest(/Unrecognized key.*unexpectedKey/), m);
  }
});

test('mask prompts are a bounded, known shape; coordinates must be finite', () => {
  const base = { imageId: 1, frame: 0, labelId: 1, instance: 1, rle: { size: [2, 2], counts: [4] }, source: 'sam' };
  const point = { x: 1, y: 2, label: 1 };
  assert.equal(parseRequest<'masks.save'>('masks.save', { ...base, prompts: { points: [point], box: null } }).params.prompts?.points?.length, 1);
  assert.throws(() => parseRequest('masks.save', { ...base, prompts: { blob: 'x'.repeat(1000) } }), badRequest(/Unrecognized key.*blob/));
  assert.throws(() => parseRequest('masks.save', { ...base, prompts: { points: Array(201).fill(point) } }), badRequest(/prompts\.points/));
  assert.throws(() => parseRequest('masks.save', { ...base, prompts: { points: [{ ...point, x: Infinity }] } }), badRequest(/prompts\.points\.0\.x/));
});

test('oversized values are refused', () => {
  assert.throws(() => parseRequest('project.open', { path: 'x'.repeat(4097) }), badRequest(/path/));
  assert.throws(() => parseRequest('images.importPaths', { paths: [] }), badRequest(/paths/));
  assert.throws(() => parseRequest('images.importPaths', { paths: new Array(100_001).fill('/a') }), badRequest(/paths/));
  assert.throws(() => parseRequest('audit.list', { limit: 10_001 }), badRequest(/limit/));
});

test('valid requests parse, with defaults applied', () => {
  assert.deepEqual(parseRequest('audit.list', {}).params, { limit: 200 });
  assert.deepEqual(parseRequest('app.info', undefined).params, {});
  const bytes = new Uint8Array([1, 2]);
  assert.equal(parseRequest<'images.importFiles'>('images.importFiles', { files: [{ name: 'a.png', bytes }] }).params.files[0]!.bytes, bytes);
});

test('dispatch validates before calling the handler and turns failures into ApiError', async () => {
  const handlers = fakeHandlers();
  const logged: string[] = [];
  const dispatch = createDispatch(handlers, { logInternal: (m) => logged.push(m) });
  await assert.rejects(dispatch('image.pixels', { imageId: 'x' }), badRequest(/imageId/));
  assert.equal(handlers.received.length, 0, 'an invalid request never reaches a service');
  assert.deepEqual(await dispatch('audit.list', {}), []);
  assert.deepEqual(handlers.received.at(-1), { method: 'audit.list', params: { limit: 200 } });
  await assert.rejects(dispatch('project.close', {}), (e: unknown) => e instanceof ApiError && e.code === 'internal' && /went wrong inside Delineate/.test(e.message) && !e.message.includes('disk on fire'));
  assert.deepEqual(logged, ['project.close'], 'unexpected errors are logged (the raw message stays in the log), ApiErrors are not');
  await assert.rejects(dispatch('project.open', { path: '/p' }), (e: unknown) => e instanceof ApiError && e.code === 'schema_too_new' && e.file === '/p/project.sqlite');
  assert.deepEqual(logged, ['project.close']);
});

test('the IPC side answers only the app:// renderer, with errors as data', async () => {
  const dispatch = createDispatch(fakeHandlers(), { logInternal: () => {} });
  assert.ok(isTrustedRendererUrl('app://delineate/index.html'));
  for (const url of ['file:///etc/passwd', 'https://delineate/', 'app://evil/', 'app://delineate.evil/', '', null, undefined, 'not a url']) {
    assert.equal(isTrustedRendererUrl(url), false, String(url));
  }
  const refused = await answerIpcCall(dispatch, 'https://example.com/', 'app.info', {});
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.error.code, 'bad_request');
  const ok = await answerIpcCall(dispatch, 'app://delineate/index.html', 'app.info', {});
  assert.deepEqual(ok, { ok: true, result: { version: '0.0.0-test', transport: 'browser', user: 'tester' } });
  const bad = await answerIpcCall(dispatch, 'app://delineate/index.html', 'nope', {});
  assert.equal(!bad.ok && bad.error.code, 'bad_request');
});

test('an SSH training host cannot smuggle ssh options or shell into its fields', () => {
  const host = { kind: 'ssh', host: 'gpu01.hospital.local', port: 22, user: 'train', remoteDir: '/data/delineate', identityFile: '/home/u/.ssh/id_ed25519' };
  const start = (h: Record<string, unknown>) => parseRequest<'training.start'>('training.start', { settings: { preset: 'decoder', host: h } });
  assert.equal((start(host).params.settings?.host as { python?: string }).python, 'python3', 'the server python defaults');
  assert.throws(() => start({ ...host, host: '-oProxyCommand=touch /tmp/x' }), badRequest(/host/));
  assert.throws(() => start({ ...host, user: '-l root' }), badRequest(/user/));
  assert.throws(() => start({ ...host, remoteDir: "/data/x'; rm -rf ~; '" }), badRequest(/remoteDir/));
  assert.throws(() => start({ ...host, remoteDir: 'relative/dir' }), badRequest(/remoteDir/));
  assert.throws(() => start({ ...host, python: 'python3; curl evil' }), badRequest(/python/));
  assert.throws(() => start({ ...host, identityFile: '-i/etc/shadow' }), badRequest(/identityFile/));
  assert.throws(() => start({ ...host, port: 0 }), badRequest(/port/));
  assert.throws(() => start({ ...host, extra: 1 }), badRequest(/Unrecognized/));
  // And ssh is told where its options end: the host name can never be read as one.
  const args = sshArgs(start(host).params.settings!.host as Parameters<typeof sshArgs>[0]);
  assert.deepEqual(args.slice(-2), ['--', 'gpu01.hospital.local']);
  assert.ok(args.includes('BatchMode=yes'), 'never waits for a password prompt nobody sees');
});
