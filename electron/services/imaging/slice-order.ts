/**
 * Slice geometry and ordering. Runtime: pure.
 *
 * Slices of a series are ordered by the projection of ImagePositionPatient on the slice
 * normal (row direction x column direction from ImageOrientationPatient): that is the
 * true spatial order even when instance numbers or file names lie. When a slice lacks
 * geometry the whole series falls back to InstanceNumber, then file name.
 */
export function sliceNormal(iop: readonly number[]): [number, number, number] | null {
  if (iop.length !== 6 || iop.some((v) => !Number.isFinite(v))) return null;
  const [rx, ry, rz, cx, cy, cz] = iop as [number, number, number, number, number, number];
  const n: [number, number, number] = [ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx];
  const len = Math.hypot(...n);
  return len > 1e-6 ? [n[0] / len, n[1] / len, n[2] / len] : null;
}

/** Distance of a slice along its normal, or null when the geometry is missing or malformed. */
export function slicePosition(ipp: readonly number[] | null, iop: readonly number[] | null): number | null {
  if (!ipp || !iop || ipp.length !== 3 || ipp.some((v) => !Number.isFinite(v))) return null;
  const n = sliceNormal(iop);
  if (!n) return null;
  return ipp[0]! * n[0] + ipp[1]! * n[1] + ipp[2]! * n[2];
}

export interface SliceKey {
  id: number;
  slicePosition: number | null;
  instanceNumber: number | null;
  fileName: string;
}

/** Ids in display order (index in the returned array = seriesIndex). */
export function orderSlices(slices: readonly SliceKey[]): number[] {
  const byPosition = slices.every((s) => s.slicePosition !== null);
  const byName = (a: SliceKey, b: SliceKey) => a.fileName.localeCompare(b.fileName, undefined, { numeric: true }) || a.id - b.id;
  const byInstance = (a: SliceKey, b: SliceKey) =>
    (a.instanceNumber ?? Number.MAX_SAFE_INTEGER) - (b.instanceNumber ?? Number.MAX_SAFE_INTEGER) || byName(a, b);
  const sorted = [...slices].sort(byPosition ? (a, b) => a.slicePosition! - b.slicePosition! || byInstance(a, b) : byInstance);
  return sorted.map((s) => s.id);
}
