// Runs one benchmark module in its own process (so one bench's heap and JIT state do not
// colour the next): imports it, awaits its default export, writes the JSON result to a file.
// Usage: node --import tsx scripts/lib/bench-child.mjs <bench file> <result file>
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [file, resultFile] = process.argv.slice(2);
const mod = await import(pathToFileURL(path.resolve(file)).href);
if (typeof mod.default !== 'function') throw new Error(`${file} has no default export function`);
const result = await mod.default();
writeFileSync(resultFile, JSON.stringify(result ?? null));
process.exit(0); // a bench that leaves a server or timer open must not hang the run
