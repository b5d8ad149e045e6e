/**
 * The runtime client against a real Python child process: info, an error answer for a bad
 * request, and a killed child reported to the pending request and to crash listeners.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { RuntimeClient, RuntimeCrashedError, RuntimeRequestError } from '../../electron/services/runtime/runtime-client.node.js';

// One child for the answering tests: starting Python with torch takes seconds.
let shared: Promise<RuntimeClient> | undefined;
function client(): Promise<RuntimeClient> {
  return (shared ??= RuntimeClient.launch());
}
after(async () => {
  await (await shared?.catch(() => undefined))?.close(2000);
});

test('runtime.info answers with versions and the methods the app needs', { timeout: 60_000 }, async () => {
  const c = await client();
  const info = await c.info();
  assert.equal(info.protocol_version, 1);
  assert.ok(info.methods.includes('export.onnx'), `methods: ${info.methods.join(', ')}`);
  assert.ok(info.archs.includes('vit_b'));
});

test('a bad request gets an error answer, and the child keeps serving', { timeout: 60_000 }, async () => {
  const c = await client();
  await assert.rejects(c.call('no.such.method', {}), (e: unknown) => e instanceof RuntimeRequestError && e.code === -32601);
  await assert.rejects(
    c.call('export.onnx', { model: { bundle: '/nonexistent' } }), // out_dir missing
    (e: unknown) => e instanceof RuntimeRequestError && e.code === -32602 && /out_dir/.test(e.message + JSON.stringify(e.data)),
  );
  assert.equal((await c.info()).protocol_version, 1);
});

test('a killed child is reported to pending requests and crash listeners', { timeout: 60_000 }, async () => {
  const c = await RuntimeClient.launch();
  await c.info();
  const reported = new Promise<RuntimeCrashedError>((resolve) => c.onCrash(resolve));
  process.kill(c.pid!, 'SIGKILL');
  const crash = await reported;
  assert.equal(crash.signal, 'SIGKILL');
  assert.match(crash.message, /stopped unexpectedly/);
  await assert.rejects(c.info(), (e: unknown) => e instanceof RuntimeCrashedError);
});
