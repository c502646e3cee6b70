// End-to-end tests of the search page in headless Chromium, against a real Needle server.
//
// Starts `needle serve` (target/debug/needle or $NEEDLE_BIN) on a free port with a fresh
// data directory, and proxy.py, which serves ui/ and forwards the API on one origin (the
// page will later be served by needle itself). Screenshots go to ui/tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const ARTIFACTS = join(HERE, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

const CATALOG = [
  { id: 'ar:adele', type: 'artist', name: 'Adele', popularity: 95, tags: ['pop', 'soul'] },
  { id: 'ar:lionel', type: 'artist', name: 'Lionel Richie', popularity: 70, tags: ['soul'] },
  { id: 'al:25', type: 'album', name: '25', artist_ids: ['ar:adele'], popularity: 80 },
  { id: 'tr:hello-adele', type: 'track', name: 'Hello', artist_ids: ['ar:adele'], album_id: 'al:25', popularity: 90 },
  { id: 'tr:hello-lionel', type: 'track', name: 'Hello', artist_ids: ['ar:lionel'], popularity: 60 },
  { id: 'tr:allnight', type: 'track', name: 'All Night Long', artist_ids: ['ar:lionel'], popularity: 50 },
  { id: 'tr:someone', type: 'track', name: 'Someone Like You', artist_ids: ['ar:adele'], popularity: 85 },
  { id: 'sh:hi', type: 'show', name: 'Hello Internet', publisher: 'CGP Grey', popularity: 40 },
  { id: 'ep:hi-1', type: 'episode', name: 'Hello Internet #1', show_id: 'sh:hi', duration_ms: 3600000 },
  { id: 'ab:hello', type: 'audiobook', name: 'Hello Goodbye', authors: ['Ana Writer'] },
  { id: 'ar:evil', type: 'artist', name: '<img src=x onerror="window.__xss=1">Evilband & Co' },
];
const TS = Date.UTC(2026, 10, 1);
const EVENTS = [
  { user_id: 'u-lionel', type: 'play', item_id: 'tr:allnight', ts: TS, count: 20, ms_played: 240000 },
  { user_id: 'u-adele', type: 'play', item_id: 'tr:someone', ts: TS, count: 20 },
  { user_id: 'u-adele', type: 'follow', item_id: 'ar:adele', ts: TS },
];

let needle; let proxy; let dataDir; let apiUrl; let pageUrl; let browser;

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
    if (proc.exitCode !== null) throw new Error(`needle exited with ${proc.exitCode}`);
    try { if ((await fetch(`${url}/health/ready`)).ok) return; } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} not ready after ${ms} ms`);
}

async function post(path, body) {
  const res = await fetch(apiUrl + path, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  assert.deepEqual(json.rejected, [], JSON.stringify(json));
  return json;
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  let bin = process.env.NEEDLE_BIN || join(REPO, 'target', 'debug', 'needle');
  if (!existsSync(bin)) {
    const built = spawnSync('cargo', ['build', '-p', 'needle'], { cwd: REPO, stdio: 'inherit' });
    assert.equal(built.status, 0, 'cargo build -p needle');
  }
  dataDir = mkdtempSync(join(tmpdir(), 'needle-ui-'));
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  const log = openSync(join(ARTIFACTS, 'needle.log'), 'w');
  needle = spawn(bin, ['serve', '--data-dir', join(dataDir, 'data'), '--http-addr', `127.0.0.1:${port}`],
    { stdio: ['ignore', log, log] });
  await waitReady(apiUrl, needle);

  // Once needle serves the page itself (GET / and /ui/*), test it there; until then (or
  // with NEEDLE_UI_PROXY=1) proxy.py serves ui/ and forwards the API on one origin.
  const root = await fetch(`${apiUrl}/`).catch(() => null);
  const served = root && root.ok && (await root.text()).includes('id="q"');
  if (served && process.env.NEEDLE_UI_PROXY !== '1') {
    pageUrl = `${apiUrl}/`;
  } else {
    proxy = spawn('python3', [join(HERE, 'proxy.py'), '--upstream', apiUrl, '--port', '0'],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    const proxyPort = await new Promise((ok, fail) => {
      proxy.stdout.on('data', (d) => { const m = /PORT (\d+)/.exec(String(d)); if (m) ok(Number(m[1])); });
      proxy.on('exit', (code) => fail(new Error(`proxy exited with ${code}`)));
    });
    pageUrl = `http://127.0.0.1:${proxyPort}/`;
  }
  console.log(`page: ${pageUrl} (${proxy ? 'proxy.py' : 'served by needle'}), API: ${apiUrl}`);

  await post('/v1/catalog', CATALOG);
  await post('/v1/events', EVENTS);
  // Writes are searchable within a refresh interval (500 ms).
  for (let i = 0; i < 100; i += 1) {
    const r = await (await fetch(`${apiUrl}/v1/search?q=evilband`)).json();
    if (r.total > 0) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  if (browser) await browser.close();
  for (const proc of [proxy, needle]) {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => { proc.once('exit', r); setTimeout(r, 10000); });
    }
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function openPage(query = '') {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const searches = [];
  page.on('request', (r) => { if (r.url().includes('/v1/search')) searches.push(r.url()); });
  await page.goto(pageUrl + query);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, context, errors, searches };
}

