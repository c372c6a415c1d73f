import { describe, expect, it } from 'vitest';
import { applyAffine, gridCentre, invertAffine, resampleAffine, resizeAffine, similarityAffine, composeAffine, type Affine2D } from '../../src/image/affine.js';
import { normalizeIntensity } from '../../src/image/normalize.js';
import { contentMask } from '../../src/image/padding.js';
import { generatePhantom } from '../../src/image/phantom.js';
import type { FloatImage } from '../../src/image/types.js';
import { estimatePrealignment, FAR_MIN_CORRELATION, FIXED_FRAME_IOU, NEAR_DISTANCE, PrealignReference, trustAlignment, type PrealignOptions } from '../../src/warp/prealign.js';
import { gaussianBlurPlane } from '../../src/image/blur.js';
import { mulberry32 } from '../../src/image/random.js';
import { resizeImage } from '../../src/image/resize.js';
import { DENOISE_SIGMA, PREALIGN_DENOISE_FACTOR } from '../../src/warp/preprocess.js';

const SIZE = 160;
const reference = generatePhantom({ seed: 1, patient: 0, width: SIZE, noise: 4 }).image;
const prepared = new PrealignReference(normalizeIntensity(reference), contentMask(reference));

/** The reference seen through `refToTest` on a W×H grid (black outside), optionally inverted. */
function transformed(refToTest: Affine2D, W: number, H: number, invert = false): FloatImage {
  const img = resampleAffine(reference, W, H, invertAffine(refToTest), { fill: 0 }).image;
  return invert ? { ...img, data: img.data.map((v) => 255 - v) } : img;
}

/** Mean distance between two maps over the reference's (refSize²) central 80 %, in % of the test's diagonal. */
function mapError(a: Affine2D, b: Affine2D, W: number, H: number, refSize = SIZE): number {
  let sum = 0;
  let n = 0;
  for (let v = 0.1; v <= 0.9; v += 0.1) {
    for (let u = 0.1; u <= 0.9; u += 0.1) {
      const p = applyAffine(a, u * refSize, v * refSize);
      const q = applyAffine(b, u * refSize, v * refSize);
      sum += Math.hypot(p.x - q.x, p.y - q.y);
      n++;
    }
  }
  return (100 * sum) / n / Math.hypot(W, H);
}

function estimate(test: FloatImage, opts: PrealignOptions) {
  return estimatePrealignment(prepared, normalizeIntensity(test), opts, contentMask(test));
}

const SEARCH: PrealignOptions = { method: 'search', polarity: 'auto' };

describe('initial alignment (prealign)', () => {
  it('search recovers a large rotation + scale + shift: rotation within 2°, scale within 3 %, map within 1.5 %', () => {
    const c = gridCentre(SIZE, SIZE);
    const truth = similarityAffine(c, c, 1.25, (35 * Math.PI) / 180, { x: 0.1 * SIZE, y: -0.08 * SIZE });
    const p = estimate(transformed(truth, SIZE, SIZE), SEARCH);
    expect(p.refToTest).not.toBeNull();
    expect(p.params!.rotationDeg).toBeGreaterThan(33);
    expect(p.params!.rotationDeg).toBeLessThan(37);
    expect(Math.abs(p.params!.scaleFactor / 1.25 - 1)).toBeLessThan(0.03);
    expect(mapError(p.refToTest!, truth, SIZE, SIZE)).toBeLessThan(1.5);
    expect(p.inverted).toBe(false);
    expect(p.correlation).toBeGreaterThan(0.8);
  });

  it('search recovers a shrunk, shifted view with another size and aspect ratio (a crop, resized)', () => {
    // The test shows the reference's window x 10..150, y 30..130 (a 140×100 crop) at 0.8×: 112×80 pixels.
    const W = 112;
    const H = 80;
    const truth = composeAffine(resizeAffine(140, 100, W, H), [1, 0, -10, 0, 1, -30]);
    const p = estimate(transformed(truth, W, H), SEARCH);
    expect(p.refToTest).not.toBeNull();
    expect(Math.abs(p.params!.rotationDeg)).toBeLessThan(2);
    expect(mapError(p.refToTest!, truth, W, H)).toBeLessThan(2);
  });

  it('detects an inverted test image (and leaves polarity alone with polarity "keep")', () => {
    const c = gridCentre(SIZE, SIZE);
    const truth = similarityAffine(c, c, 0.8, (-20 * Math.PI) / 180, { x: -0.05 * SIZE, y: 0.05 * SIZE });
    const inverted = transformed(truth, SIZE, SIZE, true);
    const p = estimate(inverted, SEARCH);
    expect(p.inverted).toBe(true);
    expect(p.correlation).toBeLessThan(-0.7);
    expect(mapError(p.refToTest!, truth, SIZE, SIZE)).toBeLessThan(1.5);
    expect(estimate(inverted, { method: 'search', polarity: 'keep' }).inverted).toBe(false);
    expect(estimate(transformed(truth, SIZE, SIZE), SEARCH).inverted).toBe(false);
  });

  it('moments recover a scale and a shift (no rotation) within 5 % / 2 %', () => {
    const c = gridCentre(SIZE, SIZE);
    const truth = similarityAffine(c, c, 0.75, 0, { x: 0.12 * SIZE, y: 0.06 * SIZE });
    const p = estimate(transformed(truth, SIZE, SIZE), { method: 'moments', polarity: 'auto' });
    expect(p.refToTest).not.toBeNull();
    expect(Math.abs(p.params!.scaleFactor / 0.75 - 1)).toBeLessThan(0.05);
    expect(mapError(p.refToTest!, truth, SIZE, SIZE)).toBeLessThan(2);
  });

  it('keeps the plain resize for an image that needs no alignment, and "none" never aligns', () => {
    const same = estimate(reference, SEARCH);
    expect(same.refToTest).toBeNull();
    expect(same.correlation).toBeCloseTo(1, 5);
    const c = gridCentre(SIZE, SIZE);
    const rotated = transformed(similarityAffine(c, c, 1, Math.PI / 6), SIZE, SIZE);
    const none = estimate(rotated, { method: 'none', polarity: 'auto' });
    expect(none.refToTest).toBeNull();
    expect(none.evaluations).toBe(1);
  });
});

