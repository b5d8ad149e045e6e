/**
 * The viewer's requests while a person spins the wheel through a series nobody has looked
 * at yet, sent to a real browser host: the renderer's own prefetch schedule
 * (renderer/src/lib/prefetcher.ts), its one-on-demand-fetch-at-a-time rule (Viewport.svelte
 * `show`), Chromium's six connections per host, and one slice change every 1/60 s from the
 * moment the first slice is on screen.
 *
 * A slice counts as drawn when its pixels arrived before the next wheel event replaced it,
 * as in the viewer (a slice still loading when the next is asked for is skipped). Drawing
 * itself is not modelled: this measures what the host and the transport allow.
 *
 * Meanwhile a probe asks every 50 ms for the first slice (decoded long before) over a
 * connection of its own: how long a request that needs no decoding waits behind those that do.
 *
 * Runtime: Node (bench only).
 */
import http from 'node:http';
import type { DelineateApi } from '../../electron/contract/api.ts';
import type { StackItem } from '../../renderer/src/lib/grouping.ts';
import { Prefetcher } from '../../renderer/src/lib/prefetcher.ts';
import { createHttpApi } from '../../renderer/src/transport/http-client.ts';

/** fetch over a node:http agent, so the number of connections per host can be capped like a browser's. */
function agentFetch(agent: http.Agent): typeof fetch {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const req = http.request(String(input), { method: init?.method ?? 'GET', headers: init?.headers as http.OutgoingHttpHeaders, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500 })));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(init?.body === undefined ? undefined : Buffer.from(init.body as Uint8Array));
    });
}

export function browserLikeApi(origin: string, token: string, connections: number): { api: DelineateApi; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  return { api: createHttpApi({ baseUrl: origin, token, fetch: agentFetch(agent) }), close: () => agent.destroy() };
}

export interface WheelResult {
  slices: number;
  eventsPerSecond: number;
  /** Time to the first slice of the series (ms). */
  firstSliceMs: number;
  drawn: number;
  /** Slice indexes (1-based wheel steps) passed over without being drawn. */
  skipped: number[];
  /** Per image.pixels request, from sending it to having its pixels (ms). */
  requestMs: number[];
  /** The probe's latencies (ms). */
  cachedProbeMs: number[];
  /** Requests that failed (the first reason of each kind). */
  errors: string[];
}

const key = (it: StackItem): string => `${it.imageId}:${it.frame}`;

export async function wheelThroughCold(api: DelineateApi, probeApi: DelineateApi, stack: readonly StackItem[], eventsPerSecond = 60): Promise<WheelResult> {
  const arrived = new Map<string, number>();
  const requested = new Map<string, Promise<void>>();
  const requestMs: number[] = [];
  const errors: string[] = [];
  const failed = (e: unknown): void => {
    const why = e instanceof Error ? e.message : String(e);
    if (!errors.includes(why)) errors.push(why);
  };
  const load = (it: StackItem): Promise<void> => {
    const k = key(it);
    let p = requested.get(k);
    if (!p) {
      const t0 = performance.now();
      p = api.call('image.pixels', it).then(() => {
        const t = performance.now();
        arrived.set(k, t);
        requestMs.push(t - t0);
      });
      requested.set(k, p);
    }
    return p;
  };
  const prefetcher = new Prefetcher<StackItem>({ load: (it) => load(it).catch(failed), isRequested: (it) => requested.has(key(it)) });

  // The viewer's on-demand rule: one fetch for a slice nobody asked for yet; newer ones wait, newest wins.
  let onDemand = false;
  let queued: StackItem | null = null;
  const show = (it: StackItem, index: number): void => {
    prefetcher.around(stack, index, 1, true);
    if (requested.has(key(it))) return;
    if (onDemand) {
      queued = it;
      return;
    }
    queued = null;
    onDemand = true;
    void load(it)
      .catch(failed)
      .finally(() => {
        onDemand = false;
        const q = queued as StackItem | null;
        queued = null;
        if (q) show(q, stack.indexOf(q));
      });
  };

  const opened = performance.now();
  await load(stack[0]!);
  const firstSliceMs = performance.now() - opened;
  prefetcher.reset();
  prefetcher.around(stack, 0, 1, false);

  const cachedProbeMs: number[] = [];
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const t0 = performance.now();
      try {
        await probeApi.call('image.pixels', stack[0]!);
        cachedProbeMs.push(performance.now() - t0);
      } catch (e) {
        failed(e);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

  const period = 1000 / eventsPerSecond;
  const start = performance.now();
  const due: number[] = [start];
  for (let i = 1; i < stack.length; i++) {
    due[i] = start + i * period;
    const wait = due[i]! - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    show(stack[i]!, i);
  }
  const wall = performance.now() - start;
  // The last slice stays on screen: it counts as drawn if it comes within a second.
  due[stack.length] = due[stack.length - 1]! + 1000;
  await Promise.race([Promise.allSettled([...requested.values()]), new Promise((r) => setTimeout(r, 30_000))]);
  probing = false;
  await probe;
  prefetcher.reset();

  const skipped: number[] = [];
  for (let i = 1; i < stack.length; i++) {
    const t = arrived.get(key(stack[i]!));
    if (t === undefined || t > due[i + 1]!) skipped.push(i);
  }
  return {
    slices: stack.length,
    eventsPerSecond: Math.round(((stack.length - 1) / wall) * 1000),
    firstSliceMs,
    drawn: stack.length - 1 - skipped.length,
    skipped,
    requestMs,
    cachedProbeMs,
    errors,
  };
}
