/**
 * The storage SCP process seen from the node: python-runtime/delineate_dicom/scp.py started in
 * the light DICOM environment (the same one the app's export uses, found the same way), its
 * stdout events checked and handed on. Runtime: node.
 *
 * Its stdin is a pipe that the node never writes: when the node dies (even by SIGKILL), the
 * pipe closes and the SCP stops, so no orphan keeps the DICOM port from a restarted node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runtimeEnv, runtimeRoot } from '../services/runtime/python-path.node.js';
import { parseScpLine, type ScpEvent } from './scp-events.js';

export interface ScpConfig {
  aeTitle: string;
  host: string;
  port: number;
  spool: string;
  /** Below this much free space in the spool, instances are refused (0xA700) until there is room. */
  minFreeBytes: number;
  /** Calling AE titles allowed to associate (--allow-ae); empty: any. */
  allowCallingAes?: readonly string[];
}

export interface RunningScp {
  port: number;
  /** Resolves when the process has exited (after stop(), or by itself: then `exitReason` says why). */
  exited: Promise<string>;
  stop(): Promise<void>;
}

export async function startScp(python: string, cfg: ScpConfig, stateDir: string, on: { event: (e: ScpEvent) => void; problem: (m: string) => void }): Promise<RunningScp> {
  const configFile = path.join(stateDir, 'scp.json');
  writeFileSync(configFile, JSON.stringify({ ae_title: cfg.aeTitle, host: cfg.host, port: cfg.port, spool: cfg.spool, min_free_bytes: cfg.minFreeBytes, allow_calling_aes: [...(cfg.allowCallingAes ?? [])] }));
  const child: ChildProcess = spawn(python, ['-m', 'delineate_dicom.scp', configFile], {
    cwd: runtimeRoot(),
    env: { ...process.env, ...runtimeEnv(), PYTHONUNBUFFERED: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
  const exited = new Promise<string>((resolve) => {
    child.on('exit', (code, signal) => resolve(`the storage SCP exited (${signal ?? `code ${code}`})${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
    child.on('error', (e) => resolve(`the storage SCP could not start (${e.message})`));
  });
  let partial = '';
  let listening: (port: number) => void = () => undefined;
  const ready = new Promise<number>((resolve) => (listening = resolve));
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    const lines = (partial + s).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      const r = parseScpLine(line);
      if (!r.ok) on.problem(r.problem);
      else if (r.event.event === 'listening') listening(r.event.port);
      else on.event(r.event);
    }
  });
  const port = await Promise.race([ready, exited.then((why) => Promise.reject(new Error(why)))]);
  return {
    port,
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
