// tests/browser/console.test.mjs: the operator console in a real browser
// (Debian's chromium driven by playwright-core) against a real grantd on
// SQLite: sign in, find a player, open a fulfilment, revoke it and see the
// inventory change; markup in an account id or a catalog item name shows as
// text and never runs; every console response carries the strict CSP; a
// screenshot of each page at 1280×800 and 390×844.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const GRANTD = process.env.GRANTD_BIN || path.join(ROOT, 'build/grantd');
const NPM_DIR = process.env.PLAYWRIGHT_PREFIX || path.join(ROOT, 'build/npm');
const SHOTS = path.join(HERE, 'screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const { chromium } = createRequire(path.join(NPM_DIR, 'package.json'))('playwright-core');

const XSS = '<img src=x onerror=window.__xss=1>';
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "connect-src 'self'; img-src 'self' data:; base-uri 'none'; " +
  "form-action 'none'; frame-ancestors 'none'";
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };

let dir;
let server;       // the grantd child process
let base;         // http://127.0.0.1:<port>
let browser;
const keys = {};

function cli(...args) {
  const r = spawnSync(GRANTD, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `grantd ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function createKey(config, name, scope) {
  const out = cli('keys', 'create', '--config', config, '--name', name, '--scope', scope, '--json');
  return JSON.parse(out.trim().split('\n').pop()).key;
}

// Starts grantd and resolves with its port, read from the "listening" log line.
function startGrantd(config, stderrPath) {
  return new Promise((resolve, reject) => {
    const err = fs.openSync(stderrPath, 'a');
    server = spawn(GRANTD, ['serve', '--config', config], { stdio: ['ignore', 'ignore', err] });
    const deadline = Date.now() + 10000;
    const poll = () => {
      for (const line of fs.readFileSync(stderrPath, 'utf8').split('\n')) {
        try {
          const j = JSON.parse(line);
          if (j.event === 'listening') return resolve(j.port);
        } catch { /* not a log line */ }
      }
      if (server.exitCode !== null) return reject(new Error(`grantd exited: ${fs.readFileSync(stderrPath, 'utf8')}`));
      if (Date.now() > deadline) return reject(new Error('grantd did not start listening'));
      setTimeout(poll, 25);
    };
    poll();
  });
}

async function stopGrantd() {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  const t = setTimeout(() => server.kill('SIGKILL'), 10000);
  await exited;
  clearTimeout(t);
}

async function api(method, p, key, body) {
  const res = await fetch(base + p, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function seed() {
  for (const id of ['player-1', XSS]) {
    const r = await api('PUT', `/v1/accounts/${encodeURIComponent(id)}`, keys.partner, { state: 'active' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const grants = [['player-1', 'pg_gold_100', 't-1'], ['player-1', 'pg_starter', 't-2'],
    ['player-1', 'pg_dragon', 't-3'], [XSS, 'pg_gold_100', 't-4'], [XSS, 'pg_xss', 't-5']];
  for (const [account_id, sku, transaction_id] of grants) {
    const r = await api('POST', '/v1/primegaming/fulfillment', keys.prime, { account_id, sku, transaction_id });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grantd-console-'));
  fs.mkdirSync(SHOTS, { recursive: true });
  const catalog = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/e2e/catalog_test.json'), 'utf8'));
  catalog.items.push({ catalogId: 'xss_item', kind: 'instanced', name: XSS });
  catalog.entitlements.push({ id: 'xss-entry', instanced: { catalogId: 'xss_item' },
    providerDetails: [{ primeGaming: { sku: 'pg_xss' } }] });
  fs.writeFileSync(path.join(dir, 'catalog.json'), JSON.stringify(catalog, null, 2));
  const config = path.join(dir, 'grantd.yaml');
  fs.writeFileSync(config, [
    'server:', '  listen: "127.0.0.1:0"', '  threads: 2',
    'storage:', '  sqlite:', `    path: ${JSON.stringify(path.join(dir, 'grantd.db'))}`,
    'catalog:', `  path: ${JSON.stringify(path.join(dir, 'catalog.json'))}`,
    'log:', '  level: info', ''].join('\n'));
  cli('migrate', '--config', config);
  keys.prime = createKey(config, 'prime', 'fulfillment:primegaming');
  keys.partner = createKey(config, 'backend', 'partner');
  keys.operator = createKey(config, 'ops', 'operator');
  const port = await startGrantd(config, path.join(dir, 'stderr.log'));
  base = `http://127.0.0.1:${port}`;
  await seed();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});

