// Scraping /metrics from the Worker under test. Counters reach the MetricsHub after the response
// that produced them (fire-and-forget), so a test waits for the sample it expects, bounded.
import { call, stack } from './helpers.ts';

/** One scrape of /metrics with the metrics token. */
export async function scrape(): Promise<string> {
  const r = await call('GET', '/metrics', { key: stack.metrics_token });
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${await r.text()}`);
  return r.text();
}

/** The value of one sample (full series text as exposed, e.g. `x_total{a="b"}`), or undefined. */
export function sampleValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Scrapes until `ok(text)` holds (the hub got the counts), for at most `timeoutMs`. */
export async function scrapeUntil(ok: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await scrape();
    if (ok(text) || Date.now() > deadline) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
}
