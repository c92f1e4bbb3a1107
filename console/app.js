// console/app.js: the operator console's shell — sign-in, navigation and
// the hash routes, each drawn by its page module.
import { credential, onUnauthorized } from './api.js';
import { h, replace, field, notice } from './dom.js';
import { accountPage } from './account.js';
import { fulfillmentPage } from './fulfillment.js';
import { outboxPage } from './outbox.js';
import { catalogPage } from './catalog.js';
import { overviewPage } from './overview.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signOutButton = document.getElementById('sign-out');
let cleanup = null;   // the page's teardown (timers), if any

// '#/account/p%201?status=x' -> {page: 'account', arg: 'p 1', params}
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, q = ''] = raw.split('?');
  const [page, ...rest] = path.split('/');
  let arg = '';
  try { arg = decodeURIComponent(rest.join('/')); } catch { arg = ''; }
  return { page: page || 'account', arg, params: new URLSearchParams(q) };
}

const pages = {
  account: accountPage,
  fulfillment: fulfillmentPage,
  outbox: outboxPage,
  catalog: catalogPage,
  overview: overviewPage,
};

function signInForm(message) {
  const input = h('input', { type: 'password', name: 'credential', autocomplete: 'off',
    required: true, spellcheck: 'false' });
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('p', {}, 'Paste an API key with the operator scope, or an access token. ',
      'It is kept in this tab only, until you sign out or close it.'),
    message ? notice('error', message) : null,
    field('Operator key or access token', input),
    h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = input.value.trim();
    if (!v) return;
    credential.set(v);
    route();
  });
  return [form, input];
}

function setSignedIn(on) {
  nav.hidden = !on;
  signOutButton.hidden = !on;
}

function markCurrent(page) {
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === `#/${page}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function route(message) {
  if (cleanup) { cleanup(); cleanup = null; }
  if (!credential.get()) {
    setSignedIn(false);
    const [form, input] = signInForm(message);
    replace(main, form);
    input.focus();
    return;
  }
  setSignedIn(true);
  const { page, arg, params } = parseHash();
  const draw = pages[page] || accountPage;
  markCurrent(pages[page] ? page : 'account');
  const view = h('div', { class: 'page' });
  replace(main, view);
  try {
    cleanup = (await draw(view, arg, params)) || null;
  } catch (e) {
    replace(view, notice('error', e.message || String(e)));
  }
}

signOutButton.addEventListener('click', () => {
  credential.clear();
  location.hash = '#/account';
  route();
});

onUnauthorized(() => {
  credential.clear();
  route('The credential was refused (unknown, revoked or expired). Sign in again.');
});

window.addEventListener('hashchange', () => route());
route();