after(async () => {
  try {
    if (browser) await browser.close();
  } finally {
    await stopGrantd();
    if (dir && !process.env.KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
  }
});

// A new page at `viewport` that records CSP violations and page errors.
async function newPage(viewport) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) page.problems.push(m.text());
  });
  page.on('pageerror', (e) => page.problems.push(String(e)));
  return page;
}

async function shot(page, name, viewportName) {
  await page.screenshot({ path: path.join(SHOTS, `${name}-${viewportName}.png`), fullPage: true });
}

async function signIn(page) {
  const res = await page.goto(`${base}/console/`);
  assert.equal(res.status(), 200);
  assert.equal(res.headers()['content-security-policy'], CSP);
  await page.getByLabel('Operator key or access token').fill(keys.operator);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Account id').waitFor();
}

async function findAccount(page, id) {
  await page.getByLabel('Account id').fill(id);
  await page.getByRole('button', { name: 'Find' }).click();
  await page.locator('#inventory').waitFor();
}

async function noScriptRan(page) {
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'injected markup ran');
  assert.equal(await page.locator('img').count(), 0, 'injected markup became an element');
}

test('every console response carries the strict policy', async () => {
  for (const file of ['', 'index.html', 'app.js', 'console.css', 'dom.js', 'nope.js']) {
    const res = await fetch(`${base}/console/${file}`);
    assert.equal(res.headers.get('content-security-policy'), CSP, file);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', file);
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer', file);
    assert.equal(res.status, file === 'nope.js' ? 404 : 200, file);
  }
  assert.match((await fetch(`${base}/console/app.js`)).headers.get('content-type'), /^text\/javascript/);
});

