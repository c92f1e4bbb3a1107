// console/dom.js: building the page with DOM APIs only. Text always goes in
// through text nodes; nothing here ever parses HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'text') {
      el.textContent = String(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// An HTML element: h('a', {href: '#/x', class: 'y'}, 'text', child, ...).
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

// An SVG element, as h does.
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

// Replaces everything in `el` with `children`.
export function replace(el, ...children) {
  el.replaceChildren();
  return fill(el, {}, children);
}

// A time in epoch milliseconds or RFC 3339 as the reader's local time.
export function when(t) {
  if (t === null || t === undefined || t === '') return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

// A table: columns [{label, cell(row) -> node or text}], rows [...].
export function table(caption, columns, rows, empty = 'Nothing here.') {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'scroll', role: 'region', 'aria-label': caption, tabindex: '0' },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', {}, c.cell(r))))))));
}

// A definition list from [[term, value], ...].
export function details(pairs) {
  return h('dl', { class: 'facts' },
    pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

// A message in a live region: kind is 'error', 'ok' or 'info'.
export function notice(kind, ...text) {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...text);
}

// A labelled form control: field('Status', select) -> <label>…</label>.
let fieldSeq = 0;
export function field(label, control) {
  if (!control.id) control.id = `f${++fieldSeq}`;
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control);
}

// A <select> from [[value, label], ...] with `current` selected.
export function select(name, options, current) {
  return h('select', { name },
    options.map(([v, l]) => h('option', { value: v, selected: v === current }, l)));
}
