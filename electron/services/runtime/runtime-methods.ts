/**
 * The Python runtime's JSON-RPC methods this app uses, each defined once as a value
 * (mirrors python-runtime/delineate_runtime/protocol/methods.py). Runtime: pure.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc/node.js';

export interface RuntimeInfo {
  protocol_version: number;
  runtime_version: string;
  python: string;
  torch: string;
  onnxruntime: string;
  device: string;
  archs: string[];
  methods: string[];
  capabilities: Record<string, boolean>;
}

export interface JobStarted {
  job_id: string;
  kind: string;
}

export interface JobErrorInfo {
  message: string;
  kind: string;
  traceback?: string | null;
}

export type JobState = 'running' | 'cancelling' | 'succeeded' | 'failed' | 'cancelled';

export interface JobStatus {
  job_id: string;
  kind: string;
  state: JobState;
  progress?: Record<string, unknown> | null;
  result?: unknown;
  error?: JobErrorInfo | null;
}

export interface JobProgress {
  job_id: string;
  kind: string;
  stage: string;
  step?: number | null;
  steps?: number | null;
  epoch?: number | null;
  epochs?: number | null;
  eta_s?: number | null;
  [k: string]: unknown;
}

export interface JobFinished {
  job_id: string;
  kind: string;
  state: JobState;
  result?: unknown;
  error?: JobErrorInfo | null;
}

export interface ModelRef {
  bundle?: string;
  checkpoint?: string;
  arch?: string;
  image_size?: number;
  model_options?: Record<string, unknown>;
}

export interface ExportOnnxParams {
  model: ModelRef;
  out_dir: string;
  quantize?: 'auto' | 'dynamic' | 'static' | 'none';
  overwrite?: boolean;
  base_model?: string;
}

export const runtimeInfo = new RequestType0<RuntimeInfo, void>('runtime.info');
export const jobStatus = new RequestType<{ job_id: string }, JobStatus, void>('job.status');
export const jobCancel = new RequestType<{ job_id: string }, JobStatus, void>('job.cancel');
export const exportOnnx = new RequestType<ExportOnnxParams, JobStarted, void>('export.onnx');
export const shutdown = new RequestType0<null, void>('shutdown');
export const jobProgress = new NotificationType<JobProgress>('job.progress');
export const jobFinished = new NotificationType<JobFinished>('job.finished');
