/**
 * Training on a server over SSH, against a throwaway sshd on 127.0.0.1 started here (Debian's
 * openssh-server, a fresh host key and user key): the runtime's source is copied there, its
 * environment found by the same ensure_env.py, the snapshot copied, the run made there over the
 * same stdio JSON-RPC, and the model copied back, gated and activated here. A host that refuses
 * the key fails with ssh's own words, and nothing is installed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { JobInfo, TrainingHost } from '../../../electron/contract/training.js';
import { retrainProject, type RetrainProject } from './retrain-harness.js';

let tmp: string;
let sshd: ChildProcess;
let port: number;
let p: RetrainProject;
let host: Extract<TrainingHost, { kind: 'ssh' }>;
let sshdLog = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address() as net.AddressInfo;
      srv.close(() => resolve(a.port));
    });
    srv.on('error', reject);
  });
}

async function waitListening(p: number, ms: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(p, '127.0.0.1', () => {
        s.end();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() - t0 > ms) throw new Error(`sshd did not listen on ${p}: ${sshdLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ssh-host-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'user_key')]);
  execFileSync('cp', [path.join(tmp, 'user_key.pub'), path.join(tmp, 'authorized_keys')]);
  mkdirSync('/run/sshd', { recursive: true }); // privilege separation directory sshd insists on
  port = await freePort();
  const user = os.userInfo().username;
  writeFileSync(
    path.join(tmp, 'sshd_config'),
    [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${path.join(tmp, 'host_key')}`, `PidFile ${path.join(tmp, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(tmp, 'authorized_keys')}`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
      'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password', `AllowUsers ${user}`, 'LogLevel VERBOSE',
    ].join('\n') + '\n',
  );
  sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(tmp, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  sshd.stderr!.setEncoding('utf8').on('data', (s: string) => (sshdLog = (sshdLog + s).slice(-20_000)));
  await waitListening(port, 10_000);
  host = {
    kind: 'ssh', host: '127.0.0.1', port, user,
    identityFile: path.join(tmp, 'user_key'), knownHostsFile: path.join(tmp, 'known_hosts'),
    remoteDir: path.join(tmp, 'server'), python: 'python3',
  };
  p = await retrainProject({ patients: 6, slices: 4 });
});

after(async () => {
  await p?.s.close();
  sshd?.kill('SIGTERM');
  if (p) rmSync(p.dir, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

async function finish(jobId: string): Promise<JobInfo> {
  for (;;) {
    const j = await p.s['jobs.get']({ jobId });
    if (!['running', 'cancelling'].includes(j.state)) return j;
    await new Promise((r) => setTimeout(r, 300));
  }
}

test('a key the server does not know: the run fails with ssh\'s message and installs nothing', { timeout: 120_000 }, async () => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'stranger_key')]);
  const modelsBefore = (await p.s['models.list']({})).models.length;
  const { jobId } = await p.s['training.start']({ settings: { preset: 'decoder', epochs: 5, host: { ...host, identityFile: path.join(tmp, 'stranger_key') } } });
  const j = await finish(jobId);
  assert.equal(j.state, 'failed');
  assert.equal(j.error?.code, 'ssh_failed');
  assert.match(j.error!.message, /Permission denied/);
  assert.match(j.error!.message, new RegExp(`127\\.0\\.0\\.1:${port}`), 'names the host');
  assert.equal((await p.s['models.list']({})).models.length, modelsBefore);
});

test('the same run completes on the SSH host: runtime copied, trained there, model back here, gated and active', { timeout: 20 * 60_000 }, async () => {
  const { jobId } = await p.s['training.start']({ settings: { preset: 'decoder', epochs: 60, host } });
  const j = await finish(jobId);
  assert.equal(j.state, 'succeeded', `${j.error?.message}\nsshd: ${sshdLog.slice(-2000)}`);
  const o = j.outcome!;
  assert.ok(o.gate.after - o.gate.before >= 0.3, `validation Dice ${o.gate.before} -> ${o.gate.after}`);
  assert.equal(o.activated, true, o.gate.reason);
  assert.equal((await p.s['models.list']({})).activeId, o.modelId);
  // It ran there: the run's checkpoints are in the server's folder, not in the project.
  const server = host.remoteDir;
  assert.ok(readdirSync(server).some((n) => /^runtime-[0-9a-f]{12}$/.test(n)), 'the runtime was copied to the server');
  assert.ok(existsSync(path.join(server, 'runs', jobId, 'run', 'run.json')), 'the run was made on the server');
  assert.ok(!existsSync(path.join(server, 'runs', jobId, 'run', 'checkpoints')), 'and its checkpoints dropped there once the model is back');
  assert.ok(existsSync(path.join(server, 'datasets', o.datasetHash, 'annotations.json')), 'the snapshot on the server');
  assert.ok(!existsSync(path.join(p.dir, 'proj', 'training', jobId, 'run')), 'no training run in the project folder');
  assert.match(sshdLog, /Accepted publickey/);
});
