// console/catalog.js: the catalog in force — entries with their provider
// ids and grants, and items — searchable by SKU, reward id or item id, and
// reloadable from its file.
import { call, query } from './api.js';
import { h, replace, when, table, notice, field, details } from './dom.js';

// Every string leaf of a value (provider ids nest: steamEntitlement.app.appId).
function leaves(v, out = []) {
  if (typeof v === 'string' || typeof v === 'number') out.push(String(v));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => leaves(x, out));
  return out;
}

// "primeGaming.sku: pg_gold_100" for each provider id of an entry.
function providerLines(details_, prefix = '', out = []) {
  for (const [k, v] of Object.entries(details_ || {})) {
    if (v && typeof v === 'object') providerLines(v, `${prefix}${k}.`, out);
    else out.push(`${prefix}${k}: ${v}`);
  }
  return out;
}

function entryMatches(e, q) {
  return [e.id, e.bundle_id, ...leaves(e.provider_ids), ...e.grants.map((g) => g.catalog_id)]
    .some((x) => x && x.toLowerCase().includes(q));
}

function availability(a) {
  if (!a) return 'always';
  return `${a.starts_at ? `from ${when(a.starts_at)}` : ''}${a.starts_at && a.ends_at ? ' ' : ''}` +
    `${a.ends_at ? `until ${when(a.ends_at)}` : ''}`;
}

const ENTRY_COLUMNS = [
  { label: 'Entry', cell: (e) => e.id },
  { label: 'Provider ids', cell: (e) => h('ul', { class: 'plain' },
    e.provider_ids.flatMap((d) => providerLines(d)).map((l) => h('li', {}, l))) },
  { label: 'Grants', cell: (e) => h('ul', { class: 'plain' },
    e.grants.map((g) => h('li', {}, g.kind === 'stackable' ? `${g.amount} × ${g.catalog_id}` : g.catalog_id))) },
  { label: 'Bundle', cell: (e) => e.bundle_id || '' },
  { label: 'Limit per account', cell: (e) => (e.limit_per_account === null ? 'none' : String(e.limit_per_account)) },
  { label: 'Availability', cell: (e) => availability(e.availability) },
];

const ITEM_COLUMNS = [
  { label: 'Item id', cell: (i) => i.catalog_id },
  { label: 'Name', cell: (i) => i.name ?? '' },
  { label: 'Kind', cell: (i) => i.kind + (i.unique ? ' (unique)' : '') },
];

export async function catalogPage(view, _arg, params) {
  const search = h('input', { type: 'search', name: 'q', value: params.get('q') || '',
    autocomplete: 'off', spellcheck: 'false' });
  const reload = h('button', { type: 'button', class: 'secondary' }, 'Reload from file');
  const message = h('div', { 'aria-live': 'polite' });
  const summary = h('div');
  const results = h('div');
  let cat = null;

  function draw() {
    const q = search.value.trim().toLowerCase();
    const entries = q ? cat.entries.filter((e) => entryMatches(e, q)) : cat.entries;
    const items = q ? cat.items.filter((i) => [i.catalog_id, i.name]
      .some((x) => x && x.toLowerCase().includes(q))) : cat.items;
    replace(results,
      h('section', { 'aria-labelledby': 'entries-title' },
        h('h2', { id: 'entries-title' }, `Entries (${entries.length} of ${cat.entries.length})`),
        table('Catalog entries', ENTRY_COLUMNS, entries, 'No entry matches.')),
      h('section', { 'aria-labelledby': 'items-title' },
        h('h2', { id: 'items-title' }, `Items (${items.length} of ${cat.items.length})`),
        table('Catalog items', ITEM_COLUMNS, items, 'No item matches.')));
  }

  async function load() {
    cat = await call('GET', '/v1/operator/catalog');
    replace(summary, details([
      ['Version (SHA-256)', h('code', { class: 'wrap' }, cat.version)],
      ['Loaded', when(cat.loaded_at)],
    ]));
    draw();
  }

  search.addEventListener('input', () => {
    history.replaceState(null, '', `#/catalog${query({ q: search.value })}`);
    draw();
  });
  reload.addEventListener('click', async () => {
    reload.disabled = true;
    try {
      const r = await call('POST', '/v1/operator/catalog/reload');
      replace(message, notice('ok', `Reloaded: ${r.entries} entries in force.`));
      await load();
    } catch (e) {
      const problems = (e.body && e.body.error && e.body.error.problems) || [];
      replace(message, notice('error', `${e.code}: ${e.message}`),
        problems.length ? h('ul', { class: 'problems' }, problems.map((p) => h('li', {}, p))) : null);
    } finally {
      reload.disabled = false;
    }
  });
  const form = h('form', { class: 'row', role: 'search' },
    field('Search by SKU, reward id, entry or item id', search));
  form.addEventListener('submit', (ev) => ev.preventDefault());
  replace(view, h('div', { class: 'title-row' }, h('h1', {}, 'Catalog'), reload),
    message, summary, form, results);
  await load();
}
