// console/account.js: account lookup — state, links, inventory and the
// fulfilment history with provider and status filters, in cursor pages.
import { call, seg, query, ApiError } from './api.js';
import { h, replace, when, table, details, notice, field, select } from './dom.js';

const PROVIDERS = [['', 'Any provider'], ['primegaming', 'Prime Gaming'],
  ['twitch', 'Twitch'], ['epic', 'Epic'], ['steam', 'Steam'],
  ['gamepot', 'GAMEPOT'], ['tentuplay', 'TentuPlay']];
const STATUSES = [['', 'Any status'], ['pending', 'Pending'], ['completed', 'Completed'],
  ['failed', 'Failed'], ['revoked', 'Revoked']];

export const fulfillmentLink = (id) =>
  h('a', { href: `#/fulfillment/${seg(id)}` }, id);

function lookupForm(current) {
  const input = h('input', { type: 'search', name: 'account_id', value: current || '',
    required: true, maxlength: '128', autocomplete: 'off', spellcheck: 'false' });
  const form = h('form', { class: 'row', role: 'search' },
    field('Account id', input), h('button', { type: 'submit' }, 'Find'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = input.value.trim();
    if (id) location.hash = `#/account/${seg(id)}`;
  });
  return [form, input];
}

function inventoryView(inv) {
  return [
    table('Stackables', [
      { label: 'Item', cell: (r) => r.catalog_id },
      { label: 'Amount', cell: (r) => String(r.amount) },
    ], inv.stackables, 'No stackables.'),
    table('Instanced items', [
      { label: 'Item', cell: (r) => r.catalog_id },
      { label: 'Instance', cell: (r) => h('code', {}, r.instance_id) },
      { label: 'From fulfilment', cell: (r) => fulfillmentLink(r.fulfillment_id) },
      { label: 'Acquired', cell: (r) => when(r.acquired_at_millis) },
    ], inv.instanced, 'No instanced items.'),
  ];
}

const HISTORY_COLUMNS = [
  { label: 'Fulfilment', cell: (r) => fulfillmentLink(r.fulfillment_id) },
  { label: 'Created', cell: (r) => when(r.created_at_millis) },
  { label: 'Provider', cell: (r) => r.provider_id },
  { label: 'External id', cell: (r) => r.external_id },
  { label: 'Provider item', cell: (r) => r.provider_item_id },
  { label: 'Status', cell: (r) => h('span', { class: `status ${r.provider_entitlement_record_status}` },
    r.provider_entitlement_record_status) },
  { label: 'Error', cell: (r) => r.error_code || '' },
];

// The history section: filters, a table and a "More" button.
function historyView(accountId, params) {
  const provider = select('provider', PROVIDERS, params.get('provider') || '');
  const status = select('status', STATUSES, params.get('status') || '');
  const out = h('div', { class: 'history' });
  const more = h('button', { type: 'button', hidden: true }, 'More');
  let rows = [];
  let cursor = null;

  async function load(reset) {
    if (reset) { rows = []; cursor = null; }
    try {
      const page = await call('GET', `/v1/operator/fulfillments${query({
        account_id: accountId, provider: provider.value, status: status.value,
        limit: 25, cursor })}`);
      rows = rows.concat(page.fulfillments);
      cursor = page.next_cursor;
      replace(out, table('Fulfilments, newest first', HISTORY_COLUMNS, rows, 'No fulfilments match.'));
      more.hidden = !cursor;
    } catch (e) {
      replace(out, notice('error', e.message));
    }
  }
  const filters = h('form', { class: 'row', 'aria-label': 'History filters' },
    field('Provider', provider), field('Status', status),
    h('button', { type: 'submit' }, 'Apply'));
  filters.addEventListener('submit', (ev) => { ev.preventDefault(); load(true); });
  more.addEventListener('click', () => load(false));
  load(true);
  return h('section', { 'aria-labelledby': 'history-title' },
    h('h2', { id: 'history-title' }, 'History'), filters, out, more);
}

export async function accountPage(view, accountId, params) {
  const [form, input] = lookupForm(accountId);
  replace(view, h('h1', {}, 'Accounts'), form);
  if (!accountId) { input.focus(); return; }
  const body = h('div', { class: 'account', 'aria-live': 'polite' }, notice('info', 'Loading…'));
  view.append(body);
  let a;
  try {
    a = await call('GET', `/v1/operator/accounts/${seg(accountId)}`);
  } catch (e) {
    replace(body, notice('error', e instanceof ApiError && e.code === 'AccountNotFound'
      ? `No account "${accountId}".` : e.message));
    return;
  }
  replace(body,
    h('section', { 'aria-labelledby': 'acct-title' },
      h('h2', { id: 'acct-title' }, 'Account ', h('span', { class: 'id' }, a.account.account_id)),
      details([
        ['State', h('span', { class: `state ${a.account.state}` }, a.account.state)],
        ['Created', when(a.account.created_at_millis)],
        ['Updated', when(a.account.updated_at_millis)],
      ])),
    h('section', { 'aria-labelledby': 'links-title' },
      h('h2', { id: 'links-title' }, 'Links'),
      table('Provider links', [
        { label: 'Provider', cell: (r) => r.provider },
        { label: 'External id', cell: (r) => r.external_id },
        { label: 'State', cell: (r) => r.state },
        { label: 'Linked', cell: (r) => when(r.linked_at) },
      ], a.links, 'No links.')),
    h('section', { 'aria-labelledby': 'inv-title', id: 'inventory' },
      h('h2', { id: 'inv-title' }, 'Inventory'), inventoryView(a.inventory)),
    historyView(accountId, params));
}
