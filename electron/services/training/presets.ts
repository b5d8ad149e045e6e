/**
 * Which fine-tuning the Retrain button runs, chosen from the device, the model and the data
 * size, and an estimate of how long it takes. Runtime: pure.
 *
 * Why these numbers: the runtime's TrainConfig defaults are the guide's (lr 1e-5), meant for
 * fully fine-tuning a pretrained SAM on a GPU. Decoder-only training on a few dozen images at
 * that rate barely moves (validation Dice 0.026 -> 0.027 in the trial reported in issue 7); the
 * decoder is small and starts from weights that were not trained on this task, so it needs a
 * rate two orders higher (1e-3 moved that trial to 0.30). The retrain tests prove the rates the
 * button uses on the tiny model (0.00 -> 0.77 here); the bench times the vit_b-shaped variant.
 */
import type { TrainingSettings } from '../../contract/training.js';

export type Mode = 'decoder' | 'last_blocks' | 'progressive';

export interface ResolvedSettings {
  preset: string;
  mode: Mode;
  epochs: number;
  lr: number;
  /** Range test first (the runtime's lr_find); `lr` is the fallback. */
  lrFind: boolean;
  unfreezeLastN: number;
  batchSize: number;
}

export interface PresetInputs {
  arch: string;
  /** 'cpu', 'cuda', 'mps' — what the runtime will train on (from runtime.info, or a guess). */
  device: string;
  trainImages: number;
}

/**
 * Steps a run should take: enough updates to learn, bounded so a CPU run stays in minutes.
 * The tiny model starts from a decoder that knows nothing of the task and needs ~400 (the
 * retrain tests); a vit_b-shaped decoder step costs ~0.8 s on 2 cores (bench), so official
 * sizes get 250 decoder steps (about 4-5 minutes with validation), and early stopping ends
 * sooner when a pretrained decoder converges.
 */
const TARGET_STEPS: Record<Mode, number> = { decoder: 400, last_blocks: 300, progressive: 600 };
const OFFICIAL_DECODER_STEPS = 250;

export function resolveSettings(s: TrainingSettings | undefined, x: PresetInputs): ResolvedSettings {
  const gpu = x.device !== 'cpu';
  const tiny = x.arch === 'tiny';
  const mode: Mode = s?.preset && s.preset !== 'auto' ? s.preset : gpu ? 'progressive' : 'decoder';
  const batchSize = mode === 'decoder' ? 4 : gpu ? 4 : 2;
  const stepsPerEpoch = Math.max(1, Math.ceil(Math.max(1, x.trainImages) / batchSize));
  const target = mode === 'decoder' && !tiny ? OFFICIAL_DECODER_STEPS : TARGET_STEPS[mode];
  const epochs = s?.epochs ?? Math.min(mode === 'decoder' ? 120 : 40, Math.max(8, Math.ceil(target / stepsPerEpoch)));
  const lr = s?.lr ?? (mode === 'decoder' ? (tiny ? 3e-3 : 1e-3) : mode === 'last_blocks' ? (tiny ? 1e-3 : 1e-4) : tiny ? 1e-3 : 1e-4);
  const unfreezeLastN = s?.unfreezeLastN ?? (mode === 'last_blocks' ? 2 : mode === 'progressive' ? 4 : 0);
  return { preset: s?.preset ?? 'auto', mode, epochs, lr, lrFind: s?.lrFind ?? false, unfreezeLastN, batchSize };
}

