/**
 * The headless node's command line, parsed and checked: every flag, its default, and a
 * sentence naming the flag when a value is wrong. Runtime: pure.
 */
import os from 'node:os';
import { z } from 'zod';
import type { PacsDestination } from '../services/dicom-export/pacs.node.js';

export interface NodeOptions {
  /** Model package: a folder or a .tar archive (verified before anything is served). */
  packagePath: string;
  listen: { aeTitle: string; host: string; port: number };
  sendTo: PacsDestination;
  /** Where the queue database, received instances and written SEGs live. */
  stateDir: string;
  /** A series is complete when no instance of it arrived for this long. */
  idleSeconds: number;
  /** Series segmented at the same time. */
  workers: number;
  /** onnxruntime threads per worker. */
  threadsPerWorker: number;
  /** Failed series are tried again this many times (then left failed, with the reason logged). */
  maxAttempts: number;
  /** Health and metrics on 127.0.0.1:<port> (0: any free port, printed in the log); null: off. */
  httpPort: number | null;
  /** Bearer token the HTTP endpoints require. */
  token: string | null;
  /** Accepted modalities (upper case); empty: the package's training modalities, else any. */
  modalities: string[];
  /** Accepted image sizes (rows and columns), inclusive. */
  minSize: number;
  maxSize: number;
  variant: 'auto' | 'int8' | 'fp32';
  /** Log file (one JSON line per event); null: stderr. */
  logFile: string | null;
  /** A series with more instances, or more bytes, is skipped (memory and time stay bounded). */
  maxInstances: number;
  maxSeriesBytes: number;
  /** The SCP refuses instances (0xA700) while the spool's disk has less free than this. */
  minFreeBytes: number;
  /** Received instances and SEGs of series processed this many days ago are deleted; 0: kept forever. */
  keepDays: number;
  /** On SIGTERM, how long running series may finish before they are aborted (and queued again). */
  drainSeconds: number;
  /** Calling AE titles allowed to send to the node; empty: any. */
  allowAes: string[];
}

/** Tries per series before it is left failed (--attempts). */
export const DEFAULT_MAX_ATTEMPTS = 3;

export class OptionsError extends Error {
  override name = 'OptionsError';
}

export const USAGE = `npm run node -- --package <folder|archive.tar> --listen AE@port --send-to <destination> [options]

  --package PATH        the model package (folder or .tar), verified file by file at start
  --listen AE@[HOST:]PORT  the node's AE title and DICOM port (host 0.0.0.0 unless given)
  --send-to DEST        where SEGs go: AE@host:port (C-STORE) or http(s)://.../dicom-web (STOW-RS)
  --calling-ae AE       our AE title when sending (default: the --listen AE title)
  --dicomweb-user U     basic auth for STOW-RS; the password from DELINEATE_NODE_DICOMWEB_PASSWORD
  --state DIR           queue database, received instances, SEGs (default ./delineate-node)
  --idle SECONDS        a series is complete after this long without a new instance (default 30)
  --workers N           series segmented at once (default: cores / 4, at least 1)
  --threads N           onnxruntime threads per worker (default: cores / workers)
  --attempts N          tries per series before it is left failed (default 3)
  --http-port PORT      health and metrics on 127.0.0.1:PORT (0: a free port); off when absent
  --token-file FILE     the bearer token for HTTP (or DELINEATE_NODE_TOKEN); required with --http-port
  --modality CT[,MR]    accepted modalities (default: the package's training modalities, else any)
  --min-size N / --max-size N   accepted rows and columns (default 64 / 4096)
  --variant auto|int8|fp32      model variant (default auto: int8 where it measured up)
  --max-instances N     skip a series of more instances than this (default 2000)
  --max-series-mb N     skip a series of more megabytes than this (default 2048)
  --min-free-mb N       refuse instances (0xA700) while the spool's disk has less free (default 1024)
  --keep-days N         delete received instances and SEGs N days after their series was
                        processed, checked at start and hourly (default 7; 0: keep forever)
  --drain-s SECONDS     on SIGTERM, wait this long for running series, then abort them; they
                        are queued again for the next start (default 120; 0: abort at once)
  --allow-ae AE1[,AE2]  accept associations only from these calling AE titles (default: any)
  --log FILE            append the log there instead of stderr`;

