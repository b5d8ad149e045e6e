/**
 * Entry point of the services: everything the renderer can ask for, as plain Node.
 * The Electron main process and the browser host both call `createServices` and dispatch
 * validated requests to the returned handlers. Never imports `electron`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { methodNames, type Handlers, type MethodName } from '../contract/api.js';
import { SamService } from './inference/sam.service.js';
import { ModelsService } from './models/models.service.js';
import { ExportService } from './dicom-export/export.service.js';
import { RetrieveService } from './dicom-export/retrieve.service.js';
import { pacsQueryMethods } from '../contract/pacs-query.js';
import { measurementMethods } from '../contract/measurements.js';
import { propagationMethods } from '../contract/propagation.js';
import { segmentMethods } from '../contract/segments.js';
import { MeasurementsService } from './segments/measurements.service.js';
import { PropagationService } from './segments/propagation.service.js';
import { SegmentsService } from './segments/segments.service.js';
import { RuntimeLauncher } from './runtime/runtime-launcher.node.js';
import type { FrameDecoder } from './imaging/frame-job.js';
import type { ProcessStarter } from './worker-thread.node.js';
import { ProjectService } from './project.service.js';
import { openSampleProject } from './sample-project.node.js';
import { pythonTrainingEnvironment } from './training/environment.node.js';
import { TrainingService, type TrainingEnvironment } from './training/training.service.js';

export { ProjectService, PROJECT_DB } from './project.service.js';

export interface CreateServicesOptions {
  user: string;
  transport: 'electron' | 'browser';
  /** App version reported by app.info; read from the nearest package.json when omitted. */
  version?: string;
  /** Where training finds its Python (tests pass their own); the runtime's shared environment by default. */
  trainingEnvironment?: TrainingEnvironment;
  /** What the training plan assumes the runtime trains on ('cpu' unless told). */
  trainingDevice?: string;
  /** The app's config folder (PACS destinations); $XDG_CONFIG_HOME/delineate unless given. */
  configDir?: string;
  /** First retry delay of a failed PACS send (tests shorten it); 30 s unless given. */
  outboxRetryBaseMs?: number;
  /** How worker processes (the SAM encoder) start: Electron passes one built on utilityProcess, since fork needs the runAsNode fuse. */
  startProcess?: ProcessStarter;
  /** Who decodes frames; the process's worker pool unless given (benches compare decoders). */
  decoder?: FrameDecoder;
}

/** close() also stops the inference worker and the Python runtime child; await it where you can. */
export type Services = Handlers & { close(): void | Promise<void>; /** Tests: wait for the outbox pass under way. */ outboxIdle(): Promise<void> };

/** The app version from the nearest package.json above this file (works from source and from out/). */
function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'delineate' && pkg.version) return pkg.version;
    } catch {
      /* not here: look one folder up */
    }
    dir = path.dirname(dir);
  }
  return '0.0.0';
}

const isSamMethod = (m: MethodName): boolean => m.startsWith('sam.');
const isModelsMethod = (m: MethodName): boolean => m.startsWith('models.');
const isTrainingMethod = (m: MethodName): boolean => m.startsWith('training.') || m.startsWith('jobs.');
const isExportMethod = (m: MethodName): boolean => m.startsWith('export.') || m.startsWith('pacs.');
const isPacsQueryMethod = (m: MethodName): boolean => Object.prototype.hasOwnProperty.call(pacsQueryMethods, m);
const isIn = (table: object, m: MethodName): boolean => Object.prototype.hasOwnProperty.call(table, m);

export function createServices(opts: CreateServicesOptions): Services {
  const project = new ProjectService({ ...opts, version: opts.version ?? packageVersion() });
  // The composition root owns the shared Python runtime: model imports use it.
  const runtime = new RuntimeLauncher();
  let sam: SamService | null = null;
  const models = new ModelsService(project, runtime, { user: opts.user, appVersion: opts.version ?? packageVersion(), beforeDelete: (id) => sam?.release(id) ?? Promise.resolve() });
  sam = new SamService(project, () => models.manager(), opts.startProcess ? { startProcess: opts.startProcess } : {});
  const training = new TrainingService(project, () => models.manager(), opts.trainingEnvironment ?? pythonTrainingEnvironment(), {
    user: opts.user,
    sam,
    ...(opts.trainingDevice ? { device: opts.trainingDevice } : {}),
  });
  const exporter = new ExportService(project, {
    user: opts.user,
    appVersion: opts.version ?? packageVersion(),
    modelNames: () => Object.fromEntries(models.manager().list().map((m) => [m.id, { name: m.name }])),
    ...(opts.configDir ? { configDir: opts.configDir } : {}),
    ...(opts.outboxRetryBaseMs !== undefined ? { outboxRetryBaseMs: opts.outboxRetryBaseMs } : {}),
    // A closure: the measurements service is made below, and only asked once something is sent.
    seriesMeasurements: (imageId) => measurements.seriesMeasurements(imageId),
  });
  const retriever = new RetrieveService(project, { user: opts.user, ...(opts.configDir ? { configDir: opts.configDir } : {}) });
  const segments = new SegmentsService(project, { user: opts.user });
  const measurements = new MeasurementsService(project, {
    user: opts.user,
    appVersion: opts.version ?? packageVersion(),
    // The SEG an SR refers to names the models as the SEG export does (same content, same SEG).
    modelNames: () => Object.fromEntries(models.manager().list().map((m) => [m.id, { name: m.name }])),
  });
  const propagation = new PropagationService(project, sam, { user: opts.user });
  const composite: Record<string, (p: unknown) => unknown> = {
    'project.openSample': (p) => openSampleProject(project, () => models.manager(), (p as { path?: string }).path),
  };
  const handlers: Record<string, unknown> = {};
  for (const m of methodNames) {
    if (composite[m]) {
      handlers[m] = composite[m];
      continue;
    }
    const owner = (
      isIn(segmentMethods, m)
        ? segments
        : isIn(measurementMethods, m)
          ? measurements
          : isIn(propagationMethods, m)
            ? propagation
            : isSamMethod(m)
              ? sam
              : isModelsMethod(m)
                ? models
                : isTrainingMethod(m)
                  ? training
                  : isPacsQueryMethod(m)
                    ? retriever
                    : isExportMethod(m)
                      ? exporter
                      : project
    ) as unknown as Record<string, (p: unknown) => unknown>;
    handlers[m] = (params: unknown) => owner[m]!(params);
  }
  return {
    ...(handlers as Handlers),
    outboxIdle: () => exporter.outboxIdle(),
    close: async () => {
      await training.close();
      await exporter.close();
      models.flush();
      project.close();
      await sam!.close();
      await runtime.close();
    },
  };
}
