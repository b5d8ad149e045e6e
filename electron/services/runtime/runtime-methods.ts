/**
 * The Python runtime's JSON-RPC methods as vscode-jsonrpc values. Every type comes from
 * runtime-contract.generated.ts, which is generated from the runtime's own contract
 * (protocol/methods.py); nothing here is a hand copy. Runtime: pure.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc/node.js';
import type { RuntimeMethods, RuntimeNotifications, TrainConfig } from './runtime-contract.generated.js';

export type {
  EvaluateParams,
  EvaluateResult,
  ExportOnnxParams,
  ExportResult,
  JobError as JobErrorInfo,
  JobStarted,
  JobStatus,
  ModelRef,
  ModeMetrics,
  RuntimeInfo,
  TrainConfig,
  TrainResult,
} from './runtime-contract.generated.js';

type M = RuntimeMethods;
export type JobProgress = RuntimeNotifications['job.progress'];
export type JobFinished = RuntimeNotifications['job.finished'];
export type JobState = JobFinished['state'];

const request = <N extends keyof M>(name: N) => new RequestType<M[N]['params'], M[N]['result'], void>(name);

export const runtimeInfo = new RequestType0<M['runtime.info']['result'], void>('runtime.info');
export const jobStatus = request('job.status');
export const jobCancel = request('job.cancel');
export const jobList = request('job.list');
/** `config` is a dict on the wire, validated by the runtime as a TrainConfig: typed as one here. */
export const trainStart = new RequestType<{ config: Partial<TrainConfig> & Pick<TrainConfig, 'dataset' | 'run_dir'> }, M['train.start']['result'], void>('train.start');
export const evaluate = request('evaluate');
export const exportOnnx = request('export.onnx');
export const exportQuantize = request('export.quantize');
export const embeddingsCompute = request('embeddings.compute');
export const shutdown = new RequestType0<null, void>('shutdown');
export const jobProgress = new NotificationType<JobProgress>('job.progress');
export const jobFinished = new NotificationType<JobFinished>('job.finished');