const AE = z
  .string()
  .min(1)
  .max(16)
  .regex(/^[\x20-\x5b\x5d-\x7e]+$/, 'printable characters, no backslash')
  .refine((s) => s.trim().length > 0, 'not blank');
const Port = z.coerce.number().int().min(1).max(65535);

function parseListen(v: string): NodeOptions['listen'] {
  const m = /^([^@]+)@(?:([^:@]+):)?(\d+)$/.exec(v);
  if (!m) throw new OptionsError(`--listen ${v}: expected AE@port or AE@host:port (e.g. DLNODE@11112)`);
  const ae = AE.safeParse(m[1]);
  if (!ae.success) throw new OptionsError(`--listen ${v}: the AE title ${ae.error.issues[0]!.message}`);
  const port = Port.safeParse(m[3]);
  if (!port.success) throw new OptionsError(`--listen ${v}: the port must be 1-65535`);
  return { aeTitle: ae.data, host: m[2] ?? '0.0.0.0', port: port.data };
}

function parseDestination(v: string, callingAe: string, dicomwebUser: string | null, env: NodeJS.ProcessEnv): PacsDestination {
  if (/^https?:\/\//i.test(v)) {
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      throw new OptionsError(`--send-to ${v}: not a valid URL`);
    }
    const password = env.DELINEATE_NODE_DICOMWEB_PASSWORD;
    if (dicomwebUser && !password) throw new OptionsError('--dicomweb-user needs the password in DELINEATE_NODE_DICOMWEB_PASSWORD');
    const bearer = env.DELINEATE_NODE_DICOMWEB_TOKEN;
    return {
      kind: 'dicomweb',
      baseUrl: url.toString().replace(/\/$/, ''),
      auth: dicomwebUser ? { kind: 'basic', user: dicomwebUser, password: password! } : bearer ? { kind: 'bearer', token: bearer } : { kind: 'none' },
    };
  }
  const m = /^([^@]+)@([^:@]+):(\d+)$/.exec(v);
  if (!m) throw new OptionsError(`--send-to ${v}: expected AE@host:port (C-STORE) or an http(s):// DICOMweb base URL (STOW-RS)`);
  const ae = AE.safeParse(m[1]);
  if (!ae.success) throw new OptionsError(`--send-to ${v}: the AE title ${ae.error.issues[0]!.message}`);
  const port = Port.safeParse(m[3]);
  if (!port.success) throw new OptionsError(`--send-to ${v}: the port must be 1-65535`);
  return { kind: 'dimse', aeTitle: ae.data, host: m[2]!, port: port.data, callingAeTitle: callingAe };
}

const MB = 1024 * 1024;

function positiveInt(flag: string, v: string | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new OptionsError(`${flag} ${v}: expected a whole number >= ${min}`);
  return n;
}

