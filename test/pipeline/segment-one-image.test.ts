/**
 * segmentOneImage gives exactly what the per-image loop gave as first written (below: `referenceSegment`), where
 * every step worked on full-size masks: the SAM output thresholded at full size before the resize to the working
 * frame, each class mask counted pixel by pixel, the similarity computed from scratch per class. Same label map
 * (byte for byte), same round record (points, box, IoU scores, notes, counts) and the same prompts sent to SAM, on
 * generated official-interface models whose logits get a fixed speckle (like a SAM with random weights), at a
 * size where the working frame differs from the image and at one where it does not. The speed-ups of the
 * per-image work (issue 9) must never change a result.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { materializeEnlarged } from '../../src/image/enlarged.js';
import { binaryOfClass, countForeground } from '../../src/image/labels.js';
import { generatePhantom } from '../../src/image/phantom.js';
import { resizeBinaryNearest } from '../../src/image/resize.js';
import type { LabelMap } from '../../src/image/types.js';
import type { ReadImageResult } from '../../src/io/read-image.js';
import { combineClassLogits, type ClassLogits } from '../../src/pipeline/multiclass.js';
import { StageTimer } from '../../src/pipeline/run-record.js';
import type { ClassRoundRecord } from '../../src/pipeline/run-store.js';
import {
  knownTarget,
  loadedTarget,
  promptsFor,
  referencePrototypes,
  samInputImage,
  segmentOneImage,
  workingFrame,
  type ImageSegmentSettings,
  type SamModelLike,
} from '../../src/pipeline/segment-image.js';
import {
  binaryFromLogits,
  cosineSimilarityMap,
  featureMapFromEmbedding,
  samFrame,
  smoothMaskForNextPrompt,
  type ClassPrototype,
} from '../../src/prompts/index.js';
import { loadSamModel, type SamModel } from '../../src/sam/model.js';
import type { SamDecodeOptions, SamEmbedding, SamPrompts } from '../../src/sam/types.js';
import { writeTestSamModel, type TestDecoderBehaviour } from '../fixtures/sam-models.js';
import { useTempDir } from '../fixtures/temp-dir.js';

/** The per-image loop as first written (Med-PerSAM branch), without timers. */
async function referenceSegment(
  read: ReadImageResult,
  warped: LabelMap,
  classes: readonly number[],
  prototypes: Map<number, ClassPrototype>,
  sam: SamModelLike,
  r: ImageSegmentSettings,
): Promise<{ label: LabelMap; classes: ClassRoundRecord[] }> {
  const { width, height } = read.image;
  const emb = await sam.encode(samInputImage(read));
  const features = featureMapFromEmbedding(emb);
  const frame = samFrame(width, height, { gridSize: emb.dims[3] });
  const work = workingFrame(width, height, r.promptWorkingSize);
  const classLogits: ClassLogits[] = [];
  const records: ClassRoundRecord[] = [];
  for (const cls of classes) {
    const proto = prototypes.get(cls)!;
    const rec: ClassRoundRecord = { cls, points: [], box: null, maskPromptPixels: 0, iouScores: [], decoderCalls: 0, notes: [] };
    records.push(rec);
    const maskPrompt = binaryOfClass(warped, cls);
    rec.maskPromptPixels = countForeground(maskPrompt);
    if (rec.maskPromptPixels === 0) {
      rec.notes.push('empty mask prompt: class not predicted');
      classLogits.push({ cls, logits: null });
      continue;
    }
    const similarity = cosineSimilarityMap(features, proto.prototypeUnit, frame, work.width, work.height).map;
    let mask = maskPrompt;
    let logits: Float32Array | null = null;
    for (let pass = 0; pass <= r.refinements; pass++) {
      if (pass > 0) {
        const out = binaryFromLogits(logits!, width, height);
        let smoothed;
        if (work.width === width && work.height === height) smoothed = smoothMaskForNextPrompt(out, r.smoothing);
        else {
          const sm = smoothMaskForNextPrompt(resizeBinaryNearest(out, work.width, work.height), r.smoothing);
          smoothed = { ...sm, mask: resizeBinaryNearest(sm.mask, width, height) };
        }
        if (smoothed.pixelsAfter === 0) {
          rec.notes.push(`refinement ${pass}: SAM output empty, refinement stopped`);
          break;
        }
        mask = smoothed.mask;
      }
      const prompts = promptsFor(mask, similarity, work, r);
      if (!prompts) {
        rec.notes.push(`pass ${pass}: no prompt of set ${r.promptSet} could be made`);
        break;
      }
      if (r.useTargetEmbedding && sam.info.targetEmbedding) prompts.targetEmbedding = proto.prototype;
      const result = await sam.decode(emb, prompts, { multimask: pass > 0 });
      rec.decoderCalls++;
      let k = 0;
      for (let i = 1; i < result.iouScores.length; i++) if (result.iouScores[i]! > result.iouScores[k]!) k = i;
      logits = result.logitsOriginal[k]!;
      rec.iouScores.push(result.iouScores[k]!);
      rec.points = prompts.pointsOriginal ?? [];
      rec.box = prompts.boxOriginal ?? null;
    }
    classLogits.push({ cls, logits });
  }
  return { label: combineClassLogits(classLogits, width, height), classes: records };
}

