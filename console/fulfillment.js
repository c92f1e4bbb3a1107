// console/fulfillment.js: one fulfilment — its record and grants — and its
// revocation, behind a dialog that names what will be removed and asks why.
import { call, seg } from './api.js';
import { h, replace, when, table, details, notice, field } from './dom.js';

// What revoking takes back, from the grants ledger, one line per grant.
function removalLines(grants) {
  return grants.map((g) => (g.instance_id
    ? `${g.catalog_id} (instance ${g.instance_id})`
    : `${g.amount} × ${g.catalog_id}`));
}

function revokeDialog(f, onDone) {
  const reason = h('textarea', { name: 'reason', required: true, maxlength: '500', rows: '3' });
  const release = h('input', { type: 'checkbox', name: 'release_claim' });
  const status = h('div', { 'aria-live': 'assertive' });
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const confirm = h('button', { type: 'submit', class: 'danger' }, 'Revoke');
  const form = h('form', { class: 'dialog-body' },
    h('h2', { id: 'revoke-title' }, 'Revoke fulfilment ', h('code', {}, f.fulfillment_id), '?'),
    h('p', {}, 'This removes from account ', h('strong', {}, f.player_id), ':'),
    h('ul', { class: 'removal' }, removalLines(f.grants).map((l) => h('li', {}, l))),
    h('p', { class: 'hint' }, 'Stackables are subtracted as the server\'s revocation policy says; ',
      'the fulfilment stays in the history as revoked.'),
    field('Reason (required, kept in the audit trail)', reason),
    h('div', { class: 'check' }, release,
      h('label', { for: (release.id = 'release-claim') }, 'Give back the claim (the entry may be claimed again)')),
    status,
    h('div', { class: 'buttons' }, cancel, confirm));
  const dialog = h('dialog', { 'aria-labelledby': 'revoke-title' }, form);
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = reason.value.trim();
    if (!text) { replace(status, notice('error', 'A reason is required.')); reason.focus(); return; }
    confirm.disabled = true;
    try {
      const r = await call('POST', `/v1/fulfillments/${seg(f.fulfillment_id)}/revoke`,
        { body: { reason: text, release_claim: release.checked } });
      dialog.close();
      onDone(r);
    } catch (e) {
      confirm.disabled = false;
      replace(status, notice('error', `${e.code}: ${e.message}`));
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  reason.focus();
}

function removedView(r) {
  const lines = [
    ...r.removed.stackables.map((x) => `${x.amount} × ${x.catalog_id}` +
      (x.shortfall ? ` (short by ${x.shortfall})` : '')),
    ...r.removed.instanced.map((x) => `${x.catalog_id} (instance ${x.instance_id})`),
  ];
  return notice('ok', `Revoked at ${when(r.revoked_at)}. Removed: `,
    lines.length ? lines.join(', ') : 'nothing', '.');
}

export async function fulfillmentPage(view, id, _params, result) {
  replace(view, h('h1', {}, 'Fulfilment ', h('code', {}, id || '—')));
  if (!id) { view.append(notice('info', 'Open a fulfilment from an account\'s history.')); return; }
  let f;
  try {
    f = await call('GET', `/v1/operator/fulfillments/${seg(id)}`);
  } catch (e) {
    view.append(notice('error', e.code === 'FulfillmentNotFound' ? `No fulfilment "${id}".` : e.message));
    return;
  }
  const status = f.provider_entitlement_record_status;
  const revoke = h('button', { type: 'button', class: 'danger', disabled: status !== 'completed' },
    'Revoke…');
  revoke.addEventListener('click', () => revokeDialog(f, (r) => {
    fulfillmentPage(view, id, _params, r);
  }));
  if (result) view.append(removedView(result));
  view.append(
    details([
      ['Account', h('a', { href: `#/account/${seg(f.player_id)}` }, f.player_id)],
      ['Status', h('span', { class: `status ${status}` }, status)],
      ['Provider', f.provider_id],
      ['External id', f.external_id],
      ['Provider entitlement', f.provider_entitlement_id],
      ['Provider item', f.provider_item_id],
      ['Created', when(f.created_at_millis)],
      ['Fulfilled', when(f.fulfilled_timestamp_millis)],
      ['Error', f.error_code],
      ['Skipped items', (f.skipped_catalog_ids || []).join(', ') || null],
    ]),
    h('section', { 'aria-labelledby': 'grants-title' },
      h('h2', { id: 'grants-title' }, 'Grants'),
      table('What this fulfilment granted', [
        { label: 'Line', cell: (g) => String(g.line) },
        { label: 'Item', cell: (g) => g.catalog_id },
        { label: 'Amount', cell: (g) => String(g.amount) },
        { label: 'Instance', cell: (g) => (g.instance_id ? h('code', {}, g.instance_id) : '') },
      ], f.grants, 'It granted nothing.')),
    h('div', { class: 'buttons' }, revoke));
}
