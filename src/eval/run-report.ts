/**
 * report.html of a `segment` run: one self-contained page (no network, no other file) to review a run without
 * ground truth. Pure: takes data and picture bytes, returns the HTML string; the caller writes it (Node) or shows it
 * (browser).
 *
 * Page: the summary (settings, model, timings, quality counts; with ground truth the Dice/IoU means), then one card
 * per image with its picture (the image, the class overlay in distinct colours, the final positive / negative points
 * and boxes as vector marks), per-class area and quality score, its flag (ok / check) and, with ground truth, Dice /
 * IoU. Cards are sorted worst quality first; the controls sort by quality, Dice or name and filter by class and flag;
 * a click opens a larger view with every signal.
 *
 * Page weight: each image carries ONE display picture (e.g. a 512 px WebP of a few KB) and one small transparent
 * overlay PNG, both as data: URIs in `data-src` attributes; the page's script assigns them only to cards that come
 * near the viewport (IntersectionObserver) with async decoding, and the enlarged view reuses the same bytes scaled
 * up. So opening the page parses text only, and a card's picture is decoded when it is scrolled to.
 */
import type { Box, LabeledPoint } from '../image/types.js';
import type { ImageQuality, QualityFlag } from './quality-score.js';
import { base64Encode, escapeHtml } from './report.js';

export interface RunReportClass {
  cls: number;
  name: string;
  /** Overlay colour, RGB 0..255. */
  color: readonly [number, number, number];
}

export interface RunReportPicture {
  /** MIME type of `bytes` (image/webp, image/jpeg or image/png). */
  mime: string;
  bytes: Uint8Array;
  /** Size of the picture in pixels. */
  width: number;
  height: number;
}

/** Final prompts of one class (original image frame). */
export interface RunReportMarks {
  cls: number;
  points: readonly LabeledPoint[];
  box: Box | null;
}

export interface RunReportImage {
  id: string;
  /** Original image size (the frame of the marks). */
  width: number;
  height: number;
  /** The image (grey) at display size. */
  picture?: RunReportPicture;
  /** Transparent class overlay (same size as the picture), drawn over it. */
  overlay?: RunReportPicture;
  /** Final points and boxes per class (SAM runs). */
  marks?: readonly RunReportMarks[];
  /** Predicted pixels per class. */
  areas: readonly { cls: number; pixels: number }[];
  quality?: ImageQuality;
  /** With ground truth: Dice / IoU per class (classes absent here show "–"). */
  scores?: readonly { cls: number; dice: number; iou: number }[];
}

export interface RunReportInput {
  title: string;
  /** Lines under the title (command, folders). */
  details?: readonly string[];
  /** Settings and model as key → value rows. */
  settings?: readonly (readonly [string, string])[];
  /** Wall seconds per stage (shown in the given order) and the total. */
  timingsS?: readonly (readonly [string, number])[];
  classes: readonly RunReportClass[];
  images: readonly RunReportImage[];
  /** Extra summary rows (e.g. Spearman of score vs Dice with ground truth). */
  summaryRows?: readonly (readonly [string, string])[];
  /** A timestamp to print; omitted when not given (keeps the output deterministic). */
  generatedAt?: string;
}

const e = escapeHtml;

function pct(v: number | undefined, digits = 1): string {
  return v !== undefined && Number.isFinite(v) ? `${(v * 100).toFixed(digits)}%` : '–';
}

function fixed(v: number | undefined, digits = 2): string {
  return v !== undefined && Number.isFinite(v) ? v.toFixed(digits) : '–';
}

/** Sort key text of a number (NaN / missing sorts as the worst: −1). */
function key(v: number | undefined): string {
  return v !== undefined && Number.isFinite(v) ? String(Number(v.toFixed(6))) : '-1';
}

function rgb(c: readonly [number, number, number]): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function dataUri(p: RunReportPicture): string {
  return `data:${p.mime};base64,${base64Encode(p.bytes)}`;
}

function meanOf(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : Number.NaN;
}

