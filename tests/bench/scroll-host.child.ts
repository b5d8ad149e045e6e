/**
 * The browser host for the scroll benchmark, in a process of its own (as the real host is,
 * apart from the page that scrolls): opens the project named on the command line with the
 * decoder named after it, prints {"origin","token"} on one line, and serves until its
 * standard input closes; then prints its event-loop delay while it served and exits.
 *
 *   node --import tsx tests/bench/scroll-host.child.ts <project> <in-process | pool:N>
 *
 * Runtime: Node (bench only).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startHost } from '../../electron/host/server.ts';
import { DecodePool } from '../../electron/services/imaging/decode-pool.node.ts';
import { InProcessDecoder } from '../../electron/services/imaging/frame-job.node.ts';
import { createServices } from '../../electron/services/index.ts';

const [project, spec] = process.argv.slice(2);
const workers = /^pool:(\d+)$/.exec(spec ?? '')?.[1];
if (!project || (spec !== 'in-process' && workers === undefined)) throw new Error(`usage: scroll-host.child.ts <project> <in-process | pool:N>, got ${spec}`);
const decoder = workers === undefined ? new InProcessDecoder() : new DecodePool({ workers: Number(workers) });
const services = createServices({ user: 'bench', transport: 'browser', version: 'bench', decoder });
services['project.open']({ path: project });
const host = await startHost({ handlers: services });
// Wait for the workers to be up, as they would be by the time a person scrolls.
if (decoder instanceof DecodePool) decoder.warm();
await new Promise((r) => setTimeout(r, 1500));
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
process.stdout.write(`${JSON.stringify({ origin: host.origin, token: host.token })}\n`);

process.stdin.resume();
process.stdin.on('end', () => {
  delay.disable();
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  process.stdout.write(`${JSON.stringify({ loopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) } })}\n`);
  void host
    .close()
    .then(() => services.close())
    .then(() => (decoder instanceof DecodePool ? decoder.close() : undefined))
    .finally(() => process.exit(0));
});
