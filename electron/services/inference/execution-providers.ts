/**
 * Which onnxruntime execution provider runs SAM: the best one this machine has, else the CPU.
 * Runtime: pure (the session factory is passed in).
 *
 * onnxruntime-node does not fall back on its own: a session asked for ['cuda', 'cpu'] fails
 * outright when the CUDA libraries cannot be loaded. So each candidate is tried alone (with
 * the CPU behind it for the operators it lacks), in order, and the first session that can be
 * created wins. A provider that failed to load is remembered for the process, so later
 * sessions do not pay for the failure again, and its reason is what the UI shows.
 *
 * DELINEATE_EXECUTION_PROVIDER=cpu (or cuda, dml, coreml) forces one; 'auto' or unset tries
 * the platform's list.
 */

export type ExecutionProvider = 'cuda' | 'dml' | 'coreml' | 'cpu';

const BY_PLATFORM: Partial<Record<NodeJS.Platform, ExecutionProvider[]>> = {
  linux: ['cuda'],
  win32: ['cuda', 'dml'],
  darwin: ['coreml'],
};

const KNOWN: readonly ExecutionProvider[] = ['cuda', 'dml', 'coreml', 'cpu'];

/** Providers to try, best first, always ending with the CPU. */
export function providerCandidates(platform: NodeJS.Platform, forced?: string): ExecutionProvider[] {
  const f = forced?.trim().toLowerCase();
  if (f && f !== 'auto') {
    if (!KNOWN.includes(f as ExecutionProvider)) throw new Error(`DELINEATE_EXECUTION_PROVIDER=${forced}: not one of auto, ${KNOWN.join(', ')}`);
    return f === 'cpu' ? ['cpu'] : [f as ExecutionProvider, 'cpu'];
  }
  return [...(BY_PLATFORM[platform] ?? []), 'cpu'];
}

/** What runs a session, and why better providers were passed over. */
export interface ProviderChoice {
  provider: ExecutionProvider;
  skipped: { provider: ExecutionProvider; reason: string }[];
}

/** A provider as people call it: CPU, CUDA, DirectML, Core ML. */
export function providerName(p: ExecutionProvider): string {
  return p === 'dml' ? 'DirectML' : p === 'coreml' ? 'Core ML' : p.toUpperCase();
}

/** One line for the UI: "CPU", or "CPU (CUDA not available: ...)". */
export function describeChoice(c: ProviderChoice): string {
  if (c.skipped.length === 0) return providerName(c.provider);
  return `${providerName(c.provider)} (${c.skipped.map((s) => `${providerName(s.provider)} not available: ${s.reason}`).join('; ')})`;
}

/**
 * Create with the first provider that works. `unavailable` holds the providers that failed
 * before in this process (and why); they are skipped without trying. A failure is remembered
 * only once a later provider ran the same model, so a broken model file does not mark CUDA
 * as missing; the CPU's own failure is the caller's error.
 */
export async function createWithFallback<T>(
  candidates: readonly ExecutionProvider[],
  create: (provider: ExecutionProvider) => Promise<T>,
  unavailable: Map<ExecutionProvider, string>,
): Promise<{ value: T; choice: ProviderChoice }> {
  const skipped: ProviderChoice['skipped'] = [];
  const failedNow: ProviderChoice['skipped'] = [];
  let last: unknown = new Error('no execution provider to try');
  for (const provider of candidates) {
    const known = unavailable.get(provider);
    if (known !== undefined) {
      skipped.push({ provider, reason: known });
      continue;
    }
    try {
      const value = await create(provider);
      for (const f of failedNow) unavailable.set(f.provider, f.reason);
      return { value, choice: { provider, skipped } };
    } catch (e) {
      last = e;
      const reason = firstLine(e instanceof Error ? e.message : String(e));
      failedNow.push({ provider, reason });
      skipped.push({ provider, reason });
    }
  }
  throw last;
}

function firstLine(s: string): string {
  const line = s.split('\n')[0]!.trim();
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}
