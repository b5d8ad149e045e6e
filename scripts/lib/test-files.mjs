// Collecting test files (Node 20's --test takes no globs) and reading test-runner summaries.
import { readdirSync } from 'node:fs';
import path from 'node:path';

const SKIP_DIRS = new Set(['node_modules', 'dist', 'out', '.git', '.venv', 'test-output', '.cache']);

/** Files under `dirs` (relative to root) whose names end with `suffix`, sorted, relative paths. */
export function collectFiles(root, dirs, suffix, { excludeDirs = [] } = {}) {
  const out = [];
  const excluded = new Set(excludeDirs.map((d) => path.join(root, d)));
  const visit = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !excluded.has(full)) visit(full);
      } else if (e.isFile() && e.name.endsWith(suffix)) out.push(path.relative(root, full));
    }
  };
  dirs.forEach((d) => visit(path.join(root, d)));
  return out.sort();
}

/** Counts from node:test output (spec "ℹ pass 3" or TAP "# pass 3"). */
export function nodeTestCounts(output) {
  const grab = (word) => {
    const all = [...output.matchAll(new RegExp(`^(?:ℹ|#) ${word} (\\d+)\\s*$`, 'gm'))];
    return all.length ? Number(all.at(-1)[1]) : 0;
  };
  return { passed: grab('pass'), failed: grab('fail') + grab('cancelled') };
}

/** Counts from pytest's final line, e.g. "3 passed, 1 failed, 2 errors in 4.2s". */
export function pytestCounts(output) {
  const tail = output.trim().split('\n').slice(-5).join('\n');
  const n = (re) => Number(tail.match(re)?.[1] ?? 0);
  return { passed: n(/(\d+) passed/), failed: n(/(\d+) failed/) + n(/(\d+) errors?\b/) };
}
