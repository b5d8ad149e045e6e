/**
 * The sample project a newcomer opens from the start screen, made from the files in
 * resources/sample-project/ (written by scripts/make-sample-project.ts) through the ordinary
 * import, mask and model paths, so it is a project like any other. Runtime: node.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectPathFrom } from './project-folder.node.js';
import { fileURLToPath } from 'node:url';
import { ApiError, type ProjectInfo, type Rle } from '../contract/api.js';
import type { ModelManager } from './models/model-manager.node.js';
import { PROJECT_DB, type ProjectService } from './project.service.js';

interface SampleMask {
  file: string;
  frame: number;
  label: string;
  instance: number;
  window: { center: number; width: number } | null;
  rle: Rle;
}

/** resources/sample-project above this module (source tree, out/ build, or the packaged app). */
export function sampleRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'resources', 'sample-project');
    if (existsSync(path.join(candidate, 'sample.json'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new ApiError('not_found', 'The sample project is not part of this installation (resources/sample-project is missing)');
}

export function defaultSamplePath(): string {
  return path.join(os.homedir(), 'Delineate', 'Sample project');
}

export async function openSampleProject(project: ProjectService, models: () => ModelManager, dest = defaultSamplePath()): Promise<ProjectInfo> {
  const target = projectPathFrom(dest); // a relative path would land wherever the app was started
  if (existsSync(path.join(target, PROJECT_DB))) return project['project.open']({ path: target });
  const src = sampleRoot();
  const meta = JSON.parse(readFileSync(path.join(src, 'sample.json'), 'utf8')) as { name: string };
  // Our own place in the home folder (~/Delineate): made here, since project.create only
  // creates a project inside a folder that exists.
  mkdirSync(path.dirname(target), { recursive: true });
  project['project.create']({ path: target, name: meta.name });
  const report = await project['images.importPaths']({ paths: [path.join(src, 'images')] });
  if (report.failed.length) throw new ApiError('io', `The sample's images did not import: ${report.failed.map((f) => `${f.file}: ${f.reason}`).join('; ')}`, src);
  const idOf = new Map([...report.imported, ...report.duplicates].map((r) => [path.basename(r.file), r.imageId]));
  const { masks } = JSON.parse(readFileSync(path.join(src, 'masks.json'), 'utf8')) as { masks: SampleMask[] };
  const labels = project['labels.list']({});
  for (const m of masks) {
    const imageId = idOf.get(m.file);
    if (!imageId) throw new ApiError('io', `The sample's masks name ${m.file}, which is not among its images`, src);
    const labelId = labels.find((l) => l.name === m.label)?.id ?? project['labels.upsert']({ name: m.label, color: '#e6194b' }).id;
    project['masks.save']({ imageId, frame: m.frame, labelId, instance: m.instance, rle: m.rle, source: 'import', window: m.window });
  }
  const starter = await models().importBundle(path.join(src, 'starter-model'));
  models().setActive(starter.id);
  return project['project.current']({})!;
}
