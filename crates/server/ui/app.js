// detunnel's web UI: flows (sFlow-RT's browse-flows, with a table, tenants inside tunnels and
// "where seen"), the broker's pipelines and streams, and the collector's health. Plain
// JavaScript on the REST API; every value from the server is shown as text, never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);

/// Builds an element; children are nodes or strings (shown as text).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/// A request that failed, with the server's own message.
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function get(path) {
  const r = await fetch(path, { headers: { Accept: 'application/json' } });
  const text = await r.text();
  if (!r.ok) throw new ApiError(r.status, text.trim() || r.statusText);
  return JSON.parse(text);
}

// ---- state kept in the URL, so a view can be shared ----

const DEFAULTS = { view: 'flows', keys: 'ipsource.1,ipdestination.1,stack', value: 'bps', filter: '', chips: [],
  dropped: false, agent: 'ALL', top: 10, window: 5, mode: 'stacked', flow: '' };
const state = { ...DEFAULTS };

function readState() {
  const q = new URLSearchParams(location.search);
  for (const k of Object.keys(DEFAULTS)) {
    if (!q.has(k)) continue;
    const v = q.get(k);
    if (k === 'chips') state.chips = q.getAll('chips').filter((c) => c);
    else if (k === 'dropped') state.dropped = v === 'true';
    else if (k === 'top' || k === 'window') state[k] = Number(v) || DEFAULTS[k];
    else state[k] = v;
  }
}

function writeState() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) {
    if (k === 'chips') v.forEach((c) => q.append('chips', c));
    else if (String(v) !== String(DEFAULTS[k])) q.set(k, String(v));
  }
  const url = location.pathname + (q.toString() ? '?' + q : '');
  history.replaceState(null, '', url);
}

// ---- formatting ----

