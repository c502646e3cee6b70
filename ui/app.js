// Needle search page: search-as-you-type, listener picker, recommendations, status.
// Plain browser JavaScript, no framework, no build step.
//
// The API is the page's own origin, or `?api=http://host:port` (that server must then allow
// CORS). `?user=ID` preselects a listener.
'use strict';

(() => {
  const DEBOUNCE_MS = 80;
  const STATUS_EVERY_MS = 5000;
  const RECENT_KEY = 'needle.recentListeners';
  const RECENT_MAX = 6;
  const KEY_KEY = 'needle.apiKey';
  const TYPE_LABELS = {
    track: 'Tracks', artist: 'Artists', album: 'Albums', playlist: 'Playlists',
    show: 'Podcasts', episode: 'Episodes', audiobook: 'Audiobooks', chapter: 'Chapters',
  };
  // Snippets are HTML-escaped by the server; they are inserted as HTML only when the only
  // markup in them is <em>/</em> (anything else falls back to plain text).
  const SAFE_SNIPPET = /^(?:[^<>]|<em>|<\/em>)*$/;

  const params = new URLSearchParams(location.search);
  const API = apiBase(params.get('api'));
  const $ = (id) => document.getElementById(id);
  const state = {
    listener: null, seq: 0, ctrl: null, timer: null, surface: 'home',
    lastMetrics: null, requests: { sent: 0, aborted: 0 },
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

  function setSnippet(target, snippet, fallback) {
    if (typeof snippet === 'string' && SAFE_SNIPPET.test(snippet)) {
      target.innerHTML = snippet;
    } else {
      target.textContent = fallback;
    }
  }

  function apiKey() {
    try { return sessionStorage.getItem(KEY_KEY) || ''; } catch (_) { return ''; }
  }

  // Every API call: the API base, and the API key (if one was entered) as a bearer token.
  function call(path, signal) {
    const headers = { accept: 'application/json' };
    const key = apiKey();
    if (key) headers.authorization = `Bearer ${key}`;
    return fetch(API + path, { signal, headers });
  }

  async function fetchJSON(path, signal) {
    const res = await call(path, signal);
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    return { status: res.status, ok: res.ok, body };
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
    if (!text.trim()) { renderResults(null, ''); return; }
    const ctrl = new AbortController();
    state.ctrl = ctrl;
    const query = new URLSearchParams({ q: text, limit: '30' });
    if (state.listener) query.set('user_id', state.listener);
    document.body.dataset.search = 'loading';
    state.requests.sent += 1;
    try {
      const r = await fetchJSON(`/v1/search?${query}`, ctrl.signal);
      if (seq !== state.seq) return; // a newer search owns the page
      state.ctrl = null;
      if (!r.ok) {
        const hint = r.status === 401 || r.status === 403 ? ' Enter an API key under Status.' : '';
        const err = r.body || { message: `HTTP ${r.status}` };
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
    if (hit.artists && hit.artists.length) parts.push(['artists', hit.artists.join(', ')]);
    if (hit.album) parts.push(['album', hit.album]);
    if (hit.show) parts.push(['show', hit.show]);
    if (hit.audiobook) parts.push(['audiobook', hit.audiobook]);
    if (hit.authors && hit.authors.length) parts.push(['authors', hit.authors.join(', ')]);
    if (hit.publisher) parts.push(['publisher', hit.publisher]);
    return parts;
  }

  function renderHit(hit, big) {
    const item = el(big ? 'div' : 'li', big ? 'hit hit-top' : 'hit');
    item.dataset.id = hit.id;
    item.dataset.type = hit.type;
    const highlights = {};
    for (const h of hit.highlights || []) highlights[h.field] = h.snippet;
    const head = el('div', 'hit-head');
    const name = el('span', 'hit-name');
    setSnippet(name, highlights.name, hit.name);
    head.append(name, el('span', `badge type-${hit.type}`, hit.type));
    if (hit.explicit) head.append(el('span', 'badge explicit', 'E'));
    item.append(head);
    const sub = subtitle(hit);
    if (sub.length) {
      const line = el('div', 'hit-sub');
      sub.forEach(([field, text], i) => {
        if (i) line.append(document.createTextNode(' · '));
        const span = el('span', `sub-${field}`);
        setSnippet(span, highlights[field], text);
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
    if (!body.hits.length) sections.append(el('p', 'empty', `Nothing matches “${text}”.`));
    for (const section of body.sections || []) {
      const box = el('section', 'type-section');
      box.dataset.type = section.type;
      const title = el('h3', 'section-title', TYPE_LABELS[section.type] || section.type);
      title.append(el('span', 'count', ` ${section.total}`));
      const list = el('ol', 'hits');
      for (const hit of section.hits) list.append(renderHit(hit, false));
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

  function setListener(id) {
    id = (id || '').trim();
    if (id && !validListener(id)) {
      showError({ message: 'A listener id is 1 to 256 bytes without control characters', code: 'invalid_id' });
      return;
    }
    state.listener = id || null;
    $('listener').value = id;
    const url = new URL(location.href);
    if (id) url.searchParams.set('user', id); else url.searchParams.delete('user');
    history.replaceState(null, '', url);
    $('listener-status').textContent = id ? `Personalized for ${id}.` : 'Not personalized.';
    document.body.dataset.listener = id;
    if (id) remember(id); else renderRecent();
    loadProfile();
    loadRecommendations();
    if ($('q').value.trim()) runSearch();
  }

  async function loadProfile() {
    const box = $('profile');
    box.replaceChildren();
    box.hidden = true;
    const id = state.listener;
    if (!id) return;
    let r;
    try { r = await fetchJSON(`/v1/users/${encodeURIComponent(id)}/profile?top=3`); } catch (_) { return; }
    if (id !== state.listener) return;
    box.hidden = false;
    if (!r.ok) { box.append(el('p', 'muted', r.status === 404 ? 'No listening history yet.' : 'Profile unavailable.')); return; }
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

  async function loadRecommendations() {
    const panel = $('recs');
    const id = state.listener;
    if (!id) { panel.hidden = true; return; }
    let r;
    try {
      const q = new URLSearchParams({ surface: state.surface });
      r = await fetchJSON(`/v1/users/${encodeURIComponent(id)}/recommendations?${q}`);
    } catch (_) { panel.hidden = true; return; }
    if (id !== state.listener) return;
    // 404: the server has no recommendations (or none for this listener): hide the panel.
    if (!r.ok || !r.body) { panel.hidden = true; return; }
    const body = r.body;
    const items = body.items || body.recommendations || [];
    const tabs = $('recs-surfaces');
    tabs.replaceChildren();
    for (const s of Array.isArray(body.surfaces) ? body.surfaces : []) {
      const tab = el('button', s === state.surface ? 'chip active' : 'chip', s);
      tab.type = 'button';
      tab.setAttribute('role', 'tab');
      tab.addEventListener('click', () => { state.surface = s; loadRecommendations(); });
      tabs.append(tab);
    }
    $('recs-meta').textContent = [body.surface || state.surface, body.model_version && `model ${body.model_version}`]
      .filter(Boolean).join(' · ');
    const list = $('recs-list');
    list.replaceChildren();
    for (const item of items) {
      const li = renderHit({ ...item, highlights: [], personalization: null }, false);
      if (Array.isArray(item.reasons) && item.reasons.length) {
        const why = el('ul', 'reasons up');
        for (const reason of item.reasons) why.append(el('li', 'reason', reason));
        li.append(why);
      }
      list.append(li);
    }
    panel.hidden = false;
  }

  // ------------------------------------------------------------------ status

  function parseMetrics(text) {
    const out = {};
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      (out[m[1]] = out[m[1]] || []).push({ labels: m[2] || '', value: Number(m[3]) });
    }
    return out;
  }

  const sum = (rows, pred = () => true) => (rows || []).filter((r) => pred(r.labels)).reduce((a, r) => a + r.value, 0);
  const fmt = (n) => Number(n).toLocaleString('en-US');

  async function refreshStatus() {
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
        if (s.body.model_version) $('stat-model').textContent = s.body.model_version;
      }
    } catch (_) { /* keep the last figures */ }
    try {
      const res = await call('/metrics');
      if (!res.ok) return;
      const m = parseMetrics(await res.text());
      const now = performance.now();
      if (m.needle_listeners) $('stat-listeners').textContent = fmt(sum(m.needle_listeners));
      const events = sum(m.needle_events_total, (l) => l.includes('outcome="accepted"'));
      const entities = sum(m.needle_catalog_entities);
      const prev = state.lastMetrics;
      if (prev && now > prev.at) {
        const dt = (now - prev.at) / 1000;
        const ev = Math.max(0, events - prev.events) / dt;
        const rec = Math.max(0, entities - prev.entities) / dt;
        $('stat-ingest').textContent = `${ev.toFixed(1)} events/s · ${rec.toFixed(1)} records/s`;
      } else {
        $('stat-ingest').textContent = 'measuring…';
      }
      state.lastMetrics = { at: now, events, entities };
      const model = (m.needle_model_info || [])[0];
      const version = model && /version="([^"]*)"/.exec(model.labels);
      if (version) $('stat-model').textContent = version[1];
      else if (m.needle_model_version) $('stat-model').textContent = String(m.needle_model_version[0].value);
      else if ($('stat-model').textContent === '–') $('stat-model').textContent = 'none trained';
    } catch (_) { /* metrics are optional */ }
  }

  // ------------------------------------------------------------------ wiring

  function init() {
    $('q').addEventListener('input', scheduleSearch);
    $('q').addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { $('q').value = ''; runSearch(); }
    });
    $('search-form').addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(state.timer); runSearch(); });
    $('listener-form').addEventListener('submit', (e) => { e.preventDefault(); setListener($('listener').value); });
    $('listener-clear').addEventListener('click', () => setListener(''));
    $('key-form').addEventListener('submit', (e) => {
      e.preventDefault();
      try { sessionStorage.setItem(KEY_KEY, $('api-key').value.trim()); } catch (_) { /* private mode */ }
      $('api-key').value = '';
      refreshStatus();
      if ($('q').value.trim()) runSearch();
    });
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
