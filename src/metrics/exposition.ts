// Prometheus text exposition (format 0.0.4) of the registry: HELP and TYPE on every family, known
// label sets at zero, complete histogram buckets. Pure: the caller brings the numbers.
import type { PoolStats } from '../pool/types.ts';
import { FAMILIES, PREFIX, family, type Family } from './families.ts';
import { escapeLabel, parseKey, seriesKey, type Labels } from './series.ts';

/** What one scrape renders: the coordinator's stats, the hub's counters and the database probe. */
export interface ScrapeInput {
  pool: PoolStats;
  hub: Record<string, number>;
  databaseUp: boolean;
}

type Sample = { labels: Record<string, string>; value: number };

/** The gauges derived from the coordinator's stats, as series keys. */
export function poolGauges(s: PoolStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(s.members)) {
    const [state, mode] = k.split(':');
    out[seriesKey('pool_members', { state, mode })] = v;
  }
  const reused = s.counters['leases_reused_total{reused="true"}'] ?? 0;
  const fresh = s.counters['leases_reused_total{reused="false"}'] ?? 0;
  out.pool_waiters = s.waiters;
  out.pool_projection_backlog = s.projection_backlog ?? 0;
  out.leases_active = s.leases_active;
  out.pool_min = s.settings.poolMin;
  out.pool_max_sandboxes = s.settings.maxSandboxes;
  out.pool_draining = s.draining ? 1 : 0;
  out.pool_reuse_ratio = reused + fresh ? reused / (reused + fresh) : 0;
  return out;
}

/** Renders every registered family from the scrape's numbers. */
export function renderMetrics(input: ScrapeInput): string {
  const values: Record<string, number> = { ...input.pool.counters, ...input.hub, ...poolGauges(input.pool), database_up: input.databaseUp ? 1 : 0 };
  const byFamily = new Map<string, Map<string, Sample>>();
  const unregistered = new Map<string, string[]>();
  for (const [key, value] of Object.entries(values)) {
    const { name, labels } = parseKey(key);
    const f = familyOf(name);
    if (!f) {
      unregistered.set(name, [...(unregistered.get(name) ?? []), sample(PREFIX + name, undefined, labels, value)]);
      continue;
    }
    const samples = byFamily.get(f.name) ?? new Map<string, Sample>();
    byFamily.set(f.name, samples);
    samples.set(`${name.slice(f.name.length)}|${seriesKey('', labels)}`, { labels, value });
  }
  const out: string[] = [];
  for (const f of FAMILIES) out.push(...renderFamily(f, byFamily.get(f.name) ?? new Map()));
  // A series missing from the registry still reaches the operator, untyped, rather than vanishing.
  for (const [name, lines] of unregistered) out.push(`# HELP ${PREFIX}${name} Unregistered series (add it to src/metrics/families.ts).`, `# TYPE ${PREFIX}${name} untyped`, ...lines);
  return `${out.join('\n')}\n`;
}

/** The registered family a stored name belongs to (histogram parts map to their histogram). */
function familyOf(name: string): Family | undefined {
  const direct = family(name);
  if (direct) return direct;
  const m = /^(.+)_(bucket|sum|count)$/.exec(name);
  const h = m ? family(m[1]) : undefined;
  return h?.type === 'histogram' ? h : undefined;
}

function renderFamily(f: Family, samples: Map<string, Sample>): string[] {
  const full = PREFIX + f.name;
  const lines = [`# HELP ${full} ${f.help}`, `# TYPE ${full} ${f.type}`];
  if (f.type !== 'histogram') {
    const series = new Map<string, Sample>();
    for (const labels of knownCombos(f)) series.set(seriesKey('', labels), { labels, value: 0 });
    for (const s of samples.values()) series.set(seriesKey('', s.labels), s);
    for (const [, s] of [...series].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) lines.push(sample(full, f.labels, s.labels, s.value));
    return lines;
  }
  // Histograms: one group per label set (without `le`), from known combinations and stored series.
  const groups = new Map<string, Record<string, string>>();
  for (const labels of knownCombos(f)) groups.set(seriesKey('', labels), labels);
  for (const s of samples.values()) {
    const { le: _le, ...rest } = s.labels;
    groups.set(seriesKey('', rest), rest);
  }
  const get = (part: string, labels: Labels) => samples.get(`${part}|${seriesKey('', labels)}`)?.value ?? 0;
  for (const [, labels] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const le of f.buckets ?? []) lines.push(sample(`${full}_bucket`, [...(f.labels ?? []), 'le'], { ...labels, le: String(le) }, get('_bucket', { ...labels, le: String(le) })));
    lines.push(sample(`${full}_bucket`, [...(f.labels ?? []), 'le'], { ...labels, le: '+Inf' }, get('_bucket', { ...labels, le: '+Inf' })));
    lines.push(sample(`${full}_sum`, f.labels, labels, get('_sum', labels)));
    lines.push(sample(`${full}_count`, f.labels, labels, get('_count', labels)));
  }
  return lines;
}

/** Every combination of a family's known label values (one empty set for an unlabelled family). */
function knownCombos(f: Family): Record<string, string>[] {
  const names = f.labels ?? [];
  if (!names.length) return [{}];
  if (!names.every((n) => f.known?.[n]?.length)) return [];
  let combos: Record<string, string>[] = [{}];
  for (const n of names) combos = combos.flatMap((c) => f.known![n].map((v) => ({ ...c, [n]: v })));
  return combos;
}

/** One sample line with its labels in the family's order. */
function sample(name: string, order: readonly string[] | undefined, labels: Record<string, string>, value: number): string {
  const keys = [...(order ?? []).filter((k) => k in labels), ...Object.keys(labels).filter((k) => !(order ?? []).includes(k))];
  const l = keys.map((k) => `${k}="${escapeLabel(labels[k])}"`).join(',');
  return `${name}${l ? `{${l}}` : ''} ${num(value)}`;
}

function num(v: number): string {
  return Number.isFinite(v) ? String(v) : '0';
}
