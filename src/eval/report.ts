/**
 * Evaluation reports: a summary of per-image Dice/IoU scores, rendered as CSV, JSON or one self-contained HTML
 * page. Pure: takes data (and PNG bytes for thumbnails), returns strings; the caller writes the files.
 *
 * Averaging (paper §4.3): per-class means over images, then the overall DICE / mIoU = mean of the per-class means.
 */
import type { ClassNames } from '../image/types.js';
import type { ClassScore } from './metrics.js';

/** What the summary needs from each evaluated image (pipeline/evaluate's ImageEvaluation fits this shape). */
export interface ImageScoresInput {
  id: string;
  /** Scores per class; a class of the summary missing here counts as "both empty" (Dice = IoU = 1). */
  scores: readonly ClassScore[];
  /** True when the prediction was missing and scored as an empty mask. */
  missing?: boolean;
}

export interface ReportImageRow {
  id: string;
  missing: boolean;
  /** In `EvaluationSummary.classes` order. */
  perClass: ClassScore[];
  /** Mean over the summary's classes. */
  meanDice: number;
  meanIoU: number;
}

export interface ReportClassRow {
  cls: number;
  name: string;
  /** Mean over images. */
  dice: number;
  iou: number;
}

export interface EvaluationSummary {
  classes: ReportClassRow[];
  images: ReportImageRow[];
  /** Mean of the per-class means (the paper's DICE / mIoU). NaN when there are no classes or images. */
  meanDice: number;
  meanIoU: number;
  /** Number of images. */
  count: number;
  /** Ids of the images whose prediction was missing. */
  missing: string[];
}

export interface BuildSummaryOptions {
  /** Classes to report, in order. Default: every class in any image's scores, ascending. */
  classes?: readonly number[];
  /** Names for the header; default "class <k>". */
  classNames?: ClassNames;
}

function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Per-image rows and per-class / overall means from per-image class scores. Images keep their input order. */
export function buildSummary(images: readonly ImageScoresInput[], opts: BuildSummaryOptions = {}): EvaluationSummary {
  const classes =
    opts.classes !== undefined
      ? [...opts.classes]
      : [...new Set(images.flatMap((img) => img.scores.map((s) => s.cls)))].sort((a, b) => a - b);
  const rows: ReportImageRow[] = images.map((img) => {
    const byClass = new Map(img.scores.map((s) => [s.cls, s] as const));
    const perClass = classes.map((cls) => byClass.get(cls) ?? { cls, dice: 1, iou: 1, predPixels: 0, gtPixels: 0 });
    return {
      id: img.id,
      missing: img.missing === true,
      perClass,
      meanDice: mean(perClass.map((s) => s.dice)),
      meanIoU: mean(perClass.map((s) => s.iou)),
    };
  });
  const classRows: ReportClassRow[] = classes.map((cls, k) => ({
    cls,
    name: opts.classNames?.get(cls) ?? `class ${cls}`,
    dice: mean(rows.map((r) => r.perClass[k]!.dice)),
    iou: mean(rows.map((r) => r.perClass[k]!.iou)),
  }));
  return {
    classes: classRows,
    images: rows,
    meanDice: mean(classRows.map((c) => c.dice)),
    meanIoU: mean(classRows.map((c) => c.iou)),
    count: rows.length,
    missing: rows.filter((r) => r.missing).map((r) => r.id),
  };
}

