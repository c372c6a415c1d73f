/**
 * The final Med-PerSAM round of one image in `apply` (issue 22; paper §3.2, §3.4): the mask prompt is the reference
 * label warped by the bundle's final warp model (Eq. 4, apply.ts); SAM is prompted from it and refined by the loop's
 * own per-image step (segment-image.ts `segmentOneImage`) with the settings of the bundle's final round, as `segment`
 * runs its final round. The SAM sessions and the reference's class prototypes are made once per process; nothing
 * else is kept from one image to the next (no embedding cache either: bundle-sam.ts).
 */
import type { LabelMap } from '../image/types.js';
import type { SamLoadOptions } from '../sam/types.js';
import type { SamModel } from '../sam/model.js';
import type { ClassPrototype } from '../prompts/index.js';
import { loadBundleSamModel, type BundleSam } from './bundle-sam.js';
import { StageTimer } from './run-record.js';
import type { ImageRoundRecord } from './run-store.js';
import { loadedTarget, referencePrototypes, segmentOneImage } from './segment-image.js';
import type { LoadedImage } from './sources.js';

/** SAM's answer for one image: the final label map and the final round's record (prompts, IoU scores per class). */
export interface SamImageOut {
  label: LabelMap;
  record: ImageRoundRecord;
}

export class BundleSamStage {
  private constructor(
    private readonly sam: BundleSam,
    private readonly model: SamModel,
    private readonly classes: readonly number[],
    private readonly prototypes: Map<number, ClassPrototype>,
  ) {}

  /** Find and check the bundle's SAM model on this machine (bundle-sam.ts), load it, and make the class prototypes. */
  static async open(
    sam: BundleSam,
    reference: { image: LoadedImage; label: LabelMap },
    classes: readonly number[],
    load: Omit<SamLoadOptions, 'targetEmbedding' | 'cacheDir'> = {},
  ): Promise<BundleSamStage> {
    const model = await loadBundleSamModel(sam, load);
    try {
      const prototypes = await referencePrototypes(model, reference.image, reference.label, classes, new StageTimer());
      return new BundleSamStage(sam, model, classes, prototypes);
    } catch (err) {
      await model.release();
      throw err;
    }
  }

  /** The final round (R) for one image from its mask prompt `warped`: prompts → SAM → refinements, classes combined. */
  async segment(id: string, image: LoadedImage, warped: LabelMap): Promise<SamImageOut> {
    const target = loadedTarget(image, this.model);
    const out = await segmentOneImage(id, this.sam.retrainRounds, target, warped, this.classes, this.prototypes, this.model, this.sam.loop, new StageTimer(), { decoderCalls: 0 });
    return { label: out.label, record: out.record };
  }

  release(): Promise<void> {
    return this.model.release();
  }
}
