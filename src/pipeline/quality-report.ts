/**
 * The review outputs of every `segment` run (Node): per image, the quality signals, areas, final prompts and card
 * pictures are kept in the run's state folder as each mask is written (so a resumed run does not recompute finished
 * images); at the end the whole folder is scored (eval/quality-score.ts), and OUT/quality.csv and OUT/report.html
 * are written, plus a summary for the run record.
 *
 *   <stateDir>/quality/<id>.json   one image's entry (atomic; written before the image's mask)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { classColor } from '../io/overlay.js';
import { reportPictures, type ReportPictureOptions } from '../io/report-pictures.js';
import { scoreQuality, qualityToCsv, type ImageQuality, type ImageSignalsInput, type QualityScoreOptions } from '../eval/quality-score.js';
import { validateQuality, type QualityValidation } from '../eval/quality-validation.js';
import { renderRunReport, type RunReportImage, type RunReportMarks, type RunReportPicture } from '../eval/run-report.js';
import type { ClassScore } from '../eval/metrics.js';
import type { ClassNames, FloatImage, LabelMap } from '../image/types.js';
import { MedpersamUserError } from '../errors.js';

/** One image's entry, as stored. */
export interface QualityEntry {
  id: string;
  width: number;
  height: number;
  signals: ImageSignalsInput;
  areas: { cls: number; pixels: number }[];
  marks?: RunReportMarks[];
  picture?: RunReportPicture;
  overlay?: RunReportPicture;
}

interface StoredPicture {
  mime: string;
  width: number;
  height: number;
  base64: string;
}

const FORMAT = 'medpersam-quality-entry';
const VERSION = 1;

/** Non-finite numbers survive JSON as strings (NaN is common: e.g. no previous round). */
function encodeNumbers(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}
function decodeNumbers(_key: string, v: unknown): unknown {
  return v === 'NaN' ? Number.NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v;
}

function storePicture(p: RunReportPicture | undefined): StoredPicture | undefined {
  return p && { mime: p.mime, width: p.width, height: p.height, base64: Buffer.from(p.bytes).toString('base64') };
}
function loadPicture(p: StoredPicture | undefined): RunReportPicture | undefined {
  return p && { mime: p.mime, width: p.width, height: p.height, bytes: new Uint8Array(Buffer.from(p.base64, 'base64')) };
}

/** Per-image entries under `<stateDir>/quality/`. */
export class QualityStore {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'quality');
  }

  private path(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  async save(entry: QualityEntry): Promise<void> {
    const stored = { format: FORMAT, version: VERSION, ...entry, picture: storePicture(entry.picture), overlay: storePicture(entry.overlay) };
    await writeFileAtomic(this.path(entry.id), JSON.stringify(stored, encodeNumbers));
  }

  /** The stored entry, or null when there is none (or it was written by another version: it is then recomputed). */
  async load(id: string): Promise<QualityEntry | null> {
    let text: string;
    try {
      text = await readFile(this.path(id), 'utf8');
    } catch {
      return null;
    }
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(text, decodeNumbers) as Record<string, unknown>;
    } catch (err) {
      throw new MedpersamUserError('BAD_RUN_STATE', `stored quality entry is not valid JSON (${(err as Error).message}); delete it to recompute`, {
        file: this.path(id),
      });
    }
    if (raw['format'] !== FORMAT || raw['version'] !== VERSION) return null;
    const entry = raw as unknown as QualityEntry & { picture?: StoredPicture; overlay?: StoredPicture };
    return { ...entry, picture: loadPicture(entry.picture), overlay: loadPicture(entry.overlay) };
  }
}

/** Class pixel counts of a label map. */
export function classAreas(label: LabelMap, classes: readonly number[]): { cls: number; pixels: number }[] {
  const counts = new Float64Array(256);
  for (let i = 0; i < label.data.length; i++) counts[label.data[i]!]++;
  return classes.map((cls) => ({ cls, pixels: counts[cls]! }));
}

