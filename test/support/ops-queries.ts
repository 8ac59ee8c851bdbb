// Reads the PromQL in ops/ (alert rules and dashboard panels) and names the metric families it uses.
// Pure string work, so both the Node tests and the Worker tests (which import the files raw) use it.

/** Every PromQL expression in the alert rules file (`expr:` values, block scalars included). */
export function ruleExpressions(yaml: string): string[] {
  const out: string[] = [];
  const lines = yaml.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i]);
    if (!m) continue;
    if (m[2].trim() !== '|' && m[2].trim() !== '>') {
      out.push(m[2].trim());
      continue;
    }
    const block: string[] = [];
    for (i++; i < lines.length && (lines[i].trim() === '' || lines[i].search(/\S/) > m[1].length); i++) block.push(lines[i].trim());
    i--;
    out.push(block.join(' '));
  }
  return out;
}

/** Every target expression of every dashboard panel. */
export function panelExpressions(dashboardJson: string): { title: string; expr: string }[] {
  const d = JSON.parse(dashboardJson) as { panels: { title: string; targets?: { expr: string }[] }[] };
  return d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
}

/** The metric families an expression reads (histogram parts map to their family). */
export function metricFamilies(expr: string): string[] {
  const names = expr.replace(/"[^"]*"/g, '""').match(/\bgit_sandbox_[a-z0-9_]+\b/g) ?? [];
  return [...new Set(names.map((n) => n.replace(/_(bucket|sum|count)$/, '')))];
}

/** The family names a Prometheus text exposition declares with `# TYPE`. */
export function exportedFamilies(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]));
}
