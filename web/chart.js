// chart.js - the two charts the console draws itself, as inline SVG (no
// chart library): grouped bars (MTTD and MTTR per KSE code) and a column
// series (incidents over time). Each chart has a text title and a table
// beside it, so nothing is said by the picture alone.
const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function frame(title, w, h) {
  const svg = s('svg', { viewBox: `0 0 ${w} ${h}`, class: 'chart', role: 'img' });
  svg.append(s('title', {}, title));
  return svg;
}

// groups: [{label, values: [a, b]}], series: [{name, color}]; fmt for ticks.
export function bars(title, groups, series, fmt) {
  const w = 640, h = 240, l = 60, b = 40, t = 10;
  const svg = frame(title, w, h);
  const max = Math.max(1, ...groups.flatMap((g) => g.values.map((v) => v || 0)));
  const gw = (w - l - 10) / Math.max(1, groups.length);
  const bw = Math.max(4, Math.min(28, (gw - 8) / series.length));
  for (let i = 0; i <= 4; i++) {
    const y = t + (h - t - b) * (1 - i / 4);
    svg.append(s('line', { x1: l, x2: w - 10, y1: y, y2: y, stroke: '#d8dee4' }));
    svg.append(s('text', { x: l - 6, y: y + 4, 'text-anchor': 'end' }, fmt((max * i) / 4)));
  }
  groups.forEach((g, i) => {
    const x0 = l + i * gw + (gw - bw * series.length) / 2;
    g.values.forEach((v, j) => {
      const bh = ((v || 0) / max) * (h - t - b);
      const r = s('rect', { x: x0 + j * bw, y: h - b - bh, width: bw - 2, height: bh,
                            fill: series[j].color });
      r.append(s('title', {}, `${g.label} ${series[j].name}: ${fmt(v || 0)}`));
      svg.append(r);
    });
    svg.append(s('text', { x: l + i * gw + gw / 2, y: h - b + 16, 'text-anchor': 'middle' }, g.label));
  });
  return svg;
}

// points: [{label, value}] in time order.
export function columns(title, points) {
  const w = 640, h = 200, l = 40, b = 40, t = 10;
  const svg = frame(title, w, h);
  const max = Math.max(2, ...points.map((p) => p.value)); // whole-number ticks
  const cw = (w - l - 10) / Math.max(1, points.length);
  for (let i = 0; i <= 2; i++) {
    const y = t + (h - t - b) * (1 - i / 2);
    svg.append(s('line', { x1: l, x2: w - 10, y1: y, y2: y, stroke: '#d8dee4' }));
    svg.append(s('text', { x: l - 6, y: y + 4, 'text-anchor': 'end' }, Math.round((max * i) / 2)));
  }
  const every = Math.ceil(points.length / 8);
  points.forEach((p, i) => {
    const bh = (p.value / max) * (h - t - b);
    const r = s('rect', { x: l + i * cw + 1, y: h - b - bh, width: Math.max(1, cw - 2), height: bh,
                          fill: '#cf222e' });
    r.append(s('title', {}, `${p.label}: ${p.value}`));
    svg.append(r);
    if (i % every === 0)
      svg.append(s('text', { x: l + i * cw + cw / 2, y: h - b + 16, 'text-anchor': 'middle' }, p.label));
  });
  return svg;
}