/** argv (without node and the script) and the environment -> options, or an OptionsError naming the flag. */
export function parseNodeArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, readFile: (f: string) => string = () => ''): NodeOptions {
  if (argv.includes('--help') || argv.includes('-h')) throw new OptionsError(USAGE);
  const flags = new Map<string, string>();
  const known = new Set(['package', 'listen', 'send-to', 'calling-ae', 'dicomweb-user', 'state', 'idle', 'workers', 'threads', 'attempts', 'http-port', 'token-file', 'modality', 'min-size', 'max-size', 'variant', 'log', 'max-instances', 'max-series-mb', 'min-free-mb', 'keep-days', 'drain-s', 'allow-ae']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m || !known.has(m[1]!)) throw new OptionsError(`unknown argument ${a}\n\n${USAGE}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new OptionsError(`--${m[1]} needs a value`);
    flags.set(m[1]!, value);
  }
  for (const required of ['package', 'listen', 'send-to']) if (!flags.has(required)) throw new OptionsError(`--${required} is required\n\n${USAGE}`);
  const listen = parseListen(flags.get('listen')!);
  const calling = flags.get('calling-ae') ?? listen.aeTitle;
  if (!AE.safeParse(calling).success) throw new OptionsError(`--calling-ae ${calling}: not a valid AE title`);
  const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  // Each worker runs a whole encoder at a time; a few threads each keep the cores busy
  // without the workers fighting over them.
  const workers = positiveInt('--workers', flags.get('workers'), Math.max(1, Math.floor(cores / 4)));
  const threads = positiveInt('--threads', flags.get('threads'), Math.max(1, Math.floor(cores / workers)));
  const idle = Number(flags.get('idle') ?? 30);
  if (!(idle > 0 && idle <= 86_400)) throw new OptionsError(`--idle ${flags.get('idle')}: expected seconds, more than 0`);
  const httpPort = flags.has('http-port') ? positiveInt('--http-port', flags.get('http-port'), 0, 0) : null;
  if (httpPort !== null && httpPort > 65535) throw new OptionsError(`--http-port ${httpPort}: the port must be 0-65535`);
  let token = env.DELINEATE_NODE_TOKEN ?? null;
  if (flags.has('token-file')) {
    const f = flags.get('token-file')!;
    try {
      token = readFile(f).trim();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new OptionsError(`--token-file ${f}: cannot be read (${err.code ?? err.message})`);
    }
  }
  if (httpPort !== null && (!token || token.length < 16)) throw new OptionsError('--http-port needs a token of at least 16 characters (--token-file FILE or DELINEATE_NODE_TOKEN)');
  const variant = flags.get('variant') ?? 'auto';
  if (variant !== 'auto' && variant !== 'int8' && variant !== 'fp32') throw new OptionsError(`--variant ${variant}: expected auto, int8 or fp32`);
  const minSize = positiveInt('--min-size', flags.get('min-size'), 64);
  const maxSize = positiveInt('--max-size', flags.get('max-size'), 4096);
  if (minSize > maxSize) throw new OptionsError(`--min-size ${minSize} is larger than --max-size ${maxSize}`);
  const allowAes = flags.has('allow-ae') ? flags.get('allow-ae')!.split(',').map((s) => s.trim()) : [];
  for (const a of allowAes) {
    const ae = AE.safeParse(a);
    if (!ae.success) throw new OptionsError(`--allow-ae ${flags.get('allow-ae')}: the AE title ${JSON.stringify(a)} ${ae.error.issues[0]!.message}`);
  }
  return {
    packagePath: flags.get('package')!,
    listen,
    sendTo: parseDestination(flags.get('send-to')!, calling, flags.get('dicomweb-user') ?? null, env),
    stateDir: flags.get('state') ?? 'delineate-node',
    idleSeconds: idle,
    workers,
    threadsPerWorker: threads,
    maxAttempts: positiveInt('--attempts', flags.get('attempts'), DEFAULT_MAX_ATTEMPTS),
    httpPort,
    token,
    modalities: (flags.get('modality') ?? '').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean),
    minSize,
    maxSize,
    variant,
    logFile: flags.get('log') ?? null,
    maxInstances: positiveInt('--max-instances', flags.get('max-instances'), 2000),
    maxSeriesBytes: positiveInt('--max-series-mb', flags.get('max-series-mb'), 2048) * MB,
    minFreeBytes: positiveInt('--min-free-mb', flags.get('min-free-mb'), 1024, 0) * MB,
    keepDays: positiveInt('--keep-days', flags.get('keep-days'), 7, 0),
    drainSeconds: positiveInt('--drain-s', flags.get('drain-s'), 120, 0),
    allowAes,
  };
}
