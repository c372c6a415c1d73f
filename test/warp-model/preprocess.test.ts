import { beforeAll, describe, expect, it } from 'vitest';
import { gridCentre, invertAffine, resampleAffine, resampleLabelAffine, similarityAffine } from '../../src/image/affine.js';
import { generatePhantom } from '../../src/image/phantom.js';
import type { FloatImage, LabelMap } from '../../src/image/types.js';
import { initTf } from '../../src/warp/backend.js';
import { WarpModel } from '../../src/warp/model.js';
import { dice, tinySettings } from './helpers.js';
import { gaussianBlurPlane } from '../../src/image/blur.js';
import { mulberry32 } from '../../src/image/random.js';
import { NOISE_LIMIT, noiseRatio } from '../../src/warp/loss-choice.js';
import { chooseDenoise, DENOISE_SIGMA } from '../../src/warp/preprocess.js';
import { normalizeIntensity } from '../../src/image/normalize.js';
import { contentMask } from '../../src/image/padding.js';
import { workingImage } from '../../src/warp/working-frame.js';
import { pearson } from '../../src/eval/quality-validation.js';

beforeAll(async () => {
  await initTf({ backend: 'wasm' });
});

const SIZE = 128;
const ref = generatePhantom({ seed: 4, patient: 0, width: SIZE, noise: 4 });

/** Patient p of the phantom family, rotated/scaled/shifted (black outside), and its moved label. */
function moved(p: number, rotDeg: number, scale: number, shift: number): { image: FloatImage; label: LabelMap } {
  const src = generatePhantom({ seed: 4, patient: p, width: SIZE, noise: 4 });
  const c = gridCentre(SIZE, SIZE);
  const outToSrc = invertAffine(similarityAffine(c, c, scale, (rotDeg * Math.PI) / 180, { x: shift * SIZE, y: -shift * SIZE }));
  return { image: resampleAffine(src.image, SIZE, SIZE, outToSrc).image, label: resampleLabelAffine(src.label, SIZE, SIZE, outToSrc) };
}

const meanDice = (a: LabelMap, b: LabelMap): number => (dice(a, b, 1) + dice(a, b, 2) + dice(a, b, 3)) / 3;

describe('WarpModel preprocessing (initial alignment, polarity, colour)', () => {
  it('the initial alignment carries large rotations / scales / shifts before any training (epochs 0)', () => {
    const tests = [moved(1, 40, 1.3, 0.1), moved(2, -35, 0.75, -0.08), moved(3, 25, 1.0, 0.15)];
    const score = (prealign: 'search' | 'none'): number => {
      const model = new WarpModel(tinySettings({ network: { resolution: 64 }, preprocess: { prealign } }), ref);
      tests.forEach((t, i) => model.addTest(`t${i}`, t.image));
      let sum = 0;
      model.warpTests(model.testIds, (id, label) => (sum += meanDice(label, tests[Number(id.slice(1))]!.label)));
      const report = model.preprocessingReport();
      model.dispose();
      if (prealign === 'search') expect(report.prealign.aligned).toBe(3);
      return sum / tests.length;
    };
    const none = score('none');
    const aligned = score('search');
    expect(none).toBeLessThan(0.6);
    expect(aligned).toBeGreaterThan(0.85);
  });

  it('an inverted test image is flipped back; colour images are projected; the report says what was chosen', () => {
    const t = moved(2, 10, 1.1, 0.05);
    const inverted = { ...t.image, data: t.image.data.map((v) => 255 - v) };
    const rgbData = new Float32Array(SIZE * SIZE * 3);
    for (let i = 0; i < SIZE * SIZE; i++) {
      rgbData[3 * i] = 128; // red: flat
      rgbData[3 * i + 1] = t.image.data[i]!; // green: the image
      rgbData[3 * i + 2] = 40;
    }
    const model = new WarpModel(tinySettings({ network: { resolution: 64 } }), ref);
    model.addTest('inverted', inverted);
    model.addTest('upright', t.image);
    model.addTest('rgb', { width: SIZE, height: SIZE, channels: 3, data: rgbData });
    const report = model.preprocessingReport();
    expect(report.prealign.images['inverted']!.inverted).toBe(true);
    expect(report.prealign.images['upright']!.inverted).toBe(false);
    expect(report.colour.name).toBe('luminance'); // grey reference
    expect(['ssim', 'ncc']).toContain(report.imageLoss.kind);
    expect(model.settings.loss.imageLoss).toBe(report.imageLoss.kind);
    const labels = new Map<string, LabelMap>();
    model.warpTests(model.testIds, (id, label) => labels.set(id, label));
    expect(meanDice(labels.get('inverted')!, t.label)).toBeGreaterThan(0.85);
    expect(meanDice(labels.get('inverted')!, labels.get('upright')!)).toBeGreaterThan(0.97);
    expect(meanDice(labels.get('rgb')!, t.label)).toBeGreaterThan(0.8);
    // a new image (not added) goes through the same preprocessing
    expect(meanDice(model.warpLabel(inverted), labels.get('inverted')!)).toBe(1);
    model.dispose();
  });
});