test('sign in, find the player, revoke a fulfilment, see the inventory change', async () => {
  const page = await newPage(VIEWPORTS.desktop);
  await page.goto(`${base}/console/`);
  await shot(page, 'signin', 'desktop');
  await signIn(page);
  await findAccount(page, 'player-1');
  const inventory = page.locator('#inventory');
  await page.getByRole('table', { name: 'Fulfilments, newest first' }).waitFor();
  assert.equal(await inventory.getByRole('cell', { name: 'hat_red', exact: true }).count(), 1);
  assert.equal(await inventory.getByRole('cell', { name: '200', exact: true }).count(), 1);
  await shot(page, 'account', 'desktop');

  // the history filters: only completed Prime Gaming grants are listed
  await page.getByLabel('Status').selectOption('revoked');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByText('No fulfilments match.').waitFor();
  await page.getByLabel('Status').selectOption('');
  await page.getByRole('button', { name: 'Apply' }).click();

  // the starter bundle's fulfilment: t-2
  const row = page.getByRole('row').filter({ hasText: 't-2' });
  await row.getByRole('link').click();
  await page.getByRole('heading', { name: 'Grants' }).waitFor();
  await shot(page, 'fulfillment', 'desktop');
  await page.getByRole('button', { name: 'Revoke…' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  const removal = await dialog.locator('.removal li').allTextContents();
  assert.equal(removal.length, 3);
  assert.ok(removal.includes('100 × gold'), removal.join('|'));
  assert.ok(removal.some((l) => l.startsWith('hat_red (instance ')), removal.join('|'));
  assert.ok(removal.some((l) => l.startsWith('sword (instance ')), removal.join('|'));
  await shot(page, 'revoke-dialog', 'desktop');
  // no reason: refused in the dialog, nothing sent
  await dialog.getByRole('button', { name: 'Revoke' }).click();
  assert.equal(await dialog.isVisible(), true);
  await dialog.getByLabel(/Reason/).fill('refunded by the store');
  await dialog.getByRole('button', { name: 'Revoke' }).click();
  await page.getByText(/^Revoked at /).waitFor();
  assert.equal(await page.locator('.status.revoked').first().textContent(), 'revoked');
  assert.equal(await page.getByRole('button', { name: 'Revoke…' }).isDisabled(), true);

  await page.getByRole('link', { name: 'player-1' }).click();
  await page.locator('#inventory').waitFor();
  await page.getByRole('table', { name: 'Instanced items' }).waitFor();
  assert.equal(await inventory.getByRole('cell', { name: 'hat_red', exact: true }).count(), 0);
  assert.equal(await inventory.getByRole('cell', { name: 'sword', exact: true }).count(), 0);
  assert.equal(await inventory.getByRole('cell', { name: 'skin_dragon', exact: true }).count(), 1);
  assert.equal(await inventory.getByRole('cell', { name: '100', exact: true }).count(), 1);
  const r = await api('GET', '/v1/accounts/player-1/inventory', keys.partner);
  assert.deepEqual(r.body.stackables, [{ catalog_id: 'gold', amount: 100 }]);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('markup in an account id or an item name is shown, never run', async () => {
  const page = await newPage(VIEWPORTS.desktop);
  await signIn(page);
  await findAccount(page, XSS);
  await page.getByRole('table', { name: 'Fulfilments, newest first' }).waitFor();
  assert.equal(await page.locator('#acct-title .id').textContent(), XSS);
  assert.equal(await page.getByLabel('Account id').inputValue(), XSS);
  await noScriptRan(page);
  await shot(page, 'account-markup', 'desktop');

  await page.getByRole('link', { name: 'Catalog' }).click();
  await page.getByLabel(/Search by SKU/).fill('pg_xss');
  await page.getByRole('heading', { name: 'Entries (1 of 10)' }).waitFor();
  const items = page.getByRole('table', { name: 'Catalog items' });
  assert.equal(await items.getByRole('cell', { name: XSS, exact: true }).count(), 0,
    'the search by SKU keeps only matching items');
  await page.getByLabel(/Search by SKU/).fill('xss_item');
  await items.getByRole('cell', { name: XSS, exact: true }).waitFor();
  await noScriptRan(page);

  // the item through an account's inventory and a fulfilment too
  await page.goto(`${base}/console/#/account/${encodeURIComponent(XSS)}`);
  await page.getByRole('cell', { name: 'xss_item', exact: true }).waitFor();
  await noScriptRan(page);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the catalog search finds SKUs, reward ids and item ids', async () => {
  const page = await newPage(VIEWPORTS.desktop);
  await signIn(page);
  await page.getByRole('link', { name: 'Catalog' }).click();
  const search = page.getByLabel(/Search by SKU/);
  const entries = page.getByRole('table', { name: 'Catalog entries' });
  await entries.waitFor();
  for (const [q, id] of [['pg_starter', 'starter'], ['df1e2846', 'twitch-gems'], ['skin_dragon', 'dragon-skin']]) {
    await search.fill(q);
    await entries.getByRole('cell', { name: id, exact: true }).waitFor();
    assert.equal(await entries.locator('tbody tr').count(), 1, q);
  }
  await search.fill('');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a screenshot of every page at desktop and phone sizes', async () => {
  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    const page = await newPage(viewport);
    await page.goto(`${base}/console/`);
    await page.getByLabel('Operator key or access token').waitFor();
    if (name !== 'desktop') await shot(page, 'signin', name);
    await signIn(page);
    await findAccount(page, 'player-1');
    await page.getByRole('table', { name: 'Fulfilments, newest first' }).waitFor();
    if (name !== 'desktop') await shot(page, 'account', name);
    const rec = (await api('GET', '/v1/operator/fulfillments?external_id=t-3', keys.operator)).body.fulfillments[0];
    await page.goto(`${base}/console/#/fulfillment/${rec.fulfillment_id}`);
    await page.getByRole('heading', { name: 'Grants' }).waitFor();
    if (name !== 'desktop') {
      await shot(page, 'fulfillment', name);
      await page.getByRole('button', { name: 'Revoke…' }).click();
      await page.getByRole('dialog').waitFor();
      await shot(page, 'revoke-dialog', name);
      await page.getByRole('button', { name: 'Cancel' }).click();
    }
    await page.getByRole('link', { name: 'Outbox' }).click();
    await page.getByRole('heading', { name: 'Outbox' }).waitFor();
    await page.getByText(/No deliveries|Deliveries, newest first/).first().waitFor();
    await shot(page, 'outbox', name);
    await page.getByRole('link', { name: 'Catalog' }).click();
    await page.getByRole('table', { name: 'Catalog entries' }).waitFor();
    await shot(page, 'catalog', name);
    await page.getByRole('link', { name: 'Overview' }).click();
    // a rate needs two scrapes, 5 s apart
    await page.locator('.chart figcaption strong').first().filter({ hasText: '/s' })
      .waitFor({ timeout: 15000 });
    assert.match(await page.locator('.bars li').first().textContent(), /primegaming \/ Granted/);
    await shot(page, 'overview', name);
    // the page is as wide as the screen: nothing needs sideways scrolling
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than the screen`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Operator key or access token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }
});

test('a partner key is refused by the console\'s data routes', async () => {
  const page = await newPage(VIEWPORTS.desktop);
  await page.goto(`${base}/console/`);
  await page.getByLabel('Operator key or access token').fill(keys.partner);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Account id').fill('player-1');
  await page.getByRole('button', { name: 'Find' }).click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').textContent(), /scope|operator|Forbidden|permission/i);
  await page.context().close();
});
