// console/outbox.js: the outbox queue by status, newest first, with a
// retry button for dead and waiting deliveries.
import { call, seg, query } from './api.js';
import { h, replace, when, table, notice, field, select } from './dom.js';

const STATUSES = [['', 'Any status'], ['pending', 'Pending'], ['dead', 'Dead'],
  ['delivered', 'Delivered']];

export async function outboxPage(view, _arg, params) {
  const status = select('status', STATUSES, params.get('status') || '');
  const out = h('div', { 'aria-live': 'polite' });
  const message = h('div');
  const more = h('button', { type: 'button', hidden: true }, 'More');
  let rows = [];
  let before = null;

  async function retry(d, button) {
    button.disabled = true;
    try {
      const r = await call('POST', `/v1/operator/outbox/${seg(String(d.id))}/retry`);
      replace(message, notice('ok', `Delivery ${d.id} (${d.kind}) is due now (${r.retried} retried).`));
      load(true);
    } catch (e) {
      button.disabled = false;
      replace(message, notice('error', `Delivery ${d.id}: ${e.code}: ${e.message}`));
    }
  }

  const columns = [
    { label: 'Id', cell: (d) => String(d.id) },
    { label: 'Kind', cell: (d) => d.kind },
    { label: 'Key', cell: (d) => h('code', {}, d.key) },
    { label: 'Account', cell: (d) => (d.account_id
      ? h('a', { href: `#/account/${seg(d.account_id)}` }, d.account_id) : '—') },
    { label: 'Status', cell: (d) => h('span', { class: `status ${d.status}` }, d.status) },
    { label: 'Attempts', cell: (d) => String(d.attempts) },
    { label: 'Next attempt', cell: (d) => when(d.next_attempt_at) },
    { label: 'Last error', cell: (d) => d.last_error || '' },
    { label: 'Updated', cell: (d) => when(d.updated_at) },
    { label: 'Action', cell: (d) => {
      if (d.status === 'delivered') return '';
      const b = h('button', { type: 'button', 'aria-label': `Retry delivery ${d.id}` }, 'Retry');
      b.addEventListener('click', () => retry(d, b));
      return b;
    } },
  ];

  async function load(reset) {
    if (reset) { rows = []; before = null; }
    try {
      const page = await call('GET', `/v1/operator/outbox${query({
        status: status.value, limit: 50, before })}`);
      rows = rows.concat(page.deliveries);
      before = page.next_before;
      replace(out, table('Deliveries, newest first', columns, rows, 'No deliveries.'));
      more.hidden = before === null || before === undefined;
    } catch (e) {
      replace(out, notice('error', e.message));
    }
  }

  const filters = h('form', { class: 'row', 'aria-label': 'Outbox filter' },
    field('Status', status), h('button', { type: 'submit' }, 'Show'));
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    history.replaceState(null, '', `#/outbox${query({ status: status.value })}`);
    load(true);
  });
  more.addEventListener('click', () => load(false));
  replace(view, h('h1', {}, 'Outbox'), filters, message, out, more);
  await load(true);
}
