// End-to-end tests of the search page in headless Chromium, against a real Needle server.
//
// Starts `needle serve` on a free port with a fresh data directory. The binary is
// $NEEDLE_BIN or <target>/debug/needle, where <target> is $CARGO_TARGET_DIR or <repo>/target
// (built with `cargo build -p needle` when missing). needle compiles ui/ into the binary:
// when the page it serves is the one on disk, the tests use it; otherwise (a binary built
// before the ui/ files were edited, or NEEDLE_UI_PROXY=1) proxy.py serves ui/ from disk,
// with needle's Content-Security-Policy, and forwards the API on one origin.
// Screenshots and server logs go to ui/tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const UI = resolve(HERE, '..');
const REPO = resolve(HERE, '..', '..');
const ARTIFACTS = join(HERE, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];
// The default ALS regularization (50) is tuned for HetRec Last.fm; on a few dozen plays it
// flattens every vector. The docs say to re-tune it with the data: these suit this catalog.
const RECS_ENV = { NEEDLE_RECS__ALS__REGULARIZATION: '1', NEEDLE_RECS__ALS__FACTORS: '16' };
const TRAIN_TIMEOUT_MS = 120000;

// ------------------------------------------------------------------ data

const DAY = 86400000;
const NOW = Date.now();
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

// Two taste groups, so that ALS has signal: soul/pop and metal/rock, four artists each.
const GROUPS = {
  soul: {
    tags: ['soul', 'pop'],
    artists: {
      'ar:adele': ['Adele', 95, [['tr:hello-adele', 'Hello', 90], ['tr:someone', 'Someone Like You', 85],
        ['tr:rolling', 'Rolling in the Deep', 70], ['tr:skyfall', 'Skyfall', 60]]],
      'ar:lionel': ['Lionel Richie', 70, [['tr:hello-lionel', 'Hello', 60], ['tr:allnight', 'All Night Long', 50],
        ['tr:easy', 'Easy', 40]]],
      'ar:aretha': ['Aretha Franklin', 60, [['tr:respect', 'Respect', 50], ['tr:natural', 'Natural Woman', 40],
        ['tr:chain', 'Chain of Fools', 35]]],
      'ar:otis': ['Otis Redding', 50, [['tr:dock', 'Dock of the Bay', 45], ['tr:try', 'Try a Little Tenderness', 30]]],
    },
  },
  metal: {
    tags: ['metal', 'rock'],
    artists: {
      'ar:metallica': ['Metallica', 80, [['tr:enter', 'Enter Sandman', 75], ['tr:master', 'Master of Puppets', 60],
        ['tr:fade', 'Fade to Black', 45]]],
      'ar:motley': ['Mötley Crüe', 60, [['tr:kickstart', 'Kickstart My Heart', 55], ['tr:feelgood', 'Dr. Feelgood', 50],
        ['tr:girls', 'Girls, Girls, Girls', 40]]],
      'ar:maiden': ['Iron Maiden', 65, [['tr:trooper', 'The Trooper', 55], ['tr:run', 'Run to the Hills', 50],
        ['tr:beast', 'The Number of the Beast', 45]]],
      'ar:slayer': ['Slayer', 45, [['tr:raining', 'Raining Blood', 40], ['tr:angel', 'Angel of Death', 35]]],
    },
  },
};

const GROUP_OF = new Map(); // item id -> 'soul' | 'metal'
const GROUP_TRACKS = { soul: [], metal: [] };
const CATALOG = [];
for (const [group, { tags, artists }] of Object.entries(GROUPS)) {
  for (const [aid, [name, popularity, tracks]] of Object.entries(artists)) {
    CATALOG.push({ id: aid, type: 'artist', name, popularity, tags });
    GROUP_OF.set(aid, group);
    for (const [id, title, pop] of tracks) {
      const track = { id, type: 'track', name: title, artist_ids: [aid], popularity: pop, tags };
      if (id === 'tr:hello-adele') track.album_id = 'al:25';
      CATALOG.push(track);
      GROUP_OF.set(id, group);
      GROUP_TRACKS[group].push(id);
    }
  }
}
CATALOG.push(
  { id: 'al:25', type: 'album', name: '25', artist_ids: ['ar:adele'], popularity: 80 },
  // A release of five days ago, for the release radar of Adele's listeners.
  { id: 'tr:easy-on-me', type: 'track', name: 'Easy On Me', artist_ids: ['ar:adele'], popularity: 30,
    tags: ['soul', 'pop'], release_date: isoDay(NOW - 5 * DAY) },
  { id: 'sh:hi', type: 'show', name: 'Hello Internet', publisher: 'CGP Grey', popularity: 40 },
  { id: 'ep:hi-1', type: 'episode', name: 'Hello Internet #1', show_id: 'sh:hi', duration_ms: 3600000,
    release_date: isoDay(NOW - 400 * DAY) },
  { id: 'ep:hi-2', type: 'episode', name: 'Hello Internet #2', show_id: 'sh:hi', duration_ms: 3600000,
    release_date: isoDay(NOW - 3 * DAY) },
  { id: 'ab:hello', type: 'audiobook', name: 'Hello Goodbye', authors: ['Ana Writer'] },
  { id: 'ar:evil', type: 'artist', name: '<img src=x onerror="window.__xss=1">Evilband & Co' },
  // Markup in a title is part of the title: shown as text, never as an element.
  { id: 'ch:goodbye-1', type: 'chapter', name: 'The <i>Goodbye</i> chapter', audiobook_id: 'ab:hello', duration_ms: 600000 },
  // A long name without spaces must wrap, not widen a phone's page.
  { id: 'ar:long', type: 'artist', name: `${'Longwindedorchestraofunbrokenletters'.repeat(3)} Band`, popularity: 5 },
);
const CHAPTER_TITLE = 'The <i>Goodbye</i> chapter';
GROUP_OF.set('tr:easy-on-me', 'soul');
const TRACKS = CATALOG.filter((e) => e.type === 'track').length;

