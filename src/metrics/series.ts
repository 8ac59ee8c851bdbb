// Series keys as the counter stores keep them (`name{a="x",b="y"}`, without the prefix), and the
// deltas one observation makes, so the PoolCoordinator, the MetricsHub and the Worker agree on them.
import { bucketsOf, family } from './families.ts';

/** Label values of one series. */
export type Labels = Readonly<Record<string, string | number | boolean>>;

/** Counter deltas by series key. */
export type Deltas = Record<string, number>;

/** Escapes a label value for the text exposition format. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The key of a series: its name with its labels in the given order. */
export function seriesKey(name: string, labels: Labels = {}): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
  return parts.length ? `${name}{${parts.join(',')}}` : name;
}

/** Splits a key into its name and labels (the inverse of seriesKey). */
export function parseKey(key: string): { name: string; labels: Record<string, string> } {
  const at = key.indexOf('{');
  if (at < 0) return { name: key, labels: {} };
  const labels: Record<string, string> = {};
  for (const m of key.slice(at + 1, -1).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
  }
  return { name: key.slice(0, at), labels };
}

/** Adds `by` to `key` in `into`. */
export function addDelta(into: Deltas, key: string, by: number): void {
  into[key] = (into[key] ?? 0) + by;
}

/** The deltas of one histogram observation as the PoolCoordinator stores them: cumulative buckets, +Inf, sum, count. */
export function observation(name: string, seconds: number, labels: Labels = {}): Deltas {
  const v = Math.max(0, seconds);
  const out: Deltas = {};
  for (const le of bucketsOf(name)) if (v <= le) out[seriesKey(`${name}_bucket`, { ...labels, le })] = 1;
  out[seriesKey(`${name}_bucket`, { ...labels, le: '+Inf' })] = 1;
  out[seriesKey(`${name}_sum`, labels)] = v;
  out[seriesKey(`${name}_count`, labels)] = 1;
  return out;
}

/**
 * The deltas of one observation as the MetricsHub stores them: only the bucket it falls in (the
 * smallest bound at or above it, else +Inf), sum and count; three row writes instead of one per
 * bucket. `cumulate` turns such series back into Prometheus' cumulative buckets.
 */
export function bucketObservation(name: string, seconds: number, labels: Labels = {}): Deltas {
  const v = Math.max(0, seconds);
  const le = bucketsOf(name).find((b) => v <= b) ?? '+Inf';
  return { [seriesKey(`${name}_bucket`, { ...labels, le })]: 1, [seriesKey(`${name}_sum`, labels)]: v, [seriesKey(`${name}_count`, labels)]: 1 };
}

/** Turns per-bucket counts (bucketObservation's) into cumulative buckets; other series pass through. */
export function cumulate(values: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  const groups = new Map<string, { name: string; labels: Record<string, string>; buckets: Map<string, number> }>();
  for (const [key, v] of Object.entries(values)) {
    const { name, labels } = parseKey(key);
    if (!name.endsWith('_bucket') || labels.le === undefined || family(name.slice(0, -'_bucket'.length))?.type !== 'histogram') {
      out[key] = v;
      continue;
    }
    const { le, ...rest } = labels;
    const id = seriesKey(name, rest);
    const g = groups.get(id) ?? { name, labels: rest, buckets: new Map<string, number>() };
    g.buckets.set(le, v);
    groups.set(id, g);
  }
  for (const g of groups.values()) {
    const bounds = bucketsOf(g.name.slice(0, -'_bucket'.length)).map(String);
    let running = 0;
    for (const le of [...bounds, '+Inf']) {
      running += g.buckets.get(le) ?? 0;
      out[seriesKey(g.name, { ...g.labels, le })] = running;
    }
  }
  return out;
}

/** Collects deltas in memory (one request's events) until they are taken for one write to the MetricsHub. */
export class DeltaBuffer {
  #d: Deltas = {};

  /** Adds to a counter. */
  inc(name: string, labels: Labels = {}, by = 1): void {
    addDelta(this.#d, seriesKey(name, labels), by);
  }

  /** Observes a duration in seconds into a histogram (per-bucket form; see bucketObservation). */
  observe(name: string, seconds: number, labels: Labels = {}): void {
    for (const [k, v] of Object.entries(bucketObservation(name, seconds, labels))) addDelta(this.#d, k, v);
  }

  /** Whether nothing is buffered. */
  get empty(): boolean {
    return Object.keys(this.#d).length === 0;
  }

  /** Returns the buffered deltas and starts over. */
  take(): Deltas {
    const d = this.#d;
    this.#d = {};
    return d;
  }
}
