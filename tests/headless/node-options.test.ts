/**
 * The node's command line: defaults, both destination kinds, and a sentence naming the flag
 * for each kind of mistake.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { OptionsError, parseNodeArgs } from '../../electron/headless/node-options.js';

const base = ['--package', 'pkg.tar', '--listen', 'DLNODE@11112', '--send-to', 'PACS@10.0.0.5:104'];

test('defaults: host 0.0.0.0, calling AE = our AE, 30 s idle, 3 attempts, no HTTP, any size 64-4096, 2000 instances / 2 GiB a series, 1 GiB free, 7 days kept', () => {
  const o = parseNodeArgs(base, {});
  assert.deepEqual(o.listen, { aeTitle: 'DLNODE', host: '0.0.0.0', port: 11112 });
  assert.deepEqual(o.sendTo, { kind: 'dimse', aeTitle: 'PACS', host: '10.0.0.5', port: 104, callingAeTitle: 'DLNODE' });
  assert.equal(o.idleSeconds, 30);
  assert.equal(o.maxAttempts, 3);
  assert.equal(o.httpPort, null);
  assert.ok(o.workers >= 1 && o.threadsPerWorker >= 1);
  assert.deepEqual([o.minSize, o.maxSize, o.variant, o.modalities], [64, 4096, 'auto', []]);
  assert.deepEqual([o.maxInstances, o.maxSeriesBytes, o.minFreeBytes, o.keepDays], [2000, 2048 * 2 ** 20, 1024 * 2 ** 20, 7]);
  assert.deepEqual([o.drainSeconds, o.allowAes], [120, []]);
});

test('--drain-s: seconds SIGTERM waits for running series (0: abort at once); --allow-ae: calling AE titles', () => {
  assert.equal(parseNodeArgs([...base, '--drain-s', '5']).drainSeconds, 5);
  assert.equal(parseNodeArgs([...base, '--drain-s=0']).drainSeconds, 0);
  for (const bad of ['-1', '1.5', 'soon']) assert.throws(() => parseNodeArgs([...base, '--drain-s', bad]), (e: unknown) => e instanceof OptionsError && e.message.startsWith(`--drain-s ${bad}: expected a whole number >= 0`));
  assert.deepEqual(parseNodeArgs([...base, '--allow-ae', 'PACS, CT_SCANNER1']).allowAes, ['PACS', 'CT_SCANNER1']);
  assert.throws(() => parseNodeArgs([...base, '--allow-ae', 'PACS,']), (e: unknown) => e instanceof OptionsError && /^--allow-ae PACS,: the AE title ""/.test(e.message));
  assert.throws(() => parseNodeArgs([...base, '--allow-ae', 'A_TITLE_LONGER_THAN_16']), (e: unknown) => e instanceof OptionsError && /^--allow-ae /.test(e.message));
});

test('resource limits: instances and megabytes per series, free-disk floor, retention (0: keep forever)', () => {
  const o = parseNodeArgs([...base, '--max-instances', '500', '--max-series-mb', '300', '--min-free-mb', '0', '--keep-days=0']);
  assert.deepEqual([o.maxInstances, o.maxSeriesBytes, o.minFreeBytes, o.keepDays], [500, 300 * 2 ** 20, 0, 0]);
  assert.throws(() => parseNodeArgs([...base, '--max-instances', '0']), /--max-instances 0: expected a whole number >= 1/);
  assert.throws(() => parseNodeArgs([...base, '--keep-days', '1.5']), /--keep-days 1.5/);
});

test('STOW-RS destination with basic auth from the environment; modalities upper-cased', () => {
  const o = parseNodeArgs(
    ['--package', 'p', '--listen', 'N@127.0.0.1:4000', '--send-to', 'https://pacs.example/dicom-web/', '--dicomweb-user', 'node', '--modality', 'ct, mr', '--workers', '2', '--threads', '3'],
    { DELINEATE_NODE_DICOMWEB_PASSWORD: 'pw' },
  );
  assert.deepEqual(o.sendTo, { kind: 'dicomweb', baseUrl: 'https://pacs.example/dicom-web', auth: { kind: 'basic', user: 'node', password: 'pw' } });
  assert.deepEqual(o.listen, { aeTitle: 'N', host: '127.0.0.1', port: 4000 });
  assert.deepEqual(o.modalities, ['CT', 'MR']);
  assert.deepEqual([o.workers, o.threadsPerWorker], [2, 3]);
});

test('each mistake is refused with a sentence naming its flag', () => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--listen', 'DLNODE@1'], {}, /--package is required/],
    [[...base, '--bogus', '1'], {}, /unknown argument --bogus/],
    [base.map((a) => (a === 'DLNODE@11112' ? 'DLNODE:11112' : a)), {}, /--listen DLNODE:11112: expected AE@port/],
    [base.map((a) => (a === 'DLNODE@11112' ? 'A_TITLE_LONGER_THAN_16@11112' : a)), {}, /--listen .*AE title/],
    [base.map((a) => (a === 'PACS@10.0.0.5:104' ? 'PACS@10.0.0.5' : a)), {}, /--send-to PACS@10.0.0.5: expected AE@host:port/],
    [[...base, '--workers', '0'], {}, /--workers 0: expected a whole number >= 1/],
    [[...base, '--idle', '-1'], {}, /--idle -1/],
    [[...base, '--http-port', '9000'], {}, /--http-port needs a token of at least 16 characters/],
    [[...base, '--http-port', '9000'], { DELINEATE_NODE_TOKEN: 'short' }, /at least 16/],
    [[...base, '--variant', 'fp16'], {}, /--variant fp16/],
    [[...base, '--min-size', '600', '--max-size', '512'], {}, /--min-size 600 is larger than --max-size 512/],
    [[...base.slice(0, 4), '--send-to', 'https://x/dicom-web', '--dicomweb-user', 'u'], {}, /DELINEATE_NODE_DICOMWEB_PASSWORD/],
  ];
  for (const [argv, env, why] of cases) assert.throws(() => parseNodeArgs(argv, env), (e: unknown) => e instanceof OptionsError && why.test(e.message), argv.join(' '));
});

test('the token may come from a file; HTTP on any free port with 0', () => {
  const o = parseNodeArgs([...base, '--http-port', '0', '--token-file', '/etc/node-token'], {}, (f) => (f === '/etc/node-token' ? 'abcdefghijklmnopqrstuvwxyz\n' : ''));
  assert.equal(o.httpPort, 0);
  assert.equal(o.token, 'abcdefghijklmnopqrstuvwxyz');
});

test('--token-file that cannot be read: one line naming the flag and the file, exit code 2, no stack trace', () => {
  const enoent = (f: string): string => {
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${f}'`), { code: 'ENOENT' });
  };
  assert.throws(
    () => parseNodeArgs([...base, '--http-port', '0', '--token-file', '/no/such/token'], {}, enoent),
    (e: unknown) => e instanceof OptionsError && e.message === '--token-file /no/such/token: cannot be read (ENOENT)',
  );
  // The CLI itself, with the real file reader.
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'electron/headless/main.ts'), ...base, '--http-port', '0', '--token-file', path.join(root, 'no-such-token-file')], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, `--token-file ${path.join(root, 'no-such-token-file')}: cannot be read (ENOENT)\n`);
});
