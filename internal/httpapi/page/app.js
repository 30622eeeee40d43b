// The live page: /api/live on load (with the last hour) and after every
// telegram announced on /api/events. No library, no build step.
'use strict';

const HOUR = 3600;
const STEP = 5; // seconds: as the server, at most one chart point per step
const GAP = 60; // seconds without a point break the chart
let points = []; // [unix seconds, W in, W out]
let last = null; // the last view

const $ = (id) => document.getElementById(id);

function fmtPower(w) {
  if (w == null) return '–';
  if (Math.abs(w) < 1000) return Math.round(w) + ' W';
  return (w / 1000).toFixed(2) + ' kW';
}
function fmt(v, digits, unit) {
  return v == null ? '–' : v.toFixed(digits) + ' ' + unit;
}
function setPower(el, w) {
  el.textContent = fmtPower(w);
  if (w == null) delete el.dataset.watts; else el.dataset.watts = String(w);
}
function ago(iso) {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 90) return s + ' s ago';
  if (s < 5400) return Math.round(s / 60) + ' min ago';
  return new Date(iso).toLocaleString();
}
function hhmm(d) {
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
}
// axisPower labels the chart's scale: drawn up, fed in down, both as
// positive amounts.
function axisPower(w) {
  w = Math.abs(w);
  if (w < 1000) return Math.round(w) + ' W';
  return +(w / 1000).toFixed(2) + ' kW';
}

function addPoint(p) {
  const n = points.length;
  if (n && p[0] <= points[n - 1][0]) return;
  if (n && p[0] - points[n - 1][0] < STEP) points[n - 1] = p; else points.push(p);
  const cut = p[0] - HOUR;
  while (points.length && points[0][0] < cut) points.shift();
}

function render(v) {
  last = v;
  const link = $('link');
  link.textContent = v.up ? 'live' : 'no telegrams';
  link.className = 'pill ' + (v.up ? 'up' : 'down');
  $('meter').textContent = v.meter || '';
  setPower($('power-in'), v.up ? v.power_import_w : null);
  setPower($('power-out'), v.up ? v.power_export_w : null);

  const body = $('phases').tBodies[0];
  body.textContent = '';
  for (const p of (v.up && v.phases) || []) {
    const tr = body.insertRow();
    tr.id = 'phase-' + p.phase;
    for (const text of [p.phase, fmt(p.voltage_v, 1, 'V'), fmt(p.current_a, 0, 'A'),
      fmtPower(p.power_import_w), fmtPower(p.power_export_w)]) {
      tr.insertCell().textContent = text;
    }
  }

  if (v.up && v.today) {
    $('today-in').textContent = v.today.import_kwh.toFixed(3) + ' kWh';
    $('today-out').textContent = v.today.export_kwh.toFixed(3) + ' kWh';
    const since = new Date(v.today.since);
    const midnight = since.getHours() === 0 && since.getMinutes() < 1;
    $('today-since').textContent = midnight ? '' : 'since ' + hhmm(since);
  } else {
    $('today-in').textContent = $('today-out').textContent = '–';
    $('today-since').textContent = '';
  }

  renderQuarter(v.up && v.quarter);

  $('telegrams').textContent = v.link.telegrams;
  $('failures').textContent = v.link.failures;
  $('gaps').textContent = v.link.counter_gaps;
  $('reconnects').textContent = v.link.reconnects;
  $('last').textContent = ago(v.link.last_telegram || v.received);

  if (v.history) {
    points = [];
    for (const p of v.history) addPoint(p);
  } else if (v.up && v.received) {
    addPoint([Math.floor(Date.parse(v.received) / 1000), v.power_import_w || 0, v.power_export_w || 0]);
  }
  drawChart();
}

