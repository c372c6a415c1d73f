import { describe, expect, it } from 'vitest';
import {
  AUGMENT_PRESETS, augmentOneHot, augmentPair, augmentWithParams, identityAugmentParams, outputToSourceMatrix,
  sampleAugmentParams, type AugmentPreset,
} from '../../src/warp/augment.js';
import { mulberry32 } from '../../src/warp/rng.js';

const W = 40;
const H = 32;

function squareScene(x0: number, y0: number, size: number): { image: Float32Array; labels: Uint8Array } {
  const image = new Float32Array(W * H).fill(0.1);
  const labels = new Uint8Array(W * H);
  for (let y = y0; y < y0 + size; y++) for (let x = x0; x < x0 + size; x++) { image[y * W + x] = 0.9; labels[y * W + x] = 2; }
  return { image, labels };
}

const noColour: AugmentPreset = { ...AUGMENT_PRESETS.wide, brightness: 0, contrast: 0, gamma: [1, 1] };

describe('augmentation', () => {
  it('identity parameters leave image and labels unchanged (bit-identical)', () => {
    const { image, labels } = squareScene(5, 6, 9);
    const rgb = new Float32Array(W * H * 3).map((_, i) => (i % 7) / 7);
    const out = augmentWithParams(image, labels, W, H, identityAugmentParams(W, H));
    expect(out.outputToSource.map((v) => v + 0)).toEqual([1, 0, 0, 0, 1, 0]);
    expect(Array.from(out.image)).toEqual(Array.from(image));
    expect(Array.from(out.labels)).toEqual(Array.from(labels));
    expect(Array.from(augmentWithParams(rgb, labels, W, H, identityAugmentParams(W, H)).image)).toEqual(Array.from(rgb));
  });

  it('a pure translation moves a square by the expected pixels (image and labels)', () => {
    const { image, labels } = squareScene(5, 6, 9);
    const expected = squareScene(5 + 7, 6 - 4, 9);
    const params = { ...identityAugmentParams(W, H), translateX: 7, translateY: -4 };
    const out = augmentWithParams(image, labels, W, H, params, { fillValue: 0.1 });
    expect(Array.from(out.labels)).toEqual(Array.from(expected.labels));
    expect(Array.from(out.image)).toEqual(Array.from(expected.image));
  });

  it('a 180° rotation about the centre flips the label map exactly', () => {
    const { image, labels } = squareScene(3, 4, 6);
    labels[0] = 1; // asymmetric marker
    const out = augmentWithParams(image, labels, W, H, { ...identityAugmentParams(W, H), rotationDeg: 180 });
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) expect(out.labels[y * W + x]).toBe(labels[(H - 1 - y) * W + (W - 1 - x)]);
  });

  it('a centred crop of half the size zooms by 2 about the crop centre', () => {
    const params = { ...identityAugmentParams(W, H), crop: { x: 10, y: 8, width: 20, height: 16 } };
    const m = outputToSourceMatrix(params, W, H);
    // output pixel centre (u + 0.5) · 0.5 + 10 − 0.5 in x
    expect(m[0]).toBeCloseTo(0.5, 12);
    expect(m[2]).toBeCloseTo(10 + 0.25 - 0.5, 12);
    expect(m[4]).toBeCloseTo(0.5, 12);
    expect(m[5]).toBeCloseTo(8 + 0.25 - 0.5, 12);
  });

  it('mask and image stay aligned under random wide-preset draws', () => {
    const { image, labels } = squareScene(10, 8, 14);
    const rng = mulberry32(7);
    for (let t = 0; t < 10; t++) {
      const out = augmentPair(image, labels, W, H, noColour, rng, { fillValue: 0.1 });
      let agree = 0;
      let fg = 0;
      for (let i = 0; i < W * H; i++) {
        if ((out.image[i]! > 0.5) === (out.labels[i] === 2)) agree++;
        if (out.labels[i] === 2) fg++;
      }
      expect(agree / (W * H)).toBeGreaterThan(0.97);
      expect(fg).toBeGreaterThan(0);
    }
  });

  it('augmentOneHot matches augmentPair for the same seed (argmax of the soft planes ≈ nearest labels)', () => {
    const { image, labels } = squareScene(10, 8, 14);
    const K = 3;
    const oneHot = new Float32Array(W * H * K);
    for (let i = 0; i < W * H; i++) oneHot[i * K + labels[i]!] = 1;
    const a = augmentPair(image, labels, W, H, 'paper', mulberry32(3));
    const b = augmentOneHot({ image, oneHot, classesWithBackground: K, width: W, height: H }, mulberry32(3), 'paper');
    expect(b.params).toEqual(a.params);
    expect(Array.from(b.image)).toEqual(Array.from(a.image));
    let agree = 0;
    for (let i = 0; i < W * H; i++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (b.oneHot[i * K + k]! > b.oneHot[i * K + best]!) best = k;
      if (best === a.labels[i]) agree++;
      let sum = 0;
      for (let k = 0; k < K; k++) sum += b.oneHot[i * K + k]!;
      expect(sum).toBeCloseTo(1, 5); // outside the source: background plane 1
    }
    expect(agree / (W * H)).toBeGreaterThan(0.97);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const { image, labels } = squareScene(10, 8, 14);
    const a = augmentPair(image, labels, W, H, 'wide', mulberry32(42));
    const b = augmentPair(image, labels, W, H, 'wide', mulberry32(42));
    const c = augmentPair(image, labels, W, H, 'wide', mulberry32(43));
    expect(Array.from(a.image)).toEqual(Array.from(b.image));
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(a.params).toEqual(b.params);
    expect(c.params).not.toEqual(a.params);
  });

  it('draws parameters inside the preset ranges (Table 13)', () => {
    const rng = mulberry32(1);
    for (const name of ['paper', 'wide'] as const) {
      const p = AUGMENT_PRESETS[name];
      for (let t = 0; t < 300; t++) {
        const q = sampleAugmentParams(name, W, H, rng);
        expect(q.rotationDeg).toBeGreaterThanOrEqual(p.rotationDeg[0]);
        expect(q.rotationDeg).toBeLessThanOrEqual(p.rotationDeg[1]);
        expect(Math.abs(q.translateX) / W).toBeGreaterThanOrEqual(p.translateFrac[0] - 1e-12);
        expect(Math.abs(q.translateX) / W).toBeLessThanOrEqual(p.translateFrac[1]);
        expect(Math.abs(q.translateY) / H).toBeLessThanOrEqual(p.translateFrac[1]);
        expect(q.scale).toBeGreaterThanOrEqual(p.scale[0]);
        expect(q.scale).toBeLessThanOrEqual(p.scale[1]);
        expect(Math.abs(q.shearDeg)).toBeLessThanOrEqual(p.shearDeg[1]);
        expect(q.crop.x).toBeGreaterThanOrEqual(0);
        expect(q.crop.x + q.crop.width).toBeLessThanOrEqual(W + 1e-9);
        expect(q.crop.y + q.crop.height).toBeLessThanOrEqual(H + 1e-9);
        // (a crop clamped to the image by its aspect ratio can lose some area)
        expect(q.crop.width * q.crop.height).toBeGreaterThanOrEqual(0.5 * p.cropScale[0] * W * H);
        expect(q.gamma).toBeGreaterThanOrEqual(p.gamma[0]);
        expect(q.gamma).toBeLessThanOrEqual(p.gamma[1]);
        expect(Math.abs(q.brightness - 1)).toBeLessThanOrEqual(p.brightness);
      }
    }
    expect(AUGMENT_PRESETS.paper.rotationDeg).toEqual([-10, 10]);
    expect(AUGMENT_PRESETS.wide.rotationDeg).toEqual([-30, 30]);
    expect(AUGMENT_PRESETS.wide.translateFrac).toEqual([0.1, 0.3]);
  });

  it('colour jitter: brightness scales, contrast keeps the mean, output clamped to [0,1]', () => {
    const image = new Float32Array(W * H).map((_, i) => (i % 10) / 10);
    const labels = new Uint8Array(W * H);
    const b = augmentWithParams(image, labels, W, H, { ...identityAugmentParams(W, H), brightness: 1.5 });
    for (let i = 0; i < W * H; i++) expect(b.image[i]).toBeCloseTo(Math.min(1, image[i]! * 1.5), 6);
    const c = augmentWithParams(image, labels, W, H, { ...identityAugmentParams(W, H), contrast: 0.5 });
    const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(c.image)).toBeCloseTo(mean(image), 5);
    const g = augmentWithParams(image, labels, W, H, { ...identityAugmentParams(W, H), gamma: 2 });
    for (let i = 0; i < W * H; i++) expect(g.image[i]).toBeCloseTo(image[i]! ** 2, 6);
  });

  it('rejects inconsistent sizes', () => {
    expect(() => augmentPair(new Float32Array(10), new Uint8Array(W * H), W, H, 'paper', mulberry32(1))).toThrow(/multiple/);
    expect(() => augmentPair(new Float32Array(W * H), new Uint8Array(5), W, H, 'paper', mulberry32(1))).toThrow(/label length/);
  });
});
