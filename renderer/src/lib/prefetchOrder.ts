/**
 * Which slices to load next, nearest first: up to `ahead` slices in the scroll direction and
 * `behind` the other way, two ahead for every one behind (scrolling usually goes on the way
 * it goes).
 *
 * Runtime: pure.
 */
export function prefetchOrder(length: number, index: number, direction: 1 | -1, ahead: number, behind: number): number[] {
  const out: number[] = [];
  let a = 0;
  let b = 0;
  while (a < ahead || b < behind) {
    let progressed = false;
    for (let k = 0; k < 2 && a < ahead; k++) {
      a++;
      const i = index + a * direction;
      if (i >= 0 && i < length) out.push(i);
      progressed = true;
    }
    if (b < behind) {
      b++;
      const i = index - b * direction;
      if (i >= 0 && i < length) out.push(i);
      progressed = true;
    }
    if (!progressed) break;
  }
  return out;
}