/** An entry from an image's final outputs: signals (computed by the caller), areas, marks and card pictures. */
export async function qualityEntry(
  image: FloatImage,
  label: LabelMap,
  signals: ImageSignalsInput,
  classes: readonly number[],
  marks?: RunReportMarks[],
  pictures: ReportPictureOptions | false = {},
): Promise<QualityEntry> {
  const pics = pictures === false ? undefined : await reportPictures(image, label, pictures);
  return {
    id: signals.id,
    width: label.width,
    height: label.height,
    signals,
    areas: classAreas(label, classes),
    marks,
    picture: pics?.picture,
    overlay: pics?.overlay,
  };
}

/** The run-record part of the review: the method, counts and every image's score and flag. */
export interface QualityRecord {
  method: 'medpersam-quality';
  version: 1;
  images: number;
  flagged: number;
  meanScore: number;
  /** With ground truth: how well the score found the bad results (eval/quality-validation.ts). */
  validation?: QualityValidation;
  perImage: { id: string; score: number; flag: string; reasons: string[] }[];
}

export interface WriteReviewOptions {
  outDir: string;
  title: string;
  classes: readonly number[];
  classNames?: ClassNames;
  details?: readonly string[];
  settings?: readonly (readonly [string, string])[];
  timingsS?: readonly (readonly [string, number])[];
  /** With ground truth: the final scores per image. */
  scores?: ReadonlyMap<string, readonly ClassScore[]>;
  quality?: QualityScoreOptions;
}

export interface ReviewResult {
  quality: ImageQuality[];
  record: QualityRecord;
  csvPath: string;
  reportPath: string;
}

/** Scores the run, writes OUT/quality.csv and OUT/report.html (atomically), returns the run-record summary. */
export async function writeReview(entries: readonly QualityEntry[], opts: WriteReviewOptions): Promise<ReviewResult> {
  const quality = scoreQuality(entries.map((e) => e.signals), opts.quality);
  const meanOf = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN);
  const record: QualityRecord = {
    method: 'medpersam-quality',
    version: 1,
    images: quality.length,
    flagged: quality.filter((q) => q.flag === 'check').length,
    meanScore: meanOf(quality.map((q) => q.score)),
    perImage: quality.map((q) => ({ id: q.id, score: q.score, flag: q.flag, reasons: q.reasons })),
  };
  const summaryRows: [string, string][] = [];
  if (opts.scores && opts.scores.size > 0) {
    const items = quality
      .filter((q) => opts.scores!.has(q.id))
      .map((q) => ({ score: q.score, check: q.flag === 'check', dice: meanOf(opts.scores!.get(q.id)!.map((s) => s.dice)) }));
    record.validation = validateQuality(items);
    const v = record.validation;
    summaryRows.push(
      ['Spearman(quality, Dice)', Number.isFinite(v.spearman) ? v.spearman.toFixed(3) : '–'],
      [`worst 10% by Dice (${v.worstDecile.count}) flagged`, `${v.worstDecile.flagged} (${(v.worstDecile.share * 100).toFixed(0)}%)`],
    );
  }
  const names = opts.classNames;
  const images: RunReportImage[] = entries.map((e, i) => ({
    id: e.id,
    width: e.width,
    height: e.height,
    picture: e.picture,
    overlay: e.overlay,
    marks: e.marks,
    areas: e.areas,
    quality: quality[i],
    scores: opts.scores?.get(e.id)?.map((s) => ({ cls: s.cls, dice: s.dice, iou: s.iou })),
  }));
  const html = renderRunReport({
    title: opts.title,
    details: opts.details,
    settings: opts.settings,
    timingsS: opts.timingsS,
    classes: opts.classes.map((cls) => ({ cls, name: names?.get(cls) ?? `class ${cls}`, color: classColor(cls) })),
    images,
    summaryRows,
  });
  const csvPath = join(opts.outDir, 'quality.csv');
  const reportPath = join(opts.outDir, 'report.html');
  await writeFileAtomic(csvPath, qualityToCsv(quality, names));
  await writeFileAtomic(reportPath, html);
  return { quality, record, csvPath, reportPath };
}