describe('initial alignment of speckled images (smoothed pyramid levels)', () => {
  const S = 256;
  /** Multiplicative speckle (mean 1, a Gamma(2) draw per 3 px grain, bilinear in between) on a reduced contrast. */
  function speckled(img: FloatImage, seed: number): FloatImage {
    const rand = mulberry32(seed);
    const gw = Math.ceil(S / 3);
    const grid: FloatImage = { width: gw, height: gw, channels: 1, data: Float32Array.from({ length: gw * gw }, () => -0.5 * Math.log(1 - rand()) - 0.5 * Math.log(1 - rand())) };
    const field = resizeImage(grid, S, S, 'bilinear').data;
    return { ...img, data: img.data.map((v, i) => Math.min(255, (30 + 0.35 * v) * field[i]!)) };
  }

  it('levels are the unsmoothed levels blurred by smoothing × their longest side', () => {
    const img = normalizeIntensity(speckled(generatePhantom({ seed: 1, patient: 0, width: S, noise: 4 }).image, 5));
    const plain = new PrealignReference(img, null, 0);
    const smooth = new PrealignReference(img, null, 0.02);
    expect(smooth.smoothing).toBe(0.02);
    smooth.levels.forEach((level, k) => {
      const p = plain.levels[k]!;
      expect(level.data).toEqual(gaussianBlurPlane(p.data, p.width, p.height, 0.02 * Math.max(p.width, p.height)));
    });
  });

  it('smoothing the levels (the denoise setting, factor 2) more than halves the mean map error on speckled phantoms', () => {
    const smoothing = (PREALIGN_DENOISE_FACTOR * DENOISE_SIGMA) / 128;
    const errors = { plain: [] as number[], smooth: [] as number[] };
    for (const seed of [1, 2, 3]) {
      const c = gridCentre(S, S);
      const truth = similarityAffine(c, c, 1.2, (25 * Math.PI) / 180, { x: 0.08 * S, y: -0.05 * S });
      const src = generatePhantom({ seed, patient: 1, width: S, noise: 4 }).image;
      const test = normalizeIntensity(speckled(resampleAffine(src, S, S, invertAffine(truth), { fill: 0 }).image, 10 * seed + 1));
      const ref = normalizeIntensity(speckled(generatePhantom({ seed, patient: 0, width: S, noise: 4 }).image, 10 * seed));
      for (const [key, s] of [['plain', 0], ['smooth', smoothing]] as const) {
        const p = estimatePrealignment(new PrealignReference(ref, null, s), test, SEARCH);
        errors[key].push(p.refToTest ? mapError(p.refToTest, truth, S, S, S) : 100);
      }
    }
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    // Measured: plain 5.86 / 0.66 / 4.58 % of the diagonal, smoothed 0.70 / 2.83 / 1.65 (one seed gets worse).
    expect(mean(errors.smooth)).toBeLessThan(mean(errors.plain) / 2);
  });
});

