// Keeps list answers within a byte bound: the leading items whose JSON fits.
import { byteLength } from '../sandbox/bounded-run.ts';

/** The leading items whose JSON fits in `budget` bytes; `cut` when some were left out. */
export function fitJson<T>(items: T[], budget: number): { items: T[]; cut: boolean } {
  let used = 0;
  for (let i = 0; i < items.length; i++) {
    used += byteLength(JSON.stringify(items[i])) + 1;
    if (used > budget) return { items: items.slice(0, i), cut: true };
  }
  return { items, cut: false };
}
