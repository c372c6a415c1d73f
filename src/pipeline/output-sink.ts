/**
 * The output sink: where a run's results go (browser-safe interface and in-memory implementation).
 *
 * The core loop (core.ts) hands the sink decoded results — label maps, the image and marks of an overlay, the
 * report's text, the run record — and the sink encodes and stores them: files in Node (output-sink-node.ts:
 * OUT/masks/<id>.png, OUT/overlays/<id>.png, OUT/report.html + quality.csv (+ scores with ground truth),
 * OUT/run-record.json or OUT/run.json),
 * IndexedDB in the browser app, memory here. A mask is written last for an image: its presence marks the image as
 * finished for a warp-only rerun and for the final outputs of a resumed run.
 */
import type { FloatImage, LabelMap } from '../image/types.js';
import { renderOverlayPixels, type OverlayOptions } from '../io/overlay-render.js';
import { encodePng8 } from '../io/png.js';
import type { SavedWarpModel } from '../warp/saved-model.js';

/**
 * The review of a run: the report page and the quality scores (every run), and with ground truth the evaluation
 * scores as CSV and JSON.
 */
export interface ReportFiles {
  /** report.html (pipeline/review.ts). */
  html: string;
  /** quality.csv: the quality score and flag per image and class. */
  qualityCsv: string;
  /** With ground truth: Dice / IoU per image and class (scores.csv, scores.json). */
  csv?: string;
  json?: string;
}

export interface OutputSink {
  /** Where the outputs go, for messages (a folder, "browser storage", "memory"). */
  readonly location: string;
  hasMask(id: string): Promise<boolean>;
  /** The final label map of an image (original size). */
  writeMask(id: string, label: LabelMap): Promise<void>;
  hasOverlay(id: string): Promise<boolean>;
  /** The overlay of a final label map on its image, with the final prompts (`marks`) and the display options. */
  writeOverlay(id: string, image: FloatImage, label: LabelMap, marks: OverlayOptions): Promise<void>;
  /** One round's label map (only when the run was asked to keep every round). */
  writeRoundMask(round: number, id: string, label: LabelMap): Promise<void>;
  writeReport(report: ReportFiles): Promise<void>;
  /** The run record (a JSON-serialisable object: settings, versions, timings, counters). */
  writeRunRecord(record: unknown): Promise<void>;
  /** The trained warp model, for reuse on new images (src/warp/saved-model.ts); absent = not kept. */
  writeWarpModel?(model: SavedWarpModel): Promise<void>;
}

/** Encoded PNG bytes of one output. */
export interface StoredPng {
  png: Uint8Array;
  width: number;
  height: number;
}

/** An output sink that keeps everything in memory, PNGs encoded with the pure encoder (png.ts). */
export class MemoryOutputSink implements OutputSink {
  readonly masks = new Map<string, LabelMap>();
  readonly overlays = new Map<string, StoredPng>();
  readonly roundMasks = new Map<string, LabelMap>();
  report: ReportFiles | null = null;
  record: unknown = null;
  warpModel: SavedWarpModel | null = null;

  constructor(readonly location = 'memory') {}

  async hasMask(id: string): Promise<boolean> {
    return this.masks.has(id);
  }

  async writeMask(id: string, label: LabelMap): Promise<void> {
    this.masks.set(id, { width: label.width, height: label.height, data: label.data.slice() });
  }

  async hasOverlay(id: string): Promise<boolean> {
    return this.overlays.has(id);
  }

  async writeOverlay(id: string, image: FloatImage, label: LabelMap, marks: OverlayOptions): Promise<void> {
    const { width, height, rgb } = renderOverlayPixels(image, label, marks);
    this.overlays.set(id, { png: encodePng8({ width, height, channels: 3, data: rgb }), width, height });
  }

  async writeRoundMask(round: number, id: string, label: LabelMap): Promise<void> {
    this.roundMasks.set(`${round}/${id}`, { width: label.width, height: label.height, data: label.data.slice() });
  }

  async writeReport(report: ReportFiles): Promise<void> {
    this.report = { ...report };
  }

  async writeRunRecord(record: unknown): Promise<void> {
    this.record = structuredClone(record);
  }

  async writeWarpModel(model: SavedWarpModel): Promise<void> {
    this.warpModel = structuredClone(model);
  }

  /** A mask as 8-bit grey PNG bytes (what a download of the mask holds). */
  maskPng(id: string): Uint8Array | undefined {
    const m = this.masks.get(id);
    return m ? encodePng8({ width: m.width, height: m.height, channels: 1, data: m.data }) : undefined;
  }
}