describe('trusting the alignment search (evidence from the images)', () => {
  const base = { gain: 0.1, distance: 0.3, runnerUpMargin: 0.05, framePaddingIoU: null };

  it('trusts a near correction on its gain alone and never one without gain', () => {
    expect(trustAlignment(base, 0.1, 0.02).trusted).toBe(true);
    expect(trustAlignment({ ...base, gain: 0.019 }, 0.9, 0.02)).toEqual({ trusted: false, reason: 'gain 0.019 over the plain resize < 0.02' });
  });

  it('calls a far alignment at a low correlation a guess, and a far one without a clear optimum too', () => {
    // The fetal-head failures: shifts of 30–40 % (d ≈ 1.2–1.6) at correlation 0.18–0.24.
    const far = { ...base, distance: 1.4 };
    const guess = trustAlignment(far, 0.21, 0.02);
    expect(guess.trusted).toBe(false);
    expect(guess.reason).toBe(`far (d 1.400) at a low correlation (0.210 < ${FAR_MIN_CORRELATION}): a guess`);
    expect(trustAlignment({ ...far, runnerUpMargin: 0.01 }, 0.8, 0.02).trusted).toBe(false);
    expect(trustAlignment(far, 0.8, 0.02).trusted).toBe(true);
    expect(trustAlignment({ ...far, runnerUpMargin: null }, 0.8, 0.02).trusted).toBe(true);
  });

  it('keeps a far, strong alignment (the rotation + scale + shift above) and records its evidence', () => {
    const c = gridCentre(SIZE, SIZE);
    const truth = similarityAffine(c, c, 1.25, (35 * Math.PI) / 180, { x: 0.1 * SIZE, y: -0.08 * SIZE });
    const p = estimate(transformed(truth, SIZE, SIZE), SEARCH);
    expect(p.evidence!.trusted).toBe(true);
    expect(p.evidence!.distance).toBeGreaterThan(NEAR_DISTANCE);
    expect(p.evidence!.gain).toBeCloseTo(p.correlation - p.resizeCorrelation, 6);
  });

  it('keeps the plain resize for an unrelated image (texture only): no far guess', () => {
    const rand = mulberry32(7);
    const noise: FloatImage = { width: SIZE, height: SIZE, channels: 1, data: Float32Array.from({ length: SIZE * SIZE }, () => 255 * rand()) };
    const blurred = { ...noise, data: gaussianBlurPlane(noise.data, SIZE, SIZE, 4) };
    const p = estimate(blurred, SEARCH);
    expect(p.refToTest).toBeNull();
    expect(p.evidence!.trusted).toBe(false);
  });
});

describe('a fixed field of view (ultrasound sector)', () => {
  const S = 128;
  /** A sector (apex at the top centre, ±40°) of `content` on black: the scanner's frame, the same in every image. */
  function inSector(content: FloatImage): FloatImage {
    const data = new Float32Array(S * S);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const dx = x - (S - 1) / 2;
        const inside = Math.hypot(dx, y) < 0.95 * S && Math.abs(Math.atan2(dx, y)) < (40 * Math.PI) / 180;
        data[y * S + x] = inside ? 20 + 0.9 * content.data[y * S + x]! : 0;
      }
    }
    return { width: S, height: S, channels: 1, data };
  }

  it('keeps the plain resize when both images share the padded frame, whatever moves inside it', () => {
    const anatomy = generatePhantom({ seed: 3, patient: 0, width: S, noise: 4 }).image;
    const ref = inSector(anatomy);
    const c = gridCentre(S, S);
    // The anatomy inside moves by 12 % (the heart in a fixed sector); the sector does not.
    const moved = inSector(resampleAffine(anatomy, S, S, invertAffine(similarityAffine(c, c, 1, 0, { x: 0.12 * S, y: 0 })), { fill: 0 }).image);
    const prep = new PrealignReference(normalizeIntensity(ref), contentMask(ref));
    const p = estimatePrealignment(prep, normalizeIntensity(moved), SEARCH, contentMask(moved));
    expect(p.refToTest).toBeNull();
    expect(p.evidence!.framePaddingIoU).toBeGreaterThanOrEqual(FIXED_FRAME_IOU);
    expect(p.evidence!.reason).toMatch(/^fixed field of view/);
    expect(p.evaluations).toBe(1);
    expect(p.inverted).toBe(false);
    // An inverted copy inside the same sector correlates strongly negatively: inverted.
    const invertedAnatomy = { ...anatomy, data: anatomy.data.map((v) => 255 - v) };
    const inv = inSector(invertedAnatomy);
    expect(estimatePrealignment(prep, normalizeIntensity(inv), SEARCH, contentMask(inv)).inverted).toBe(true);
  });

  it('searches as before when only the test is padded (a shifted image)', () => {
    const c = gridCentre(SIZE, SIZE);
    const truth = similarityAffine(c, c, 1, 0, { x: 0.2 * SIZE, y: 0 });
    const p = estimate(transformed(truth, SIZE, SIZE), SEARCH);
    expect(p.evidence!.framePaddingIoU).toBeNull();
    expect(p.refToTest).not.toBeNull();
    expect(mapError(p.refToTest!, truth, SIZE, SIZE)).toBeLessThan(1.5);
  });
});
