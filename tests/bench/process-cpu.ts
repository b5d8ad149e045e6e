/**
 * CPU time by process while a bench pass runs: this Node process (host, services, Playwright)
 * and each Chromium process by its type (renderer, GPU, network...), read from /proc. Tells
 * where the milliseconds of a slice go when the whole machine is the bottleneck.
 *
 * Linux only; elsewhere `snapshot` returns an empty map and the report is empty.
 *
 * Runtime: Node (bench only).
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU ms so far per process kind, for `root` and all its descendants. */
export function snapshot(root: number): Map<string, number> {
  const out = new Map<string, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  const parent = new Map<number, number>();
  const info = new Map<number, { ms: number; kind: string }>();
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime + stime
      // Chromium's zygote children rewrite their title: one string with spaces, not NUL-separated.
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split(/[\0 ]/);
      const type = cmd.find((a) => a.startsWith('--type='))?.slice(7);
      const sub = cmd.find((a) => a.startsWith('--utility-sub-type='))?.slice(19).split('.')[0];
      const exe = cmd[0]?.split('/').pop() ?? '?';
      const kind = type ? `chromium:${type}${sub ? `:${sub}` : ''}` : exe.includes('chrom') ? 'chromium:browser' : exe;
      parent.set(Number(p), Number(fields[1]));
      info.set(Number(p), { ms, kind });
    } catch {
      // the process ended while we read it
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; p = parent.get(p) ?? 0, hops++) if (p === root) return true;
    return false;
  };
  for (const [pid, { ms, kind }] of info) {
    if (!inTree(pid)) continue;
    const k = pid === root ? 'node (host, services, bench)' : kind;
    out.set(k, (out.get(k) ?? 0) + ms);
  }
  return out;
}

/** CPU ms spent per process kind between two snapshots, divided by `per` (e.g. slices). */
export function spent(before: Map<string, number>, after: Map<string, number>, per = 1): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = (v - (before.get(k) ?? 0)) / per;
    if (d > 0) out[k] = Math.round(d * 10) / 10;
  }
  return out;
}