const TS = NOW - DAY;
const EVENTS = [
  { user_id: 'u-lionel', type: 'play', item_id: 'tr:allnight', ts: TS, count: 20, ms_played: 240000 },
  { user_id: 'u-adele', type: 'play', item_id: 'tr:someone', ts: TS, count: 20 },
  { user_id: 'u-adele', type: 'follow', item_id: 'ar:adele', ts: TS },
];
// Eight listeners per group, each playing six of the group's tracks (a sliding window).
for (const group of ['soul', 'metal']) {
  const tracks = GROUP_TRACKS[group];
  for (let u = 0; u < 8; u += 1) {
    for (let k = 0; k < 6; k += 1) {
      EVENTS.push({ user_id: `u-${group}-${u}`, type: 'play', item_id: tracks[(u * 2 + k) % tracks.length],
        ts: TS + k, count: 3 + ((u + k) % 4) });
    }
  }
}
// u-soul-0 also follows Adele and the podcast, and heard its first episode.
EVENTS.push(
  { user_id: 'u-soul-0', type: 'follow', item_id: 'ar:adele', ts: TS },
  { user_id: 'u-soul-0', type: 'follow', item_id: 'sh:hi', ts: TS },
  { user_id: 'u-soul-0', type: 'play', item_id: 'ep:hi-1', ts: TS, count: 2 },
);
const LISTENERS = new Set(EVENTS.map((e) => e.user_id)).size;

// ------------------------------------------------------------------ servers

const servers = [];
let main; // the open server most tests use: { apiUrl, pageUrl, ... }
let browser;

// $NEEDLE_BIN, or <target>/debug/needle with <target> = $CARGO_TARGET_DIR (relative to the
// repository when relative) or <repo>/target; built when missing.
function needleBinary() {
  if (process.env.NEEDLE_BIN) return resolve(process.env.NEEDLE_BIN);
  const target = resolve(REPO, process.env.CARGO_TARGET_DIR || 'target');
  const bin = join(target, 'debug', 'needle');
  if (!existsSync(bin)) {
    console.log(`${bin} is missing: cargo build -p needle`);
    const built = spawnSync('cargo', ['build', '-p', 'needle'], { cwd: REPO, stdio: 'inherit' });
    assert.equal(built.status, 0, 'cargo build -p needle failed');
    assert.ok(existsSync(bin), `cargo built needle but ${bin} is missing; set NEEDLE_BIN`);
  }
  return bin;
}

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => ok(port)); });
  });
}

async function waitReady(url, proc, ms = 30000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) return false;
    try { if ((await fetch(`${url}/health/ready`)).ok) return true; } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} not ready after ${ms} ms`);
}

// Whether needle serves exactly the ui/ files on disk.
async function servesCurrentPage(apiUrl) {
  for (const [path, file] of [['/', 'index.html'], ['/ui/app.js', 'app.js'], ['/ui/style.css', 'style.css']]) {
    const res = await fetch(apiUrl + path).catch(() => null);
    if (!res || !res.ok || (await res.text()) !== readFileSync(join(UI, file), 'utf8')) return false;
  }
  return true;
}

async function startNeedle(name, env = {}) {
  const bin = needleBinary();
  const dataDir = mkdtempSync(join(tmpdir(), `needle-ui-${name}-`));
  const server = { name, dataDir, keys: env.keys };
  servers.push(server);
  for (let attempt = 0; attempt < 3 && !server.apiUrl; attempt += 1) { // a free port can be taken
    const port = await freePort();
    const log = openSync(join(ARTIFACTS, `needle-${name}.log`), 'a');
    const proc = spawn(bin, ['serve', '--data-dir', join(dataDir, 'data'), '--http-addr', `127.0.0.1:${port}`],
      { stdio: ['ignore', log, log], env: { ...process.env, ...RECS_ENV, ...(env.vars || {}) } });
    server.proc = proc;
    if (await waitReady(`http://127.0.0.1:${port}`, proc)) server.apiUrl = `http://127.0.0.1:${port}`;
  }
  assert.ok(server.apiUrl, `needle (${name}) did not start; see artifacts/needle-${name}.log`);
  if (process.env.NEEDLE_UI_PROXY !== '1' && await servesCurrentPage(server.apiUrl)) {
    server.pageUrl = `${server.apiUrl}/`;
  } else {
    server.proxy = spawn('python3', [join(HERE, 'proxy.py'), '--upstream', server.apiUrl, '--port', '0'],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    const proxyPort = await new Promise((ok, fail) => {
      server.proxy.stdout.on('data', (d) => { const m = /PORT (\d+)/.exec(String(d)); if (m) ok(Number(m[1])); });
      server.proxy.on('exit', (code) => fail(new Error(`proxy exited with ${code}`)));
    });
    server.pageUrl = `http://127.0.0.1:${proxyPort}/`;
  }
  console.log(`${name}: page ${server.pageUrl} (${server.proxy ? 'ui/ from disk via proxy.py: the binary serves another copy'
    : 'served by needle'}), API ${server.apiUrl}, ${bin}`);
  return server;
}

async function api(server, method, path, { body, key, expect } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(server.apiUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => null);
  if (expect !== undefined) assert.equal(res.status, expect, `${method} ${path}: ${JSON.stringify(json)}`);
  return { status: res.status, body: json };
}

