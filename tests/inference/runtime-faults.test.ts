/**
 * The runtime client when its child misbehaves: a stray line on stdout, a header without
 * Content-Length, an absurd Content-Length, a body that is not JSON, a stopped (SIGSTOP)
 * child, a crash. Each must reject what is pending with a plain sentence, kill the child,
 * and leave the launcher able to start a fresh child that answers the next request.
 *
 * The real RuntimeClient and RuntimeLauncher drive fake-runtime.child.ts (a Node child that
 * breaks the channel on request) and, for the hang and the crash, the real Python runtime.
 * Deadlines are shortened so a fault is found in seconds; every test has a timeout, so a
 * client that goes deaf fails the test instead of hanging the run.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RequestType } from 'vscode-jsonrpc/node.js';
import { FrameValidator, ProtocolViolation } from '../../electron/services/runtime/frame-validator.js';
import {
  RuntimeClient,
  RuntimeCrashedError,
  RuntimeHungError,
  RuntimeProtocolError,
} from '../../electron/services/runtime/runtime-client.node.js';
import { RuntimeLauncher } from '../../electron/services/runtime/runtime-launcher.node.js';
import type { JobStarted } from '../../electron/services/runtime/runtime-methods.js';
import { checkLiveness, type LivenessState, type RuntimeDeadlines } from '../../electron/services/runtime/runtime-liveness.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FAKE = path.join(repoRoot, 'tests/inference/fake-runtime.child.ts');
/** fake-runtime.child.ts's job: finishes after `ms`, silent unless `progressEveryMs` is set. */
const fakeJob = new RequestType<{ ms: number; progressEveryMs?: number }, JobStarted, void>('fake.job');
const QUICK: RuntimeDeadlines = { requestMs: 3000, startupMs: 20_000, quietMs: 300, probeMs: 1500 };

function fakeLauncher(deadlines: Partial<RuntimeDeadlines> = QUICK): RuntimeLauncher {
  return new RuntimeLauncher(async () => RuntimeClient.startCommand(process.execPath, ['--import', 'tsx', FAKE], { cwd: repoRoot, deadlines }));
}

async function pidOf(c: RuntimeClient): Promise<number> {
  const info = (await c.info()) as unknown as { pid: number };
  return info.pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  assert.ok(!alive(pid), `child ${pid} should have been killed`);
}

/** After a fault: the old child is dead and the launcher's next client is a new, answering child. */
async function restartsCleanly(launcher: RuntimeLauncher, broken: RuntimeClient, oldPid: number): Promise<void> {
  assert.ok(broken.crash instanceof RuntimeCrashedError, 'the broken client reports why it stopped');
  await assert.rejects(broken.info(), (e: unknown) => e === broken.crash, 'the broken client refuses new requests at once');
  await waitGone(oldPid);
  const fresh = await launcher.get();
  assert.notEqual(fresh, broken);
  const pid = await pidOf(fresh);
  assert.notEqual(pid, oldPid);
  assert.deepEqual(await fresh.call('echo', { n: 1 }), { method: 'echo', params: { n: 1 }, pid });
}

// ---- frames: every byte either belongs to a frame or is reported --------------------------

const frame = (body: string): string => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