/** Images sorted worst first: ascending mean Dice (NaN first), ties by id. */
export function worstFirst(summary: EvaluationSummary): ReportImageRow[] {
  const key = (v: number) => (Number.isNaN(v) ? -Infinity : v);
  return [...summary.images].sort((a, b) => key(a.meanDice) - key(b.meanDice) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Number formatting for CSV/HTML: up to `digits` decimals, trailing zeros kept off; NaN → "". */
export function num(v: number, digits = 6): string {
  if (!Number.isFinite(v)) return '';
  return String(Number(v.toFixed(digits)));
}

/** A CSV field, quoted (with doubled quotes) when it holds a quote, comma or line break. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * CSV: header `id,dice_<class>,iou_<class>,...,mean_dice,mean_iou,missing`, one row per image (input order), then a
 * row with id "mean" holding the per-class means and the overall means (missing = number of missing predictions).
 * Class names are used in the header when known. Numbers have up to 6 decimals; lines end with "\n".
 */
export function toCsv(summary: EvaluationSummary): string {
  const header = ['id'];
  for (const c of summary.classes) header.push(`dice_${c.name}`, `iou_${c.name}`);
  header.push('mean_dice', 'mean_iou', 'missing');
  const lines = [header.map(csvField).join(',')];
  for (const r of summary.images) {
    const f = [r.id];
    for (const s of r.perClass) f.push(num(s.dice), num(s.iou));
    f.push(num(r.meanDice), num(r.meanIoU), r.missing ? '1' : '0');
    lines.push(f.map(csvField).join(','));
  }
  const m = ['mean'];
  for (const c of summary.classes) m.push(num(c.dice), num(c.iou));
  m.push(num(summary.meanDice), num(summary.meanIoU), String(summary.missing.length));
  lines.push(m.map(csvField).join(','));
  return lines.join('\n') + '\n';
}

/** JSON document (format version 1). Non-finite numbers become null. */
export interface EvaluationJson {
  format: 'medpersam-eval';
  version: 1;
  count: number;
  meanDice: number | null;
  meanIoU: number | null;
  missing: string[];
  classes: { cls: number; name: string; dice: number | null; iou: number | null }[];
  images: {
    id: string;
    missing: boolean;
    meanDice: number | null;
    meanIoU: number | null;
    perClass: { cls: number; dice: number | null; iou: number | null; predPixels: number; gtPixels: number }[];
  }[];
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** The summary as a plain JSON-ready object with a fixed key order. */
export function summaryToJsonObject(summary: EvaluationSummary): EvaluationJson {
  return {
    format: 'medpersam-eval',
    version: 1,
    count: summary.count,
    meanDice: finiteOrNull(summary.meanDice),
    meanIoU: finiteOrNull(summary.meanIoU),
    missing: [...summary.missing],
    classes: summary.classes.map((c) => ({ cls: c.cls, name: c.name, dice: finiteOrNull(c.dice), iou: finiteOrNull(c.iou) })),
    images: summary.images.map((r) => ({
      id: r.id,
      missing: r.missing,
      meanDice: finiteOrNull(r.meanDice),
      meanIoU: finiteOrNull(r.meanIoU),
      perClass: r.perClass.map((s) => ({
        cls: s.cls,
        dice: finiteOrNull(s.dice),
        iou: finiteOrNull(s.iou),
        predPixels: s.predPixels,
        gtPixels: s.gtPixels,
      })),
    })),
  };
}

/** Pretty-printed JSON (2 spaces, trailing newline) of `summaryToJsonObject`. */
export function toJson(summary: EvaluationSummary): string {
  return JSON.stringify(summaryToJsonObject(summary), null, 2) + '\n';
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_CODES = Uint8Array.from(B64, (c) => c.charCodeAt(0));
const PAD = '='.charCodeAt(0);
const ASCII = new TextDecoder('latin1');

/**
 * Standard base64 (with padding) of bytes; no Buffer/btoa so it runs anywhere. The characters are written as bytes
 * and decoded once (a report embeds megabytes of pictures: string concatenation per character is 100× slower).
 */
export function base64Encode(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(Math.ceil(n / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = B64_CODES[v >> 18]!;
    out[o++] = B64_CODES[(v >> 12) & 63]!;
    out[o++] = B64_CODES[(v >> 6) & 63]!;
    out[o++] = B64_CODES[v & 63]!;
  }
  const rest = n - i;
  if (rest > 0) {
    const v = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    out[o++] = B64_CODES[v >> 18]!;
    out[o++] = B64_CODES[(v >> 12) & 63]!;
    out[o++] = rest === 2 ? B64_CODES[(v >> 6) & 63]! : PAD;
    out[o++] = PAD;
  }
  return ASCII.decode(out);
}

export interface HtmlReportOptions {
  /** Page title (default "medpersam evaluation"). */
  title?: string;
  /** Overlay thumbnails as PNG bytes, keyed by image id. Images without one get a placeholder. */
  thumbnails?: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>;
  /** Extra lines shown under the title (e.g. the command, folders, model). Escaped. */
  details?: readonly string[];
  /** A timestamp string to print; omitted when not given (keeps the function pure/deterministic). */
  generatedAt?: string;
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–';
}

function thumbnailOf(opts: HtmlReportOptions, id: string): Uint8Array | undefined {
  const t = opts.thumbnails;
  if (!t) return undefined;
  if (t instanceof Map) return t.get(id);
  const rec = t as Readonly<Record<string, Uint8Array>>;
  return Object.prototype.hasOwnProperty.call(rec, id) ? rec[id] : undefined;
}

/** Colour class of a Dice value for the grid (bad < 0.5 <= fair < 0.8 <= good). */
function grade(v: number): string {
  if (!Number.isFinite(v) || v < 0.5) return 'bad';
  return v < 0.8 ? 'fair' : 'good';
}

/**
 * One self-contained HTML page: summary (overall and per-class Dice/IoU), the missing predictions, a per-image table
 * and a thumbnail grid, both ordered worst mean Dice first. CSS inline, thumbnails embedded as data: URIs, no
 * scripts, every text escaped.
 */
export function renderHtmlReport(summary: EvaluationSummary, opts: HtmlReportOptions = {}): string {
  const e = escapeHtml;
  const title = opts.title ?? 'medpersam evaluation';
  const ordered = worstFirst(summary);
  const out: string[] = [];
  out.push(
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${e(title)}</title>`,
    '<style>',
    'body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#222;background:#fafafa}',
    'h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}',
    'table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}',
    'th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}th{background:#eee}',
    'td.id,th.id{text-align:left}',
    '.headline{font-size:1.1rem}.details{color:#555;font-size:.85rem;margin:.1rem 0}',
    '.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:.8rem}',
    '.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.4rem;font-size:.8rem}',
    '.card img{width:100%;height:auto;display:block;image-rendering:auto}',
    '.card .none{height:120px;display:flex;align-items:center;justify-content:center;color:#999;background:#f0f0f0}',
    '.bad{color:#b00020}.fair{color:#a66a00}.good{color:#1b7a1b}.miss{color:#b00020;font-weight:bold}',
    '</style>',
    '</head>',
    '<body>',
    `<h1>${e(title)}</h1>`,
  );
  for (const line of opts.details ?? []) out.push(`<p class="details">${e(line)}</p>`);
  if (opts.generatedAt !== undefined) out.push(`<p class="details">Generated ${e(opts.generatedAt)}</p>`);
  out.push(
    `<p class="headline">Mean Dice <b>${pct(summary.meanDice)}</b> · mean IoU <b>${pct(summary.meanIoU)}</b> · ` +
      `${summary.count} image${summary.count === 1 ? '' : 's'}</p>`,
  );

  out.push('<h2>Per class (mean over images)</h2>', '<table>', '<tr><th class="id">class</th><th>Dice</th><th>IoU</th></tr>');
  for (const c of summary.classes) {
    out.push(`<tr><td class="id">${e(c.name)} (${c.cls})</td><td>${pct(c.dice)}</td><td>${pct(c.iou)}</td></tr>`);
  }
  out.push(`<tr><th class="id">mean</th><th>${pct(summary.meanDice)}</th><th>${pct(summary.meanIoU)}</th></tr>`, '</table>');

  if (summary.missing.length > 0) {
    out.push(
      `<h2>Missing predictions (${summary.missing.length}, scored as empty masks)</h2>`,
      `<p class="miss">${summary.missing.map(e).join(', ')}</p>`,
    );
  }

  out.push('<h2>Per image (worst mean Dice first)</h2>', '<table>');
  const head = ['<th class="id">image</th>'];
  for (const c of summary.classes) head.push(`<th>Dice ${e(c.name)}</th>`);
  head.push('<th>mean Dice</th><th>mean IoU</th>');
  out.push(`<tr>${head.join('')}</tr>`);
  for (const r of ordered) {
    const cells = [`<td class="id">${e(r.id)}${r.missing ? ' <span class="miss">(missing)</span>' : ''}</td>`];
    for (const s of r.perClass) cells.push(`<td>${pct(s.dice)}</td>`);
    cells.push(`<td class="${grade(r.meanDice)}">${pct(r.meanDice)}</td><td>${pct(r.meanIoU)}</td>`);
    out.push(`<tr>${cells.join('')}</tr>`);
  }
  out.push('</table>');

  out.push('<h2>Overlays (worst first)</h2>', '<div class="grid">');
  for (const r of ordered) {
    const png = thumbnailOf(opts, r.id);
    const picture = png
      ? `<img alt="${e(r.id)}" src="data:image/png;base64,${base64Encode(png)}">`
      : '<div class="none">no overlay</div>';
    const perClass = r.perClass.map((s, k) => `${e(summary.classes[k]?.name ?? String(s.cls))} ${pct(s.dice)}`).join(' · ');
    out.push(
      '<figure class="card">',
      picture,
      `<figcaption><b>${e(r.id)}</b>${r.missing ? ' <span class="miss">missing</span>' : ''}<br>` +
        `Dice <span class="${grade(r.meanDice)}">${pct(r.meanDice)}</span> · IoU ${pct(r.meanIoU)}<br>${perClass}</figcaption>`,
      '</figure>',
    );
  }
  out.push('</div>', '</body>', '</html>');
  return out.join('\n') + '\n';
}