describe('denoising of speckled images (preprocess.ts denoise)', () => {
  /** The image under multiplicative speckle (one uniform factor in [0.1, 1.9] per pixel) on a reduced contrast. */
  const speckled = (image: FloatImage, seed: number): FloatImage => {
    const rand = mulberry32(seed);
    return { ...image, data: image.data.map((v) => Math.min(255, (30 + 0.4 * v) * (0.1 + 1.8 * rand()))) };
  };
  const R = 64;
  it('a noisy reference turns it on: every working copy is the unsmoothed one blurred by DENOISE_SIGMA, closer to the clean image; NCC is still chosen', () => {
    const t = moved(2, 10, 1.1, 0.05);
    const noisyRef = { image: speckled(ref.image, 1), label: ref.label };
    const noisyTest = speckled(t.image, 2);
    const on = new WarpModel(tinySettings({ network: { resolution: R } }), noisyRef);
    const off = new WarpModel(tinySettings({ network: { resolution: R }, preprocess: { denoise: 'off' } }), noisyRef);
    const clean = new WarpModel(tinySettings({ network: { resolution: R } }), ref);
    for (const m of [on, off]) m.addTest('t', noisyTest);
    clean.addTest('t', t.image);
    const unsmoothedNoise = noiseRatio(off.preprocessor.referenceWork, R, R);
    expect(unsmoothedNoise).toBeGreaterThan(NOISE_LIMIT); // the precondition: this speckle counts as noisy
    const report = on.preprocessingReport();
    expect(report.denoise).toMatchObject({ sigmaWorkingPx: DENOISE_SIGMA, noiseRatio: Math.round(unsmoothedNoise * 1000) / 1000 });
    expect(report.imageLoss.kind).toBe('ncc'); // chosen on the unsmoothed copy (the smoothed one looks clean)
    expect(off.preprocessingReport().denoise.sigmaWorkingPx).toBe(0);
    expect(on.preprocessor.referenceWork).toEqual(gaussianBlurPlane(off.preprocessor.referenceWork, R, R, DENOISE_SIGMA));
    // A test's copy: the unsmoothed copy through its own frame (the alignment search also ran smoothed), blurred.
    const frame = on.testFrame('t');
    const unsmoothed = workingImage(normalizeIntensity(noisyTest), frame, R, frame.warpToOriginal ? contentMask(noisyTest) : null, on.preprocessor.referenceWorkUnsmoothed).work;
    expect(on.testWorkingImage('t')).toEqual(gaussianBlurPlane(unsmoothed, R, R, DENOISE_SIGMA));
    const cleanWork = clean.testWorkingImage('t');
    expect(pearson(on.testWorkingImage('t'), cleanWork)).toBeGreaterThan(pearson(off.testWorkingImage('t'), cleanWork) + 0.02); // measured 0.967 vs 0.929
    for (const m of [on, off, clean]) m.dispose();
  });

  it('a clean reference leaves every working copy as it was; absent (models saved before it existed) means off', () => {
    const t = moved(1, -5, 0.95, 0.02);
    const auto = new WarpModel(tinySettings({ network: { resolution: R } }), ref);
    const off = new WarpModel(tinySettings({ network: { resolution: R }, preprocess: { denoise: 'off' } }), ref);
    for (const m of [auto, off]) m.addTest('t', t.image);
    expect(auto.preprocessingReport().denoise.sigmaWorkingPx).toBe(0);
    expect(auto.preprocessor.referenceWork).toEqual(off.preprocessor.referenceWork);
    expect(auto.testWorkingImage('t')).toEqual(off.testWorkingImage('t'));
    for (const m of [auto, off]) m.dispose();
    expect(chooseDenoise(undefined, 0.9).sigmaWorkingPx).toBe(0);
    expect(chooseDenoise('auto', NOISE_LIMIT + 0.01).sigmaWorkingPx).toBe(DENOISE_SIGMA);
    expect(chooseDenoise('auto', NOISE_LIMIT).sigmaWorkingPx).toBe(0);
  });
});