async function load(server, records, events, key) {
  const c = await api(server, 'POST', '/v1/catalog', { body: records, key, expect: 200 });
  assert.deepEqual(c.body.rejected, [], JSON.stringify(c.body));
  const e = await api(server, 'POST', '/v1/events', { body: events, key, expect: 200 });
  assert.deepEqual(e.body.rejected, [], JSON.stringify(e.body));
  // Writes are searchable within a refresh interval (500 ms).
  for (let i = 0; i < 200; i += 1) {
    const r = await api(server, 'GET', '/v1/search?q=evilband', { key });
    if (r.body && r.body.total > 0) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('the catalog did not become searchable');
}

// A trained model, through the API (the page's button is tested on its own): tests that
// need one do not depend on the test that trains from the page.
async function ensureModel(server, key) {
  const m = await api(server, 'GET', '/v1/admin/model', { key, expect: 200 });
  if (m.body.model_version != null) return m.body.model_version;
  const { body: job } = await api(server, 'POST', '/v1/admin/train', { key, expect: 202 });
  const deadline = Date.now() + TRAIN_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const { body } = await api(server, 'GET', `/v1/admin/jobs/${job.job_id}`, { key, expect: 200 });
    if (body.status === 'done') return body.model_version;
    assert.notEqual(body.status, 'failed', JSON.stringify(body));
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('training did not finish');
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  main = await startNeedle('open');
  await load(main, CATALOG, EVENTS);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  if (browser) await browser.close();
  for (const s of servers) {
    for (const proc of [s.proxy, s.proc]) {
      if (proc && proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => { proc.once('exit', r); setTimeout(r, 10000); });
      }
    }
    rmSync(s.dataDir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------ page helpers

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

async function openPage(query = '', server = main, viewport = DESKTOP) {
  const phone = viewport.width < 600;
  const context = await browser.newContext({ viewport, isMobile: phone, hasTouch: phone });
  const page = await context.newPage();
  // Uncaught exceptions, and Content-Security-Policy refusals (console errors), fail tests;
  // "Failed to load resource" for the 4xx/5xx the page handles does not.
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) errors.push(m.text());
  });
  const searches = [];
  page.on('request', (r) => { if (r.url().includes('/v1/search')) searches.push(r.url()); });
  await page.goto(server.pageUrl + query);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, context, errors, searches };
}

async function typeQuery(page, text, delay = 25) {
  await page.locator('#q').pressSequentially(text, { delay });
  await page.waitForSelector(`#sections[data-query="${text}"]`);
  await page.waitForSelector('body[data-search="done"]');
}

async function pickListener(page, id) {
  await page.fill('#listener', id);
  await page.press('#listener', 'Enter');
}

// Wait for the recommendations panel to have finished loading `surface` for `listener`.
async function recsState(page, listener, surface, states = ['ready'], timeout = 30000) {
  await page.waitForFunction(([l, s, st]) => {
    const p = document.getElementById('recs');
    return p && !p.hidden && p.dataset.listener === l && p.dataset.surface === s && st.includes(p.dataset.state);
  }, [listener, surface, states], { timeout });
  return page.getAttribute('#recs', 'data-state');
}

const recItems = (page, scope = '#recs-body') => page.locator(`${scope} .hit`).evaluateAll((els) => els.map((e) => ({
  id: e.dataset.id,
  name: e.querySelector('.hit-name').textContent,
  reason: e.querySelector('.reason')?.textContent ?? '',
})));

// What must hold on every screen: nothing wider than the window, and no item twice in one list.
async function assertLayoutSound(page, what) {
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth,
  }));
  assert.ok(scrollWidth <= clientWidth, `${what}: the page is ${scrollWidth} px wide in a ${clientWidth} px window`);
  const dups = await page.evaluate(() => [...document.querySelectorAll('ol.hits, ol.recs')].flatMap((list) => {
    const ids = [...list.children].map((li) => li.dataset.id);
    return ids.filter((id, i) => ids.indexOf(id) !== i);
  }));
  assert.deepEqual(dups, [], `${what}: ids shown twice in one list`);
}

