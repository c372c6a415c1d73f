/**
 * `apply` (issue 22, phase 2 of 2): a run bundle (bundle.ts) + one image → its label map, overlay and per-image
 * record, with no training and no state shared between images. `segment --bundle` runs it over a folder in-process;
 * the queue workers (src/queue) run it per job.
 *
 * Per image, as the core does for a test image (core.ts), one image at a time: the image is prepared exactly as a
 * test image (WarpPreprocessor: colour projection, alignment, polarity), the final warp model predicts its
 * working-grid flow, and the reference label is warped through the image's frame to its original size (Eq. 4). A
 * warp-only bundle's answer is that label; a SAM bundle's is the final Med-PerSAM round from it (apply-sam.ts).
 * The review's per-image signals and card pictures are kept in the image's record (OUT/records/<id>.json); the
 * folder-relative quality score and the page are computed over all records at the end (apply-run.ts).
 *
 * Output folder (the same names as `segment`): OUT/masks/<id>.png, OUT/overlays/<id>.png, OUT/records/<id>.json.
 * Every file is written atomically and the mask last but one (the record last): a record marks an image as done.
 */
import { join } from 'node:path';
import { initTf, type TfBackendChoice } from '../warp/backend.js';
import { WarpModel } from '../warp/model.js';
import { checkSavedReference } from '../warp/saved-model.js';
import { warpLabelThroughFrame, type WorkingFrame } from '../warp/working-frame.js';
import { readWarpModelFile } from '../io/warp-model-file.js';
import { sharpWebpGreyEncoder } from '../io/report-pictures-node.js';
import { writeFileAtomic } from '../io/atomic.js';
import { MedpersamUserError } from '../errors.js';
import type { ClassNames, LabelMap } from '../image/types.js';
import { readBundle, type LoadedBundle } from './bundle.js';
import { FileOutputSink } from './output-sink-node.js';
import { qualityContext, type QualityContext } from './quality.js';
import { ReviewCollector, type ReviewEntry } from './review.js';
import { fileImageSource, fileMaskSource } from './sources-node.js';
import type { LoadedImage } from './sources.js';
import { BundleSamStage, type SamImageOut } from './apply-sam.js';
import { overlayMarks } from './segment-image.js';
import type { SamLoadOptions } from '../sam/types.js';

export const IMAGE_RECORD_KIND = 'medpersam-image-record';
/** Longest side of overlays (as warp-only `segment`). */
const OVERLAY_MAX_SIZE = 1024;

/** A card picture with its bytes as base64 (JSON). */
interface StoredPicture {
  mime: string;
  width: number;
  height: number;
  base64: string;
}

/** OUT/records/<id>.json: one image's outcome. */
export interface ImageRecord {
  kind: typeof IMAGE_RECORD_KIND;
  id: string;
  /** The file's name (no folders: a record says nothing about the machine that read it). */
  file: string;
  /** sha256 of the file's bytes (absent when it could not be read). */
  contentId?: string;
  bundleFingerprint: string;
  status: 'done' | 'failed';
  /** Why it failed (a user error's code and message). */
  error?: { code: string; message: string };
  seconds: number;
  finishedAt: string;
  /** The review's entry (status 'done'); its pictures as base64. */
  review?: Omit<ReviewEntry, 'picture' | 'overlay'> & { picture?: StoredPicture; overlay?: StoredPicture };
}

export interface ApplyOptions {
  backend?: TfBackendChoice;
  /** Write overlays (default true). */
  overlays?: boolean;
  classes?: ClassNames;
  /** Load the bundle's SAM model (default true; false: only the report of stored records is made). */
  loadSam?: boolean;
  /** SAM session threads on this machine (they do not change a mask). */
  samLoad?: Omit<SamLoadOptions, 'targetEmbedding' | 'cacheDir'>;
}

export function recordPath(outDir: string, id: string): string {
  return join(outDir, 'records', `${id}.json`);
}

const toStored = (p: ReviewEntry['picture']): StoredPicture | undefined =>
  p ? { mime: p.mime, width: p.width, height: p.height, base64: Buffer.from(p.bytes).toString('base64') } : undefined;

/** A loaded bundle ready to segment images one at a time (load once per process). */
export class BundleApplier {
  private constructor(
    readonly bundle: LoadedBundle,
    readonly backend: string,
    private readonly model: WarpModel,
    private readonly referenceLabel: LabelMap,
    private readonly qualityCtx: QualityContext,
    private readonly opts: ApplyOptions,
    private readonly sam: BundleSamStage | null,
  ) {
    this.review = this.newReview();
  }

  /** Computes per-image review entries (never finished: the report adds the stored entries to a new collector). */
  private readonly review: ReviewCollector;

