// console/overview.js: a live overview from /metrics every 5 seconds —
// requests per second, error rate, p99 latency and outbox depth over the
// last minutes, and fulfilments by source and outcome — drawn as inline
// SVG built with DOM APIs.
import { call } from './api.js';
import { h, s, replace, notice } from './dom.js';
import { parseMetrics, figures } from './metrics.js';

const PERIOD_MS = 5000;
const KEEP = 60;             // points per chart: 5 minutes
const W = 300;
const H = 80;

function fmt(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (unit === '%') return `${(v * 100).toFixed(1)} %`;
  if (unit === 'ms') return `${(v * 1000).toFixed(1)} ms`;
  if (unit === '/s') return `${v.toFixed(2)} /s`;
  return String(Math.round(v));
}

// A line chart of `points` (numbers or null) with its latest value.
function sparkline(title, points, unit) {
  const vals = points.filter((v) => v !== null && v !== undefined);
  const max = Math.max(1e-9, ...vals);
  const step = W / Math.max(1, KEEP - 1);
  const offset = KEEP - points.length;
  const coords = points.map((v, i) => (v === null || v === undefined ? null
    : `${((offset + i) * step).toFixed(1)},${(H - 4 - (v / max) * (H - 8)).toFixed(1)}`))
    .filter(Boolean);
  const last = points.length ? points[points.length - 1] : null;
  const label = `${title}: ${fmt(last, unit)} now, peak ${fmt(vals.length ? max : null, unit)}`;
  return h('figure', { class: 'chart' },
    h('figcaption', {}, h('span', {}, title), h('strong', {}, fmt(last, unit))),
    s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, preserveAspectRatio: 'none' },
      s('title', {}, label),
      s('line', { x1: 0, y1: H - 4, x2: W, y2: H - 4, class: 'axis' }),
      coords.length ? s('polyline', { points: coords.join(' '), class: 'line' }) : null));
}

// Horizontal bars, one per key of `counts`: the labels and values are text,
// each bar a small SVG that stretches with the screen.
function bars(title, counts) {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map((e) => e[1]));
  return h('figure', { class: 'chart wide' },
    h('figcaption', {}, h('span', {}, title)),
    entries.length ? h('ul', { class: 'bars' }, entries.map(([k, v]) => h('li', {},
      h('span', { class: 'bar-label' }, k),
      s('svg', { viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
        s('rect', { x: 0, y: 0, height: 10, width: Math.max(0.5, (v / max) * 100), class: 'bar' })),
      h('span', { class: 'bar-value' }, String(v)))))
      : h('p', { class: 'empty' }, 'No fulfilments yet.'));
}

export async function overviewPage(view) {
  const status = h('p', { class: 'hint', 'aria-live': 'polite' }, 'Reading /metrics…');
  const grid = h('div', { class: 'charts' });
  const history = { rps: [], err: [], p99: [], depth: [] };
  let before = null;
  let timer = null;
  let stopped = false;

  const push = (arr, v) => { arr.push(v); if (arr.length > KEEP) arr.shift(); };

  async function tick() {
    try {
      const text = await call('GET', '/metrics', { text: true });
      const now = { t: Date.now(), samples: parseMetrics(text) };
      const f = figures(now, before);
      before = now;
      push(history.rps, f.requestsPerSecond);
      push(history.err, f.errorRate);
      push(history.p99, f.p99Seconds);
      push(history.depth, f.outboxPending);
      replace(grid,
        sparkline('Requests', history.rps, '/s'),
        sparkline('Error rate (5xx)', history.err, '%'),
        sparkline('p99 latency', history.p99, 'ms'),
        sparkline(`Outbox depth (dead: ${f.outboxDead})`, history.depth, ''),
        bars('Fulfilments by source and outcome (since start)', f.fulfilments));
      replace(status, `Updated ${new Date(now.t).toLocaleTimeString()}; every ${PERIOD_MS / 1000} s.`);
    } catch (e) {
      replace(status, notice('error', e.message));
    }
    if (!stopped) timer = setTimeout(tick, PERIOD_MS);
  }

  replace(view, h('h1', {}, 'Overview'), status, grid);
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}
