// heapy's report: draws the figures of the JSON above (aggregated by heapy) as tables, a
// flame graph and plots. Plain DOM and canvas; every program-given string goes in as text.
(function () {
  'use strict';
  const D = JSON.parse(document.getElementById('heapy-data').textContent);
  const S = D.strings;
  const $ = (id) => document.getElementById(id);
  const PAGE = 200;

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        const v = attrs[k];
        if (v == null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of kids) if (c != null) e.append(c);
    return e;
  }

  // Figures: bytes with binary units (the exact figure in the title), counts grouped.
  const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  function bytes(n) {
    const neg = n < 0;
    let v = Math.abs(n);
    let u = 0;
    while (v >= 1024 && u < UNITS.length - 1) { v /= 1024; u++; }
    const s = u === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : 1);
    return (neg ? '\u2212' : '') + s + '\u00a0' + UNITS[u];
  }
  const count = (n) => (n < 0 ? '\u2212' : '') + Math.abs(n).toLocaleString('en-US');
  // Objects, or blocks in the view of every allocation (freed ones included).
  const objects = (n) => count(n) + (state.view && V().id === 'allocations' ? (n === 1 ? ' block' : ' blocks') : (n === 1 ? ' object' : ' objects'));
  const signed = (n, f) => (n > 0 ? '+' : '') + f(n);
  function pct(part, whole) {
    if (!whole) return '0\u00a0%';
    const p = (part * 100) / whole;
    if (p > 0 && p < 0.1) return '<0.1\u00a0%';
    return (Math.abs(p) >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)) + '\u00a0%';
  }
  function num(n, text, cls) {
    return el('td', { class: cls, 'data-value': n, title: n.toLocaleString('en-US') }, text);
  }
  function when(t) {
    if (t == null) return 'unknown';
    return new Date(t * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  // ---- state --------------------------------------------------------------------------
  const state = {
    view: 0, by: 'kind', sortCol: 'size', desc: true, query: '', shown: PAGE,
    diffBy: 'kind', sel: null,
  };
  const V = () => D.views[state.view];
  const BY_NAMES = { kind: 'Kind', site: 'Site', size: 'Size', thread: 'Thread' };
  const BY_HEADERS = {
    kind: 'Kind (type / call site)', site: 'Site (file:line function)',
    size: 'Individual Size', thread: 'Thread',
  };

  // ---- header -------------------------------------------------------------------------
  function header() {
    const top = $('top');
    const live = D.views[0];
    top.append(
      el('h1', null, 'heapy report ', el('span', { class: 'prog', text: D.program })),
      el('p', { class: 'meta' }, 'Taken ' + when(D.taken) + ' \u00b7 heapy ' + D.version +
        ' \u00b7 ' + live.tables.kind.length.toLocaleString('en-US') + ' kinds, ' +
        live.tables.site.length.toLocaleString('en-US') + ' sites, ' +
        (live.flame.name.length - 1).toLocaleString('en-US') + ' flame-graph frames'),
    );
    const cards = el('div', { class: 'cards' });
    const card = (id, k, v, x) => cards.append(
      el('div', { class: 'card', id }, el('div', { class: 'k', text: k }),
        el('div', { class: 'v', text: v }), x ? el('div', { class: 'x', text: x }) : null));
    card('total-count', 'Live objects', count(live.count));
    card('total-bytes', 'Live bytes', bytes(live.bytes), live.bytes.toLocaleString('en-US') + ' bytes');
    if (D.peak != null) card('total-peak', 'Peak of the live heap', bytes(D.peak), D.peak.toLocaleString('en-US') + ' bytes');
    else card('total-peak', 'Peak', 'not recorded', 'the snapshot has no history');
    for (const v of D.views.slice(1)) {
      if (v.id === 'peak' && D.peak != null) continue; // the peak's card says it
      card('total-' + v.id, v.title, bytes(v.bytes), count(v.count) + (v.id === 'allocations' ? ' blocks' : ' objects'));
    }
    if (D.diff) {
      const d = D.diff.a[1] - D.diff.b[1];
      card('total-diff', 'Change from base', signed(d, bytes), signed(D.diff.a[0] - D.diff.b[0], objects));
    }
    top.append(cards);
    document.getElementById('total-count').querySelector('.v').dataset.value = live.count;
    document.getElementById('total-bytes').querySelector('.v').dataset.value = live.bytes;
    if (D.sample_rate != null) {
      top.append(el('p', { class: 'notice', id: 'sampled' },
        'Sampled: stacks were recorded for a byte-sample of the allocations (mean gap ' +
        bytes(D.sample_rate) + '); every figure is an estimate, each sampled object scaled by 1/(1\u2212exp(\u2212size/' +
        D.sample_rate + ')).'));
    }
    if (D.views.length > 1) {
      const nav = $('views');
      nav.hidden = false;
      nav.append(tabs(D.views.map((v, i) => [String(i), v.title]), '0', (i) => {
        state.view = +i; state.sel = null; state.shown = PAGE;
        // A view of history has tables by kind and site only (no single objects).
        for (const b of document.querySelectorAll('#by [role=tab]')) b.disabled = !V().tables[b.dataset.value];
        if (!V().tables[state.by]) document.querySelector('#by [data-value=kind]').click();
        table(); flame.reset(); drill(null);
      }));
    }
  }

  // A tab list: keys [value, label]; arrow keys move between tabs.
  function tabs(items, current, onpick) {
    const list = el('div', { role: 'tablist' });
    const buttons = items.map(([value, label]) => el('button', {
      role: 'tab', type: 'button', 'aria-selected': String(value === current),
      tabindex: value === current ? '0' : '-1', 'data-value': value, text: label,
    }));
    function pick(b) {
      for (const o of buttons) { o.setAttribute('aria-selected', String(o === b)); o.tabIndex = o === b ? 0 : -1; }
      onpick(b.dataset.value);
    }
    buttons.forEach((b, i) => {
      b.addEventListener('click', () => pick(b));
      b.addEventListener('keydown', (e) => {
        const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
        if (!d) return;
        const n = buttons[(i + d + buttons.length) % buttons.length];
        n.focus(); pick(n); e.preventDefault();
      });
      list.append(b);
    });
    return list;
  }

  // ---- the partition table ------------------------------------------------------------
  // Rows of the current view and grouping: {i (guppy's index), label, count, bytes, cum}.
  function rowsOf(view, by) {
    const raw = view.tables[by] || [];
    let cum = 0;
    return raw.map((r, i) => { cum += r[2]; return { i, id: r[0], label: S[r[0]], count: r[1], bytes: r[2], cum }; });
  }
  let cache = { key: '', rows: [] };
  function currentRows() {
    const key = state.view + '/' + state.by;
    if (cache.key !== key) cache = { key, rows: rowsOf(V(), state.by) };
    let rows = cache.rows;
    const q = state.query.toLowerCase();
    if (q) rows = rows.filter((r) => r.label.toLowerCase().includes(q));
    const col = state.sortCol;
    const dir = state.desc ? -1 : 1;
    if (!(col === 'size' && state.desc)) {
      const key2 = col === 'label' ? (r) => r.label : col === 'count' ? (r) => r.count : col === 'index' ? (r) => r.i : (r) => r.bytes;
      rows = rows.slice().sort((a, b) => {
        const x = key2(a); const y = key2(b);
        return (x < y ? -1 : x > y ? 1 : 0) * dir || a.i - b.i;
      });
    }
    return rows;
  }

  const COLS = [
    ['index', 'Index'], ['count', 'Count'], [null, '%'], ['size', 'Size'], [null, '%'],
    [null, 'Cumulative'], [null, '%'], [null, ''], ['label', null],
  ];
  function table() {
    const view = V();
    const by = state.by;
    const thead = $('table').tHead;
    thead.textContent = '';
    const tr = el('tr');
    for (const [col, name] of COLS) {
      const label = col === 'label' ? BY_HEADERS[by] : name;
      const th = el('th', { class: col === 'label' ? 'label' : null, scope: 'col' });
      if (col) {
        th.setAttribute('aria-sort', state.sortCol === col ? (state.desc ? 'descending' : 'ascending') : 'none');
        th.append(el('button', { type: 'button', 'data-col': col, text: label, onclick: () => {
          if (state.sortCol === col) state.desc = !state.desc;
          else { state.sortCol = col; state.desc = col !== 'label' && col !== 'index'; }
          state.shown = PAGE; table();
        } }));
      } else th.textContent = label;
      tr.append(th);
    }
    thead.append(tr);
    const rows = currentRows();
    const tbody = $('table').tBodies[0];
    tbody.textContent = '';
    const totalC = view.count; const totalB = view.bytes;
    const top = rows.length ? Math.max(...rows.slice(0, PAGE).map((r) => r.bytes)) : 0;
    const drillable = (by === 'kind' || by === 'site') && view.cells.length > 0;
    const frag = document.createDocumentFragment();
    for (const r of rows.slice(0, state.shown)) {
      const row = el('tr', {
        class: drillable ? 'drill' : null, tabindex: drillable ? '0' : null,
        'data-label': r.label, 'data-count': r.count, 'data-bytes': r.bytes, 'data-index': r.i,
      },
      el('td', { text: r.i }),
      num(r.count, count(r.count)), el('td', { class: 'pct', text: pct(r.count, totalC) }),
      num(r.bytes, bytes(r.bytes)), el('td', { class: 'pct', text: pct(r.bytes, totalB) }),
      num(r.cum, bytes(r.cum)), el('td', { class: 'pct', text: pct(r.cum, totalB) }),
      el('td', { class: 'bar-cell' }, meter(r.bytes, top)),
      el('td', { class: 'label', text: r.label }));
      if (state.sel && state.sel.by === by && state.sel.id === r.id) row.classList.add('sel');
      if (drillable) {
        row.addEventListener('click', () => drill({ by, id: r.id }));
        row.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { drill({ by, id: r.id }); e.preventDefault(); } });
      }
      frag.append(row);
    }
    tbody.append(frag);
    const left = rows.length - Math.min(rows.length, state.shown);
    const more = $('more');
    more.hidden = left <= 0;
    more.textContent = 'Show ' + Math.min(PAGE, left).toLocaleString('en-US') + ' more rows (' + left.toLocaleString('en-US') + ' not shown)';
    const all = (view.tables[by] || []).length;
    $('table-note').textContent = view.title + ': ' + objects(view.count) + ', ' + bytes(view.bytes) +
      ' \u00b7 ' + (state.query ? rows.length.toLocaleString('en-US') + ' of ' : '') + all.toLocaleString('en-US') +
      ' rows by ' + by + (drillable ? ' \u00b7 click a row (or press Enter) to open it' : '') +
      (view.tables[by] ? '' : ' \u00b7 this view has no table by ' + by);
  }
  function meter(v, top) {
    const m = el('div', { class: 'meter' });
    m.style.width = (top ? Math.max(1, Math.round((v * 100) / top)) : 0) + '%';
    return el('div', { class: 'meter-box' }, m);
  }

  // ---- drill-down: kind → its sites (site → its kinds) → objects and traceback ------------
  function drill(sel) {
    state.sel = sel;
    const box = $('drill');
    box.textContent = '';
    for (const tr of $('table').tBodies[0].rows) tr.classList.toggle('sel', !!sel && tr.dataset.label === (sel && S[sel.id]));
    if (!sel) return;
    const view = V();
    const other = sel.by === 'kind' ? 'site' : 'kind';
    const cells = view.cells.filter((c) => c[sel.by] === sel.id);
    let n = 0; let b = 0;
    for (const c of cells) { n += c.count; b += c.bytes; }
    box.append(el('p', { class: 'crumbs', id: 'drill-path' },
      el('button', { type: 'button', text: BY_NAMES[sel.by], onclick: () => drill(null) }), ' \u203a ', S[sel.id]));
    box.append(el('h3', { id: 'drill-title' }, (sel.by === 'kind' ? 'Sites of this kind' : 'Kinds made at this site') +
      ': ' + objects(n) + ', ' + bytes(b)));
    const t = el('table', { id: 'drill-table', class: 'num' });
    t.append(el('thead', null, el('tr', null, el('th', { text: 'Count' }), el('th', { text: '%' }),
      el('th', { text: 'Size' }), el('th', { text: '%' }), el('th', { class: 'label', text: BY_HEADERS[other] }))));
    const tb = el('tbody');
    const detail = el('div', { id: 'drill-detail' });
    cells.forEach((c, i) => {
      const row = el('tr', { class: 'drill', tabindex: '0', 'data-label': S[c[other]], 'data-count': c.count, 'data-bytes': c.bytes },
        num(c.count, count(c.count)), el('td', { class: 'pct', text: pct(c.count, n) }),
        num(c.bytes, bytes(c.bytes)), el('td', { class: 'pct', text: pct(c.bytes, b) }),
        el('td', { class: 'label', text: S[c[other]] }));
      const open = () => {
        for (const r of tb.rows) r.classList.toggle('sel', r === row);
        cell(detail, c);
      };
      row.addEventListener('click', open);
      row.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { open(); e.preventDefault(); } });
      tb.append(row);
      if (i === 0) setTimeout(open, 0);
    });
    t.append(tb);
    box.append(el('div', { class: 'scroll' }, t), detail);
  }
  function cell(box, c) {
    box.textContent = '';
    const objs = el('div');
    const listed = c.objects.length;
    objs.append(el('h3', { id: 'objects-title' }, 'Largest objects' + (listed && listed < c.count ? ' (' + listed + ' of ' + count(c.count) + ')' : '')));
    if (c.objects.length) {
      const t = el('table', { id: 'objects', class: 'num' });
      t.append(el('thead', null, el('tr', null, el('th', { class: 'label', text: 'Address' }), el('th', { text: 'Size' }),
        el('th', { text: 'Serial' }), el('th', { class: 'label', text: 'Thread' }))));
      const tb = el('tbody');
      for (const o of c.objects) {
        tb.append(el('tr', { 'data-bytes': o[1] }, el('td', { class: 'label', text: '0x' + o[0].toString(16) }),
          num(o[1], bytes(o[1])), el('td', { text: o[2] }), el('td', { class: 'label', text: S[o[3]] })));
      }
      t.append(tb);
      objs.append(el('div', { class: 'scroll' }, t));
    } else if (V().id !== 'live') {
      objs.append(el('p', { class: 'note', text: 'This view counts blocks per allocation stack: it has no single objects to list (the live view has).' }));
    } else objs.append(el('p', { class: 'note', text: 'Not listed: the page lists the largest objects of the largest classes only.' }));
    const tbx = el('div');
    const many = c.stacks > 1 ? ' (the largest of ' + c.stacks + ' stacks)' : '';
    tbx.append(el('h3', { id: 'traceback-title' }, 'Traceback, most recent call first' + many));
    const ol = el('ol', { class: 'tb', id: 'traceback' });
    if (c.stack == null) ol.append(el('li', { text: '<no stack>' }));
    else for (const f of D.stacks[c.stack]) ol.append(el('li', { text: S[f] }));
    tbx.append(ol);
    box.append(el('div', { class: 'cols' }, objs, tbx));
  }

  // ---- flame graph (icicle on a canvas) ---------------------------------------------------
  const flame = (function () {
    const canvas = $('flame-canvas');
    const tip = $('flame-tip');
    const ROW = 18;
    let tree = null; // {name, bytes, count, parent, kids}
    let inverted = false;
    let zoom = 0; let focus = 0; let query = '';
    let rects = []; // drawn boxes [node, x, y, w]
    const trees = {};

    // The tree of the current view: children sorted largest first.
    function build(f) {
      const n = f.name.length;
      const kids = Array.from({ length: n }, () => []);
      for (let i = 1; i < n; i++) kids[f.parent[i]].push(i);
      for (const k of kids) k.sort((a, b) => f.bytes[b] - f.bytes[a]);
      return { name: f.name, bytes: f.bytes, count: f.count, parent: f.parent, kids };
    }
    // Bottom-up: each node's own bytes (not in its children) hung from the allocating end.
    function invert(t) {
      const name = [t.name[0]]; const parent = [0]; const bytes = [0]; const count = [0];
      const index = new Map();
      for (let i = 1; i < t.name.length; i++) {
        let ownB = t.bytes[i]; let ownC = t.count[i];
        for (const k of t.kids[i]) { ownB -= t.bytes[k]; ownC -= t.count[k]; }
        if (ownB <= 0 && ownC <= 0) continue;
        bytes[0] += ownB; count[0] += ownC;
        let at = 0;
        for (let j = i; j !== 0; j = t.parent[j]) {
          const key = at + ':' + t.name[j];
          let n = index.get(key);
          if (n === undefined) { n = name.length; index.set(key, n); name.push(t.name[j]); parent.push(at); bytes.push(0); count.push(0); }
          bytes[n] += ownB; count[n] += ownC; at = n;
        }
      }
      return build({ name, parent, bytes, count });
    }
    function current() {
      const key = state.view + (inverted ? 'i' : '');
      if (!trees[key]) trees[key] = inverted ? invert(current0()) : build(V().flame);
      return trees[key];
    }
    function current0() {
      const key = String(state.view);
      if (!trees[key]) trees[key] = build(V().flame);
      return trees[key];
    }

    function color(name, i, t) {
      const leaf = t.kids[i].length === 0 && !inverted;
      const s = name;
      let h;
      if (/^(Vec|VecDeque|BinaryHeap|\[)/.test(s)) h = 205;
      else if (/^(String|str|OsString|PathBuf|CString)/.test(s)) h = 150;
      else if (/^(Box|Rc|Arc)</.test(s)) h = 265;
      else if (/^(HashMap|HashSet|BTreeMap|BTreeSet|LinkedList)/.test(s)) h = 35;
      else {
        let x = 0;
        const crate = s.replace(/^</, '').split('::')[0];
        for (let k = 0; k < crate.length; k++) x = (x * 31 + crate.charCodeAt(k)) >>> 0;
        h = leaf ? 330 : 10 + (x % 40);
      }
      const dark = matchMedia('(prefers-color-scheme: dark)').matches;
      const std = /^(<?(std|core|alloc)::)/.test(s);
      const sat = std ? 18 : leaf ? 55 : 62;
      return 'hsl(' + h + ',' + sat + '%,' + (dark ? (std ? 34 : 38) : (std ? 80 : 72)) + '%)';
    }

    function draw() {
      const t = current();
      const css = getComputedStyle(document.documentElement);
      const width = canvas.clientWidth || 1000;
      // Depth: the zoomed node's ancestors, then its subtree.
      const anc = [];
      for (let j = zoom; j !== 0; j = t.parent[j]) anc.unshift(j);
      anc.unshift(0);
      let depth = 0;
      const levels = [];
      (function measure(i, d) {
        depth = Math.max(depth, d);
        if (d > 400) return;
        for (const k of t.kids[i]) if ((t.bytes[k] / (t.bytes[zoom] || 1)) * width >= 0.5) measure(k, d + 1);
      })(zoom, anc.length - 1);
      const h = (depth + 1) * ROW + 2;
      const dpr = window.devicePixelRatio || 1;
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(h * dpr);
      canvas.style.height = h + 'px';
      const g = canvas.getContext('2d');
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, width, h);
      g.font = '12px ui-monospace, SFMono-Regular, Menlo, monospace';
      g.textBaseline = 'middle';
      rects = [];
      const q = query.toLowerCase();
      const fg = css.getPropertyValue('--fg').trim() || '#000';
      const match = css.getPropertyValue('--match').trim() || '#d0f';
      const rootFill = css.getPropertyValue('--bar').trim() || '#ccc';
      const box = (i, x, y, w, dim) => {
        const name = S[t.name[i]];
        const hit = q && name.toLowerCase().includes(q);
        g.globalAlpha = dim || (q && !hit) ? 0.45 : 1;
        g.fillStyle = hit ? match : i === 0 ? rootFill : color(name, i, t);
        g.fillRect(x, y, Math.max(w - 1, 0.5), ROW - 1);
        if (i === focus && document.activeElement === canvas) {
          g.globalAlpha = 1; g.strokeStyle = fg; g.lineWidth = 2; g.strokeRect(x + 1, y + 1, Math.max(w - 3, 1), ROW - 3);
        }
        if (w > 28) {
          g.globalAlpha = 1; g.fillStyle = hit ? '#fff' : fg;
          const label = i === 0 ? 'all (' + bytes(t.bytes[0]) + ')' : name;
          const fit = Math.floor((w - 8) / 7.2);
          g.fillText(label.length > fit ? label.slice(0, Math.max(fit - 1, 1)) + '\u2026' : label, x + 4, y + ROW / 2);
        }
        g.globalAlpha = 1;
        rects.push([i, x, y, w]);
      };
      anc.forEach((i, d) => { if (i !== zoom) box(i, 0, d * ROW, width, true); });
      const total = t.bytes[zoom] || 1;
      (function walk(i, x, d, w) {
        box(i, x, d * ROW, w, false);
        if (d > 400) return;
        let cx = x;
        for (const k of t.kids[i]) {
          const kw = (t.bytes[k] / total) * width;
          if (kw >= 0.5) walk(k, cx, d + 1, kw);
          cx += kw;
        }
      })(zoom, 0, anc.length - 1, width);
      // Figures for the page and its tests.
      const sec = $('flame');
      sec.dataset.zoom = zoom === 0 ? '' : S[t.name[zoom]];
      sec.dataset.zoomBytes = t.bytes[zoom];
      sec.dataset.inverted = String(inverted);
      sec.dataset.view = V().id;
      $('flame-what').textContent = V().title + ', by allocation stack';
      crumbs(t, anc);
      matches(t, q);
      levels.length = 0;
    }
    function crumbs(t, anc) {
      const p = $('flame-path');
      p.textContent = '';
      anc.forEach((i, n) => {
        if (n) p.append(' \u203a ');
        const label = i === 0 ? 'all' : S[t.name[i]];
        if (i === zoom) p.append(el('strong', { text: label + ' (' + bytes(t.bytes[i]) + ', ' + pct(t.bytes[i], t.bytes[0]) + ')' }));
        else p.append(el('button', { type: 'button', text: label, onclick: () => setZoom(i) }));
      });
    }
    // What the search finds: frames whose name holds the text, and their bytes (each stack
    // counted once: a match below a match adds nothing).
    function matches(t, q) {
      const out = $('flame-match');
      if (!q) { out.textContent = ''; delete out.dataset.frames; delete out.dataset.bytes; return; }
      let frames = 0; let b = 0;
      (function walk(i, inMatch) {
        const hit = i !== 0 && S[t.name[i]].toLowerCase().includes(q);
        if (hit) frames++;
        if (hit && !inMatch) b += t.bytes[i];
        for (const k of t.kids[i]) walk(k, inMatch || hit);
      })(0, false);
      out.dataset.frames = frames; out.dataset.bytes = b;
      out.textContent = frames + ' frame' + (frames === 1 ? '' : 's') + ' match \u201c' + query + '\u201d: ' + bytes(b) + ' (' + pct(b, t.bytes[0]) + ' of the total)';
    }
    function at(x, y) {
      for (let k = rects.length - 1; k >= 0; k--) {
        const r = rects[k];
        if (x >= r[1] && x < r[1] + r[3] && y >= r[2] && y < r[2] + ROW) return r[0];
      }
      return -1;
    }
    function setZoom(i) { zoom = i; focus = i; draw(); }
    function pos(e) { const b = canvas.getBoundingClientRect(); return [e.clientX - b.left, e.clientY - b.top]; }
    canvas.addEventListener('click', (e) => { const i = at(...pos(e)); if (i >= 0) setZoom(i); });
    canvas.addEventListener('mousemove', (e) => {
      const [x, y] = pos(e);
      const i = at(x, y);
      if (i < 0) { tip.hidden = true; return; }
      const t = current();
      tip.textContent = '';
      tip.append(el('div', { class: 'n', text: i === 0 ? 'all' : S[t.name[i]] }),
        el('div', { text: bytes(t.bytes[i]) + ' (' + t.bytes[i].toLocaleString('en-US') + ' bytes), ' +
          pct(t.bytes[i], t.bytes[0]) + ' of all' + (zoom ? ', ' + pct(t.bytes[i], t.bytes[zoom]) + ' of the zoomed frame' : '') }),
        el('div', { text: count(t.count[i]) + ' objects' }));
      tip.hidden = false;
      const bw = canvas.clientWidth;
      tip.style.left = Math.min(x + 12, Math.max(bw - 360, 0)) + 'px';
      tip.style.top = (y + 16) + 'px';
    });
    canvas.addEventListener('mouseleave', () => { tip.hidden = true; });
    canvas.addEventListener('focus', draw);
    canvas.addEventListener('blur', draw);
    canvas.addEventListener('keydown', (e) => {
      const t = current();
      const sib = (d) => {
        if (focus === 0) return focus;
        const s = t.kids[t.parent[focus]];
        const k = s.indexOf(focus) + d;
        return k >= 0 && k < s.length ? s[k] : focus;
      };
      let next = focus;
      if (e.key === 'ArrowUp') next = focus === 0 ? 0 : t.parent[focus];
      else if (e.key === 'ArrowDown') next = t.kids[focus][0] ?? focus;
      else if (e.key === 'ArrowLeft') next = sib(-1);
      else if (e.key === 'ArrowRight') next = sib(1);
      else if (e.key === 'Enter') { setZoom(focus); e.preventDefault(); return; } else if (e.key === 'Escape') { setZoom(zoom === 0 ? 0 : t.parent[zoom]); e.preventDefault(); return; } else return;
      e.preventDefault();
      focus = next;
      draw();
    });
    $('flame-reset').addEventListener('click', () => setZoom(0));
    $('flame-invert').addEventListener('change', (e) => { inverted = e.target.checked; zoom = 0; focus = 0; draw(); });
    let timer = 0;
    $('flame-search').addEventListener('input', (e) => {
      clearTimeout(timer);
      timer = setTimeout(() => { query = e.target.value.trim(); draw(); }, 120);
    });
    window.addEventListener('resize', () => draw());
    // Where a frame was drawn (CSS pixels in the canvas), for tests that click it:
    // the first box whose name is `name`.
    window.heapyFlame = {
      box(name) {
        const t = current();
        const r = rects.find((r) => r[0] !== 0 && S[t.name[r[0]]] === name);
        return r ? { x: r[1], y: r[2], w: r[3], h: ROW } : null;
      },
    };
    return { draw, reset() { zoom = 0; focus = 0; draw(); } };
  })();

  // ---- memory over time (mprof) -----------------------------------------------------------
  function timeline() {
    const T = D.timeline;
    if (!T || !T.samples.length) return;
    $('timeline').hidden = false;
    const NS = 'http://www.w3.org/2000/svg';
    const svg = (tag, attrs, ...kids) => {
      const e = document.createElementNS(NS, tag);
      for (const k of Object.keys(attrs || {})) e.setAttribute(k, attrs[k]);
      for (const c of kids) e.append(c);
      return e;
    };
    const W = 1160; const H = 300; const L = 58; const R = 12; const TOP = 14; const B = 30;
    const t0 = T.samples[0][0];
    const t1 = Math.max(T.samples[T.samples.length - 1][0], ...T.funcs.map((f) => f[3]));
    let top = Math.max(...T.samples.map((s) => s[1]), ...T.funcs.map((f) => Math.max(f[2], f[4])));
    top = top > 0 ? top * 1.08 : 1;
    const span = t1 - t0 || 1;
    const X = (t) => L + ((t - t0) / span) * (W - L - R);
    const Y = (m) => TOP + (1 - m / top) * (H - TOP - B);
    const plot = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'Memory over time' });
    const css = getComputedStyle(document.documentElement);
    const line = css.getPropertyValue('--line').trim();
    const accent = css.getPropertyValue('--accent').trim();
    for (let k = 0; k <= 4; k++) {
      const m = (top / 1.08) * (k / 4);
      plot.append(svg('line', { x1: L, x2: W - R, y1: Y(m), y2: Y(m), stroke: line }),
        svg('text', { x: L - 6, y: Y(m) + 4, 'text-anchor': 'end' }, m.toFixed(m < 10 ? 2 : 0) + ' MiB'));
    }
    for (let k = 0; k <= 5; k++) {
      const t = t0 + (span * k) / 5;
      plot.append(svg('text', { x: X(t), y: H - 10, 'text-anchor': 'middle' }, (t - t0).toFixed(span < 10 ? 2 : 0) + ' s'));
    }
    let peak = T.samples[0];
    for (const s of T.samples) if (s[1] > peak[1]) peak = s;
    plot.append(svg('line', { x1: L, x2: W - R, y1: Y(peak[1]), y2: Y(peak[1]), stroke: accent, 'stroke-dasharray': '4 4', opacity: '0.6' }));
    plot.append(svg('polyline', { id: 'timeline-line', fill: 'none', stroke: accent, 'stroke-width': '1.6',
      points: T.samples.map((s) => X(s[0]).toFixed(1) + ',' + Y(s[1]).toFixed(1)).join(' ') }));
    const legend = el('div', { class: 'legend' });
    const hues = new Map();
    T.funcs.forEach((f, n) => {
      if (!hues.has(f[0])) {
        hues.set(f[0], 'hsl(' + ((hues.size * 67 + 10) % 360) + ',65%,50%)');
        const sw = el('i'); sw.style.background = hues.get(f[0]);
        legend.append(el('span', null, sw, f[0]));
      }
      const c = hues.get(f[0]);
      const x0 = X(f[1]); const x1 = X(f[3]);
      const y0 = Y(f[2]); const y1 = Y(f[4]);
      const g = svg('g', { class: 'func', 'data-name': f[0] }, svg('title', null, f[0] + ': ' + f[2].toFixed(3) + ' \u2192 ' + f[4].toFixed(3) + ' MiB, ' + (f[3] - f[1]).toFixed(3) + ' s'));
      const arm = 6; const half = 10 + f[5] * 3;
      g.append(svg('path', { d: 'M' + (x0 + arm) + ',' + (y0 - half) + 'h' + -arm + 'v' + 2 * half + 'h' + arm, stroke: c, fill: 'none', 'stroke-width': '2' }),
        svg('path', { d: 'M' + (x1 - arm) + ',' + (y1 - half) + 'h' + arm + 'v' + 2 * half + 'h' + -arm, stroke: c, fill: 'none', 'stroke-width': '2' }));
      plot.append(g);
      void n;
    });
    $('timeline-plot').append(plot, legend);
    $('timeline-what').textContent = (T.cmdline ? T.cmdline + ' \u00b7 ' : '') + T.samples.length + ' samples, peak ' +
      peak[1].toFixed(3) + ' MiB at ' + (peak[0] - t0).toFixed(2) + ' s; brackets [ ] mark profiled calls';
  }

  // ---- the difference from a base ---------------------------------------------------------
  function diff() {
    const d = D.diff;
    if (!d) return;
    $('diff').hidden = false;
    const s = $('diff-summary');
    const t = el('table', { id: 'diff-totals', class: 'num compact' });
    t.append(el('thead', null, el('tr', null, el('th', { class: 'label', text: '' }), el('th', { text: 'Count' }), el('th', { text: 'Size' }), el('th', { text: '% of B' }))));
    const dc = d.a[0] - d.b[0]; const db = d.a[1] - d.b[1];
    t.append(el('tbody', null,
      el('tr', null, el('td', { class: 'label', text: 'A (this snapshot)' }), num(d.a[0], count(d.a[0])), num(d.a[1], bytes(d.a[1])), el('td')),
      el('tr', null, el('td', { class: 'label', text: 'B (base)' }), num(d.b[0], count(d.b[0])), num(d.b[1], bytes(d.b[1])), el('td')),
      el('tr', { class: db > 0 ? 'grow' : db < 0 ? 'shrink' : null }, el('td', { class: 'label', text: 'A-B' }),
        num(dc, signed(dc, count)), num(db, signed(db, bytes)), el('td', { text: d.b[1] ? ((db * 100) / d.b[1]).toFixed(2) + ' %' : '' }))));
    s.append(t);
    $('diff-by').append(tabs(Object.keys(BY_NAMES).map((k) => [k, BY_NAMES[k]]), 'kind', (b) => { state.diffBy = b; diffTable(); }));
    diffTable();
  }
  function diffTable() {
    const d = D.diff;
    const rows = d.tables[state.diffBy] || [];
    const t = $('diff-table');
    t.tHead.textContent = '';
    t.tHead.append(el('tr', null, ...['Index', 'Count', 'Size', 'Cumulative', '% of B'].map((h) => el('th', { text: h })),
      el('th', { class: 'label', text: BY_HEADERS[state.diffBy] })));
    const tb = t.tBodies[0];
    tb.textContent = '';
    let cum = 0;
    rows.slice(0, 500).forEach((r, i) => {
      cum += r[2];
      tb.append(el('tr', { class: r[2] > 0 ? 'grow' : r[2] < 0 ? 'shrink' : null, 'data-label': S[r[0]], 'data-count': r[1], 'data-bytes': r[2] },
        el('td', { text: i }), num(r[1], signed(r[1], count)), num(r[2], signed(r[2], bytes)), num(cum, signed(cum, bytes)),
        el('td', { text: d.b[1] ? ((cum * 100) / d.b[1]).toFixed(2) : '' }), el('td', { class: 'label', text: S[r[0]] })));
    });
    if (rows.length > 500) tb.append(el('tr', null, el('td', { colspan: 6, class: 'label', text: (rows.length - 500) + ' more rows not shown' })));
    if (!rows.length) tb.append(el('tr', null, el('td', { colspan: 6, class: 'label', text: 'No difference.' })));
  }

  // ---- object graph -------------------------------------------------------------------------
  function graph() {
    const g = D.graph;
    if (!g) return;
    $('graph').hidden = false;
    const body = $('graph-body');
    if (g.unreachable) {
      let n = 0; let b = 0;
      for (const r of g.unreachable) { n += r[1]; b += r[2]; }
      body.append(el('h3', { id: 'unreachable-title' }, 'Unreachable objects (no root reaches them: leaks): ' + count(n) + ' objects, ' + bytes(b)));
      const t = el('table', { id: 'unreachable', class: 'num' });
      t.append(el('thead', null, el('tr', null, el('th', { text: 'Count' }), el('th', { text: 'Size' }), el('th', { class: 'label', text: BY_HEADERS.kind }))));
      const tb = el('tbody');
      for (const r of g.unreachable) tb.append(el('tr', { 'data-label': S[r[0]], 'data-count': r[1], 'data-bytes': r[2] }, num(r[1], count(r[1])), num(r[2], bytes(r[2])), el('td', { class: 'label', text: S[r[0]] })));
      if (!g.unreachable.length) tb.append(el('tr', null, el('td', { colspan: 3, class: 'label', text: 'None: every object is reachable.' })));
      t.append(tb);
      body.append(t);
    }
    if (g.cycles) {
      body.append(el('h3', { id: 'cycles-title' }, 'Reference cycles (Rc/Arc): ' + g.cycles.length));
      const t = el('table', { id: 'cycles', class: 'num' });
      t.append(el('thead', null, el('tr', null, el('th', { text: 'Objects' }), el('th', { text: 'Size' }), el('th', { class: 'label', text: 'Kinds in the cycle' }))));
      const tb = el('tbody');
      for (const c of g.cycles) tb.append(el('tr', { 'data-count': c[0], 'data-bytes': c[1] }, num(c[0], count(c[0])), num(c[1], bytes(c[1])), el('td', { class: 'label', text: c[2].map((k) => S[k]).join(', ') })));
      if (!g.cycles.length) tb.append(el('tr', null, el('td', { colspan: 3, class: 'label', text: 'None.' })));
      t.append(tb);
      body.append(t);
    }
  }

  // ---- wiring -------------------------------------------------------------------------------
  header();
  $('by').append(tabs(Object.keys(BY_NAMES).map((k) => [k, BY_NAMES[k]]), 'kind', (b) => {
    state.by = b; state.shown = PAGE; state.sortCol = 'size'; state.desc = true; table(); drill(null);
  }));
  let timer = 0;
  $('search').addEventListener('input', (e) => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.query = e.target.value.trim(); state.shown = PAGE; table(); }, 120);
  });
  $('more').addEventListener('click', () => { state.shown += PAGE; table(); });
  document.addEventListener('keydown', (e) => {
    if (e.key === '/' && !/^(INPUT|TEXTAREA)$/.test(document.activeElement.tagName)) { $('search').focus(); e.preventDefault(); }
  });
  table();
  const t0 = performance.now();
  flame.draw();
  timeline();
  diff();
  graph();
  document.body.dataset.ready = 'true';
  document.body.dataset.flameMs = String(Math.round(performance.now() - t0));
})();
