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
  calibration_dataset?: string;
  dataset_hash?: string;
  training_config?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
}

export const runtimeInfo = new RequestType0<RuntimeInfo, void>('runtime.info');
export const jobStatus = new RequestType<{ job_id: string }, JobStatus, void>('job.status');
export const jobCancel = new RequestType<{ job_id: string }, JobStatus, void>('job.cancel');
export const exportOnnx = new RequestType<ExportOnnxParams, JobStarted, void>('export.onnx');
export const shutdown = new RequestType0<null, void>('shutdown');
export const jobProgress = new NotificationType<JobProgress>('job.progress');
export const jobFinished = new NotificationType<JobFinished>('job.finished');

export interface TrainStartParams {
  /** TrainConfig fields (python-runtime/delineate_runtime/training/config.py). */
  config: Record<string, unknown>;
}

export interface EvaluateParams {
  model: ModelRef;
  dataset: string;
  base_model?: ModelRef;
  split?: 'train' | 'val';
  report_path?: string;
  options?: { modes?: string[] };
}

/** aggregate() of evaluation/metrics.py: per-class means and their class mean. */
export interface ModeMetrics {
  dice_mean: number;
  miou: number;
  per_class: Record<string, { dice: number; iou: number; n: number }>;
}

export interface EvaluateResult {
  dataset: string;
  split: string;
  images: number;
  after: { metrics: Record<string, ModeMetrics>; val_dice: number };
  before?: { metrics: Record<string, ModeMetrics>; val_dice: number };
  delta_val_dice?: number;
}

/** TrainResult.to_dict() of training/loop.py (the fields the app reads). */
export interface TrainResult {
  status: 'completed' | 'early_stopped' | 'cancelled';
  run_dir: string;
  epochs_completed: number;
  history: { epoch: number; train_loss?: number; val_dice?: number }[];
  best_epoch: number | null;
  best_val_dice: number | null;
  start_val_dice: number | null;
  best_checkpoint: string | null;
  last_checkpoint: string;
  model_spec: Record<string, unknown>;
  device: Record<string, unknown>;
  timing: Record<string, unknown>;
}

export interface ExportResult {
  bundle: string;
  parity: Record<string, unknown>;
  files: string[];
}

export const trainStart = new RequestType<TrainStartParams, JobStarted, void>('train.start');
export const evaluate = new RequestType<EvaluateParams, JobStarted, void>('evaluate');
