/**
 * The core loop's run store and output sink in IndexedDB (the app's twins of run-state.ts / output-sink-node.ts).
 * One run is kept under a run name ("current"); keys in the `runs` object store:
 *   <run>/meta                 { version, fingerprint }          (open(): a different fingerprint is refused)
 *   <run>/checkpoint           serialised warp checkpoint (src/warp/checkpoint.ts bytes)
 *   <run>/round/<r>/<id>       one round result (run-store.ts StoredImageRound: labels run-length + deflate coded)
 *   <run>/mask/<id>            final label map as 8-bit grey PNG bytes + size
 *   <run>/overlay/<id>         overlay PNG bytes + size
 *   <run>/roundmask/<r>/<id>   per-round label PNGs (when asked)
 *   <run>/report, <run>/record the report files and the run record
 * Every write is one IndexedDB transaction that has committed before the promise resolves, so a stopped or closed
 * tab resumes from the last finished image and the last epoch checkpoint.
 */
import { MedpersamUserError } from '../errors.js';
import type { FloatImage, LabelMap } from '../image/types.js';
import { renderOverlayPixels, type OverlayOptions } from '../io/overlay-render.js';
import { encodePng8 } from '../io/png.js';
import type { OutputSink, ReportFiles } from '../pipeline/output-sink.js';
import {
  checkFingerprint,
  fromStoredRound,
  normalizeFingerprint,
  STATE_VERSION,
  toStoredRound,
  type ImageRoundRecord,
  type ImageRoundResult,
  type RunStore,
  type StoredImageRound,
} from '../pipeline/run-store.js';
import { deserializeCheckpoint, serializeCheckpoint, type CheckpointData } from '../warp/checkpoint.js';
import type { Idb } from './idb.js';

export interface StoredPngEntry {
  png: Uint8Array;
  width: number;
  height: number;
}

export class IndexedDbRunStore implements RunStore {
  constructor(
    private readonly db: Idb,
    readonly run: string,
  ) {}

  get location(): string {
    return `browser storage (run "${this.run}")`;
  }

  get checkpointLocation(): string {
    return `${this.location}, warp checkpoint`;
  }

  async open(fingerprint: unknown): Promise<{ resumed: boolean }> {
    const normalized = normalizeFingerprint(fingerprint);
    const stored = await this.db.get<{ version: number; fingerprint: unknown }>('runs', `${this.run}/meta`);
    if (stored) {
      checkFingerprint(stored, STATE_VERSION, normalized, this.location);
      return { resumed: true };
    }
    await this.db.put('runs', `${this.run}/meta`, { version: STATE_VERSION, fingerprint: normalized });
    return { resumed: false };
  }

  async loadCheckpoint(): Promise<CheckpointData | null> {
    const bytes = await this.db.get<Uint8Array>('runs', `${this.run}/checkpoint`);
    if (!bytes) return null;
    try {
      return deserializeCheckpoint(bytes);
    } catch (err) {
      throw new MedpersamUserError('BAD_CHECKPOINT', `stored checkpoint is unreadable (${(err as Error).message}); start a new run`, {
        file: this.checkpointLocation,
        cause: err,
      });
    }
  }

  saveCheckpoint(checkpoint: CheckpointData): Promise<void> {
    return this.db.put('runs', `${this.run}/checkpoint`, serializeCheckpoint(checkpoint));
  }

  private roundKey(round: number, id: string): string {
    return `${this.run}/round/${round}/${id}`;
  }

  hasRoundResult(round: number, id: string): Promise<boolean> {
    return this.db.has('runs', this.roundKey(round, id));
  }

  writeRoundResult(record: ImageRoundRecord, label: LabelMap, warped: LabelMap): Promise<void> {
    return this.db.put('runs', this.roundKey(record.round, record.id), toStoredRound(record, label, warped));
  }

  async readRoundResult(round: number, id: string): Promise<ImageRoundResult | null> {
    const s = await this.db.get<StoredImageRound>('runs', this.roundKey(round, id));
    return s ? fromStoredRound(s, `${this.location}, round ${round} of ${id}`) : null;
  }
}

export class IndexedDbOutputSink implements OutputSink {
  constructor(
    private readonly db: Idb,
    readonly run: string,
    /** Told after each overlay is stored (the page's gallery). */
    private readonly onOverlay?: (id: string, entry: StoredPngEntry) => void,
  ) {}

  get location(): string {
    return `browser storage (run "${this.run}")`;
  }

  hasMask(id: string): Promise<boolean> {
    return this.db.has('runs', `${this.run}/mask/${id}`);
  }

  writeMask(id: string, label: LabelMap): Promise<void> {
    const png = encodePng8({ width: label.width, height: label.height, channels: 1, data: label.data });
    return this.db.put('runs', `${this.run}/mask/${id}`, { png, width: label.width, height: label.height } satisfies StoredPngEntry);
  }

  hasOverlay(id: string): Promise<boolean> {
    return this.db.has('runs', `${this.run}/overlay/${id}`);
  }

  async writeOverlay(id: string, image: FloatImage, label: LabelMap, marks: OverlayOptions): Promise<void> {
    const { width, height, rgb } = renderOverlayPixels(image, label, marks);
    const entry: StoredPngEntry = { png: encodePng8({ width, height, channels: 3, data: rgb }), width, height };
    await this.db.put('runs', `${this.run}/overlay/${id}`, entry);
    this.onOverlay?.(id, entry);
  }

  writeRoundMask(round: number, id: string, label: LabelMap): Promise<void> {
    const png = encodePng8({ width: label.width, height: label.height, channels: 1, data: label.data });
    return this.db.put('runs', `${this.run}/roundmask/${round}/${id}`, { png, width: label.width, height: label.height });
  }

  writeReport(report: ReportFiles): Promise<void> {
    return this.db.put('runs', `${this.run}/report`, report);
  }

  writeRunRecord(record: unknown): Promise<void> {
    return this.db.put('runs', `${this.run}/record`, record);
  }
}

/** Ids of the finished masks of a run, sorted. */
export async function finishedIds(db: Idb, run: string): Promise<string[]> {
  const prefix = `${run}/mask/`;
  return (await db.keys('runs', prefix)).map((k) => k.slice(prefix.length)).sort();
}

/** Forget a run (state and outputs). */
export function clearRun(db: Idb, run: string): Promise<void> {
  return db.deletePrefix('runs', `${run}/`);
}