// Visible controls smaller than a 44 px tap target.
const smallTargets = (page) => page.evaluate(() => [...document.querySelectorAll(
  'button, input:not([type="hidden"]), summary, select, a[href]')]
  .filter((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
  .map((e) => ({ e, r: e.getBoundingClientRect() }))
  .filter(({ r }) => r.width > 0 && (r.height < 44 || r.width < 44))
  .map(({ e, r }) => `${e.tagName.toLowerCase()}#${e.id}.${e.className} ${Math.round(r.width)}x${Math.round(r.height)}`));

// Where an element is in the window (after the page scrolled as it does), and where the
// sticky header ends.
const rectOf = (page, selector) => page.locator(selector).first().evaluate((e) => {
  const r = e.getBoundingClientRect();
  const header = document.querySelector('header.top').getBoundingClientRect().bottom;
  return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, innerHeight, innerWidth, header };
});
// Its top in the window, below the sticky header.
const onScreen = (r) => r.top >= r.header - 1 && r.top < r.innerHeight;

const topId = (page) => page.locator('#top-result .hit').getAttribute('data-id');
const inGroup = (items, group) => items.filter((i) => GROUP_OF.get(i.id) === group).length;

// ------------------------------------------------------------------ tests

test('status view shows catalog size, listeners and ingest rate', async () => {
  const { page, context, errors } = await openPage();
  await page.waitForFunction((n) => document.getElementById('stat-entities').textContent === `${n} entities`, CATALOG.length);
  await page.waitForFunction((n) => document.getElementById('stat-listeners').textContent === String(n), LISTENERS);
  assert.match(await page.textContent('#stat-ingest'), /measuring|events\/s/);
  assert.equal(await page.textContent('#stat-model'), 'none trained');
  // Events arriving between two samples of /metrics show as a rate (the refresh button takes
  // a sample now; the page also samples every 5 s), and a new listener counts.
  await api(main, 'POST', '/v1/events', { expect: 200, body: Array.from({ length: 40 }, (_, i) => ({
    user_id: 'u-status', type: 'play', item_id: GROUP_TRACKS.metal[i % 5], ts: TS + i, event_id: `status-${i}` })) });
  await page.click('#status-refresh');
  await page.waitForFunction(() => {
    const cell = document.getElementById('stat-ingest');
    return /^[1-9][\d.]* events\/s/.test(cell.textContent) && /^40 events accepted in the last/.test(cell.title);
  }, null, { timeout: 15000 });
  await page.waitForFunction((n) => document.getElementById('stat-listeners').textContent === String(n), LISTENERS + 1);
  assert.match(await page.textContent('#stat-types'), new RegExp(`track ${TRACKS}`));
  assert.equal(await page.getAttribute('#ready', 'class'), 'dot ok');
  await page.screenshot({ path: join(ARTIFACTS, 'status.png') });
  assert.deepEqual(errors, []);
  await context.close();
});

test('status view plots search analytics: searches per hour, CTR by position, zero-result queries', async () => {
  const found = await api(main, 'GET', '/v1/search?q=hello&limit=5', { expect: 200 });
  await api(main, 'GET', '/v1/search?q=qqnothingzz', { expect: 200 });
  await api(main, 'GET', '/v1/search?q=qqnothingzz', { expect: 200 });
  const hit = found.body.hits[1];
  await api(main, 'POST', '/v1/events', { expect: 200, body: [{ type: 'click', search_id: found.body.search_id,
    item_id: hit.id, position: 2, user_id: 'u-analytics', ts: Date.now(), event_id: 'analytics-click-1' }] });
  const { page, context, errors } = await openPage();
  await page.click('#status-refresh');
  await page.waitForFunction(() => /qqnothingzz \(2\)/.test(document.getElementById('analytics-zero').textContent));
  assert.match(await page.textContent('#analytics-summary'), /\d+ searches · \d+ found nothing · [1-9]\d* clicks? · click-through/);
  assert.equal(await page.locator('#analytics-hours rect').count(), 24);
  assert.equal(await page.locator('#analytics-ctr rect').count(), 11);
  // The click at position 2 is a bar there.
  const h = await page.getAttribute('#analytics-ctr rect:nth-child(2)', 'height');
  assert.ok(Number(h) > 0, `position 2 bar height ${h}`);
  await page.locator('#analytics-panel').screenshot({ path: join(ARTIFACTS, 'analytics.png') });
  assert.deepEqual(errors, []);
  await context.close();
});

test('typing shows results grouped by type with highlights, debounced', async () => {
  const { page, context, errors, searches } = await openPage();
  await typeQuery(page, 'helo', 20); // a typo: one edit away from "hello"
  assert.ok(searches.length < 4, `4 keystrokes 20 ms apart are debounced: ${searches.length} searches`);
  const types = await page.locator('#sections .type-section').evaluateAll((els) => els.map((e) => e.dataset.type));
  assert.ok(types.includes('track') && types.includes('show') && types.includes('audiobook'), types.join());
  assert.equal(await page.locator('#top-result .hit-name em').first().textContent(), 'Hello');
  assert.ok(await page.locator('#sections .hit-name em').count() >= 4, 'every hit highlights its match');
  await page.screenshot({ path: join(ARTIFACTS, 'search-helo.png'), fullPage: true });

  // Keep typing, slower than the debounce: every keystroke searches, the stale answers are
  // dropped and the page follows the newest query only.
  await page.locator('#q').pressSequentially(' adel', { delay: 120 });
  await page.waitForSelector('#sections[data-query="helo adel"]');
  assert.equal(await topId(page), 'tr:hello-adele');
  assert.match(await page.textContent('#top-result .hit-sub'), /Adele/);
  assert.equal(await page.locator('#top-result .sub-artists em').textContent(), 'Adele');
  await page.screenshot({ path: join(ARTIFACTS, 'search-helo-adel.png'), fullPage: true });

  await page.fill('#q', '');
  await typeQuery(page, 'hello int');
  assert.equal(await topId(page), 'sh:hi');
  assert.equal(await page.locator('#sections .hit[data-id="ep:hi-1"]').count(), 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test('server snippets with other markup are shown as text, never as HTML', async () => {
  const { page, context } = await openPage();
  await typeQuery(page, 'evilband');
  assert.equal(await page.locator('#sections img, #top-result img').count(), 0);
  assert.match(await page.textContent('#top-result .hit-name'), /<img src=x/);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await context.close();
});

test('switching listener personalizes results and shows the reasons', async () => {
  const { page, context, errors } = await openPage();
  await typeQuery(page, 'hello');
  assert.equal(await topId(page), 'tr:hello-adele');
  assert.equal(await page.locator('.reasons').count(), 0);

  await pickListener(page, 'u-lionel');
  await page.waitForFunction(() => document.querySelector('#top-result .hit')?.dataset.id === 'tr:hello-lionel');
  assert.match(await page.textContent('#top-result .reasons'), /you play Lionel Richie/);
  // The profile panel loads on its own request: wait for it instead of racing it.
  await page.waitForFunction(() => /Lionel Richie/.test(document.querySelector('#profile')?.textContent ?? ''));
  assert.match(await page.textContent('#profile'), /Lionel Richie/);
  assert.match(page.url(), /user=u-lionel/);
  await page.screenshot({ path: join(ARTIFACTS, 'listener-lionel.png'), fullPage: true });

  await pickListener(page, 'u-adele');
  await page.waitForFunction(() => document.querySelector('#top-result .hit')?.dataset.id === 'tr:hello-adele'
    && document.querySelector('#top-result .reasons'));
  assert.match(await page.textContent('#top-result .reasons'), /Adele/);

  // Recent listeners are one click away.
  await page.click('#recent-listeners .chip[data-listener="u-lionel"]');
  await page.waitForFunction(() => document.querySelector('#top-result .hit')?.dataset.id === 'tr:hello-lionel');
  await page.click('#listener-clear');
  await page.waitForFunction(() => document.querySelector('#top-result .hit')?.dataset.id === 'tr:hello-adele'
    && !document.querySelector('#sections .reasons, #top-result .reasons'));
  assert.equal(await page.isHidden('#recs'), true, 'no listener: no recommendations panel');
  assert.equal(await page.locator('#recent-listeners .chip').count(), 2);
  await page.screenshot({ path: join(ARTIFACTS, 'listener-none.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('before a model is trained, surfaces and similar items say so and offer training', async () => {
  const before = await api(main, 'GET', '/v1/admin/model', { expect: 200 });
  assert.equal(before.body.model_version, null, 'this test runs before any training');
  const { page, context, errors } = await openPage('?user=u-soul-0');
  assert.equal(await recsState(page, 'u-soul-0', 'for_you', ['not-ready']), 'not-ready');
  assert.match(await page.textContent('#recs-body .not-ready'), /model_not_ready/);
  assert.ok(await page.isVisible('#recs-body .train-box button.train'));
  assert.equal(await page.textContent('#recs-body button.train'), 'Train model');

  await typeQuery(page, 'sandman');
  await page.click('#top-result .hit');
  await page.waitForSelector('#similar[data-state="not-ready"][data-item="tr:enter"]');
  assert.match(await page.textContent('#similar-name'), /Enter Sandman/);
  assert.ok(await page.isVisible('#similar .train-box button.train'));
  await page.screenshot({ path: join(ARTIFACTS, 'model-not-ready.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('training from the page; for_you differs between listeners and gives reasons', async () => {
  const { page, context, errors } = await openPage('?user=u-soul-0');
  const calls = [];
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/v1/admin/')) calls.push(`${r.request().method()} ${u.pathname} ${r.status()}`);
  });
  await recsState(page, 'u-soul-0', 'for_you', ['not-ready']);
  await page.click('#recs-body button.train');
  // The page polls the job, then reloads the surface with the new model.
  await recsState(page, 'u-soul-0', 'for_you', ['ready'], TRAIN_TIMEOUT_MS);
  assert.ok(calls.includes('POST /v1/admin/train 202'), calls.join('\n'));
  assert.ok(calls.some((c) => /^GET \/v1\/admin\/jobs\/train-\d+ 200$/.test(c)), calls.join('\n'));
  await page.waitForFunction(() => /done: model v\d+/.test(document.querySelector('#status-train .train-text').textContent));
  const version = (await api(main, 'GET', '/v1/admin/model', { expect: 200 })).body.model_version;
  assert.ok(version >= 1);
  assert.match(await page.textContent('#recs-meta'), new RegExp(`For you · model v${version} · \\d+ items`));

  const soul = await recItems(page);
  assert.ok(soul.length >= 3, JSON.stringify(soul));
  for (const item of soul) assert.match(item.reason, /\w/, `every item says why: ${JSON.stringify(item)}`);
  assert.ok(soul.some((i) => /^because you (recently )?play/.test(i.reason)), JSON.stringify(soul));
  assert.ok(inGroup(soul.slice(0, 3), 'soul') >= 2, `a soul listener gets soul first: ${JSON.stringify(soul)}`);
  await page.screenshot({ path: join(ARTIFACTS, 'for-you-u-soul-0.png'), fullPage: true });

  await pickListener(page, 'u-metal-0');
  await recsState(page, 'u-metal-0', 'for_you');
  const metal = await recItems(page);
  assert.ok(metal.length >= 3, JSON.stringify(metal));
  for (const item of metal) assert.match(item.reason, /\w/, JSON.stringify(item));
  assert.notDeepEqual(metal.map((i) => i.id), soul.map((i) => i.id), 'for_you differs between listeners');
  assert.ok(inGroup(metal.slice(0, 3), 'metal') >= 2, `a metal listener gets metal first: ${JSON.stringify(metal)}`);
  assert.match(await page.textContent('#recs-for'), /u-metal-0/);
  await page.screenshot({ path: join(ARTIFACTS, 'for-you-u-metal-0.png'), fullPage: true });

  // Back to the first listener from the recent chips: the first list again.
  await page.click('#recent-listeners .chip[data-listener="u-soul-0"]');
  await recsState(page, 'u-soul-0', 'for_you');
  assert.deepEqual((await recItems(page)).map((i) => i.id), soul.map((i) => i.id));
  assert.deepEqual(errors, []);
  await context.close();
});

test('every surface shows its items with reasons; daily mixes are grouped', async () => {
  await ensureModel(main);
  const { page, context, errors } = await openPage('?user=u-soul-0');
  await recsState(page, 'u-soul-0', 'for_you');

  await page.click('#recs-surfaces [data-surface="release_radar"]');
  await recsState(page, 'u-soul-0', 'release_radar', ['ready']);
  const radar = await recItems(page);
  assert.deepEqual(radar.map((i) => [i.name, i.reason]), [['Easy On Me', 'new from Adele']]);
  assert.match(await page.textContent('#recs-body .hit-sub'), new RegExp(`Adele · ${isoDay(NOW - 5 * DAY)}`));
  assert.equal(await page.getAttribute('#recs-surfaces [data-surface="release_radar"]', 'aria-selected'), 'true');

  await page.click('#recs-surfaces [data-surface="podcasts"]');
  await recsState(page, 'u-soul-0', 'podcasts', ['ready']);
  const podcasts = await recItems(page);
  assert.deepEqual(podcasts[0], { id: 'ep:hi-2', name: 'Hello Internet #2', reason: 'new episode of Hello Internet' });

  await page.click('#recs-surfaces [data-surface="discover"]');
  await recsState(page, 'u-soul-0', 'discover', ['ready']);
  const discover = await recItems(page);
  assert.ok(discover.length > 0 && discover.every((i) => i.id.startsWith('tr:') && i.reason), JSON.stringify(discover));

  await page.click('#recs-surfaces [data-surface="daily_mix"]');
  await recsState(page, 'u-soul-0', 'daily_mix', ['ready']);
  const { body } = await api(main, 'GET', '/v1/users/u-soul-0/recommendations?surface=daily_mix&limit=8', { expect: 200 });
  const shown = body.mixes.filter((m) => body.items.some((i) => i.mix === m.mix));
  assert.ok(shown.length >= 1, JSON.stringify(body));
  assert.deepEqual(await page.locator('#recs-body .mix .mix-name').allTextContents(), shown.map((m) => m.name));
  const firstMix = await recItems(page, '#recs-body .mix:first-child');
  assert.deepEqual(firstMix.map((i) => i.id), body.items.filter((i) => i.mix === shown[0].mix).map((i) => i.id));
  const reasons = (await recItems(page)).map((i) => i.reason);
  assert.ok(reasons.includes('one of your favourites'), reasons.join());
  assert.ok(reasons.some((r) => r.startsWith('because you')), reasons.join());
  assert.match(page.url(), /surface=daily_mix/);
  await page.screenshot({ path: join(ARTIFACTS, 'daily-mix.png'), fullPage: true });

  // The surface is kept in the URL: a reload opens it again.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await recsState(page, 'u-soul-0', 'daily_mix', ['ready']);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a clicked search hit shows similar items with reasons', async () => {
  await ensureModel(main);
  const { page, context, errors } = await openPage();
  await typeQuery(page, 'enter sandman');
  assert.equal(await topId(page), 'tr:enter');
  await page.click('#top-result .hit');
  await page.waitForSelector('#similar[data-state="ready"][data-item="tr:enter"]');
  assert.equal(await page.textContent('#similar-name'), 'Enter Sandman');
  assert.match(await page.textContent('#similar-meta'), /radio from this track · model v\d+/);
  const similar = await recItems(page, '#similar-body');
  assert.ok(similar.length >= 3 && similar.length <= 10, JSON.stringify(similar));
  assert.ok(similar.every((i) => i.reason === 'similar to Enter Sandman' && i.id !== 'tr:enter'), JSON.stringify(similar));
  assert.ok(inGroup(similar.slice(0, 3), 'metal') >= 2, `metal is like metal: ${JSON.stringify(similar)}`);
  await page.screenshot({ path: join(ARTIFACTS, 'similar.png'), fullPage: true });

  // From a similar item, its own similar items (a radio that keeps going); then close.
  const next = similar[0];
  await page.click(`#similar-body .hit[data-id="${next.id}"] .similar-btn`);
  await page.waitForSelector(`#similar[data-state="ready"][data-item="${next.id}"]`);
  assert.equal(await page.textContent('#similar-name'), next.name);
  await page.click('#similar-close');
  assert.equal(await page.isHidden('#similar'), true);

  // A hit of another section (an artist) gives related artists.
  await page.fill('#q', '');
  await typeQuery(page, 'iron maiden');
  await page.locator('#top-result .hit[data-id="ar:maiden"], #sections .hit[data-id="ar:maiden"]').first().click();
  await page.waitForSelector('#similar[data-state="ready"][data-item="ar:maiden"]');
  assert.match(await page.textContent('#similar-meta'), /related artists/);
  const artists = await recItems(page, '#similar-body');
  assert.ok(artists.length > 0 && artists.every((i) => i.id.startsWith('ar:')), JSON.stringify(artists));
  assert.deepEqual(errors, []);
  await context.close();
});

test('status view shows the model version and sizes', async () => {
  await ensureModel(main);
  const { body: model } = await api(main, 'GET', '/v1/admin/model', { expect: 200 });
  const { page, context, errors } = await openPage();
  await page.waitForSelector('#stat-model[data-version]');
  assert.equal(await page.getAttribute('#stat-model', 'data-version'), String(model.model_version));
  assert.equal(await page.textContent('#stat-model'), `v${model.model_version}`);
  const sizes = await page.textContent('#stat-model-sizes');
  assert.match(sizes, new RegExp(`${model.trained_items} trained items · ${model.content_items} from content`));
  assert.match(sizes, new RegExp(`${model.index} index · ${model.factors} factors · trained .* ago`));
  assert.equal(await page.textContent('#status-train button.train'), 'Train again');
  await page.locator('#status-panel').screenshot({ path: join(ARTIFACTS, 'status-model.png') });
  assert.deepEqual(errors, []);
  await context.close();
});

test('status view measures recommendation quality per surface, and discovery moves Discover', async () => {
  await ensureModel(main);
  for (const viewport of [DESKTOP, PHONE]) {
    const { page, context, errors } = await openPage('?view=status', main, viewport);
    const measure = async (discovery) => {
      await page.selectOption('#quality-discovery', discovery);
      await page.evaluate(() => { document.getElementById('quality-summary').textContent = ''; });
      await page.click('#quality-form button[type="submit"]');
      await page.waitForFunction(() => /^model v\d+ · /.test(document.getElementById('quality-summary').textContent));
      // Per surface, its column top to bottom: listeners, coverage, novelty, ARP, head,
      // diversity, repeat, fallback.
      return page.$$eval('#quality-body td', (cells) => cells.reduce((by, c) => {
        (by[c.dataset.surface] ||= []).push(c.textContent);
        return by;
      }, {}));
    };
    const taste = await measure('0');
    assert.deepEqual(Object.keys(taste).sort(), ['daily_mix', 'discover', 'for_you', 'podcasts', 'release_radar']);
    assert.match(await page.textContent('#quality-summary'), /listeners · 10 items each · discovery 0 · the popularity head is [\d.]+% of trained items/);
    // for_you: every sampled listener answered, coverage a percentage, novelty in bits.
    const [answered, coverage, novelty] = taste.for_you;
    assert.ok(Number(answered.replace(/,/g, '')) > 0, taste.for_you.join(' | '));
    assert.match(coverage, /^\d+%$/);
    assert.ok(Number(novelty) > 0, taste.for_you.join(' | '));
    const least = await measure('1');
    // ARP (listeners per recommended item) of Discover falls when less-listened tracks are asked for.
    assert.ok(Number(least.discover[3]) <= Number(taste.discover[3]), `${taste.discover} → ${least.discover}`);
    assert.deepEqual(least.for_you, taste.for_you, 'discovery changes Discover only');
    if (viewport === PHONE) {
      await assertLayoutSound(page, 'phone, recommendation quality');
      assert.deepEqual(await smallTargets(page), [], 'tap targets on the status pane with the quality table');
    }
    await page.locator('#quality-panel').screenshot({ path: join(ARTIFACTS, `quality-${viewport.width}.png`) });
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test('at phone width: no overflow, one column, For you a tap away, tap targets of 44 px', async () => {
  await ensureModel(main);
  const { page, context, errors } = await openPage('?user=u-soul-0', main, PHONE);
  assert.equal(await page.evaluate(() => innerWidth), PHONE.width);
  await assertLayoutSound(page, 'phone, empty');
  // Search is the first tab; the listener's panes are behind the other two.
  assert.equal(await page.getAttribute('#view-search', 'aria-selected'), 'true');
  assert.equal(await page.isVisible('#pane-foryou'), false);
  assert.equal(await page.isVisible('#pane-status'), false);
  assert.match(await page.textContent('#view-foryou'), /For you · u-soul-0/);

  await typeQuery(page, 'hello');
  assert.equal(await topId(page), 'tr:hello-adele');
  assert.match(await page.textContent('#search-for'), /Personalized for u-soul-0/);
  await assertLayoutSound(page, 'phone, results for hello');
  assert.deepEqual(await smallTargets(page), [], 'tap targets on the search pane');
  await page.screenshot({ path: join(ARTIFACTS, 'phone-search.png'), fullPage: true });

  // A long unbroken name wraps inside the window.
  await page.fill('#q', '');
  await typeQuery(page, 'longwinded');
  assert.equal(await topId(page), 'ar:long');
  const name = await rectOf(page, '#top-result .hit-name');
  assert.ok(name.right <= PHONE.width, JSON.stringify(name));
  await assertLayoutSound(page, 'phone, a long name');

  // For you: one tap, its top in the first screen, the surfaces and the listener picker on it.
  await page.click('#view-foryou');
  await recsState(page, 'u-soul-0', 'for_you');
  assert.equal(await page.getAttribute('#view-foryou', 'aria-selected'), 'true');
  assert.equal(await page.isVisible('#pane-search'), false, 'one pane at a time');
  assert.ok(await page.isVisible('#listener'));
  const recs = await rectOf(page, '#recs');
  assert.ok(onScreen(recs), `the recommendations start in the first screen: ${JSON.stringify(recs)}`);
  const first = await rectOf(page, '#recs-body .hit');
  assert.ok(first.top < first.innerHeight, `the first recommendation is on screen: ${JSON.stringify(first)}`);
  assert.ok((await recItems(page)).length >= 3);
  assert.match(page.url(), /view=foryou/);
  await assertLayoutSound(page, 'phone, for you');
  assert.deepEqual(await smallTargets(page), [], 'tap targets on the For you pane');
  await page.screenshot({ path: join(ARTIFACTS, 'phone-for-you.png') });
  await page.screenshot({ path: join(ARTIFACTS, 'phone-for-you-full.png'), fullPage: true });

  for (const surface of ['podcasts', 'daily_mix', 'discover']) {
    await page.click(`#recs-surfaces [data-surface="${surface}"]`);
    await recsState(page, 'u-soul-0', surface, ['ready', 'empty']);
    await assertLayoutSound(page, `phone, ${surface}`);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'phone-discover.png'), fullPage: true });

  // Similar items open above the pane and come into view.
  const pick = (await recItems(page))[0];
  await page.click(`#recs-body .hit[data-id="${pick.id}"] .similar-btn`);
  await page.waitForSelector(`#similar[data-state="ready"][data-item="${pick.id}"]`);
  const similar = await rectOf(page, '#similar');
  assert.ok(onScreen(similar), JSON.stringify(similar));
  await assertLayoutSound(page, 'phone, similar items');
  await page.screenshot({ path: join(ARTIFACTS, 'phone-similar.png') });
  await page.click('#similar-close');

  // Status: the third tab; typing a search goes back to the results.
  await page.click('#view-status');
  await page.waitForFunction((n) => document.getElementById('stat-entities').textContent === `${n} entities`, CATALOG.length);
  const status = await rectOf(page, '#status-panel');
  assert.ok(onScreen(status), JSON.stringify(status));
  assert.ok(await page.isVisible('#status-train button.train'));
  await assertLayoutSound(page, 'phone, status');
  assert.deepEqual(await smallTargets(page), [], 'tap targets on the status pane');
  await page.screenshot({ path: join(ARTIFACTS, 'phone-status.png'), fullPage: true });
  await page.fill('#q', '');
  await typeQuery(page, 'sandman');
  assert.equal(await page.getAttribute('#view-search', 'aria-selected'), 'true');
  assert.ok(await page.isVisible('#top-result .hit[data-id="tr:enter"]'));
  assert.deepEqual(errors, []);
  await context.close();
});

test('at desktop width: results and the listener column side by side, both in the first screen', async () => {
  await ensureModel(main);
  const { page, context, errors } = await openPage('?user=u-soul-0');
  await typeQuery(page, 'hello');
  await recsState(page, 'u-soul-0', 'for_you');
  assert.equal(await page.isVisible('#views'), false, 'no tabs: every pane shows');
  const results = await rectOf(page, '#top-result');
  const recs = await rectOf(page, '#recs');
  assert.ok(results.top < DESKTOP.height && recs.top < DESKTOP.height, JSON.stringify({ results, recs }));
  assert.ok(recs.left >= results.right, `two columns: ${JSON.stringify({ results, recs })}`);
  assert.ok(await page.isVisible('#status-panel'));
  await assertLayoutSound(page, 'desktop');
  await page.screenshot({ path: join(ARTIFACTS, 'desktop-search-and-for-you.png') });
  assert.deepEqual(errors, []);
  await context.close();
});

for (const [label, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
  test(`catalog strings are text: a chapter title with <i> shows its tags (${label})`, async () => {
    const { page, context, errors } = await openPage('', main, viewport);
    await typeQuery(page, 'goodbye');
    const hit = page.locator('#sections .hit[data-id="ch:goodbye-1"], #top-result .hit[data-id="ch:goodbye-1"]').first();
    assert.equal(await hit.locator('.hit-name').textContent(), CHAPTER_TITLE);
    assert.equal(await hit.locator('.hit-name em').textContent(), 'Goodbye', 'the match is still highlighted');
    assert.match(await hit.locator('.hit-sub').textContent(), /Hello Goodbye/);
    assert.equal(await page.locator('main i, main img').count(), 0, 'no element made from catalog text');
    await assertLayoutSound(page, `${label}, goodbye`);
    await page.screenshot({ path: join(ARTIFACTS, `chapter-title-${label}.png`), fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  });
}

test('a list never shows an item twice, even when the API repeats one', async () => {
  await ensureModel(main);
  const { page, context, errors } = await openPage('', main, PHONE);
  // The real answers, with their first item repeated (as a server with duplicate
  // documents would answer): the page shows each id once, in its first place.
  const repeat = (list) => (Array.isArray(list) && list.length ? [...list, { ...list[0] }] : list);
  await page.route(/\/v1\/(search|users\/[^/]+\/recommendations)\?/, async (route) => {
    try {
      const res = await route.fetch();
      const body = await res.json();
      body.items = repeat(body.items);
      for (const section of body.sections || []) section.hits = repeat(section.hits);
      await route.fulfill({ status: res.status(), contentType: 'application/json', body: JSON.stringify(body) });
    } catch (_) { /* the page dropped a stale request */ }
  });
  await typeQuery(page, 'hello');
  const { body: search } = await api(main, 'GET', '/v1/search?q=hello&limit=30', { expect: 200 });
  const tracks = search.sections.find((s) => s.type === 'track').hits.map((h) => h.id);
  assert.deepEqual(await page.locator('#sections .type-section[data-type="track"] .hit')
    .evaluateAll((els) => els.map((e) => e.dataset.id)), tracks);
  await page.click('#view-foryou');
  await pickListener(page, 'u-soul-0');
  await recsState(page, 'u-soul-0', 'for_you');
  const { body: recs } = await api(main, 'GET', '/v1/users/u-soul-0/recommendations?surface=for_you&limit=12', { expect: 200 });
  assert.deepEqual((await recItems(page)).map((i) => i.id), recs.items.map((i) => i.id));
  await assertLayoutSound(page, 'repeated items');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a listener and an explicit API base from the URL are used', async () => {
  const base = main.pageUrl.replace(/\/$/, '');
  const { page, context } = await openPage(`?user=u-lionel&api=${encodeURIComponent(base)}`);
  assert.equal(await page.evaluate(() => window.needleUI.API), base);
  await typeQuery(page, 'hello');
  assert.equal(await topId(page), 'tr:hello-lionel');
  assert.equal(await page.inputValue('#listener'), 'u-lionel');
  await context.close();
});

test('an entered API key is sent as a bearer token on API calls', async () => {
  const { page, context } = await openPage();
  await page.click('.key summary');
  await page.fill('#api-key', 'k-test-not-secret');
  await page.waitForSelector('#ready.ok'); // the first, keyless status poll is done
  const stats = page.waitForRequest((r) => r.url().endsWith('/v1/stats'));
  await page.press('#api-key', 'Enter');
  assert.equal((await stats).headers().authorization, 'Bearer k-test-not-secret');
  const search = page.waitForRequest((r) => r.url().includes('/v1/search'));
  assert.equal(await page.inputValue('#api-key'), '', 'the key is not left in the field');
  await typeQuery(page, 'adele');
  assert.equal((await search).headers().authorization, 'Bearer k-test-not-secret');
  // An open server ignores keys: no request was refused.
  assert.equal(await page.isHidden('#auth-needed'), true);
  await page.click('#key-forget');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('needle.apiKey')), null);
  await context.close();
});

test('server errors are shown with their code', async () => {
  const { page, context } = await openPage();
  await page.fill('#q', 'x'.repeat(600));
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error'), /query_too_long/);
  await context.close();
});

test('with API keys: a 401 asks for a key, a search key reads, only an admin key trains', async () => {
  const ADMIN = 'admin-key-for-ui-tests-0123456789';
  const SEARCH = 'search-key-for-ui-tests-0123456789';
  const keyed = await startNeedle('keys', { vars: {
    NEEDLE_AUTH__KEYS: `[{name="ops",key="${ADMIN}",scopes=["admin"]},{name="web",key="${SEARCH}",scopes=["search"]}]`,
  } });
  assert.equal((await api(keyed, 'GET', '/v1/stats')).status, 401, 'the server refuses keyless calls');
  await load(keyed, CATALOG, EVENTS, ADMIN);

  const { page, context, errors } = await openPage('?user=u-soul-0', keyed);
  await page.waitForSelector('body[data-auth="needed"] #auth-needed:not([hidden])');
  assert.match(await page.textContent('#auth-message'), /needs an API key.*missing_api_key/);
  // The panel shows on the 401 itself; the stats line is set once that call returns.
  await page.waitForFunction(() => document.getElementById('stat-entities').textContent === 'key needed');
  await page.screenshot({ path: join(ARTIFACTS, 'keys-needed.png'), fullPage: true });

  // A wrong key is refused and said so.
  await page.click('#auth-enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'api-key');
  await page.keyboard.type('not-a-valid-key-at-all');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /refused.*invalid_api_key/.test(document.getElementById('auth-message').textContent));

  // A search key: the page works, training is refused with the scope named.
  await page.fill('#api-key', SEARCH);
  const stats = page.waitForRequest((r) => r.url().endsWith('/v1/stats') && r.headers().authorization === `Bearer ${SEARCH}`);
  await page.press('#api-key', 'Enter');
  await stats;
  await page.waitForSelector('body[data-auth="ok"]');
  assert.equal(await page.isHidden('#auth-needed'), true);
  await page.waitForFunction((n) => document.getElementById('stat-entities').textContent === `${n} entities`, CATALOG.length);
  await recsState(page, 'u-soul-0', 'for_you', ['not-ready']);
  await page.waitForFunction(() => /admin key/.test(document.getElementById('stat-model-sizes').textContent));
  await page.click('#recs-body button.train');
  await page.waitForSelector('#recs-body .train-box[data-status="failed"]');
  assert.match(await page.textContent('#recs-body .train-text'), /forbidden_scope/);
  await typeQuery(page, 'hello');
  assert.equal(await topId(page), 'tr:hello-adele');
  await page.screenshot({ path: join(ARTIFACTS, 'keys-search-scope.png'), fullPage: true });

  // The key lives in this tab's sessionStorage: a reload keeps working without asking.
  assert.equal(await page.evaluate(() => sessionStorage.getItem('needle.apiKey')), SEARCH);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await recsState(page, 'u-soul-0', 'for_you', ['not-ready']);
  assert.equal(await page.isHidden('#auth-needed'), true);

  // An admin key trains from the page.
  if (!(await page.evaluate(() => document.getElementById('key-box').open))) await page.click('.key summary');
  await page.fill('#api-key', ADMIN);
  await page.press('#api-key', 'Enter');
  await page.waitForFunction(() => document.getElementById('stat-model').textContent === 'none trained');
  await recsState(page, 'u-soul-0', 'for_you', ['not-ready']);
  await page.click('#recs-body button.train');
  await recsState(page, 'u-soul-0', 'for_you', ['ready'], TRAIN_TIMEOUT_MS);
  assert.ok((await recItems(page)).every((i) => i.reason), 'reasons with keys too');
  await page.waitForSelector('#stat-model[data-version]');
  await page.screenshot({ path: join(ARTIFACTS, 'keys-admin-trained.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
