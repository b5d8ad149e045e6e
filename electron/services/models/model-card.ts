/**
 * MODEL_CARD.md of a model package: the package manifest's card, for people (a radiologist
 * deciding whether to run it, a hospital's IT reviewing it). Runtime: pure.
 */
import type { PackageManifest } from '../../contract/model-package.js';

const pct = (v: number) => v.toFixed(3);

export function renderModelCard(m: PackageManifest): string {
  const c = m.card;
  const lines: string[] = [];
  lines.push(`# ${m.name}`, '', `Model package version ${m.version}, written ${m.created} by ${m.created_by} with Delineate ${m.app_version}.`, '');
  lines.push('## What it is', '');
  lines.push(`- Architecture: SAM \`${String(m.model.architecture.arch ?? 'unknown')}\` at ${String(m.model.architecture.image_size ?? '?')} px, run with ONNX Runtime (${m.model.variants.join(' and ')}; ${m.model.default_variant} by default).`);
  lines.push(`- Started from: ${c.base_model ?? 'not recorded'}.`);
  lines.push(`- Trained by ${c.trained_by ?? 'not recorded'}${c.trained_at ? ` on ${c.trained_at}` : ''}.`);
  lines.push(`- Input: ${m.model.window}`);
  lines.push(`- Prompt modes evaluated: ${m.model.prompt_modes.length ? m.model.prompt_modes.join(', ') : 'none recorded'}.`);
  lines.push('', '## Labels', '');
  for (const l of m.labels) lines.push(`- **${l.name}**: ${l.type.meaning} (${l.type.scheme} ${l.type.value}), category ${l.category.meaning}`);
  if (m.labels.length === 0) lines.push('- none recorded');
  lines.push('', '## Training data', '');
  if (c.training) {
    const t = c.training;
    lines.push(`- Dataset snapshot ${t.dataset_hash}: ${t.images} images (${t.train_images} for training, ${t.validation_images} for validation${t.split_by ? `, split by ${t.split_by}` : ''}), ${t.annotations} masks, ${t.studies} studies, modalities ${t.modalities.join(', ') || 'not recorded'}.`);
  } else lines.push('- Not trained in Delineate (imported as it is), or its run is no longer in the project.');
  lines.push('', '## Evaluation', '');
  if (c.metrics.length) {
    lines.push('Validation Dice, on the same images and simulated prompts before and after fine-tuning:', '', '| prompt mode | label | n | before | after |', '| --- | --- | --- | --- | --- |');
    for (const r of c.metrics) lines.push(`| ${r.mode} | ${r.label} | ${r.n} | ${pct(r.before)} | ${pct(r.after)} |`);
  } else lines.push('No evaluation recorded.');
  if (c.gate) lines.push('', `Gate: ${String((c.gate as { reason?: unknown }).reason ?? JSON.stringify(c.gate))}`);
  lines.push('', '## Intended use', '', c.intended_use, '', '## Limits', '');
  for (const l of c.limits) lines.push(`- ${l}`);
  lines.push('', '## Files', '', '| file | bytes | SHA-256 |', '| --- | --- | --- |');
  for (const [f, h] of Object.entries(m.files)) lines.push(`| ${f} | ${h.bytes} | ${h.sha256} |`);
  return `${lines.join('\n')}\n`;
}