test('valid frames pass whatever the chunking; the first bad byte is named', () => {
  const stream = Buffer.from(frame('{"a":"Läsion ✓ 肺"}') + `content-type: application/json\r\n${frame('{}')}` + frame(''));
  for (const size of [1, 2, 7, stream.length]) {
    const v = new FrameValidator({ maxMessageBytes: 1024 });
    assert.doesNotThrow(() => {
      for (let i = 0; i < stream.length; i += size) v.push(stream.subarray(i, i + size));
    }, `valid frames in ${size}-byte chunks`);
  }
  const cases: Array<[string, RegExp]> = [
    ['hello\n', /not a message header: "hello\\n"/],
    ['h', /not a message header: "h"/], // found before any newline arrives
    [`${frame('{}')}oops`, /not a message header: "oops"/],
    ['Content-Type: application/json\r\n\r\n{}', /without Content-Length/],
    ['Content-Length: 99999999999\r\n\r\n', /99999999999 bytes, over the 1024-byte limit/],
    ['Content-Length: twelve\r\n\r\n', /not a number/],
    ['Content-Length: 2\n\n{}', /does not end in CR LF/],
    ['\r\n', /empty line where a message header was expected/],
    ['Content-Lengthy: 2\r\n\r\n{}', /not a message header: "Content-Lengthy/],
    ['Content-Typ: json\r\nContent-Length: 2\r\n\r\n{}', /unknown message header: "Content-Typ: json/],
    [`Content-Length: ${'9'.repeat(2000)}`, /longer than 1024 bytes/],
  ];
  const violation = (input: string, chunkBytes: number): ProtocolViolation => {
    const v = new FrameValidator({ maxMessageBytes: 1024 });
    const bytes = Buffer.from(input);
    try {
      for (let i = 0; i < bytes.length; i += chunkBytes) v.push(bytes.subarray(i, i + chunkBytes));
    } catch (e) {
      if (e instanceof ProtocolViolation) return e;
      throw e;
    }
    assert.fail(`${JSON.stringify(input.slice(0, 40))} passed as valid`);
  };
  for (const [input, expected] of cases) {
    const whole = violation(input, input.length);
    assert.match(whole.message, expected);
    // the same problem is found when the bytes arrive one at a time (the sample then holds
    // only what had arrived)
    assert.equal(violation(input, 1).problem, whole.problem);
  }
});

// ---- liveness: the one decision, in numbers -----------------------------------------------

test('liveness: deadlines count from when the child is up; a quiet job is probed before it is called hung', () => {
  const base: LivenessState = { now: 0, heardAt: null, firstHeardAt: null, oldestRequest: null, awaitingJobs: false, probeSentAt: null };
  const at = (s: Partial<LivenessState>) => checkLiveness({ ...base, ...s }, QUICK).kind;
  assert.equal(at({ now: 1e9, heardAt: 0, firstHeardAt: 0 }), 'ok', 'an idle child is never hung');
  assert.equal(at({ now: 19_000, oldestRequest: { method: 'runtime.info', sentAt: 0 } }), 'ok', 'Python still loading');
  assert.equal(at({ now: 20_001, oldestRequest: { method: 'runtime.info', sentAt: 0 } }), 'hung');
  // sent while starting, child up at 10 s: the 3 s request deadline runs from 10 s
  // (heardAt recent: other messages keep arriving, so only the request's own deadline applies)
  const early = { oldestRequest: { method: 'x', sentAt: 0 }, firstHeardAt: 10_000, heardAt: 12_800 };
  assert.equal(at({ ...early, now: 12_900 }), 'ok');
  assert.equal(at({ ...early, now: 13_001 }), 'hung');
  const job = { awaitingJobs: true, firstHeardAt: 0, heardAt: 1000 };
  assert.equal(at({ ...job, now: 1200 }), 'ok');
  assert.equal(at({ ...job, now: 1301 }), 'probe');
  assert.equal(at({ ...job, now: 2700, probeSentAt: 1301 }), 'ok', 'the probe has 1.5 s');
  assert.equal(at({ ...job, now: 2802, probeSentAt: 1301 }), 'hung');
  assert.equal(at({ ...job, now: 2802, probeSentAt: 1301, heardAt: 2500 }), 'ok', 'progress after the probe is a sign of life');
});

// ---- a child that writes what is not a protocol message -----------------------------------

const babble: Array<[string, RegExp]> = [
  ['fault.stray', /not a protocol message: text that is not a message header: "hello from a library\\n"/],
  ['fault.noLength', /not a protocol message: a message header without Content-Length/],
  ['fault.hugeLength', /not a protocol message: a Content-Length of 99999999999 bytes/],
  ['fault.badJson', /not a protocol message: a message that does not decode/],
];
for (const [fault, expected] of babble) {
  test(`${fault}: every pending request is rejected in plain words, the child killed, the next request answered by a new child`, { timeout: 30_000 }, async (t: TestContext) => {
    const launcher = fakeLauncher();
    t.after(() => launcher.close());
    const c = await launcher.get();
    const pid = await pidOf(c);
    const bystander = c.call('fault.ignore'); // pending, unrelated to the fault
    const crashes: RuntimeCrashedError[] = [];
    c.onCrash((e) => crashes.push(e));
    const t0 = performance.now();
    const isProtocolError = (e: unknown) => e instanceof RuntimeProtocolError && expected.test(e.message);
    await assert.rejects(c.call(fault), isProtocolError);
    const detectedMs = performance.now() - t0;
    await assert.rejects(bystander, isProtocolError);
    assert.equal(crashes.length, 1, 'crash listeners hear it once');
    assert.ok(detectedMs < 1000, `found in ${detectedMs.toFixed(0)} ms, not after a deadline`);
    t.diagnostic(`${fault} detected in ${detectedMs.toFixed(1)} ms`);
    await restartsCleanly(launcher, c, pid);
  });
}

// ---- a child that stops answering ---------------------------------------------------------

test('a child that stops itself (SIGSTOP) instead of answering is reported as not answering, killed, and replaced', { timeout: 30_000 }, async (t: TestContext) => {
  const launcher = fakeLauncher();
  t.after(() => launcher.close());
  const c = await launcher.get();
  const pid = await pidOf(c);
  const t0 = performance.now();
  await assert.rejects(c.call('fault.stop'), (e: unknown) => e instanceof RuntimeHungError && /stopped answering \(no reply in (1\.5|3) s/.test(e.message));
  const detectedMs = performance.now() - t0;
  // the probe (after 0.3 s quiet, 1.5 s to answer) or the 3 s request deadline, whichever first
  assert.ok(detectedMs >= 1500 && detectedMs < 10_000, `detected after ${detectedMs.toFixed(0)} ms`);
  t.diagnostic(`SIGSTOP during a request detected in ${detectedMs.toFixed(0)} ms`);
  await restartsCleanly(launcher, c, pid);
});

test('a child stopped (SIGSTOP) while a silent job runs is found by the probe; a new job then runs', { timeout: 30_000 }, async (t: TestContext) => {
  const launcher = fakeLauncher();
  t.after(() => launcher.close());
  const c = await launcher.get();
  const pid = await pidOf(c);
  const job = c.runJob(fakeJob, { ms: 60_000 });
  await new Promise((r) => setTimeout(r, 100)); // the job has started; no request is pending
  process.kill(pid, 'SIGSTOP');
  const t0 = performance.now();
  await assert.rejects(job, (e: unknown) => e instanceof RuntimeHungError && /no reply in 1\.5 s while waiting for any answer or progress/.test(e.message));
  const detectedMs = performance.now() - t0;
  assert.ok(detectedMs >= 1500 && detectedMs < 10_000, `detected after ${detectedMs.toFixed(0)} ms`);
  t.diagnostic(`SIGSTOP during a silent job detected in ${detectedMs.toFixed(0)} ms`);
  await restartsCleanly(launcher, c, pid);
  const fresh = await launcher.get();
  assert.deepEqual(await fresh.runJob(fakeJob, { ms: 50 }), { pid: await pidOf(fresh) });
});

test('a healthy job that sends no progress for many quiet periods is not killed: it answers the probes', { timeout: 30_000 }, async (t: TestContext) => {
  const launcher = fakeLauncher();
  t.after(() => launcher.close());
  const c = await launcher.get();
  // 4 s of silence = 13 quiet periods and well over the 1.5 s probe deadline and 3 s request deadline
  assert.deepEqual(await c.runJob(fakeJob, { ms: 4000 }), { pid: await pidOf(c) });
  let progress = 0;
  await c.runJob(fakeJob, { ms: 1000, progressEveryMs: 100 }, { onProgress: () => progress++ });
  assert.ok(progress >= 5, `progress heard ${progress} times`);
  assert.equal(c.crash, null);
});

test('a crash rejects the job with the exit code and stderr; the launcher starts a new child for the next job', { timeout: 30_000 }, async (t: TestContext) => {
  const launcher = fakeLauncher();
  t.after(() => launcher.close());
  const c = await launcher.get();
  const pid = await pidOf(c);
  const job = c.runJob(fakeJob, { ms: 60_000 });
  await new Promise((r) => setTimeout(r, 100));
  void c.call('fault.crash').catch(() => undefined);
  await assert.rejects(job, (e: unknown) => e instanceof RuntimeCrashedError && e.code === 3 && /exit code 3.*crashed on purpose/.test(e.message));
  await restartsCleanly(launcher, c, pid);
  const fresh = await launcher.get();
  assert.deepEqual(await fresh.runJob(fakeJob, { ms: 50 }), { pid: await pidOf(fresh) });
});

// ---- the real Python runtime -------------------------------------------------------------

test('the real runtime: stopped (SIGSTOP) then killed (SIGKILL), each time the launcher brings up a new one that answers', { timeout: 120_000 }, async (t: TestContext) => {
  // The first answer waits for Python to import torch (seconds): startupMs covers that.
  const deadlines: Partial<RuntimeDeadlines> = { requestMs: 3000, quietMs: 300, probeMs: 1500, startupMs: 90_000 };
  const launcher = new RuntimeLauncher((opts) => RuntimeClient.launch({ ...opts, deadlines }));
  t.after(() => launcher.close());

  const first = await launcher.get();
  assert.equal((await first.info()).protocol_version, 1);
  const firstPid = first.pid!;
  process.kill(firstPid, 'SIGSTOP');
  const t0 = performance.now();
  await assert.rejects(first.info(), (e: unknown) => e instanceof RuntimeHungError && /stopped answering/.test(e.message));
  t.diagnostic(`real runtime: SIGSTOP detected in ${(performance.now() - t0).toFixed(0)} ms`);
  await waitGone(firstPid);

  const second = await launcher.get();
  assert.notEqual(second, first);
  assert.equal((await second.info()).protocol_version, 1);
  const secondPid = second.pid!;
  process.kill(secondPid, 'SIGKILL');
  await assert.rejects(second.info(), (e: unknown) => e instanceof RuntimeCrashedError && e.signal === 'SIGKILL');

  const third = await launcher.get();
  assert.notEqual(third, second);
  assert.notEqual(third.pid, secondPid);
  assert.equal((await third.info()).protocol_version, 1);
});