function human(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return v === null || v === undefined || Number.isNaN(v) ? '' : String(v);
  const a = Math.abs(v);
  for (const [d, s] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']]) if (a >= d) return (v / d).toFixed(a / d >= 100 ? 0 : 1) + s;
  return a >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(2);
}

const COLOURS = ['#1f6feb', '#e36209', '#2da44e', '#cf222e', '#8250df', '#bf8700', '#0a7b83', '#d1247a', '#57606a', '#6e7781',
  '#4c8eda', '#f0883e', '#56d364', '#ff7b72', '#a371f7', '#e3b341', '#39c5cf', '#f778ba', '#8b949e', '#b1bac4'];

function download(name, type, text) {
  const a = el('a', { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

function csv(rows) {
  return rows.map((r) => r.map((c) => { const s = String(c ?? ''); return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; }).join(',')).join('\n') + '\n';
}

function status(text) { $('status').textContent = text; }

// ---- views ----

const views = ['flows', 'broker', 'collector'];

function show(view) {
  state.view = view;
  for (const v of views) $('view-' + v).hidden = v !== view;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.view === view);
  writeState();
}

// ---- flows ----

let readonly = false;
let flowName = null;        // the definition the server holds for this view
let flowKeys = {};          // every key seen, from /flowkeys/json
let latest = [];            // the latest flows
let times = [];             // chart: seconds since the epoch
const trend = new Map();    // chart: key -> values (null where absent), aligned with `times`
let chart = null;
let chartKeys = '';
let definition = '';        // what the history was collected for

/// The filter sent to the server: the typed one and the chips, joined with `&`.
function combinedFilter() {
  const typed = state.filter.trim();
  const parts = state.chips.slice();
  if (typed) parts.unshift(/[|]/.test(typed) ? '(' + typed + ')' : typed);
  return parts.join('&');
}

/// `key=value` (or `!=`), the value quoted unless it is a plain word, address or number.
function term(key, value, negate) {
  const v = /^[\w.:\/-]+$/.test(value) ? value : "'" + value.replace(/'/g, '') + "'";
  return key + (negate ? '!=' : '=') + v;
}

function addChip(t) {
  if (!state.chips.includes(t)) state.chips.push(t);
  renderChips();
  restart();
}

function renderChips() {
  const box = $('chips');
  box.replaceChildren(...state.chips.map((c, i) => el('span', { class: 'chip' }, c,
    el('button', { type: 'button', title: 'remove', 'aria-label': 'remove ' + c, onclick: () => { state.chips.splice(i, 1); renderChips(); restart(); } }, '×'))));
}

/// Completion of the token after the last `sep` in `input`, from `names`.
function complete(input, list, sep, suffix) {
  const v = input.value;
  const at = Math.max(...sep.map((s) => v.lastIndexOf(s))) + 1;
  const head = v.slice(0, at);
  const token = v.slice(at).trim();
  const names = Object.keys(flowKeys).filter((k) => k.startsWith(token));
  // Outer headers first (no depth suffix), then each depth in.
  const depth = (k) => { const m = /\.(\d+)$/.exec(k); return m ? Number(m[1]) : 0; };
  names.sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
  list.replaceChildren(...names.slice(0, 200).map((k) => el('option', { value: head + k + suffix, label: depth(k) ? 'inside tunnel ' + depth(k) : 'outer' })));
}

const PRESETS = [
  ['Stack', { keys: 'stack', value: 'fps' }],
  ['Tenants', { keys: 'ipsource,ipdestination,ipsource.1,ipdestination.1' }],
  ['VXLAN VNI', { keys: 'vxlanvni,ipsource.1,ipdestination.1' }],
  ['GENEVE VNI', { keys: 'genevevni,ipsource.1,ipdestination.1' }],
  ['NVGRE VSID', { keys: 'grevsid,ipsource.1,ipdestination.1' }],
  ['ERSPAN session', { keys: 'erspansession,ipsource.1,ipdestination.1' }],
  ['MPLS label', { keys: 'mplslabel,ipsource,ipdestination' }],
  ['GTP TEID', { keys: 'gtpteid,ipsource.1,ipdestination.1' }],
  ['Dropped packets', { keys: 'ipsource,ipdestination,stack', value: 'fps', dropped: true }],
];

function applyPreset(p) {
  Object.assign(state, { dropped: false, value: state.value === 'fps' && !p.value ? 'bps' : state.value }, p);
  syncForm();
  restart();
}

function syncForm() {
  $('keys').value = state.keys;
  $('value').value = state.value;
  $('filter').value = state.filter;
  $('agent').value = state.agent;
  $('top').value = String(state.top);
  $('window').value = String(state.window);
  $('mode').value = state.mode;
  renderChips();
}

/// Starts the view over: new definition, empty history.
function restart() {
  times = [];
  trend.clear();
  definition = '';
  writeState();
  pollFlows();
}

async function pollFlows() {
  if (state.view !== 'flows' || paused) return;
  const def = JSON.stringify([state.keys, state.value, combinedFilter(), state.dropped, state.agent, state.top, state.flow]);
  try {
    let flows;
    if (readonly) {
      if (!state.flow) { renderFlows([]); return; }
      flowName = state.flow;
      flows = await get(`/activeflows/${encodeURIComponent(state.agent)}/${encodeURIComponent(state.flow)}/json?maxFlows=${state.top}`);
    } else {
      const q = new URLSearchParams({ keys: state.keys, value: state.value, filter: combinedFilter(), agent: state.agent, maxFlows: state.top, dropped: state.dropped });
      const top = await get('/ui/api/top/json?' + q);
      flowName = top.name;
      flows = top.flows;
    }
    $('flow-error').hidden = true;
    if (def !== definition) { times = []; trend.clear(); definition = def; }
    record(flows);
    renderFlows(flows);
    status(`${flows.length} flows · ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    // The server's message, as it wrote it (a filter error points at the column).
    $('flow-error').textContent = e.message;
    $('flow-error').hidden = false;
    status('error');
  }
}

function record(flows) {
  const now = Date.now() / 1000;
  times.push(now);
  const seen = new Set();
  for (const f of flows) {
    if (!trend.has(f.key)) trend.set(f.key, new Array(times.length - 1).fill(null));
    trend.get(f.key).push(f.value);
    seen.add(f.key);
  }
  for (const [k, v] of trend) if (!seen.has(k)) v.push(null);
  // Keep the window.
  const cut = times.findIndex((t) => t >= now - state.window * 60);
  if (cut > 0) {
    times = times.slice(cut);
    for (const [k, v] of trend) {
      const kept = v.slice(cut);
      if (kept.every((x) => x === null)) trend.delete(k); else trend.set(k, kept);
    }
  }
}

/// The keys to chart: the largest over the window, at most `top`.
function chartedKeys() {
  const total = (v) => v.reduce((a, x) => a + (x || 0), 0);
  return [...trend.entries()].sort((a, b) => total(b[1]) - total(a[1])).slice(0, state.top).map(([k]) => k);
}

function renderChart() {
  const keys = chartedKeys();
  const raw = keys.map((k) => trend.get(k));
  const stacked = state.mode === 'stacked';
  let shown = raw;
  if (stacked) {
    const sum = new Array(times.length).fill(0);
    shown = raw.map((v) => v.map((x, i) => (sum[i] += x || 0)));
  }
  const data = [times.slice(), ...shown];
  const shape = keys.join('\n') + state.mode;
  const box = $('chart');
  if (!chart || shape !== chartKeys) {
    if (chart) chart.destroy();
    chartKeys = shape;
    const series = [{}, ...keys.map((k, i) => ({
      label: k,
      stroke: COLOURS[i % COLOURS.length],
      fill: stacked ? COLOURS[i % COLOURS.length] + '40' : undefined,
      // Values on hover are each flow's own, not the stacked sum.
      value: (u, v, s, idx) => (idx == null ? '' : human(raw[s - 1] ? raw[s - 1][idx] : null)),
      spanGaps: false,
    }))];
    const opts = {
      width: Math.max(400, box.clientWidth || 900), height: 300, series,
      // The whole window, however few points there are yet.
      scales: { x: { time: true, range: (u, min, max) => [max - state.window * 60, max] } },
      axes: [{}, { values: (u, vals) => vals.map(human), size: 60 }],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    if (stacked) opts.bands = keys.slice(1).map((_, i) => ({ series: [i + 2, i + 1] }));
    chart = new uPlot(opts, data, box);
    // Clicking a legend entry narrows the filter to that flow (shift: excludes it).
    chart.root.querySelectorAll('.u-legend .u-series').forEach((row, i) => {
      if (i === 0) return;
      row.addEventListener('click', (ev) => { ev.stopPropagation(); filterByFlow(keys[i - 1], ev.shiftKey); }, true);
    });
  } else {
    chart.setData(data);
  }
}

function keyNames() { return state.keys.split(',').map((k) => k.trim()).filter((k) => k); }

/// Narrows the filter to one flow of the chart (or, `negate`, to all but it).
function filterByFlow(key, negate) {
  const names = keyNames();
  const values = key.split(',');
  if (!negate) return names.forEach((n, i) => addChip(term(n, values[i] ?? '', false)));
  if (names.length === 1) return addChip(term(names[0], values[0] ?? '', true));
  addChip('!(' + names.map((n, i) => term(n, values[i] ?? '', false)).join('&') + ')');
}

function renderFlows(flows) {
  latest = flows;
  renderChart();
  const names = readonly ? (declared[state.flow]?.keys || '').split(',') : keyNames();
  const total = flows.reduce((a, f) => a + f.value, 0);
  const value = readonly ? declared[state.flow]?.value || '' : state.value;
  const head = el('tr', {}, ...names.map((n) => el('th', {}, n)), el('th', {}, value), el('th', {}, 'share'),
    el('th', {}, 'agent'), el('th', {}, 'data source'), el('th', {}, ''));
  $('flow-table').tHead.replaceChildren(head);
  const colour = new Map(chartedKeys().map((k, i) => [k, COLOURS[i % COLOURS.length]]));
  const shown = shownRows($('flow-table').tBodies[0]);
  const rows = flows.map((f) => {
    const id = [names.join(','), f.key, colour.get(f.key) || ''].join('|');
    const numbers = [human(f.value), total ? (100 * f.value / total).toFixed(1) + '%' : '', f.agent || '', f.dataSource || ''];
    return keptRow(shown, id, () => flowRow(f, names, colour), names.length, numbers);
  });
  $('flow-table').tBodies[0].replaceChildren(...rows);
}

/// A new row of the flow table for flow `f` of keys `names`: its key cells (a click narrows the
/// filter), empty number cells and its "where seen" button.
function flowRow(f, names, colour) {
  const values = f.key.split(',');
  const cells = names.map((n, i) => {
    const td = el('td', { class: 'key', title: 'click: only this; shift-click: all but this' });
    if (i === 0 && colour.has(f.key)) td.append(el('span', { class: 'swatch', style: 'background:' + colour.get(f.key) }));
    td.append(values[i] ?? '');
    td.addEventListener('click', (ev) => addChip(term(n, values[i] ?? '', ev.shiftKey)));
    return td;
  });
  return el('tr', {}, ...cells, el('td', { class: 'num' }), el('td', { class: 'num' }), el('td', {}), el('td', {}),
    el('td', {}, el('button', { type: 'button', class: 'where', onclick: () => whereSeen(f.key) }, 'where seen')));
}

/// The rows `box` shows, by their `data-id`: a refresh keeps a row shown again (see
/// [`keptRow`]) so that a click on it is not lost to a row replaced between press and release.
function shownRows(box) {
  return new Map([...box.querySelectorAll('tr[data-id]')].map((tr) => [tr.dataset.id, tr]));
}

/// Row `id` of `shown`, or a new one `make` gives, its cells from `first` on showing `texts`.
function keptRow(shown, id, make, first, texts) {
  const row = shown.get(id) || make();
  row.dataset.id = id;
  texts.forEach((text, i) => { row.cells[first + i].textContent = text; });
  return row;
}

/// Which agents and ports saw a flow: its key among each data source's top keys (`/dump`).
async function whereSeen(key) {
  if (!flowName) return;
  $('where').hidden = false;
  $('where-key').textContent = key;
  const body = $('where-table').tBodies[0];
  try {
    const dump = await get(`/dump/ALL/${encodeURIComponent(flowName)}/json`);
    const rows = [];
    for (const d of dump) for (const t of d.topKeys || []) if (t.key === key) rows.push([d.agent, d.dataSource, t.value]);
    rows.sort((a, b) => b[2] - a[2]);
    body.replaceChildren(...(rows.length ? rows.map(([a, ds, v]) => el('tr', {}, el('td', {}, a), el('td', {}, ds), el('td', { class: 'num' }, human(v))))
      : [el('tr', {}, el('td', { colspan: 3 }, 'no data source has this flow among its top flows now'))]));
  } catch (e) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: 3, class: 'error' }, e.message)));
  }
}

/// The definition as `curl` commands against the REST API (whose values are `bytes` and
/// `frames`; bits a second are its bytes times 8).
function curlText() {
  const name = flowName || 'myflow';
  const spec = { keys: state.keys, value: { bps: 'bytes', Bps: 'bytes', fps: 'frames' }[state.value] || state.value };
  const f = combinedFilter();
  if (f) spec.filter = f;
  if (state.dropped) spec.dropped = true;
  const body = JSON.stringify(spec).replace(/'/g, "'\\''");
  return `curl -X PUT -H 'Content-Type: application/json' -d '${body}' ${location.origin}/flow/${name}/json\n` +
    `curl '${location.origin}/activeflows/${state.agent}/${name}/json?maxFlows=${state.top}'`;
}

// ---- broker ----

const streamRates = new Map(); // stream name -> {frames, at, rates: []}

function figure(label, value) { return el('div', { class: 'figure' }, el('b', {}, value), el('span', {}, label)); }

/// A small rate chart of the last minute.
function sparkline(values) {
  const c = el('canvas', { class: 'spark', width: 120, height: 24 });
  const g = c.getContext('2d');
  const max = Math.max(1, ...values);
  g.strokeStyle = '#1f6feb';
  g.beginPath();
  values.forEach((v, i) => { const x = (i / Math.max(1, values.length - 1)) * 118 + 1, y = 23 - (v / max) * 22; i ? g.lineTo(x, y) : g.moveTo(x, y); });
  g.stroke();
  return c;
}

/// The filter that selects a stream's frames in the flows view.
function streamFilter(s) {
  const key = { vxlan: 'vxlanvni', gpe: 'gpevni', geneve: 'genevevni', gre: 'grekey', pptp: 'grecallid', erspan2: 'erspansession',
    erspan3: 'erspansession', gtp: 'gtpteid', 'mpls-pw': 'mplsbottomlabel', mplsudp: 'mplslabel', l2tpv3: 'l2tpsession',
    nsh: 'nshspi', pbb: 'pbbisid', capwap: 'capwapradioid', isl: 'vlan' }[s.kind];
  const parts = [];
  if (s.source && s.source !== '0.0.0.0') parts.push(term(s.source.includes(':') ? 'ip6source' : 'ipsource', s.source));
  if (s.destination && s.destination !== '0.0.0.0') parts.push(term(s.destination.includes(':') ? 'ip6destination' : 'ipdestination', s.destination));
  if (key && s.id) parts.push(term(key, String(s.id)));
  return parts;
}

async function pollBroker() {
  if (state.view !== 'broker') return;
  try {
    const pipelines = await get('/pipelines/json');
    const now = Date.now() / 1000;
    const shown = shownRows($('pipelines'));
    const cards = Object.entries(pipelines).map(([name, p]) => {
      const drops = Object.entries(p.dropped || {}).filter(([, n]) => n > 0);
      const card = el('div', { class: 'pipeline', 'data-pipeline': name },
        el('h2', {}, name),
        el('div', { class: 'figures' },
          figure('frames in', human(p.frames_in)), figure('frames out', human(p.frames_out)),
          figure('bytes in', human(p.bytes_in)), figure('bytes out', human(p.bytes_out)),
          figure('dropped', human(drops.reduce((a, [, n]) => a + n, 0))),
          figure('kernel drops', human((p.kernel?.drops || 0) + (p.socket_drops || 0))),
          // How evenly the workers share the sources: the frames each decoded.
          ...(p.workers?.length ? [figure('frames per worker', p.workers.join(' / '))] : [])));
      if (drops.length) card.append(el('p', {}, 'Drops: ' + drops.map(([r, n]) => `${r} ${n}`).join(', ')));
      const ends = [...(p.sources || []).map((s) => ['source', s.name, s.frames, s.bytes]), ...(p.sinks || []).map((s) => ['sink', s.name, s.frames, s.bytes])];
      if (p.flows) ends.push(['sink', 'flows (counted)', p.flows.counted, '']);
      if (ends.length) card.append(el('table', { class: 'data' }, el('thead', {}, el('tr', {}, el('th', {}, ''), el('th', {}, 'name'), el('th', {}, 'frames'), el('th', {}, 'bytes'))),
        el('tbody', {}, ...ends.map(([k, n, f, b]) => el('tr', {}, el('td', {}, k), el('td', {}, n), el('td', { class: 'num' }, human(f)), el('td', { class: 'num' }, human(b)))))));
      const rows = (p.streams || []).map((s) => {
        const id = name + '\n' + s.name;
        const r = streamRates.get(id) || { frames: s.frames, at: now, rates: [] };
        if (now > r.at) r.rates.push((s.frames - r.frames) / (now - r.at));
        if (r.rates.length > 60) r.rates.shift();
        Object.assign(r, { frames: s.frames, at: now });
        streamRates.set(id, r);
        const link = el('a', { class: 'stream', title: 'its flows', onclick: () => openStream(s) }, s.name);
        const make = () => el('tr', { 'data-stream': s.name }, el('td', {}, link), el('td', { class: 'num' }),
          el('td', { class: 'num' }), el('td', { class: 'num' }), el('td', {}));
        const row = keptRow(shown, id, make, 1, [String(s.frames), human(s.bytes), human(r.rates.at(-1) ?? 0) + '/s']);
        row.cells[4].replaceChildren(sparkline(r.rates));
        return row;
      });
      card.append(el('table', { class: 'data streams' }, el('thead', {}, el('tr', {}, el('th', {}, 'tunnel stream'), el('th', {}, 'frames'), el('th', {}, 'bytes'), el('th', {}, 'rate'), el('th', {}, 'last minute'))),
        el('tbody', {}, ...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 5 }, 'no tunnel stream yet'))]))));
      return card;
    });
    $('pipelines').replaceChildren(...(cards.length ? cards : [el('p', {}, 'No broker pipeline runs: add [pipelines.NAME] to detunnel.toml.')]));
    status(`${cards.length} pipelines · ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    $('pipelines').replaceChildren(el('pre', { class: 'error' }, e.message));
  }
}

function openStream(s) {
  Object.assign(state, { keys: 'ipsource.1,ipdestination.1,stack', filter: '', chips: streamFilter(s), dropped: false });
  syncForm();
  show('flows');
  restart();
}

// ---- collector ----

function table(id, columns, rows) {
  const t = $(id);
  t.tHead.replaceChildren(el('tr', {}, ...columns.map((c) => el('th', {}, c))));
  t.tBodies[0].replaceChildren(...(rows.length ? rows.map((r) => el('tr', {}, ...r.map((c) => el('td', typeof c === 'number' ? { class: 'num' } : {}, c ?? ''))))
    : [el('tr', {}, el('td', { colspan: columns.length }, 'none yet'))]));
}

async function pollCollector() {
  if (state.view !== 'collector') return;
  try {
    const [agents, sampling, thresholds] = await Promise.all([get('/agents/json'), get('/sampling/json'), get('/threshold/json')]);
    table('agents-table', ['agent', 'datagrams', 'lost', 'duplicates', 'out of order', 'restarts', 'flow samples', 'counter samples'],
      Object.entries(agents).sort().map(([a, j]) => [a, j.sFlowDatagramsReceived, j.sFlowDatagramsLost, j.sFlowDatagramsDuplicates,
        j.sFlowDatagramsOutOfOrder, j.sFlowAgentRestarts, j.sFlowFlowSamples, j.sFlowCounterSamples]));
    table('sampling-table', ['agent', 'data source', 'stated', 'effective'],
      sampling.map((s) => [s.agent, s.dataSource, s.samplingRate, s.effectiveSamplingRate === undefined ? '' : Math.round(s.effectiveSamplingRate)]));
    table('thresholds-table', ['name', 'metric', 'value', 'by flow', 'timeout'],
      Object.entries(thresholds).map(([n, t]) => [n, t.metric, t.value, t.byFlow ? 'yes' : 'no', t.timeout]));
    status(`${Object.keys(agents).length} agents · ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    status('error: ' + e.message);
  }
}

let events = [];

/// Follows `/events/json` with long polls, from the newest event on.
async function followEvents() {
  let after = -1;
  for (;;) {
    try {
      const list = await get(`/events/json?eventID=${after}&maxEvents=100&timeout=${after < 0 ? 0 : 20}`);
      if (list.length) {
        after = Math.max(after, ...list.map((e) => e.eventID));
        events = [...list.sort((a, b) => b.eventID - a.eventID), ...events].slice(0, 100);
        table('events-table', ['time', 'threshold', 'agent', 'data source', 'metric', 'value', 'flow'],
          events.map((e) => [new Date(e.timestamp).toLocaleTimeString(), e.thresholdID, e.agent, e.dataSource, e.metric, human(e.value), e.flowKey || '']));
      } else if (after < 0) {
        after = 0;
        table('events-table', ['time', 'threshold', 'agent', 'data source', 'metric', 'value', 'flow'], []);
      }
    } catch (e) {
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
}

// ---- start ----

let paused = false;
let declared = {};

async function start() {
  readState();
  for (const a of document.querySelectorAll('nav a')) a.addEventListener('click', (ev) => { ev.preventDefault(); show(a.dataset.view); tick(); });
  $('presets').replaceChildren(...PRESETS.map(([label, p]) => el('button', { type: 'button', onclick: () => applyPreset(p) }, label)));
  try {
    readonly = (await get('/analyzer/json')).readonly === true;
  } catch (e) { status('error: ' + e.message); }
  if (readonly) {
    // Writes are refused: show the flows defined already.
    declared = await get('/flow/json').catch(() => ({}));
    for (const id of ['keys-label', 'filter-label', 'value-label', 'presets', 'curl']) $(id).hidden = true;
    $('flow-label').hidden = false;
    $('flow').replaceChildren(...Object.keys(declared).map((n) => el('option', { value: n }, n)));
    if (!state.flow || !(state.flow in declared)) state.flow = Object.keys(declared)[0] || '';
    $('flow').value = state.flow;
    $('flow').addEventListener('change', () => { state.flow = $('flow').value; restart(); });
  }
  syncForm();
  const on = (id, ev, f) => $(id).addEventListener(ev, f);
  on('keys', 'input', () => complete($('keys'), $('keys-list'), [','], ''));
  on('filter', 'input', () => complete($('filter'), $('filter-list'), ['&', '|', '('], '='));
  on('keys', 'change', () => { state.keys = $('keys').value.trim(); restart(); });
  on('filter', 'change', () => { state.filter = $('filter').value; restart(); });
  for (const id of ['value', 'agent', 'top', 'window', 'mode']) on(id, 'change', () => {
    const v = $(id).value;
    state[id] = id === 'top' || id === 'window' ? Number(v) : v;
    if (id === 'mode' || id === 'window') { writeState(); chartKeys = ''; renderChart(); } else restart();
  });
  on('pause', 'click', () => { paused = !paused; $('pause').textContent = paused ? 'Resume' : 'Pause'; if (!paused) pollFlows(); });
  on('table-csv', 'click', () => download('flows.csv', 'text/csv', csv([[...keyNames(), state.value, 'agent', 'dataSource'], ...latest.map((f) => [...f.key.split(','), f.value, f.agent, f.dataSource])])));
  on('table-json', 'click', () => download('flows.json', 'application/json', JSON.stringify(latest, null, 1)));
  on('chart-csv', 'click', () => {
    const keys = [...trend.keys()];
    download('chart.csv', 'text/csv', csv([['time', ...keys], ...times.map((t, i) => [new Date(t * 1000).toISOString(), ...keys.map((k) => trend.get(k)[i] ?? '')])]));
  });
  on('chart-json', 'click', () => download('chart.json', 'application/json', JSON.stringify({ times, series: Object.fromEntries(trend) })));
  on('curl', 'click', async () => {
    const text = curlText();
    $('curl-text').textContent = text;
    $('curl-text').hidden = false;
    try { await navigator.clipboard.writeText(text); } catch (e) { /* shown above to copy by hand */ }
  });
  const refreshChoices = async () => {
    try {
      flowKeys = await get('/flowkeys/json');
      const agents = Object.keys(await get('/agents/json')).sort();
      const keep = state.agent;
      $('agent').replaceChildren(...['ALL', ...agents].map((a) => el('option', { value: a }, a)));
      $('agent').value = agents.includes(keep) || keep === 'ALL' ? keep : 'ALL';
    } catch (e) { /* the views say what fails */ }
  };
  await refreshChoices();
  setInterval(refreshChoices, 15000);
  show(state.view);
  followEvents();
  tick();
  setInterval(tick, 1000);
}

/// Once a second: the visible view polls (the others do not).
function tick() {
  if (state.view === 'flows') pollFlows();
  else if (state.view === 'broker') pollBroker();
  else if (state.view === 'collector') pollCollector();
}

start();