// renderQuarter shows the current quarter-hour against the reference
// power (-refPower), or hides the section.
function renderQuarter(q) {
  const sec = $('quarter');
  sec.hidden = !q;
  if (!q) return;
  const kwh = (v) => v.toFixed(3) + ' kWh';
  const eur = (v) => v == null ? '' : ', ' + v.toFixed(2) + ' EUR';
  $('q-span').textContent = hhmm(new Date(q.start)) + '–' + hhmm(new Date(q.end)) + (q.estimated ? ', estimated' : '');
  $('q-projected').textContent = q.projected_kw.toFixed(2) + ' kW';
  $('q-margin').textContent = (q.margin_kw > 0 ? '+' : '') + q.margin_kw.toFixed(2) + ' kW';
  $('q-ref-power').textContent = q.reference_power_kw + ' kW';
  $('q-import').textContent = kwh(q.import_kwh);
  $('q-day').textContent = kwh(q.excess_day_kwh) + eur(q.cost_day_eur);
  $('q-month').textContent = kwh(q.excess_month_kwh) + eur(q.cost_month_eur);
  // The gauge runs to 1.5 times the reference power.
  const scale = 1.5 * q.reference_power_kw;
  $('q-bar').style.width = (100 * Math.min(1, Math.max(0, q.projected_kw / scale))) + '%';
  $('q-ref').style.left = (100 / 1.5) + '%';
  $('q-warn').hidden = !q.warning;
  sec.classList.toggle('over', q.warning);
}

const SVG = 'http://www.w3.org/2000/svg';
function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text != null) e.textContent = text;
  return e;
}
function niceStep(range) {
  const raw = range / 4;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

function drawChart() {
  const svg = $('chart');
  const W = svg.clientWidth || 600, H = svg.clientHeight || 192;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.textContent = '';
  const left = 52, right = 6, top = 6, bottom = 18;
  const now = Date.now() / 1000, t0 = now - HOUR;
  let hi = 100, lo = 0;
  for (const p of points) { hi = Math.max(hi, p[1]); lo = Math.min(lo, -p[2]); }
  const step = niceStep(hi - lo);
  hi = Math.ceil(hi / step) * step; lo = Math.floor(lo / step) * step;
  const x = (t) => left + (t - t0) / HOUR * (W - left - right);
  const y = (w) => top + (hi - w) / (hi - lo) * (H - top - bottom);

  for (let w = lo; w <= hi + 1e-9; w += step) {
    svg.append(el('line', { class: 'grid', x1: left, x2: W - right, y1: y(w), y2: y(w) }));
    svg.append(el('text', { class: 'axis', x: left - 4, y: y(w) + 4, 'text-anchor': 'end' }, axisPower(w)));
  }
  const q = 900;
  for (let t = Math.ceil(t0 / q) * q; t <= now; t += q) {
    if (x(t) < left + 16 || x(t) > W - right - 16) continue;
    svg.append(el('text', { class: 'axis', x: x(t), y: H - 4, 'text-anchor': 'middle' }, hhmm(new Date(t * 1000))));
  }
  // One area per run of points without a gap: drawn up, fed in down.
  let run = [];
  const flush = () => {
    if (run.length) {
      for (const [k, cls, sign] of [[1, 'area-in', 1], [2, 'area-out', -1]]) {
        let d = `M${x(run[0][0])},${y(0)}`;
        for (let i = 0; i < run.length; i++) {
          const xe = i + 1 < run.length ? x(run[i + 1][0]) : x(Math.min(now, run[i][0] + STEP * 2));
          d += `L${x(run[i][0])},${y(sign * run[i][k])}L${xe},${y(sign * run[i][k])}`;
        }
        d += `L${x(Math.min(now, run[run.length - 1][0] + STEP * 2))},${y(0)}Z`;
        svg.append(el('path', { class: cls, d }));
      }
    }
    run = [];
  };
  for (const p of points) {
    if (run.length && p[0] - run[run.length - 1][0] > GAP) flush();
    run.push(p);
  }
  flush();
}

let loading = false, again = false;
async function load(withHistory) {
  if (loading) { again = true; return; }
  loading = true;
  try {
    const r = await fetch('api/live' + (withHistory ? '?history=1' : ''), { cache: 'no-store' });
    if (r.ok) render(await r.json());
  } catch (e) {
    $('link').textContent = 'gateway unreachable';
    $('link').className = 'pill down';
  } finally {
    loading = false;
    if (again) { again = false; load(false); }
  }
}

const events = new EventSource('api/events');
events.onmessage = () => load(false);
events.addEventListener('link', () => load(false));
events.onopen = () => load(true); // also after a reconnect: fill the chart again
setInterval(() => { if (last) $('last').textContent = ago(last.link.last_telegram || last.received); }, 1000);
window.addEventListener('resize', drawChart);
load(true);
