// console/metrics.js: reading the Prometheus text format /metrics answers,
// and the figures the overview draws from two consecutive scrapes.

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;

function unescapeLabel(v) {
  return v.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
}

// Parses the text into [{name, labels: {k: v}, value}], skipping comments
// and lines it cannot read.
export function parseMetrics(text) {
  const out = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[2]) for (const l of m[2].matchAll(LABEL)) labels[l[1]] = unescapeLabel(l[2]);
    const value = Number(m[3] === '+Inf' ? Infinity : m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1], labels, value });
  }
  return out;
}

// The sum of every sample of `name` whose labels pass `keep`.
export function sum(samples, name, keep = () => true) {
  return samples.filter((x) => x.name === name && keep(x.labels))
    .reduce((a, x) => a + x.value, 0);
}

// Sums by the value of one label: {labelValue: sum}.
export function sumBy(samples, name, label) {
  const out = {};
  for (const x of samples) {
    if (x.name !== name) continue;
    const k = x.labels[label] ?? '';
    out[k] = (out[k] || 0) + x.value;
  }
  return out;
}

// The cumulative buckets of a histogram summed over every other label:
// [[le, count], ...] sorted by le.
export function buckets(samples, name) {
  const by = sumBy(samples.filter((x) => x.name === `${name}_bucket`), `${name}_bucket`, 'le');
  return Object.entries(by).map(([le, n]) => [le === '+Inf' ? Infinity : Number(le), n])
    .sort((a, b) => a[0] - b[0]);
}

// The q-quantile (0..1) of cumulative buckets, interpolated linearly within
// the bucket it falls in (as PromQL's histogram_quantile); null when empty.
export function quantile(q, cum) {
  if (!cum.length) return null;
  const total = cum[cum.length - 1][1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevN = 0;
  for (const [le, n] of cum) {
    if (n >= rank) {
      if (le === Infinity) return prevLe;
      if (n === prevN) return le;
      return prevLe + (le - prevLe) * ((rank - prevN) / (n - prevN));
    }
    prevLe = le;
    prevN = n;
  }
  return prevLe;
}

// Bucket counts of `now` minus those of `before` (the requests between two
// scrapes); `now` alone when there is no `before`.
export function bucketDelta(now, before) {
  if (!before) return now;
  const old = new Map(before.map(([le, n]) => [le, n]));
  return now.map(([le, n]) => [le, Math.max(0, n - (old.get(le) || 0))]);
}

// The overview's figures from the scrape `now` and the one before it (or
// null), each {t: ms, samples}.
export function figures(now, before) {
  const req = (s) => sum(s, 'grantd_http_requests_total');
  const err = (s) => sum(s, 'grantd_http_requests_total', (l) => /^5/.test(l.status || ''));
  const hist = (s) => buckets(s, 'grantd_http_request_duration_seconds');
  const f = {
    outboxPending: sum(now.samples, 'grantd_outbox_pending'),
    outboxDead: sum(now.samples, 'grantd_outbox_dead'),
    fulfilments: {},
    requestsPerSecond: null,
    errorRate: null,
    p99Seconds: null,
  };
  for (const x of now.samples) {
    if (x.name !== 'grantd_fulfillments_total') continue;
    const k = `${x.labels.source || '?'} / ${x.labels.outcome || '?'}`;
    f.fulfilments[k] = (f.fulfilments[k] || 0) + x.value;
  }
  if (before) {
    const dt = (now.t - before.t) / 1000;
    const dReq = Math.max(0, req(now.samples) - req(before.samples));
    const dErr = Math.max(0, err(now.samples) - err(before.samples));
    if (dt > 0) f.requestsPerSecond = dReq / dt;
    f.errorRate = dReq > 0 ? dErr / dReq : 0;
  }
  f.p99Seconds = quantile(0.99, bucketDelta(hist(now.samples), before && hist(before.samples)));
  return f;
}