/** The runtime's TrainConfig fields for these settings (dataset and run_dir added by the caller). */
export function trainConfigFor(r: ResolvedSettings): Record<string, unknown> {
  const common = {
    epochs: r.epochs,
    lr: r.lr,
    lr_find: r.lrFind,
    batch_size: r.batchSize,
    weight_decay: 0.0,
    // Generous: a decoder starting on a task it misses can sit near Dice 0 for a dozen epochs before it takes off.
    early_stopping_patience: Math.max(12, Math.round(r.epochs / 3)),
    val_modes: ['box', 'click1'],
    prompt_mix: { points: 0.5, box: 0.4, none: 0.1 },
    correction_rounds: 1,
  };
  if (r.mode === 'decoder') return { ...common, freeze: 'decoder_only', augment: false };
  if (r.mode === 'last_blocks') return { ...common, freeze: 'encoder_last_n', unfreeze_last_n: r.unfreezeLastN, augment: true };
  // The guide's three stages, scaled to the epochs asked for: decoder head 25 %, + last N encoder blocks 50 %, full at lr x0.1 25 %.
  const e1 = Math.max(1, Math.round(r.epochs * 0.25));
  const e3 = Math.max(1, Math.round(r.epochs * 0.25));
  const e2 = Math.max(1, r.epochs - e1 - e3);
  return {
    ...common,
    epochs: e1 + e2 + e3,
    freeze: 'progressive',
    augment: true,
    stages: [
      { name: 'decoder_head', epochs: e1, scope: 'decoder_head', lr_mult: 1.0, last_n: r.unfreezeLastN },
      { name: `decoder_and_last_${r.unfreezeLastN}`, epochs: e2, scope: 'decoder_and_last_n', lr_mult: 1.0, last_n: r.unfreezeLastN },
      { name: 'full', epochs: e3, scope: 'full', lr_mult: 0.1, last_n: r.unfreezeLastN },
    ],
  };
}

/**
 * Seconds per unit on 2 CPU cores. tiny and vit_b are measured (retrain bench and a profiled
 * vit_b run: 11.3 s per embedding, 0.8 s per decoder step, 1.1 s validation per epoch for 10
 * validation images, 0.77 s for best.pt when it improves, and last.pt each epoch: 0.06 s since
 * it keeps only the trained weights, 48.7 MB for a decoder-only run, where the whole model
 * took 1.0 s in the same measurement); vit_l/vit_h and the full-model steps are scaled
 * guesses from the encoders' sizes, not measured.
 */
// embed: encoder per image; step: decoder train step (batch 4); val: prompted decode per
// validation image; save: checkpoints written per epoch (last.pt, best.pt).
const CPU_COST: Record<string, { embed: number; step: number; fullStep: number; val: number; save: number }> = {
  tiny: { embed: 0.03, step: 0.03, fullStep: 0.15, val: 0.01, save: 0.05 },
  vit_b: { embed: 11, step: 0.8, fullStep: 25, val: 0.11, save: 0.85 },
  // MobileSAM: SAM's decoder behind a TinyViT at 0.13x vit_b's encoder time (bench, 2 cores).
  vit_t: { embed: 1.5, step: 0.8, fullStep: 3.5, val: 0.11, save: 0.1 },
  // EfficientSAM-Ti: a 12-block ViT-Ti (global attention) at 0.30x vit_b's encoder time
  // (sam bench, 2 cores: 1.75 s vs 5.9 s fp32); fullStep scaled by the same factor, a guess.
  efficientsam_ti: { embed: 3.3, step: 0.8, fullStep: 7.5, val: 0.11, save: 0.1 },
  vit_l: { embed: 22, step: 0.8, fullStep: 70, val: 0.11, save: 4.5 },
  vit_h: { embed: 40, step: 0.8, fullStep: 130, val: 0.11, save: 9 },
};

/** Seconds. On a GPU the CPU figures are divided by 20: a rough guess, not measured here. */
export function estimateSeconds(r: ResolvedSettings, x: PresetInputs & { valImages: number }): number {
  const c = CPU_COST[x.arch] ?? CPU_COST.vit_b!;
  const scale = x.device === 'cpu' ? 1 : 0.05;
  const steps = r.epochs * Math.ceil(Math.max(1, x.trainImages) / r.batchSize);
  const images = x.trainImages + x.valImages;
  const perStep = r.mode === 'decoder' ? c.step : c.fullStep;
  // embeddings once; steps; validation each epoch (decode only when cached) and the final before/after evaluation (4 modes, 2 models)
  // the range test, when asked for: up to 60 steps (it stops early once the loss blows up)
  const rangeTest = r.lrFind ? 60 * perStep : 0;
  const s = images * c.embed + steps * perStep + rangeTest + r.epochs * (x.valImages * c.val + c.save) + 2 * x.valImages * (c.embed + 4 * c.val) + 20;
  return Math.round(s * scale);
}