  /** A review collector with this bundle's reference and model (the report's, over stored entries). */
  newReview(): ReviewCollector {
    return new ReviewCollector(this.qualityCtx, { classNames: this.opts.classes, pictures: { encode: sharpWebpGreyEncoder } });
  }

  static async open(bundleDir: string, opts: ApplyOptions = {}): Promise<BundleApplier> {
    const bundle = await readBundle(bundleDir);
    const backend = await initTf({ backend: opts.backend ?? 'auto' });
    const saved = await readWarpModelFile(bundle.warpModelPath);
    const reference = await fileImageSource('reference', bundle.referenceImagePath).load();
    const label = (await fileMaskSource(bundle.referenceMaskPath).load({ classes: opts.classes })).label;
    await checkSavedReference(saved, reference.image, label);
    const model = WarpModel.fromSavedModel(saved, { image: reference.image, label });
    const ctx = qualityContext({ image: reference.image, label, work: model.preprocessor.referenceWork }, model.classes, model.resolution);
    const samSpec = bundle.manifest.sam;
    let sam: BundleSamStage | null = null;
    try {
      if (samSpec && opts.loadSam !== false) sam = await BundleSamStage.open(samSpec, { image: reference, label }, model.classes, opts.samLoad);
    } catch (err) {
      model.dispose();
      throw err;
    }
    return new BundleApplier(bundle, backend, model, label, ctx, opts, sam);
  }

  get fingerprint(): string {
    return this.bundle.manifest.fingerprint;
  }

  /** Eq. 4 for one image: prepared as a test image, its flow, the reference label through its frame. */
  segment(image: LoadedImage): { label: LabelMap; flowXyWarp: Float32Array; fixedWork: Float32Array; frame: WorkingFrame } {
    const prepared = this.model.preprocessor.prepare(image.image);
    const [flowXyWarp] = this.model.predictFlowsWork([prepared.work], 1);
    const label = warpLabelThroughFrame(this.referenceLabel, flowXyWarp!, this.model.resolution, prepared.frame, this.bundle.manifest.labelWarp);
    return { label, flowXyWarp: flowXyWarp!, fixedWork: prepared.work, frame: prepared.frame };
  }

  /**
   * Segment one image file into `outDir` (mask, overlay, record). An unreadable image gets a 'failed' record and
   * its user error is thrown again (the caller decides whether that stops anything).
   */
  async applyFile(id: string, path: string, outDir: string, fileName: string): Promise<ImageRecord> {
    const t0 = performance.now();
    const sink = new FileOutputSink(outDir);
    const base = { kind: IMAGE_RECORD_KIND, id, file: fileName, bundleFingerprint: this.fingerprint } as const;
    let image: LoadedImage;
    try {
      image = await fileImageSource(id, path).load();
    } catch (err) {
      if (!(err instanceof MedpersamUserError)) throw err;
      const failed: ImageRecord = { ...base, status: 'failed', error: { code: err.code, message: err.message.replace(path, fileName) }, seconds: (performance.now() - t0) / 1000, finishedAt: new Date().toISOString() };
      await writeFileAtomic(recordPath(outDir, id), JSON.stringify(failed) + '\n');
      throw err;
    }
    const { label: warped, flowXyWarp, fixedWork, frame } = this.segment(image);
    const sam = this.sam ? await this.sam.segment(id, image, warped) : null;
    const label = sam?.label ?? warped;
    if (this.opts.overlays !== false) await sink.writeOverlay(id, image.image, label, overlayOptions(sam));
    const entry = await this.review.entryFor({ id, image: image.image, label, flowXyWarp, fixedWork, frame, ...samReview(sam, warped) });
    await sink.writeMask(id, label);
    const record: ImageRecord = {
      ...base,
      contentId: image.contentId,
      status: 'done',
      seconds: (performance.now() - t0) / 1000,
      finishedAt: new Date().toISOString(),
      review: { ...entry, picture: toStored(entry.picture), overlay: toStored(entry.overlay) },
    };
    await writeFileAtomic(recordPath(outDir, id), JSON.stringify(record) + '\n');
    return record;
  }

  async dispose(): Promise<void> {
    this.model.dispose();
    await this.sam?.release();
  }
}

/** Overlays as `segment` draws them: with SAM at the image's size with the final prompts, else at most 1024 px. */
function overlayOptions(sam: SamImageOut | null) {
  return sam ? overlayMarks(sam.record.classes) : { maxSize: OVERLAY_MAX_SIZE };
}

/**
 * SAM's part of the review (as `segment`'s final round): the mask prompt, SAM's IoU scores, the prompts drawn. The
 * previous round's label (a signal of `segment`) does not exist in apply, which runs the final round alone.
 */
function samReview(sam: SamImageOut | null, warped: LabelMap) {
  if (!sam) return {};
  return { sam: { warped, classes: sam.record.classes }, marks: sam.record.classes.map((c) => ({ cls: c.cls, points: c.points, box: c.box })) };
}
