/**
 * One Node <-> Python contract: the committed TypeScript types are what the runtime's own
 * schema generates today (a changed Python method, param or result fails here until
 * `npx tsx scripts/gen-runtime-contract.ts` is run), and every method the app sends exists in it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GENERATED_FILE, generate, readContract } from '../../../scripts/gen-runtime-contract.ts';
import * as methods from '../../../electron/services/runtime/runtime-methods.ts';
import { RUNTIME_METHOD_NAMES } from '../../../electron/services/runtime/runtime-contract.generated.ts';

test('the generated runtime contract matches the Python runtime (regenerate on drift)', { timeout: 120_000 }, async () => {
  const contract = readContract();
  const fresh = await generate(contract);
  const committed = readFileSync(GENERATED_FILE, 'utf8');
  assert.ok(fresh === committed, 'electron/services/runtime/runtime-contract.generated.ts is stale: run `npx tsx scripts/gen-runtime-contract.ts`');
  assert.ok(fresh.includes('export interface TrainConfig') && fresh.includes('export interface TrainResult'), 'training config and job results are typed');
});

test('every request and notification the app sends is a method of the runtime', () => {
  const sent = (Object.values(methods) as unknown[])
    .filter((v): v is { method: string } => typeof v === 'object' && v !== null && typeof (v as { method?: unknown }).method === 'string')
    .map((v) => v.method);
  assert.ok(sent.length >= 10);
  const known = new Set<string>([...RUNTIME_METHOD_NAMES, 'job.progress', 'job.finished']);
  for (const m of sent) assert.ok(known.has(m), `${m} is not in the runtime's contract`);
  for (const m of RUNTIME_METHOD_NAMES) assert.ok(sent.includes(m), `the runtime's ${m} has no value in runtime-methods.ts`);
});
