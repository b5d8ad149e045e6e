/**
 * `npm run node -- --package <dir|archive> --listen AE@port --send-to <destination>`: the
 * headless DICOM node as a foreground process, for a service manager (systemd, Windows
 * services via a wrapper, a container). Runtime: node, no Electron, no display.
 *
 * Exit codes: 0 after SIGTERM/SIGINT (graceful: running series finish), 1 when the node cannot
 * go on (the SCP died, the port is taken), 2 for a bad command line or a refused package.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PackageError } from '../services/models/model-package.node.js';
import { DicomNode } from './dicom-node.node.js';
import { nodeLog } from './node-log.js';
import { OptionsError, parseNodeArgs } from './node-options.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function main(): Promise<number> {
  let options;
  try {
    options = parseNodeArgs(process.argv.slice(2), process.env, (f) => readFileSync(f, 'utf8'));
  } catch (e) {
    if (e instanceof OptionsError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const log = nodeLog(options.logFile);
  const appVersion = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  let fatal: (why: string) => void = () => undefined;
  const died = new Promise<string>((r) => (fatal = r));
  let node: DicomNode;
  try {
    node = await DicomNode.start({ options, log, appVersion, onFatal: (why) => fatal(why) });
  } catch (e) {
    const refused = e instanceof PackageError;
    log(refused ? 'package_refused' : 'start_failed', { message: (e as Error).message });
    return refused ? 2 : 1;
  }
  const signalled = new Promise<string>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve(sig));
  });
  const why = await Promise.race([signalled.then((s) => ({ signal: s })), died.then((m) => ({ fatal: m }))]);
  log('stopping', 'signal' in why ? { signal: why.signal } : { message: why.fatal });
  await node.stop();
  return 'signal' in why ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${JSON.stringify({ at: new Date().toISOString(), event: 'crashed', message: (e as Error).stack ?? String(e) })}\n`);
    process.exit(1);
  },
);