async function typeQuery(page, text, delay = 25) {
  await page.locator('#q').pressSequentially(text, { delay });
  await page.waitForSelector(`#sections[data-query="${text}"]`);
  await page.waitForSelector('body[data-search="done"]');
}

const topId = (page) => page.locator('#top-result .hit').getAttribute('data-id');

test('status view shows catalog size, listeners and ingest rate', async () => {
  const { page, context, errors } = await openPage();
  await page.waitForFunction(() => /11 entities/.test(document.getElementById('stat-entities').textContent));
  await page.waitForFunction(() => document.getElementById('stat-listeners').textContent === '2');
  assert.match(await page.textContent('#stat-ingest'), /measuring|events\/s/);
  // Events arriving between two polls (every 5 s) show as a rate, and a new listener counts.
  await post('/v1/events', Array.from({ length: 40 }, (_, i) => ({
    user_id: 'u-status', type: 'play', item_id: `tr:n${i}`, ts: TS + i, event_id: `status-${i}` })));
  await page.waitForFunction(() => /^[1-9][\d.]* events\/s/.test(document.getElementById('stat-ingest').textContent),
    null, { timeout: 15000 });
  await page.waitForFunction(() => document.getElementById('stat-listeners').textContent === '3');
  assert.match(await page.textContent('#stat-types'), /track 4/);
  assert.equal(await page.getAttribute('#ready', 'class'), 'dot ok');
  await page.screenshot({ path: join(ARTIFACTS, 'status.png') });
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

  const recs = page.waitForResponse((r) => r.url().includes('/recommendations'));
  await page.fill('#listener', 'u-lionel');
  await page.press('#listener', 'Enter');
  await page.waitForFunction(() => document.querySelector('#top-result .hit')?.dataset.id === 'tr:hello-lionel');
  assert.match(await page.textContent('#top-result .reasons'), /you play Lionel Richie/);
  assert.match(await page.textContent('#profile'), /Lionel Richie/);
  assert.equal((await recs).status(), 404);
  assert.equal(await page.isHidden('#recs'), true, 'no recommendations endpoint yet: panel hidden');
  assert.match(page.url(), /user=u-lionel/);
  await page.screenshot({ path: join(ARTIFACTS, 'listener-lionel.png'), fullPage: true });

  await page.fill('#listener', 'u-adele');
  await page.press('#listener', 'Enter');
  await page.waitForFunction(() => document.querySelector('#top-result .hit')?.dataset.id === 'tr:hello-adele'
    && document.querySelector('#top-result .reasons'));
  assert.match(await page.textContent('#top-result .reasons'), /Adele/);

  // Recent listeners are one click away.
  await page.click('#recent-listeners .chip[data-listener="u-lionel"]');
  await page.waitForFunction(() => document.querySelector('#top-result .hit')?.dataset.id === 'tr:hello-lionel');
  await page.click('#listener-clear');
  await page.waitForFunction(() => document.querySelector('#top-result .hit')?.dataset.id === 'tr:hello-adele'
    && !document.querySelector('.reasons'));
  assert.equal(await page.locator('#recent-listeners .chip').count(), 2);
  await page.screenshot({ path: join(ARTIFACTS, 'listener-none.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('a listener and an explicit API base from the URL are used', async () => {
  const api = pageUrl.replace(/\/$/, '');
  const { page, context } = await openPage(`?user=u-lionel&api=${encodeURIComponent(api)}`);
  assert.equal(await page.evaluate(() => window.needleUI.API), api);
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
  await context.close();
});

test('server errors are shown with their code', async () => {
  const { page, context } = await openPage();
  await page.fill('#q', 'x'.repeat(600));
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error'), /query_too_long/);
  await context.close();
});

// The recommendations endpoint does not exist yet; this test fulfils it in the browser to
// check how the page renders a surface. Replace it with the real server once it has one.
test('the recommendations panel renders a surface with reasons when the endpoint answers', async () => {
  const { page, context } = await openPage();
  await page.route('**/v1/users/*/recommendations*', (route) => route.fulfill({
    status: 200,
    contentType: 'application/json',
    body: JSON.stringify({
      user_id: 'u-lionel', surface: 'home', surfaces: ['home', 'new-releases'], model_version: 'm-test',
      items: [{ id: 'tr:hello-lionel', type: 'track', name: 'Hello', artists: ['Lionel Richie'], score: 0.9,
        reasons: ['because you play Lionel Richie'] }],
    }),
  }));
  await page.fill('#listener', 'u-lionel');
  await page.press('#listener', 'Enter');
  await page.waitForSelector('#recs:not([hidden]) #recs-list .hit');
  assert.match(await page.textContent('#recs-list'), /because you play Lionel Richie/);
  assert.match(await page.textContent('#recs-meta'), /m-test/);
  assert.equal(await page.locator('#recs-surfaces .chip').count(), 2);
  await page.screenshot({ path: join(ARTIFACTS, 'recommendations.png'), fullPage: true });
  await context.close();
});
