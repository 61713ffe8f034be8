// The overview's numbers, from GET /metrics (Prometheus text 0.0.4): two scrapes a few seconds
// apart give rates, and the difference of two histograms gives the quantiles of that interval
// (as PromQL's histogram_quantile over rate() does).

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    let name: string;
    let labels: Record<string, string> = {};
    let rest: string;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    if (brace !== -1 && (space === -1 || brace < space)) {
      name = line.slice(0, brace);
      const close = findClose(line, brace);
      if (close === -1) continue;
      labels = parseLabels(line.slice(brace + 1, close));
      rest = line.slice(close + 1).trim();
    } else {
      if (space === -1) continue;
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    const valueText = rest.split(/\s+/)[0];
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') continue;
    out.push({ name, labels, value });
  }
  return out;
}

function findClose(line: string, open: number): number {
  let inQuote = false;
  for (let i = open + 1; i < line.length; i++) {
    const c = line[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (c === '}') return i;
  }
  return -1;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  return labels;
}

export interface Scrape {
  at: number; // Unix seconds
  samples: Sample[];
}

function sum(s: Scrape, name: string, pred: (l: Record<string, string>) => boolean = () => true): number {
  let total = 0;
  for (const x of s.samples) if (x.name === name && pred(x.labels)) total += x.value;
  return total;
}

function byLabel(s: Scrape, name: string, label: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of s.samples) {
    if (x.name !== name) continue;
    const k = x.labels[label] ?? '';
    m.set(k, (m.get(k) ?? 0) + x.value);
  }
  return m;
}

// Cumulative bucket counts by `le`, summed over the series that `pred` keeps.
function buckets(s: Scrape, name: string, pred: (l: Record<string, string>) => boolean): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of s.samples) {
    if (x.name !== name || !pred(x.labels)) continue;
    const le = x.labels.le === '+Inf' ? Infinity : Number(x.labels.le);
    m.set(le, (m.get(le) ?? 0) + x.value);
  }
  return m;
}

//! The q-quantile of the observations between two scrapes of a histogram, linear within a
//! bucket; null when nothing was observed.
export function quantileBetween(prev: Scrape, cur: Scrape, name: string, q: number,
                                pred: (l: Record<string, string>) => boolean = () => true): number | null {
  const a = buckets(prev, name, pred);
  const b = buckets(cur, name, pred);
  const les = [...b.keys()].sort((x, y) => x - y);
  if (!les.length) return null;
  const counts = les.map((le) => Math.max(0, (b.get(le) ?? 0) - (a.get(le) ?? 0)));
  const total = counts[counts.length - 1];
  if (!(total > 0)) return null;
  const rank = q * total;
  for (let i = 0; i < les.length; i++) {
    if (counts[i] >= rank) {
      const upper = les[i];
      const lower = i === 0 ? 0 : les[i - 1];
      if (upper === Infinity) return lower;
      const below = i === 0 ? 0 : counts[i - 1];
      const inBucket = counts[i] - below;
      return inBucket > 0 ? lower + ((upper - lower) * (rank - below)) / inBucket : upper;
    }
  }
  return les.length > 1 ? les[les.length - 2] : null;
}

const isInference = (l: Record<string, string>) => (l.route ?? '').startsWith('/v1/') && l.route !== '/v1/models' && !l.route.startsWith('/v1/models/');

export interface Point {
  at: number;
  rps: number;
  errorRate: number | null;
  p50: number | null; // seconds
  p99: number | null;
  tokensPerSec: Map<string, number>;
  ttftP50: Map<string, number | null>;
  kvUsage: Map<string, number>;
  queue: Map<string, number>;
  running: Map<string, number>;
}

export function pointBetween(prev: Scrape, cur: Scrape): Point {
  const dt = Math.max(cur.at - prev.at, 1e-3);
  const reqs = sum(cur, 'llmp_http_requests_total', isInference) - sum(prev, 'llmp_http_requests_total', isInference);
  const errs =
    sum(cur, 'llmp_http_requests_total', (l) => isInference(l) && Number(l.code) >= 500) -
    sum(prev, 'llmp_http_requests_total', (l) => isInference(l) && Number(l.code) >= 500);
  const tokensNow = byLabel(cur, 'llmp_generation_tokens_total', 'model');
  const tokensThen = byLabel(prev, 'llmp_generation_tokens_total', 'model');
  const tokensPerSec = new Map<string, number>();
  for (const [model, v] of tokensNow) tokensPerSec.set(model, Math.max(0, v - (tokensThen.get(model) ?? 0)) / dt);
  const ttftP50 = new Map<string, number | null>();
  for (const model of byLabel(cur, 'llmp_time_to_first_token_seconds_count', 'model').keys()) {
    ttftP50.set(model, quantileBetween(prev, cur, 'llmp_time_to_first_token_seconds_bucket', 0.5, (l) => l.model === model));
  }
  return {
    at: cur.at,
    rps: Math.max(0, reqs) / dt,
    errorRate: reqs > 0 ? Math.max(0, errs) / reqs : null,
    p50: quantileBetween(prev, cur, 'llmp_request_duration_seconds_bucket', 0.5),
    p99: quantileBetween(prev, cur, 'llmp_request_duration_seconds_bucket', 0.99),
    tokensPerSec,
    ttftP50,
    kvUsage: byLabel(cur, 'llmp_kv_cache_usage_ratio', 'model'),
    queue: byLabel(cur, 'llmp_engine_requests_waiting', 'model'),
    running: byLabel(cur, 'llmp_engine_requests_running', 'model'),
  };
}

//! The model names that appear in any point of `points` under `pick`.
export function modelsOf(points: Point[], pick: (p: Point) => Map<string, unknown>): string[] {
  const names = new Set<string>();
  for (const p of points) for (const k of pick(p).keys()) names.add(k);
  return [...names].sort();
}
