/**
 * The output sink on disk (Node-only): every file written atomically, PNGs encoded with sharp.
 *
 *   OUT/masks/<id>.png            8-bit grey label map at the image's size
 *   OUT/overlays/<id>.png         the image with the label (and final prompts) drawn over it
 *   OUT/rounds/<r>/<id>.png       per-round label maps (when asked)
 *   OUT/report.html, quality.csv                  every run (the review: pipeline/review.ts)
 *   OUT/scores.csv, scores.json                   with ground truth
 *   OUT/<recordFile>              the run record: run-record.json (Med-PerSAM) or run.json (warp-only)
 *   OUT/warp-model.mpwarp         the trained warp model (reuse: segment --warp-model; src/warp/saved-model.ts)
 */
import { join } from 'node:path';
import type { FloatImage, LabelMap } from '../image/types.js';
import { writeFileAtomic } from '../io/atomic.js';
import { fileExists } from '../io/checkpoint-store.js';
import { writeLabelPng } from '../io/mask.js';
import { writeOverlayPng, type OverlayOptions } from '../io/overlay.js';
import type { OutputSink, ReportFiles } from './output-sink.js';
import { WARP_MODEL_FILE, writeWarpModelFile } from '../io/warp-model-file.js';
import type { SavedWarpModel } from '../warp/saved-model.js';

export interface FileOutputSinkOptions {
  /** File name of the run record (default 'run-record.json'). */
  recordFile?: string;
  /** End the record's JSON with a newline (warp-only run.json does). */
  recordTrailingNewline?: boolean;
}

export class FileOutputSink implements OutputSink {
  constructor(
    readonly outDir: string,
    private readonly opts: FileOutputSinkOptions = {},
  ) {}

  get location(): string {
    return this.outDir;
  }

  get masksDir(): string {
    return join(this.outDir, 'masks');
  }

  get overlaysDir(): string {
    return join(this.outDir, 'overlays');
  }

  get reportPath(): string {
    return join(this.outDir, 'report.html');
  }

  get recordPath(): string {
    return join(this.outDir, this.opts.recordFile ?? 'run-record.json');
  }

  maskPath(id: string): string {
    return join(this.masksDir, `${id}.png`);
  }

  overlayPath(id: string): string {
    return join(this.overlaysDir, `${id}.png`);
  }

  hasMask(id: string): Promise<boolean> {
    return fileExists(this.maskPath(id));
  }

  writeMask(id: string, label: LabelMap): Promise<void> {
    return writeLabelPng(this.maskPath(id), label);
  }

  hasOverlay(id: string): Promise<boolean> {
    return fileExists(this.overlayPath(id));
  }

  writeOverlay(id: string, image: FloatImage, label: LabelMap, marks: OverlayOptions): Promise<void> {
    return writeOverlayPng(this.overlayPath(id), image, label, marks);
  }

  writeRoundMask(round: number, id: string, label: LabelMap): Promise<void> {
    return writeLabelPng(join(this.outDir, 'rounds', String(round), `${id}.png`), label);
  }

  get qualityCsvPath(): string {
    return join(this.outDir, 'quality.csv');
  }

  async writeReport(report: ReportFiles): Promise<void> {
    await writeFileAtomic(this.qualityCsvPath, report.qualityCsv);
    if (report.csv !== undefined) await writeFileAtomic(join(this.outDir, 'scores.csv'), report.csv);
    if (report.json !== undefined) await writeFileAtomic(join(this.outDir, 'scores.json'), report.json);
    // The page last: it presents the files above.
    await writeFileAtomic(this.reportPath, report.html);
  }

  writeRunRecord(record: unknown): Promise<void> {
    return writeFileAtomic(this.recordPath, JSON.stringify(record, null, 2) + (this.opts.recordTrailingNewline ? '\n' : ''));
  }

  get warpModelPath(): string {
    return join(this.outDir, WARP_MODEL_FILE);
  }

  writeWarpModel(model: SavedWarpModel): Promise<void> {
    return writeWarpModelFile(this.warpModelPath, model);
  }
}