/** Worst first: ascending quality score (images without one last), then ascending mean Dice, then id. */
export function sortWorstFirst(images: readonly RunReportImage[]): RunReportImage[] {
  const q = (img: RunReportImage) => img.quality?.score ?? Infinity;
  const d = (img: RunReportImage) => (img.scores ? meanOf(img.scores.map((s) => s.dice)) : Infinity);
  return [...images].sort((a, b) => q(a) - q(b) || d(a) - d(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** SVG marks in the original frame: boxes dashed in the class colour, points green (positive) or red (negative) ringed in it. */
function marksSvg(img: RunReportImage, colors: ReadonlyMap<number, string>): string {
  if (!img.marks || img.marks.length === 0) return '';
  const r = Math.max(img.width, img.height) / 70;
  const parts: string[] = [];
  for (const m of img.marks) {
    const c = colors.get(m.cls) ?? '#ff0';
    if (m.box) {
      const { x0, y0, x1, y1 } = m.box;
      parts.push(`<rect x="${x0}" y="${y0}" width="${x1 - x0 + 1}" height="${y1 - y0 + 1}" fill="none" stroke="${c}" stroke-dasharray="6 3"/>`);
    }
    for (const p of m.points) {
      parts.push(`<circle cx="${p.x + 0.5}" cy="${p.y + 0.5}" r="${r.toFixed(1)}" class="${p.label === 1 ? 'pos' : 'neg'}" stroke="${c}"/>`);
    }
  }
  return `<svg class="marks" viewBox="0 0 ${img.width} ${img.height}" preserveAspectRatio="none" aria-hidden="true">${parts.join('')}</svg>`;
}

function flagBadge(flag: QualityFlag | undefined): string {
  if (!flag) return '';
  return `<span class="flag ${flag}">${flag}</span>`;
}

function card(img: RunReportImage, input: RunReportInput, colors: ReadonlyMap<number, string>, index: number): string {
  const q = img.quality;
  const totalPixels = img.width * img.height;
  const byCls = <T extends { cls: number }>(list: readonly T[] | undefined) => new Map((list ?? []).map((x) => [x.cls, x] as const));
  const areas = byCls(img.areas);
  const qs = byCls(q?.perClass);
  const sc = byCls(img.scores);
  const meanDice = img.scores ? meanOf(img.scores.map((s) => s.dice)) : Number.NaN;
  const rows = input.classes.map((c) => {
    const cq = qs.get(c.cls);
    const s = sc.get(c.cls);
    const area = (areas.get(c.cls)?.pixels ?? 0) / totalPixels;
    return (
      `<tr class="c${c.cls}${cq?.flag === 'check' ? ' chk' : ''}"><td><i style="background:${colors.get(c.cls)}"></i>${e(c.name)}</td>` +
      `<td>${pct(area)}</td><td>${fixed(cq?.score)}</td>${img.scores ? `<td>${pct(s?.dice)}</td>` : ''}</tr>`
    );
  });
  const attrs = [
    `data-i="${index}"`,
    `data-id="${e(img.id)}"`,
    `data-w="${img.width}"`,
    `data-h="${img.height}"`,
    `data-q="${key(q?.score)}"`,
    `data-f="${q?.flag ?? ''}"`,
    `data-cq="${input.classes.map((c) => key(qs.get(c.cls)?.score)).join(' ')}"`,
    `data-cf="${input.classes.map((c) => qs.get(c.cls)?.flag ?? '-').join(' ')}"`,
  ];
  if (img.scores) attrs.push(`data-d="${key(meanDice)}"`, `data-cd="${input.classes.map((c) => key(sc.get(c.cls)?.dice)).join(' ')}"`);
  const picture = img.picture
    ? `<img class="im" alt="" decoding="async" data-src="${dataUri(img.picture)}" width="${img.picture.width}" height="${img.picture.height}">` +
      (img.overlay ? `<img class="ov" alt="" decoding="async" data-src="${dataUri(img.overlay)}">` : '') +
      marksSvg(img, colors)
    : '<span class="none">no picture</span>';
  const reasons = q && q.reasons.length > 0 ? `<p class="why">${q.reasons.map(e).join('; ')}</p>` : '';
  const aspect = `${img.width} / ${img.height}`;
  return (
    `<article class="card" ${attrs.join(' ')}>` +
    `<button type="button" class="pic" style="aspect-ratio:${aspect}" title="enlarge ${e(img.id)}">${picture}</button>` +
    `<div class="cap"><b class="id">${e(img.id)}</b> ${flagBadge(q?.flag)} <span class="score">quality ${fixed(q?.score)}</span>` +
    (img.scores ? ` <span class="dice">Dice ${pct(meanDice)}</span>` : '') +
    `<table><tr><th>class</th><th>area</th><th>quality</th>${img.scores ? '<th>Dice</th>' : ''}</tr>${rows.join('')}</table>${reasons}</div>` +
    `<template class="more">${detailsTable(img, input)}</template>` +
    '</article>'
  );
}

/** The enlarged view's table: every class's signals, and Dice / IoU with ground truth. */
function detailsTable(img: RunReportImage, input: RunReportInput): string {
  const q = img.quality;
  const names = new Map(input.classes.map((c) => [c.cls, c.name] as const));
  const out: string[] = [];
  if (q) {
    out.push(`<p>quality <b>${fixed(q.score)}</b> ${flagBadge(q.flag)}${q.reasons.length ? ` — ${q.reasons.map(e).join('; ')}` : ''}</p>`);
    const keys = [...new Set(q.perClass.flatMap((c) => Object.keys(c.signals)))];
    out.push('<table class="sig"><tr><th>class</th><th>quality</th><th>flag</th>');
    for (const k of keys) out.push(`<th>${e(k)}</th>`);
    if (img.scores) out.push('<th>Dice</th><th>IoU</th>');
    out.push('</tr>');
    const sc = new Map((img.scores ?? []).map((s) => [s.cls, s] as const));
    for (const c of q.perClass) {
      out.push(`<tr><td>${e(names.get(c.cls) ?? String(c.cls))}</td><td>${fixed(c.score)}</td><td>${c.flag}</td>`);
      for (const k of keys) out.push(`<td>${fixed(c.signals[k], 3)}</td>`);
      if (img.scores) out.push(`<td>${pct(sc.get(c.cls)?.dice)}</td><td>${pct(sc.get(c.cls)?.iou)}</td>`);
      out.push('</tr>');
    }
    out.push('</table>');
    const g = Object.entries(q.signals).filter(([, v]) => Number.isFinite(v));
    if (g.length) out.push(`<p class="glob">image: ${g.map(([k, v]) => `${e(k)} ${fixed(v, 3)}`).join(' · ')}</p>`);
  } else if (img.scores) {
    out.push('<table class="sig"><tr><th>class</th><th>Dice</th><th>IoU</th></tr>');
    for (const s of img.scores) out.push(`<tr><td>${e(names.get(s.cls) ?? String(s.cls))}</td><td>${pct(s.dice)}</td><td>${pct(s.iou)}</td></tr>`);
    out.push('</table>');
  }
  return out.join('');
}

const CSS = [
  ':root{--bg:#f6f6f4;--fg:#1d1d1d;--mut:#666;--card:#fff;--line:#ddd;--ok:#1b7a1b;--chk:#c25400}',
  '*{box-sizing:border-box}body{font:14px/1.35 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--fg);background:var(--bg)}',
  'header{padding:1rem 1.5rem .5rem}h1{font-size:1.35rem;margin:.2rem 0}.details{color:var(--mut);margin:.1rem 0;font-size:.85rem;word-break:break-all}',
  '.sum{display:flex;flex-wrap:wrap;gap:1.2rem;align-items:flex-start}.sum table{border-collapse:collapse;font-size:.85rem}',
  '.sum td,.sum th{border:1px solid var(--line);padding:.15rem .5rem;text-align:left}.sum th{background:#eee}',
  '.legend i,.card td i{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.3em;vertical-align:-1px}',
  '.legend span{margin-right:.9em}.dot{display:inline-block;width:.7em;height:.7em;border-radius:50%;margin-right:.3em}',
  '.bar{position:sticky;top:0;z-index:2;background:#fffe;border-bottom:1px solid var(--line);padding:.5rem 1.5rem;display:flex;gap:1rem;flex-wrap:wrap;align-items:center}',
  '.bar label{font-size:.85rem}.bar select{font:inherit}#count{color:var(--mut);font-size:.85rem}',
  '.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:.8rem;padding:1rem 1.5rem}',
  // No content-visibility on the cards: measured, it delayed the first IntersectionObserver callback (and so the
  // first pictures) by seconds at 1,000 cards in Chromium; plain layout of 1,000 text cards is fast.
  '.card{background:var(--card);border:1px solid var(--line);border-radius:6px;overflow:hidden;font-size:.8rem}',
  '.card[data-f=check]{border-color:var(--chk)}.card[hidden]{display:none}',
  '.pic{position:relative;display:block;width:100%;padding:0;border:0;background:#111;cursor:zoom-in}',
  '.pic img,.pic svg,.big img,.big svg{position:absolute;inset:0;width:100%;height:100%}',
  '.pic .none{color:#999;position:absolute;inset:0;display:flex;align-items:center;justify-content:center}',
  'svg.marks circle{stroke-width:2px;vector-effect:non-scaling-stroke}svg.marks rect{stroke-width:2px;vector-effect:non-scaling-stroke}',
  'svg.marks .pos{fill:#0c0}svg.marks .neg{fill:#e00}',
  '.cap{padding:.35rem .5rem}.cap table{border-collapse:collapse;width:100%;margin-top:.25rem}',
  '.cap td,.cap th{padding:0 .25rem;text-align:right;white-space:nowrap}.cap td:first-child,.cap th:first-child{text-align:left}.cap th{color:var(--mut);font-weight:normal}',
  'tr.chk td{color:var(--chk);font-weight:600}.why{color:var(--chk);margin:.25rem 0 0}',
  '.flag{display:inline-block;padding:0 .4em;border-radius:3px;color:#fff;font-size:.75rem}.flag.ok{background:var(--ok)}.flag.check{background:var(--chk)}',
  '.score,.dice{color:var(--mut)}',
  'dialog{max-width:96vw;max-height:96vh;overflow:auto;border:0;border-radius:8px;padding:.8rem}dialog::backdrop{background:#000b}',
  '.big{position:relative;background:#111;margin:0 auto}',
  '.dlgbar{display:flex;gap:1rem;align-items:center;margin-bottom:.5rem}.dlgbar b{flex:1}',
  'table.sig{border-collapse:collapse;font-size:.8rem;margin-top:.5rem}table.sig td,table.sig th{border:1px solid var(--line);padding:.1rem .4rem;text-align:right}',
  'body.nooverlay .ov,body.nomarks svg.marks{display:none}',
].join('\n');

/**
 * The page's script: lazy pictures, sorting, filtering, the enlarged view. Cards carry their sort keys in data-*
 * attributes: q (image quality), f (flag), cq / cf (per class, in the class order of the <select>), d / cd (Dice).
 */
const SCRIPT = String.raw`
(() => {
  const grid = document.getElementById('grid');
  const cards = Array.from(grid.children);
  const $ = (id) => document.getElementById(id);
  const show = (img) => { if (img && img.dataset.src && !img.src) img.src = img.dataset.src; };
  const load = (c) => c.querySelectorAll('img[data-src]').forEach(show);
  const io = 'IntersectionObserver' in window
    ? new IntersectionObserver((es) => es.forEach((x) => { if (x.isIntersecting) { load(x.target); io.unobserve(x.target); } }), { rootMargin: '600px' })
    : null;
  cards.forEach((c) => (io ? io.observe(c) : load(c)));
  const num = (s) => Number(s);
  const at = (c, attr, k) => (c.dataset[attr] || '').split(' ')[k];
  function apply() {
    const by = $('sort').value, cls = $('cls').value, flag = $('flag').value;
    const k = cls === 'all' ? -1 : num(cls);
    const q = (c) => num(k < 0 ? c.dataset.q : at(c, 'cq', k));
    const d = (c) => num(k < 0 ? c.dataset.d : at(c, 'cd', k));
    const f = (c) => (k < 0 ? c.dataset.f : at(c, 'cf', k));
    const cmp = {
      'quality-asc': (a, b) => q(a) - q(b), 'quality-desc': (a, b) => q(b) - q(a),
      'dice-asc': (a, b) => d(a) - d(b), 'dice-desc': (a, b) => d(b) - d(a),
      name: (a, b) => (a.dataset.id < b.dataset.id ? -1 : a.dataset.id > b.dataset.id ? 1 : 0),
    }[by];
    const sorted = cards.slice().sort((a, b) => cmp(a, b) || num(a.dataset.i) - num(b.dataset.i));
    let shown = 0;
    const frag = document.createDocumentFragment();
    for (const c of sorted) {
      const keep = flag === 'all' || f(c) === flag;
      c.hidden = !keep;
      if (keep) shown++;
      frag.appendChild(c);
    }
    grid.appendChild(frag);
    $('count').textContent = shown + ' of ' + cards.length + ' images';
  }
  ['sort', 'cls', 'flag'].forEach((id) => $(id).addEventListener('change', apply));
  $('ovl').addEventListener('change', (ev) => document.body.classList.toggle('nooverlay', !ev.target.checked));
  $('mks').addEventListener('change', (ev) => document.body.classList.toggle('nomarks', !ev.target.checked));
  const dlg = $('dlg');
  let current = null;
  function open(c) {
    current = c;
    const pic = c.querySelector('.pic');
    load(c);
    const big = $('big');
    big.innerHTML = '';
    const w = num(c.dataset.w), h = num(c.dataset.h);
    big.style.aspectRatio = w + ' / ' + h;
    big.style.width = 'min(92vw, calc(min(72vh, 1000px) * ' + (w / h) + '))';
    pic.querySelectorAll('img,svg').forEach((n) => big.appendChild(n.cloneNode(true)));
    big.querySelectorAll('img[data-src]').forEach(show);
    $('dlgtitle').textContent = c.dataset.id;
    $('dlgmore').innerHTML = c.querySelector('template.more').innerHTML;
    if (!dlg.open) dlg.showModal();
  }
  function step(dir) {
    if (!current) return;
    let n = current;
    do { n = dir > 0 ? n.nextElementSibling : n.previousElementSibling; } while (n && n.hidden);
    if (n) open(n);
  }
  grid.addEventListener('click', (ev) => { const b = ev.target.closest('.pic'); if (b) open(b.closest('.card')); });
  $('prev').addEventListener('click', () => step(-1));
  $('next').addEventListener('click', () => step(1));
  $('close').addEventListener('click', () => dlg.close());
  dlg.addEventListener('keydown', (ev) => { if (ev.key === 'ArrowRight') step(1); if (ev.key === 'ArrowLeft') step(-1); });
  // The cards come sorted worst first (the default); only the count is left to fill in.
  $('count').textContent = cards.length + ' of ' + cards.length + ' images';
  document.documentElement.dataset.readyMs = String(performance.now());
  document.documentElement.dataset.ready = '1';
})();
`;

/** The report page (see the module comment). Cards are emitted worst quality first. */
export function renderRunReport(input: RunReportInput): string {
  const colors = new Map(input.classes.map((c) => [c.cls, rgb(c.color)] as const));
  const images = sortWorstFirst(input.images);
  const withGt = images.some((i) => i.scores);
  const withQuality = images.some((i) => i.quality);
  const nCheck = images.filter((i) => i.quality?.flag === 'check').length;
  const out: string[] = [];
  out.push(
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Nothing may be fetched: pictures are data: URIs, style and script are inline.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">`,
    `<title>${e(input.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<header>',
    `<h1>${e(input.title)}</h1>`,
  );
  for (const line of input.details ?? []) out.push(`<p class="details">${e(line)}</p>`);
  if (input.generatedAt !== undefined) out.push(`<p class="details">generated ${e(input.generatedAt)}</p>`);
  out.push('<div class="sum">');
  const overview: [string, string][] = [['images', String(images.length)]];
  if (withQuality) {
    overview.push(['flagged "check"', `${nCheck} (${pct(images.length ? nCheck / images.length : Number.NaN)})`]);
    overview.push(['mean quality', fixed(meanOf(images.map((i) => i.quality?.score ?? Number.NaN)))]);
  }
  if (withGt) {
    for (const c of input.classes) {
      const dice = meanOf(images.map((i) => i.scores?.find((s) => s.cls === c.cls)?.dice ?? Number.NaN));
      const iou = meanOf(images.map((i) => i.scores?.find((s) => s.cls === c.cls)?.iou ?? Number.NaN));
      overview.push([`${c.name} Dice / IoU`, `${pct(dice)} / ${pct(iou)}`]);
    }
    overview.push(['mean Dice (all images)', pct(meanOf(images.map((i) => (i.scores ? meanOf(i.scores.map((s) => s.dice)) : Number.NaN))))]);
  }
  overview.push(...(input.summaryRows ?? []).map(([k, v]) => [k, v] as [string, string]));
  const table = (title: string, rows: readonly (readonly [string, string])[]) =>
    rows.length ? `<table><tr><th colspan="2">${e(title)}</th></tr>${rows.map(([k, v]) => `<tr><td>${e(k)}</td><td>${e(v)}</td></tr>`).join('')}</table>` : '';
  out.push(table('summary', overview));
  out.push(table('settings', input.settings ?? []));
  const timings = input.timingsS ?? [];
  out.push(table('time (s)', timings.map(([k, v]) => [k, v.toFixed(1)] as const)));
  out.push('</div>');
  out.push(
    '<p class="legend">' +
      input.classes.map((c) => `<span><i style="background:${colors.get(c.cls)}"></i>${e(c.name)}</span>`).join('') +
      '<span><b class="dot" style="background:#0c0"></b>positive point</span><span><b class="dot" style="background:#e00"></b>negative point</span>' +
      '<span>dashed: box prompt</span></p>',
  );
  if (withQuality) {
    out.push(
      '<p class="details">quality: 1 = looks right, 0 = looks wrong, estimated without ground truth from the registration, the masks and SAM; ' +
        '"check" marks the images (and classes) to review first. See the README, section "Quality score".</p>',
    );
  }
  out.push('</header>');
  const classOptions = input.classes.map((c, k) => `<option value="${k}">${e(c.name)}</option>`).join('');
  out.push(
    '<div class="bar">',
    '<label>sort <select id="sort">' +
      '<option value="quality-asc">quality, worst first</option><option value="quality-desc">quality, best first</option>' +
      (withGt ? '<option value="dice-asc">Dice, worst first</option><option value="dice-desc">Dice, best first</option>' : '') +
      '<option value="name">name</option></select></label>',
    `<label>class <select id="cls"><option value="all">all classes</option>${classOptions}</select></label>`,
    '<label>flag <select id="flag"><option value="all">all</option><option value="check">check</option><option value="ok">ok</option></select></label>',
    '<label><input type="checkbox" id="ovl" checked> overlay</label>',
    '<label><input type="checkbox" id="mks" checked> points and boxes</label>',
    `<span id="count">${images.length} images</span>`,
    '</div>',
    '<noscript><p style="padding:0 1.5rem">The pictures, sorting and filters need JavaScript.</p></noscript>',
    '<main class="grid" id="grid">',
  );
  images.forEach((img, i) => out.push(card(img, input, colors, i)));
  out.push(
    '</main>',
    '<dialog id="dlg"><div class="dlgbar"><b id="dlgtitle"></b><button type="button" id="prev">◀ previous</button>' +
      '<button type="button" id="next">next ▶</button><button type="button" id="close">close</button></div>' +
      '<div class="big" id="big"></div><div id="dlgmore"></div></dialog>',
    `<script>${SCRIPT}</script>`,
    '</body>',
    '</html>',
  );
  return out.join('\n') + '\n';
}
