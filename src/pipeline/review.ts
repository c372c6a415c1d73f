/**
 * The review of every run (browser-safe): the quality score of each image without ground truth, OUT/quality.csv and
 * the report page (report.html), with Dice / IoU when ground truth is given (issue 10).
 *
 * The core loop (core.ts) feeds the collector one finished image at a time, after all masks are written and while
 * the final warping model is still loaded (its flows give the registration signals): the collector computes the
 * image's signals (pipeline/quality.ts) and its card pictures, and keeps only those (numbers and a few KB of
 * pictures per image). `finish` scores the whole run (eval/quality-score.ts: folder-relative and absolute evidence)
 * and renders quality.csv, the page and the run-record summary.
 */
import { scoreQuality, qualityToCsv, type ImageQuality, type ImageSignalsInput, type QualityScoreOptions } from '../eval/quality-score.js';
import { validateQuality, type QualityValidation } from '../eval/quality-validation.js';
import { renderRunReport, type RunReportImage, type RunReportMarks, type RunReportPicture } from '../eval/run-report.js';
import type { ClassScore } from '../eval/metrics.js';
import type { ClassNames, FloatImage, LabelMap } from '../image/types.js';
import { classColor } from '../io/overlay-render.js';
import { reportPictures, type ReportPictureOptions } from '../io/report-pictures.js';
import { imageQualitySignals, type ImageQualityInput, type QualityContext } from './quality.js';

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

export interface ReviewFiles {
  /** report.html */
  html: string;
  /** quality.csv */
  qualityCsv: string;
}

export interface ReviewResult extends ReviewFiles {
  quality: ImageQuality[];
  record: QualityRecord;
}

export interface ReviewImage extends ImageQualityInput {
  /** Final prompts per class (SAM runs), drawn on the card. */
  marks?: RunReportMarks[];
}

export interface FinishReviewOptions {
  title: string;
  details?: readonly string[];
  settings?: readonly (readonly [string, string])[];
  timingsS?: readonly (readonly [string, number])[];
  /** With ground truth: the final scores per image. */
  scores?: ReadonlyMap<string, readonly ClassScore[]>;
}

/** What the collector keeps of one image (numbers and its card pictures); apply.ts stores it per image. */
export interface ReviewEntry {
  id: string;
  width: number;
  height: number;
  signals: ImageSignalsInput;
  areas: { cls: number; pixels: number }[];
  marks?: RunReportMarks[];
  picture?: RunReportPicture;
  overlay?: RunReportPicture;
}

/** Class pixel counts of a label map. */
export function classAreas(label: LabelMap, classes: readonly number[]): { cls: number; pixels: number }[] {
  const counts = new Float64Array(256);
  for (let i = 0; i < label.data.length; i++) counts[label.data[i]!]++;
  return classes.map((cls) => ({ cls, pixels: counts[cls]! }));
}

export class ReviewCollector {
  private readonly entries: ReviewEntry[] = [];
  private readonly ids = new Set<string>();

  constructor(
    private readonly ctx: QualityContext,
    private readonly opts: { classNames?: ClassNames; pictures?: ReportPictureOptions | false; quality?: QualityScoreOptions } = {},
  ) {}

  get size(): number {
    return this.entries.length;
  }

  /** Whether an image was added. */
  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** One finished image: its signals and card pictures. */
  async add(input: ReviewImage & { image: FloatImage }): Promise<void> {
    this.addEntry(await this.entryFor(input));
  }

  /** One image's signals and card pictures, not added (a distributed run stores it and adds it later). */
  async entryFor(input: ReviewImage & { image: FloatImage }): Promise<ReviewEntry> {
    const signals = imageQualitySignals(this.ctx, input);
    const pics = this.opts.pictures === false ? undefined : await reportPictures(input.image, input.label, this.opts.pictures ?? {});
    return {
      id: input.id,
      width: input.label.width,
      height: input.label.height,
      signals,
      areas: classAreas(input.label, this.ctx.classes),
      marks: input.marks,
      picture: pics?.picture,
      overlay: pics?.overlay,
    };
  }

  /** An entry made by `entryFor` (here or on another machine). */
  addEntry(entry: ReviewEntry): void {
    if (this.ids.has(entry.id)) throw new Error(`review: image ${entry.id} added twice`);
    this.ids.add(entry.id);
    this.entries.push(entry);
  }

  /** Scores the run and renders quality.csv, the page and the run-record summary. */
  finish(opts: FinishReviewOptions): ReviewResult {
    const quality = scoreQuality(this.entries.map((e) => e.signals), { classNames: this.opts.classNames, ...this.opts.quality });
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
    const scores = opts.scores;
    if (scores && scores.size > 0) {
      const items = quality
        .filter((q) => scores.has(q.id))
        .map((q) => ({ score: q.score, check: q.flag === 'check', dice: meanOf(scores.get(q.id)!.map((s) => s.dice)) }));
      const v = validateQuality(items);
      record.validation = v;
      summaryRows.push(
        ['Spearman(quality, Dice)', Number.isFinite(v.spearman) ? v.spearman.toFixed(3) : '–'],
        [`worst 10% by Dice flagged`, `${v.worstDecile.flagged} of ${v.worstDecile.count}`],
      );
    }
    const names = this.opts.classNames;
    const images: RunReportImage[] = this.entries.map((e, i) => ({
      id: e.id,
      width: e.width,
      height: e.height,
      picture: e.picture,
      overlay: e.overlay,
      marks: e.marks,
      areas: e.areas,
      quality: quality[i],
      scores: scores?.get(e.id)?.map((s) => ({ cls: s.cls, dice: s.dice, iou: s.iou })),
    }));
    const html = renderRunReport({
      title: opts.title,
      details: opts.details,
      settings: opts.settings,
      timingsS: opts.timingsS,
      classes: this.ctx.classes.map((cls) => ({ cls, name: names?.get(cls) ?? `class ${cls}`, color: classColor(cls) })),
      images,
      summaryRows,
    });
    return { html, qualityCsv: qualityToCsv(quality, names), quality, record };
  }
}
