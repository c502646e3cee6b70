// Needle search page: search-as-you-type, listener picker, recommendation surfaces with
// their reasons, similar items, training, status. Plain browser JavaScript, no framework,
// no build step; works under the server's CSP (`default-src 'self'`: no inline code or styles).
//
// The API is the page's own origin, or `?api=http://host:port` (that server must then allow
// CORS). `?user=ID` preselects a listener, `?surface=NAME` a recommendation surface,
// `?view=foryou|status` the pane shown on a narrow screen (a phone shows one at a time).
//
// Every catalog string is put in the page as text (textContent, text nodes), never as HTML:
// highlights are built from the byte offsets (`spans`) the server sends with each snippet.
'use strict';

(() => {
  const DEBOUNCE_MS = 80;
  const STATUS_EVERY_MS = 5000;
  const JOB_POLL_MS = 400;
  const RECENT_KEY = 'needle.recentListeners';
  const RECENT_MAX = 6;
  const KEY_KEY = 'needle.apiKey';
  const TYPE_LABELS = {
    track: 'Tracks', artist: 'Artists', album: 'Albums', playlist: 'Playlists',
    show: 'Podcasts', episode: 'Episodes', audiobook: 'Audiobooks', chapter: 'Chapters',
  };
  const SURFACES = {
    for_you: { label: 'For you', limit: 12, empty: 'Nothing new to recommend to this listener.' },
    discover: { label: 'Discover', limit: 12, empty: 'No never-played tracks to discover this week.' },
    release_radar: { label: 'Release radar', limit: 12, empty: 'No recent releases from the creators this listener loves.' },
    podcasts: { label: 'Podcasts', limit: 12, empty: 'No new episodes or shows to suggest.' },
    daily_mix: { label: 'Daily mix', limit: 8, empty: 'Not enough listening history for a daily mix yet.' },
  };
  const SIMILAR_LIMIT = 10;
  const VIEWS = ['search', 'foryou', 'status'];
  const NARROW = window.matchMedia('(max-width: 959px)'); // as in style.css
  const utf8 = new TextEncoder();
  const utf8Text = new TextDecoder();

  const params = new URLSearchParams(location.search);
  const API = apiBase(params.get('api'));
  const $ = (id) => document.getElementById(id);
  const state = {
    listener: null, seq: 0, ctrl: null, timer: null,
    surface: SURFACES[params.get('surface')] ? params.get('surface') : 'for_you',
    view: VIEWS.includes(params.get('view')) ? params.get('view') : 'search',
    recsSeq: 0, similar: null, similarSeq: 0,
    training: null, modelVersion: null, statusBusy: false, statusAgain: false,
    lastMetrics: null, auth: null, requests: { sent: 0, aborted: 0 },
  };
  window.needleUI = { state, API };

  function apiBase(raw) {
    if (!raw) return '';
    try {
      const u = new URL(raw);
      if (u.protocol === 'http:' || u.protocol === 'https:') {
        return u.origin + u.pathname.replace(/\/+$/, '');
      }
    } catch (_) { /* not a URL: same origin */ }
    return '';
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // The text a server snippet marks up: `<em>` tags removed, its entities decoded.
  const ENTITIES = { lt: '<', gt: '>', amp: '&', quot: '"', '#39': "'" };
  function snippetText(snippet) {
    return String(snippet).replace(/<\/?em>/g, '').replace(/&(lt|gt|amp|quot|#39);/g, (_, e) => ENTITIES[e]);
  }

  // The matched byte ranges of `text` in `field`: from the highlight of that field whose
  // snippet is that very text (a field such as `artists` has one highlight per name).
  function spansOf(hit, field, text) {
    for (const h of hit.highlights || []) {
      if (h && h.field === field && Array.isArray(h.spans) && typeof h.snippet === 'string'
        && snippetText(h.snippet) === text) return h.spans;
    }
    return [];
  }

  // `text` into `target` as text nodes, the byte ranges `spans` (UTF-8 offsets, ascending)
  // in <em> elements. Nothing is parsed as HTML; malformed ranges are ignored.
  function setHighlighted(target, text, spans) {
    target.replaceChildren();
    text = String(text ?? '');
    if (!spans || !spans.length) { target.textContent = text; return; }
    const bytes = utf8.encode(text);
    let pos = 0;
    for (const span of spans) {
      const [a, b] = Array.isArray(span) ? span : [];
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < pos || a >= b || b > bytes.length) continue;
      if (a > pos) target.append(utf8Text.decode(bytes.subarray(pos, a)));
      target.append(el('em', null, utf8Text.decode(bytes.subarray(a, b))));
      pos = b;
    }
    if (pos < bytes.length) target.append(utf8Text.decode(bytes.subarray(pos)));
  }

  // Each id once, in its first place: a list never shows an item twice.
  function uniqueById(items) {
    const seen = new Set();
    return (Array.isArray(items) ? items : []).filter((i) => {
      if (!i || typeof i.id !== 'string' || seen.has(i.id)) return false;
      seen.add(i.id);
      return true;
    });
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const enc = encodeURIComponent;
  const fmt = (n) => Number(n).toLocaleString('en-US');

  // ------------------------------------------------------------------ API and keys

  function apiKey() {
    try { return sessionStorage.getItem(KEY_KEY) || ''; } catch (_) { return ''; }
  }

  function setApiKey(key) {
    try {
      if (key) sessionStorage.setItem(KEY_KEY, key); else sessionStorage.removeItem(KEY_KEY);
    } catch (_) { /* storage disabled: the key cannot be kept */ }
    renderKeyState();
  }

  // Every API call: the API base, and the API key (if one was entered) as a bearer token.
  function call(path, { method = 'GET', signal, json } = {}) {
    const headers = { accept: 'application/json' };
    const key = apiKey();
    if (key) headers.authorization = `Bearer ${key}`;
    const init = { method, signal, headers };
    if (json !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(json);
    }
    return fetch(API + path, init);
  }

  // `{status, ok, body}`; a 401 asks for a key, an answer that passed access control
  // clears that request.
  async function fetchJSON(path, opts) {
    const sentWith = apiKey();
    const res = await call(path, opts);
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (sentWith === apiKey()) { // answers to a key since replaced say nothing of the new one
      if (res.status === 401) needKey(body);
      else if (res.status !== 403 && path.startsWith('/v1/')) keyAccepted();
    }
    return { status: res.status, ok: res.ok, body };
  }

  // A short sentence for an error answer, with its code.
  function describe(r) {
    const b = r.body && typeof r.body === 'object' ? r.body : {};
    const code = b.code || `HTTP ${r.status}`;
    let msg = b.message || 'The server answered with an error';
    if (r.status === 401) msg = `An API key is needed: ${msg}`;
    else if (r.status === 403 && code === 'forbidden_scope') msg = `This API key may not do that: ${msg}`;
    return `${msg} (${code})`;
  }

  function needKey(body) {
    const code = (body && body.code) || 'unauthorized';
    const why = {
      missing_api_key: 'This Needle server needs an API key.',
      invalid_api_key: apiKey() ? 'The saved API key was refused.' : 'This Needle server needs an API key.',
      token_expired: 'The saved listener token has expired.',
      token_revoked: 'The saved listener token was revoked.',
    }[code] || 'This Needle server refused the request.';
    state.auth = { code, message: (body && body.message) || '' };
    $('auth-message').textContent = `${why} Paste a key with the scopes you need (${code}).`;
    $('auth-needed').hidden = false;
    document.body.dataset.auth = 'needed';
    $('key-box').open = true;
  }

  function keyAccepted() {
    if (!state.auth) return;
    state.auth = null;
    $('auth-needed').hidden = true;
    document.body.dataset.auth = 'ok';
  }

  function renderKeyState() {
    const has = Boolean(apiKey());
    $('key-state').textContent = has ? '· saved for this tab' : '';
    $('key-forget').hidden = !has;
  }

  function showError(err) {
    const box = $('error');
    if (!err) { box.hidden = true; box.textContent = ''; return; }
    box.hidden = false;
    box.textContent = err.code ? `${err.message} (${err.code})` : String(err.message || err);
  }

  // ------------------------------------------------------------------ search

  function scheduleSearch() {
    clearTimeout(state.timer);
    state.timer = setTimeout(runSearch, DEBOUNCE_MS);
  }

  async function runSearch() {
    const text = $('q').value;
    if (state.ctrl) { state.ctrl.abort(); state.requests.aborted += 1; state.ctrl = null; }
    const seq = ++state.seq;
    if (!text.trim()) { showError(null); renderResults(null, ''); return; }
    const ctrl = new AbortController();
    state.ctrl = ctrl;
    const query = new URLSearchParams({ q: text, limit: '30' });
    if (state.listener) query.set('user_id', state.listener);
    document.body.dataset.search = 'loading';
    state.requests.sent += 1;
    try {
      const r = await fetchJSON(`/v1/search?${query}`, { signal: ctrl.signal });
      if (seq !== state.seq) return; // a newer search owns the page
      state.ctrl = null;
      if (!r.ok) {
        const err = r.body || { message: `HTTP ${r.status}` };
        const hint = r.status === 401 || r.status === 403 ? ' Enter an API key under Status.' : '';
        showError({ ...err, message: `${err.message}${hint}` });
        document.body.dataset.search = 'error';
        return;
      }
      showError(null);
      renderResults(r.body, text);
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (seq === state.seq) {
        showError({ message: 'Cannot reach the Needle server', code: 'network' });
        document.body.dataset.search = 'error';
      }
    }
  }

  function subtitle(hit) {
    const parts = [];
    if (Array.isArray(hit.artists) && hit.artists.length) parts.push(['artists', hit.artists]);
    if (hit.album) parts.push(['album', [hit.album]]);
    if (hit.show) parts.push(['show', [hit.show]]);
    if (hit.audiobook) parts.push(['audiobook', [hit.audiobook]]);
    if (Array.isArray(hit.authors) && hit.authors.length) parts.push(['authors', hit.authors]);
    if (hit.publisher) parts.push(['publisher', [hit.publisher]]);
    return parts;
  }

  function similarButton(name) {
    const b = el('button', 'similar-btn ghost', 'similar');
    b.type = 'button';
    b.setAttribute('aria-label', `Items similar to ${name}`);
    return b;
  }

  function renderHit(hit, big) {
    const item = el(big ? 'div' : 'li', big ? 'hit hit-top' : 'hit');
    item.dataset.id = hit.id;
    item.dataset.type = hit.type;
    item.dataset.name = hit.name;
    const head = el('div', 'hit-head');
    const name = el('span', 'hit-name');
    setHighlighted(name, hit.name, spansOf(hit, 'name', hit.name));
    head.append(name, el('span', `badge type-${hit.type}`, hit.type));
    if (hit.explicit) head.append(el('span', 'badge explicit', 'E'));
    head.append(similarButton(hit.name));
    item.append(head);
    const sub = subtitle(hit);
    if (sub.length) {
      const line = el('div', 'hit-sub');
      sub.forEach(([field, values], i) => {
        if (i) line.append(document.createTextNode(' · '));
        const span = el('span', `sub-${field}`);
        values.forEach((value, k) => {
          if (k) span.append(document.createTextNode(', '));
          const part = el('span');
          setHighlighted(part, value, spansOf(hit, field, String(value)));
          span.append(part);
        });
        line.append(span);
      });
      item.append(line);
    }
    const p = hit.personalization;
    if (p && Array.isArray(p.reasons)) {
      const why = el('ul', p.boost >= 0 ? 'reasons up' : 'reasons down');
      why.title = `personalization boost ${Number(p.boost).toFixed(2)}`;
      for (const reason of p.reasons) why.append(el('li', 'reason', reason));
      item.append(why);
    }
    return item;
  }

  function renderResults(body, text) {
    const sections = $('sections');
    const top = $('top-result');
    sections.replaceChildren();
    top.replaceChildren();
    top.hidden = true;
    $('hint').hidden = Boolean(text.trim());
    sections.dataset.query = text;
    if (!body) { $('timing').textContent = ''; document.body.dataset.search = 'idle'; return; }
    $('timing').textContent = `${body.total} match${body.total === 1 ? '' : 'es'} · ${body.took_ms} ms`;
    if (body.top_result) {
      top.append(el('h3', 'section-title', 'Top result'), renderHit(body.top_result, true));
      top.hidden = false;
    }
    if (!(body.hits || []).length) sections.append(el('p', 'empty', `Nothing matches “${text}”.`));
    for (const section of body.sections || []) {
      const box = el('section', 'type-section');
      box.dataset.type = section.type;
      const title = el('h3', 'section-title', TYPE_LABELS[section.type] || section.type);
      title.append(el('span', 'count', ` ${section.total}`));
      const list = el('ol', 'hits');
      for (const hit of uniqueById(section.hits)) list.append(renderHit(hit, false));
      box.append(title, list);
      sections.append(box);
    }
    document.body.dataset.search = 'done';
  }

  // ------------------------------------------------------------------ listeners

  function recentListeners() {
    try {
      const v = JSON.parse(localStorage.getItem(RECENT_KEY) || '[]');
      return Array.isArray(v) ? v.filter((x) => typeof x === 'string').slice(0, RECENT_MAX) : [];
    } catch (_) { return []; }
  }

  function remember(id) {
    const list = [id, ...recentListeners().filter((x) => x !== id)].slice(0, RECENT_MAX);
    try { localStorage.setItem(RECENT_KEY, JSON.stringify(list)); } catch (_) { /* private mode */ }
    renderRecent();
  }

  function renderRecent() {
    const box = $('recent-listeners');
    box.replaceChildren();
    for (const id of recentListeners()) {
      const chip = el('button', id === state.listener ? 'chip active' : 'chip', id);
      chip.type = 'button';
      chip.dataset.listener = id;
      chip.addEventListener('click', () => setListener(id));
      box.append(chip);
    }
  }

  function validListener(id) {
    return id.length > 0 && new TextEncoder().encode(id).length <= 256 && !/[\u0000-\u001f\u007f]/.test(id);
  }

  function syncUrl() {
    const url = new URL(location.href);
    if (state.listener) url.searchParams.set('user', state.listener); else url.searchParams.delete('user');
    if (state.surface !== 'for_you') url.searchParams.set('surface', state.surface); else url.searchParams.delete('surface');
    if (state.view !== 'search') url.searchParams.set('view', state.view); else url.searchParams.delete('view');
    history.replaceState(null, '', url);
  }

  // ------------------------------------------------------------------ views

  // The pane a narrow screen shows (search results, the listener's "For you", status); a
  // wide one shows them side by side and hides the tabs.
  function setView(view) {
    if (!VIEWS.includes(view)) return;
    const changed = view !== state.view;
    state.view = view;
    renderViews();
    syncUrl();
    // A phone shows the new pane from its top; a wide screen shows every pane and stays put.
    if (changed && NARROW.matches) window.scrollTo(0, 0);
  }

  function renderViews() {
    $('layout').dataset.view = state.view;
    for (const tab of $('views').querySelectorAll('[data-view]')) {
      tab.setAttribute('aria-selected', tab.dataset.view === state.view ? 'true' : 'false');
    }
    $('view-foryou-who').textContent = state.listener ? `· ${state.listener}` : '';
    const who = $('search-for');
    who.hidden = !state.listener;
    who.textContent = state.listener ? `Personalized for ${state.listener}.` : '';
  }

  function setListener(id) {
    id = (id || '').trim();
    if (id && !validListener(id)) {
      showError({ message: 'A listener id is 1 to 256 bytes without control characters', code: 'invalid_id' });
      return;
    }
    state.listener = id || null;
    $('listener').value = id;
    syncUrl();
    $('listener-status').textContent = id ? `Personalized for ${id}.` : 'Not personalized.';
    document.body.dataset.listener = id;
    renderViews();
    if (id) remember(id); else renderRecent();
    loadProfile();
    loadRecommendations();
    if ($('q').value.trim()) runSearch();
  }

  async function loadProfile() {
    const box = $('profile');
    box.replaceChildren();
    box.hidden = true;
    $('profile-panel').hidden = true;
    const id = state.listener;
    if (!id) return;
    let r;
    try { r = await fetchJSON(`/v1/users/${enc(id)}/profile?top=3`); } catch (_) { return; }
    if (id !== state.listener) return;
    box.hidden = false;
    $('profile-panel').hidden = false;
    if (!r.ok) {
      box.append(el('p', 'muted', r.status === 404 ? 'No listening history yet.' : `Profile unavailable: ${describe(r)}`));
      return;
    }
    const groups = [['artists', 'Top artists'], ['shows', 'Top shows'], ['audiobooks', 'Top audiobooks'], ['tags', 'Top tags']];
    for (const [key, label] of groups) {
      const items = (r.body[key] || []).filter((a) => a.score > 0);
      if (!items.length) continue;
      box.append(el('h3', 'mini', label));
      const list = el('ul', 'affinities');
      for (const a of items) {
        const li = el('li', null, a.name);
        li.title = a.why;
        li.append(el('span', 'muted small', ` ${a.why}`));
        list.append(li);
      }
      box.append(list);
    }
  }

  // ------------------------------------------------------------------ recommendations

  // One recommended (or similar) item: name, type, creators, release date, and its reason.
  function renderRec(item) {
    const li = el('li', 'hit rec');
    li.dataset.id = item.id;
    li.dataset.type = item.type;
    li.dataset.name = item.name;
    if (typeof item.score === 'number') li.title = `score ${item.score.toFixed(3)}`;
    const head = el('div', 'hit-head');
    head.append(el('span', 'hit-name', item.name), el('span', `badge type-${item.type}`, item.type));
    if (item.explicit) head.append(el('span', 'badge explicit', 'E'));
    head.append(similarButton(item.name));
    li.append(head);
    const sub = [];
    if (Array.isArray(item.by) && item.by.length) sub.push(item.by.join(', '));
    if (item.release_date) sub.push(item.release_date);
    if (sub.length) li.append(el('div', 'hit-sub', sub.join(' · ')));
    if (item.reason) {
      const why = el('ul', 'reasons up');
      why.append(el('li', 'reason', item.reason));
      li.append(why);
    }
    return li;
  }

  function recList(items) {
    const list = el('ol', 'recs');
    for (const item of uniqueById(items)) list.append(renderRec(item));
    return list;
  }

  // Daily mixes: one titled list per mix, in the order of `mixes`.
  function renderMixes(body) {
    const out = document.createDocumentFragment();
    const names = new Map(body.items.map((i) => [i.id, i.name]));
    const mixes = Array.isArray(body.mixes) ? body.mixes : [];
    const known = new Set(mixes.map((m) => m.mix));
    for (const mix of mixes) {
      const items = body.items.filter((i) => i.mix === mix.mix);
      if (!items.length) continue;
      const box = el('section', 'mix');
      box.dataset.mix = String(mix.mix);
      box.append(el('h3', 'mini mix-name', mix.name || `Mix ${mix.mix}`));
      const seeds = (mix.seed_ids || []).map((id) => names.get(id)).filter(Boolean);
      if (seeds.length) box.append(el('p', 'muted small mix-seeds', `around ${seeds.join(', ')}`));
      box.append(recList(items));
      out.append(box);
    }
    const rest = body.items.filter((i) => !known.has(i.mix));
    if (rest.length) {
      const box = el('section', 'mix');
      box.append(el('h3', 'mini mix-name', mixes.length ? 'More' : 'Mix'), recList(rest));
      out.append(box);
    }
    return out;
  }

  function notice(text, cls = 'notice') {
    const box = el('div', cls);
    box.append(el('p', null, text));
    return box;
  }

  // "No model yet" with the button that trains one.
  function notReady(what) {
    const box = notice(`No recommendation model has been trained yet, so ${what} cannot be shown (model_not_ready).`, 'notice not-ready');
    box.append(trainBox());
    followRunningJob();
    return box;
  }

  function renderTabs() {
    for (const tab of $('recs-surfaces').querySelectorAll('[data-surface]')) {
      const on = tab.dataset.surface === state.surface;
      tab.classList.toggle('active', on);
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
    }
  }

  async function loadRecommendations() {
    const panel = $('recs');
    const id = state.listener;
    const seq = ++state.recsSeq;
    if (!id) { panel.hidden = true; panel.dataset.state = 'off'; return; }
    const surface = state.surface;
    const spec = SURFACES[surface];
    panel.hidden = false;
    panel.dataset.state = 'loading';
    panel.dataset.listener = id;
    panel.dataset.surface = surface;
    panel.setAttribute('aria-busy', 'true');
    $('recs-for').textContent = `for ${id}`;
    renderTabs();
    const body = $('recs-body');
    const finish = (st, content, meta) => {
      if (seq !== state.recsSeq) return;
      body.replaceChildren(content);
      $('recs-meta').textContent = meta || '';
      panel.dataset.state = st;
      panel.removeAttribute('aria-busy');
    };
    let r;
    try {
      const q = new URLSearchParams({ surface, limit: String(spec.limit) });
      r = await fetchJSON(`/v1/users/${enc(id)}/recommendations?${q}`);
    } catch (_) {
      finish('error', notice('Cannot reach the Needle server (network).', 'notice bad'), spec.label);
      return;
    }
    if (seq !== state.recsSeq) return;
    if (r.status === 503 && r.body && r.body.code === 'model_not_ready') {
      finish('not-ready', notReady(`${spec.label.toLowerCase()} recommendations`), spec.label);
      return;
    }
    if (!r.ok || !r.body) { finish('error', notice(describe(r), 'notice bad'), spec.label); return; }
    const items = Array.isArray(r.body.items) ? r.body.items : [];
    noteModelVersion(r.body.model_version);
    const meta = [spec.label, r.body.model_version != null && `model v${r.body.model_version}`,
      `${items.length} item${items.length === 1 ? '' : 's'}`].filter(Boolean).join(' · ');
    if (!items.length) { finish('empty', notice(spec.empty, 'notice'), meta); return; }
    finish('ready', surface === 'daily_mix' ? renderMixes(r.body) : recList(items), meta);
  }

  // ------------------------------------------------------------------ similar items

  async function openSimilar(item) {
    if (!item || !item.id) return;
    const panel = $('similar');
    const seq = ++state.similarSeq;
    state.similar = item;
    panel.hidden = false;
    panel.dataset.state = 'loading';
    panel.dataset.item = item.id;
    panel.dataset.view = state.view; // a phone shows it above this tab only
    $('similar-name').textContent = item.name || item.id;
    $('similar-meta').textContent = 'loading…';
    reveal(panel);
    const finish = (st, content, meta) => {
      if (seq !== state.similarSeq) return;
      $('similar-body').replaceChildren(content);
      $('similar-meta').textContent = meta || '';
      panel.dataset.state = st;
    };
    let r;
    try {
      r = await fetchJSON(`/v1/items/${enc(item.id)}/similar?limit=${SIMILAR_LIMIT}`);
    } catch (_) {
      finish('error', notice('Cannot reach the Needle server (network).', 'notice bad'));
      return;
    }
    if (seq !== state.similarSeq) return;
    if (r.status === 503 && r.body && r.body.code === 'model_not_ready') {
      finish('not-ready', notReady('similar items'));
      return;
    }
    if (!r.ok || !r.body) { finish('error', notice(describe(r), 'notice bad')); return; }
    const items = Array.isArray(r.body.items) ? r.body.items : [];
    noteModelVersion(r.body.model_version);
    const kind = { track: 'radio from this track', artist: 'related artists', show: 'similar shows' }[item.type] || 'similar items';
    const meta = [kind, r.body.model_version != null && `model v${r.body.model_version}`].filter(Boolean).join(' · ');
    if (!items.length) { finish('empty', notice('Nothing similar found.'), meta); return; }
    finish('ready', recList(items), meta);
  }

  // Scroll so that `box` starts in the window, below the sticky header (when it does not yet).
  function reveal(box) {
    const header = document.querySelector('header.top').getBoundingClientRect().bottom;
    const top = box.getBoundingClientRect().top;
    if (top < header || top > innerHeight - 120) window.scrollBy(0, top - header - 8);
  }

  function closeSimilar() {
    state.similarSeq += 1;
    state.similar = null;
    $('similar').hidden = true;
    $('similar').dataset.state = 'off';
  }

  // A click on a search hit, a recommendation or a similar item opens its similar items
  // (unless the click ended a text selection).
  function onHitClick(e) {
    const hit = e.target.closest('.hit');
    if (!hit || !hit.dataset.id) return;
    const sel = window.getSelection && window.getSelection();
    if (sel && !sel.isCollapsed && !e.target.closest('button')) return;
    openSimilar({ id: hit.dataset.id, name: hit.dataset.name, type: hit.dataset.type });
  }

  // ------------------------------------------------------------------ training

  function trainBox() {
    const box = el('div', 'train-box');
    const button = el('button', 'train', 'Train model');
    button.type = 'button';
    const progress = el('progress', 'train-progress');
    progress.max = 1;
    progress.value = 0;
    progress.hidden = true;
    const text = el('span', 'train-text muted small');
    text.setAttribute('aria-live', 'polite');
    box.append(button, progress, text);
    paintTrainBox(box);
    return box;
  }

  const busy = (t) => t && (t.status === 'starting' || t.status === 'queued' || t.status === 'running');

  function paintTrainBox(box) {
    const t = state.training;
    const button = box.querySelector('.train');
    const progress = box.querySelector('.train-progress');
    const text = box.querySelector('.train-text');
    box.dataset.status = t ? t.status : 'idle';
    button.disabled = busy(t);
    button.textContent = state.modelVersion != null && !busy(t) ? 'Train again' : 'Train model';
    progress.hidden = !busy(t);
    progress.value = t && typeof t.progress === 'number' ? t.progress : 0;
    if (!t) { text.textContent = ''; return; }
    const pct = Math.round((t.progress || 0) * 100);
    text.textContent = {
      starting: 'starting…',
      queued: `${t.job_id} queued…`,
      running: `${t.job_id} training… ${pct}%`,
      done: `${t.job_id || 'training'} done: model v${t.model_version}`,
      failed: `training failed: ${t.error || 'unknown error'}`,
    }[t.status] || `${t.status}`;
  }

  function renderTraining() {
    for (const box of document.querySelectorAll('.train-box')) paintTrainBox(box);
  }

  async function startTraining() {
    if (busy(state.training)) return;
    state.training = { status: 'starting', progress: 0 };
    renderTraining();
    let r;
    try {
      r = await fetchJSON('/v1/admin/train', { method: 'POST' });
    } catch (_) {
      state.training = { status: 'failed', error: 'cannot reach the Needle server (network)' };
      renderTraining();
      return;
    }
    if (!r.ok || !r.body || !r.body.job_id) {
      state.training = { status: 'failed', error: describe(r) };
      renderTraining();
      return;
    }
    followJob(r.body.job_id, r.body.status);
  }

  // Poll `GET /v1/admin/jobs/{id}` until the job is done or failed.
  async function followJob(jobId, status) {
    if (state.training && state.training.job_id === jobId && busy(state.training)) return;
    state.training = { job_id: jobId, status: status || 'queued', progress: 0 };
    renderTraining();
    let misses = 0;
    while (state.training && state.training.job_id === jobId && busy(state.training)) {
      await sleep(JOB_POLL_MS);
      let r;
      try {
        r = await fetchJSON(`/v1/admin/jobs/${enc(jobId)}`);
      } catch (_) {
        if (++misses < 10) continue;
        state.training = { job_id: jobId, status: 'failed', error: 'lost the server while polling (network)' };
        break;
      }
      if (!r.ok || !r.body) {
        state.training = { job_id: jobId, status: 'failed', error: describe(r) };
        break;
      }
      state.training = r.body;
      renderTraining();
    }
    renderTraining();
    if (state.training && state.training.status === 'done') modelChanged();
  }

  // When a surface says there is no model, a job may already be on its way (training on
  // start, a CronJob, another tab): follow it instead of offering to start one. Needs a key
  // that may read /v1/admin/jobs; without one the button stays.
  async function followRunningJob() {
    if (busy(state.training)) return;
    let r;
    try { r = await fetchJSON('/v1/admin/jobs'); } catch (_) { return; }
    if (!r.ok || !r.body || !Array.isArray(r.body.jobs)) return;
    const job = r.body.jobs.find((j) => j.status === 'queued' || j.status === 'running');
    if (job) followJob(job.job_id, job.status);
  }

  function noteModelVersion(v) {
    if (v === undefined || v === null) return;
    const changed = v !== state.modelVersion;
    state.modelVersion = v;
    if (changed) renderTraining();
  }

  // A new model serves: show it everywhere.
  function modelChanged() {
    refreshStatus();
    if (state.listener) loadRecommendations();
    if (state.similar) openSimilar(state.similar);
  }

  // ------------------------------------------------------------------ status

  function parseMetrics(text) {
    const out = {};
    const types = {};
    for (const line of text.split('\n')) {
      const t = /^# TYPE ([a-zA-Z_:][\w:]*) (\w+)/.exec(line);
      if (t) { types[t[1]] = t[2]; continue; }
      const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      (out[m[1]] = out[m[1]] || []).push({ labels: m[2] || '', value: Number(m[3]) });
    }
    return { rows: out, types };
  }

  const sum = (rows, pred = () => true) => (rows || []).filter((r) => pred(r.labels)).reduce((a, r) => a + r.value, 0);

  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  }

  function renderModel(m) {
    const cell = $('stat-model');
    const sizes = $('stat-model-sizes');
    if (m.model_version === null || m.model_version === undefined) {
      cell.textContent = 'none trained';
      delete cell.dataset.version;
      sizes.textContent = '';
      return;
    }
    noteModelVersion(m.model_version);
    cell.dataset.version = String(m.model_version);
    cell.textContent = `v${m.model_version}`;
    if (m.created_at_ms) cell.title = `trained ${new Date(m.created_at_ms).toISOString()} (${ago(m.created_at_ms)})`;
    sizes.textContent = [
      `${fmt(m.trained_items)} trained items`,
      `${fmt(m.content_items)} from content`,
      m.popular_only_items ? `${fmt(m.popular_only_items)} popular only` : null,
      m.index && `${m.index} index`,
      m.factors && `${m.factors} factors`,
      m.created_at_ms && `trained ${ago(m.created_at_ms)}`,
    ].filter(Boolean).join(' · ');
  }

  // One sample at a time; asked for during one, another follows it (a new key, a refresh).
  async function refreshStatus() {
    if (state.statusBusy) { state.statusAgain = true; return; }
    state.statusBusy = true;
    try {
      do {
        state.statusAgain = false;
        await sampleStatus();
        try { await sampleAnalytics(); } catch (_) { /* keep the last figures */ }
      } while (state.statusAgain);
    } finally { state.statusBusy = false; }
  }

  const SVG = 'http://www.w3.org/2000/svg';

  // Bars scaled to the largest value, in a 240×60 viewBox; each bar's title tells its value.
  function bars(svg, values, label) {
    svg.replaceChildren();
    const max = Math.max(0, ...values);
    const w = 240 / Math.max(1, values.length);
    values.forEach((v, i) => {
      const h = max > 0 ? Math.max(v > 0 ? 1 : 0, (v / max) * 58) : 0;
      const r = document.createElementNS(SVG, 'rect');
      r.setAttribute('x', String(i * w + w * 0.1));
      r.setAttribute('width', String(w * 0.8));
      r.setAttribute('y', String(60 - h));
      r.setAttribute('height', String(h));
      const t = document.createElementNS(SVG, 'title');
      t.textContent = label(v, i);
      r.append(t);
      svg.append(r);
    });
  }

  // GET /v1/analytics/searches (admin key): searches over time, CTR by position, the
  // queries that found nothing.
  async function sampleAnalytics() {
    const r = await fetchJSON('/v1/analytics/searches?limit=10');
    const summary = $('analytics-summary');
    if (!r.ok) {
      summary.textContent = r.status === 401 || r.status === 403 ? 'Analytics need an admin key.' : `Analytics unavailable: ${describe(r)}`;
      return;
    }
    const a = r.body;
    const pct = (x) => `${(100 * x).toFixed(1)}%`;
    summary.textContent = [
      `${fmt(a.searches)} searches`,
      `${fmt(a.zero_result_searches)} found nothing`,
      `${fmt(a.clicks)} click${a.clicks === 1 ? '' : 's'}`,
      `click-through ${pct(a.click_through_rate)}`,
      a.mean_click_position != null ? `mean click position ${a.mean_click_position}` : '',
    ].filter(Boolean).join(' · ');
    // The last 24 hours, oldest first, hours without searches as 0.
    const hourMs = 3600000;
    const last = Math.floor((a.to_ms - 1) / hourMs) * hourMs;
    const byHour = new Map(a.searches_per_hour.map((h) => [h.hour, h.searches]));
    const hours = Array.from({ length: 24 }, (_, i) => last - (23 - i) * hourMs);
    bars($('analytics-hours'), hours.map((h) => byHour.get(h) || 0),
      (v, i) => `${new Date(hours[i]).toISOString().slice(11, 16)} UTC: ${fmt(v)} searches`);
    bars($('analytics-ctr'), a.ctr_by_position.map((p) => p.rate),
      (v, i) => `position ${a.ctr_by_position[i].position}${i === a.ctr_by_position.length - 1 ? '+' : ''}: ${pct(v)}`);
    const list = $('analytics-zero');
    list.replaceChildren(...a.top_zero_result_queries.map((q) => el('li', '', `${q.query} (${fmt(q.zero_result)})`)));
    if (!a.top_zero_result_queries.length) list.append(el('li', 'muted', 'none'));
  }

  // GET /v1/admin/recommendations/quality (admin key): every surface measured on a sample
  // of listeners; on demand, as it costs one recommendation per listener and surface.
  async function measureQuality() {
    const summary = $('quality-summary');
    const table = $('quality-table');
    const discovery = $('quality-discovery').value;
    summary.textContent = 'Measuring…';
    const q = discovery === '' ? '' : `&discovery=${encodeURIComponent(discovery)}`;
    const r = await fetchJSON(`/v1/admin/recommendations/quality?sample=100&limit=10${q}`);
    if (!r.ok) {
      table.hidden = true;
      summary.textContent = r.status === 401 || r.status === 403 ? 'Quality needs an admin key.'
        : r.status === 503 ? `No model to measure: ${describe(r)}` : `Quality unavailable: ${describe(r)}`;
      return;
    }
    const a = r.body;
    const pct = (x) => `${(100 * x).toFixed(1)}%`;
    summary.textContent = `model v${a.model_version} · ${fmt(a.sample)} listeners · ${a.limit} items each · `
      + `discovery ${a.discovery} · the popularity head is ${pct(a.head_items_share)} of trained items`;
    // One column per surface, one row per figure: narrow enough for the side column.
    const SHORT = { for_you: 'for you', discover: 'discover', release_radar: 'radar', podcasts: 'pods', daily_mix: 'mix' };
    const pct0 = (x) => `${Math.round(100 * x)}%`;
    const figures = [
      ['listeners', 'sampled listeners with a non-empty answer', (s) => fmt(s.answered)],
      ['coverage', 'distinct items recommended / items of those types', (s) => pct0(s.coverage)],
      ['novelty', 'mean self-information of the items, bits', (s) => s.novelty_bits.toFixed(2)],
      ['ARP', 'average recommendation popularity: training listeners per item', (s) => s.arp.toFixed(1)],
      ['head', 'share of items from the popularity head (popularity bias)', (s) => pct0(s.head_share)],
      ['diversity', 'mean pairwise 1 − cosine of the items\' vectors',
        (s) => (s.intra_list_diversity == null ? '–' : s.intra_list_diversity.toFixed(3))],
      ['repeat', 'share of items whose artist (or show) already appeared higher', (s) => pct0(s.creator_repetition)],
      ['fallback', 'share of items that are a popularity fallback', (s) => pct0(s.popular_fallback)],
    ];
    const head = el('tr');
    head.append(el('th', '', ''), ...a.surfaces.map((s) => {
      const th = el('th', '', SHORT[s.surface] || s.surface);
      th.scope = 'col';
      th.title = s.surface;
      th.dataset.surface = s.surface;
      return th;
    }));
    $('quality-head').replaceChildren(head);
    $('quality-body').replaceChildren(...figures.map(([name, title, value]) => {
      const tr = el('tr');
      const th = el('th', '', name);
      th.scope = 'row';
      th.title = title;
      tr.append(th, ...a.surfaces.map((s) => {
        const td = el('td', '', value(s));
        td.dataset.surface = s.surface;
        return td;
      }));
      return tr;
    }));
    table.hidden = false;
  }

  async function sampleStatus() {
    const dot = $('ready');
    try {
      const ready = await call('/health/ready');
      dot.className = ready.ok ? 'dot ok' : 'dot bad';
      dot.title = ready.ok ? 'ready' : 'not ready';
    } catch (_) { dot.className = 'dot bad'; dot.title = 'unreachable'; return; }
    try {
      const s = await fetchJSON('/v1/stats');
      if (s.ok) {
        $('stat-entities').textContent = `${fmt(s.body.entities)} entities`;
        $('stat-searchable').textContent = fmt(s.body.searchable);
        $('stat-types').textContent = Object.entries(s.body.by_type || {})
          .filter(([, n]) => n > 0).map(([t, n]) => `${t} ${fmt(n)}`).join(' · ');
      } else if (s.status === 401 || s.status === 403) {
        $('stat-entities').textContent = 'key needed';
      }
    } catch (_) { /* keep the last figures */ }
    try {
      const m = await fetchJSON('/v1/admin/model');
      if (m.ok && m.body) {
        renderModel(m.body);
      } else if (m.status === 401 || m.status === 403) {
        // Model details need an admin key; the version is still known from any surface.
        $('stat-model').textContent = state.modelVersion != null ? `v${state.modelVersion}` : '–';
        $('stat-model-sizes').textContent = m.status === 401 ? '' : 'Sizes need an admin key.';
      }
    } catch (_) { /* keep */ }
    document.body.dataset.statusAt = String(Date.now());
    try {
      const res = await call('/metrics');
      if (!res.ok) return;
      const { rows, types } = parseMetrics(await res.text());
      const now = performance.now();
      if (rows.needle_listeners) $('stat-listeners').textContent = fmt(sum(rows.needle_listeners));
      // The counter appears with the first events batch; a server that has the listeners
      // gauge but no counter yet has received none since it started.
      const exposed = Boolean(rows.needle_events_total || types.needle_events_total);
      const known = exposed || Boolean(rows.needle_listeners);
      const events = sum(rows.needle_events_total, (l) => l.includes('outcome="accepted"'));
      const entities = sum(rows.needle_catalog_entities);
      const prev = state.lastMetrics;
      const cell = $('stat-ingest');
      if (!known) {
        cell.textContent = 'not exposed';
      } else if (prev && now > prev.at) {
        const dt = (now - prev.at) / 1000;
        const n = Math.max(0, events - prev.events);
        const ev = n / dt;
        const rec = Math.max(0, entities - prev.entities) / dt;
        cell.textContent = `${ev.toFixed(1)} events/s · ${rec.toFixed(1)} records/s`;
        cell.title = `${fmt(n)} events accepted in the last ${dt.toFixed(1)} s (${fmt(events)} since start)`;
      } else {
        cell.textContent = 'measuring…';
      }
      state.lastMetrics = { at: now, events, entities };
    } catch (_) { /* metrics are optional */ }
    document.body.dataset.statusAt = String(Date.now());
  }

  // ------------------------------------------------------------------ wiring

  function reloadAll() {
    refreshStatus();
    if (state.listener) { loadProfile(); loadRecommendations(); }
    if (state.similar) openSimilar(state.similar);
    if ($('q').value.trim()) runSearch();
  }

  function init() {
    $('q').addEventListener('input', () => { if (state.view !== 'search') setView('search'); scheduleSearch(); });
    $('views').addEventListener('click', (e) => {
      const tab = e.target.closest('[data-view]');
      if (tab) setView(tab.dataset.view);
    });
    $('q').addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { $('q').value = ''; runSearch(); }
    });
    $('search-form').addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(state.timer); runSearch(); });
    $('listener-form').addEventListener('submit', (e) => { e.preventDefault(); setListener($('listener').value); });
    $('listener-clear').addEventListener('click', () => setListener(''));
    $('recs-surfaces').addEventListener('click', (e) => {
      const tab = e.target.closest('[data-surface]');
      if (!tab || !SURFACES[tab.dataset.surface]) return;
      state.surface = tab.dataset.surface;
      syncUrl();
      loadRecommendations();
    });
    for (const id of ['sections', 'top-result', 'recs-body', 'similar-body']) $(id).addEventListener('click', onHitClick);
    $('similar-close').addEventListener('click', closeSimilar);
    // Every "Train model" button, now or later.
    document.addEventListener('click', (e) => { if (e.target.closest('.train-box .train')) startTraining(); });
    $('status-refresh').addEventListener('click', () => refreshStatus());
    $('auth-enter').addEventListener('click', () => { setView('status'); $('key-box').open = true; $('api-key').focus(); });
    $('quality-form').addEventListener('submit', (e) => {
      e.preventDefault();
      measureQuality().catch((err) => { $('quality-summary').textContent = `Quality unavailable: ${err}`; });
    });
    $('key-form').addEventListener('submit', (e) => {
      e.preventDefault();
      setApiKey($('api-key').value.trim());
      $('api-key').value = '';
      reloadAll();
    });
    $('key-forget').addEventListener('click', () => { setApiKey(''); reloadAll(); });
    renderKeyState();
    renderViews();
    renderTabs();
    renderTraining();
    renderRecent();
    const preset = params.get('user');
    if (preset) setListener(preset);
    if ($('q').value) runSearch();
    refreshStatus();
    setInterval(() => { if (!document.hidden) refreshStatus(); }, STATUS_EVERY_MS);
    document.body.dataset.ready = 'true';
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
