/**
 * What the mask overlay draws for a slice: every segment in its own colour, hidden segments
 * left out. The viewer's compositor (viewer/overlay.ts) colours layers by label id; rather
 * than change its signature, each visible layer is handed to it under a label id of its own
 * (1, 2, 3 ...) with that segment's colour, sharing the same pixel arrays (no copy).
 *
 * Runtime: pure.
 */
import { SliceMasks, layerKey, parseLayerKey, type LayerKey } from '../lib/masks';

export interface LayerStyle {
  color: string;
  hidden: boolean;
}

export function rgbOf(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/**
 * The slice as the compositor should see it. `styleOf` gives a layer's colour and whether it
 * is hidden (undefined: its label is unknown, so it is not drawn, as before). `active`: the
 * layer being edited, drawn on top.
 */
export function overlayView(
  slice: SliceMasks,
  styleOf: (k: LayerKey) => LayerStyle | undefined,
  active: LayerKey | null,
): { view: SliceMasks; colors: Map<number, [number, number, number]>; active: string | null } {
  const view = new SliceMasks(slice.imageId, slice.frame, slice.width, slice.height);
  const colors = new Map<number, [number, number, number]>();
  const activeKey = active ? layerKey(active) : null;
  let activeView: string | null = null;
  let n = 0;
  for (const [key, mask] of slice.layers) {
    const style = styleOf(parseLayerKey(key));
    if (!style || style.hidden) continue;
    n++;
    view.layers.set(layerKey({ labelId: n, instance: 1 }), mask);
    colors.set(n, rgbOf(style.color));
    if (key === activeKey) activeView = layerKey({ labelId: n, instance: 1 });
  }
  return { view, colors, active: activeView };
}