const sha = (bytes: Uint8Array | Float32Array) => createHash('sha256').update(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)).digest('hex');

/**
 * The model with a fixed speckle added to its logits (a copy: the model's outputs are untouched), recording every
 * prompt set it is sent.
 */
function speckledRecording(model: SamModel): SamModelLike & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    info: model.info,
    encode: (image) => model.encode(image),
    cachedEmbedding: (key, width, height) => model.cachedEmbedding(key, width, height),
    stats: () => model.stats(),
    async decode(embedding: SamEmbedding, prompts: SamPrompts, opts?: SamDecodeOptions) {
      const m = prompts.maskPrompt;
      sent.push(
        JSON.stringify({
          points: prompts.pointsOriginal,
          box: prompts.boxOriginal,
          // A mask prompt by its pixels at the original size, however it is given.
          mask: m ? (m.kind === 'binary' ? sha(m.mask.data) : m.kind === 'binaryEnlarged' ? sha(materializeEnlarged(m.mask).data) : m.kind) : null,
          target: prompts.targetEmbedding ? sha(prompts.targetEmbedding) : null,
          multimask: opts?.multimask ?? false,
        }),
      );
      const result = await model.decode(embedding, prompts, opts);
      const speckle = (plane: Float32Array, k: number) =>
        plane.map((v, i) => v + 6 * Math.sin(i * 0.7 + k) * Math.cos(i * 0.013) + (((i * 2654435761) >>> 0) % 97 === 0 ? -40 : 0));
      return { ...result, logitsOriginal: result.logitsOriginal.map((p, k) => speckle(p, k)) };
    },
  };
}

describe('segmentOneImage = the per-image loop as first written', () => {
  const tmp = useTempDir({ prefix: 'segment-one-image-' });

  const cases: { decoder: TestDecoderBehaviour; width: number; height: number; settings: Partial<ImageSegmentSettings> }[] = [
    { decoder: 'discs', width: 300, height: 220, settings: {} },
    { decoder: 'echo-mask', width: 300, height: 220, settings: { refinements: 2 } },
    { decoder: 'echo-mask', width: 120, height: 96, settings: { promptSet: 'P+B' } },
    { decoder: 'discs', width: 120, height: 96, settings: { promptWorkingSize: 0, refinements: 2 } },
  ];
  for (const c of cases) {
    it(`${c.decoder}, ${c.width}x${c.height}, ${JSON.stringify(c.settings)}`, async () => {
      const files = await writeTestSamModel(`${tmp.dir}/${c.decoder}-${c.width}`, { decoder: c.decoder });
      const model = await loadSamModel(files.dir, { cacheDir: false, threads: 1 });
      try {
        const settings: ImageSegmentSettings = {
          refinements: 1,
          promptSet: 'P+B+M',
          promptOptions: { strategy: 'subregions' },
          smoothing: {},
          useTargetEmbedding: true,
          promptWorkingSize: 256,
          method: 'med-persam',
          ...c.settings,
        };
        const phantom = (patient: number) => generatePhantom({ seed: 11, patient, width: c.width, height: c.height });
        const asRead = (p: ReturnType<typeof phantom>): ReadImageResult => ({ image: p.image, format: 'png', bitDepth: 8 });
        const ref = phantom(0);
        const classes = [1, 2, 3];
        const prototypes = await referencePrototypes(model, asRead(ref), ref.label, classes, new StageTimer());
        for (const patient of [1, 2, 3]) {
          const target = phantom(patient);
          // The mask prompt: another patient's label (an imperfect registration), with one class left out.
          const warped = phantom(patient + 5).label;
          if (patient === 3) for (let i = 0; i < warped.data.length; i++) if (warped.data[i] === 2) warped.data[i] = 0;
          const fast = speckledRecording(model);
          const got = await segmentOneImage('t', 1, loadedTarget(asRead(target), fast), warped, classes, prototypes, fast, settings, new StageTimer(), { decoderCalls: 0 });
          const slow = speckledRecording(model);
          const want = await referenceSegment(asRead(target), warped, classes, prototypes, slow, settings);
          expect(fast.sent).toEqual(slow.sent);
          expect(got.record.classes).toEqual(want.classes);
          expect(sha(got.label.data)).toBe(sha(want.label.data));
          // The embedding by key (a later round): the same result, the image not read.
          const byKey = speckledRecording(model);
          const again = await segmentOneImage('t', 2, knownTarget(got.embedding, byKey, () => Promise.reject(new Error('read'))), warped, classes, prototypes, byKey, settings, new StageTimer(), { decoderCalls: 0 });
          expect(byKey.sent).toEqual(slow.sent);
          expect(again.record.classes).toEqual(want.classes);
          expect(sha(again.label.data)).toBe(sha(want.label.data));
          // The case exercises what it should: SAM called, several classes in the label.
          expect(fast.sent.length).toBeGreaterThan(0);
          expect(new Set(got.label.data).size).toBeGreaterThan(1);
        }
      } finally {
        await model.release();
      }
    });
  }
});
