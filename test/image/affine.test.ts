import { describe, expect, it } from 'vitest';
import {
  affineScale,
  applyAffine,
  composeAffine,
  gridCentre,
  invertAffine,
  resampleAffine,
  resampleLabelAffine,
  resizeAffine,
  similarityAffine,
  type Affine2D,
} from '../../src/image/affine.js';
import { resizeImage } from '../../src/image/resize.js';
import type { FloatImage } from '../../src/image/types.js';

const ramp = (w: number, h: number): FloatImage => {
  const data = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = 3 * x + 7 * y;
  return { width: w, height: h, channels: 1, data };
};

describe('affine maps', () => {
  it('compose, invert and apply agree', () => {
    const m: Affine2D = [1.2, -0.3, 5, 0.4, 0.9, -2];
    const n: Affine2D = [0.5, 0.1, 1, -0.2, 1.1, 3];
    const p = { x: 3.5, y: -1.25 };
    const viaCompose = applyAffine(composeAffine(m, n), p.x, p.y);
    const inner = applyAffine(n, p.x, p.y);
    const stepwise = applyAffine(m, inner.x, inner.y);
    expect(viaCompose.x).toBeCloseTo(stepwise.x, 12);
    expect(viaCompose.y).toBeCloseTo(stepwise.y, 12);
    const back = applyAffine(composeAffine(invertAffine(m), m), p.x, p.y);
    expect(back.x).toBeCloseTo(p.x, 12);
    expect(back.y).toBeCloseTo(p.y, 12);
    expect(() => invertAffine([1, 2, 0, 2, 4, 0])).toThrow(/singular/);
  });

  it('a similarity maps the centre to the centre plus the shift, with the right scale and angle', () => {
    const m = similarityAffine({ x: 10, y: 20 }, { x: 50, y: 60 }, 2, Math.PI / 2, { x: 3, y: -4 });
    const c = applyAffine(m, 10, 20);
    expect(c.x).toBeCloseTo(53, 12);
    expect(c.y).toBeCloseTo(56, 12);
    // +x in the source becomes +y (y down: a quarter turn clockwise on screen), doubled.
    const px = applyAffine(m, 11, 20);
    expect(px.x - c.x).toBeCloseTo(0, 12);
    expect(px.y - c.y).toBeCloseTo(2, 12);
    expect(affineScale(m)).toBeCloseTo(2, 12);
    expect(gridCentre(5, 8)).toEqual({ x: 2, y: 3.5 });
  });

  it('resizeAffine is the pixel-centre geometry of resizeImage', () => {
    const m = resizeAffine(4, 4, 8, 8);
    // output pixel 1 of an 8-px grid samples input (1 + 0.5)·4/8 − 0.5 = 0.25
    expect(applyAffine(invertAffine(m), 1, 1).x).toBeCloseTo(0.25, 12);
  });
});

describe('resampleAffine / resampleLabelAffine', () => {
  it('the identity map returns the image; an integer shift gives a shifted copy with the fill outside', () => {
    const img = ramp(9, 7);
    const same = resampleAffine(img, 9, 7, [1, 0, 0, 0, 1, 0]);
    expect(Array.from(same.image.data)).toEqual(Array.from(img.data));
    expect(same.inside.every((v) => v === 1)).toBe(true);
    const shifted = resampleAffine(img, 9, 7, [1, 0, 2, 0, 1, -1], { fill: -5 });
    // out(x, y) = img(x + 2, y − 1)
    expect(shifted.image.data[3 * 9 + 1]).toBe(img.data[2 * 9 + 3]);
    expect(shifted.image.data[0]).toBe(-5); // source row −1: outside
    expect(shifted.inside[0]).toBe(0);
    expect(shifted.image.data[3 * 9 + 8]).toBe(-5); // source column 10: outside
  });

  it('bilinear on a linear ramp is exact at fractional positions; shrinking box-filters first', () => {
    const img = ramp(16, 16);
    const half = resampleAffine(img, 16, 16, [1, 0, 0.25, 0, 1, 0.5], { fill: 'border' });
    expect(half.image.data[5 * 16 + 5]).toBeCloseTo(3 * 5.25 + 7 * 5.5, 4);
    // A 4× shrink through the map equals resizeImage 'area' (the box filter) on this ramp.
    const map = resizeAffine(4, 4, 16, 16);
    const small = resampleAffine(img, 4, 4, map);
    const area = resizeImage(img, 4, 4, 'area');
    for (let i = 0; i < 16; i++) expect(small.image.data[i]).toBeCloseTo(area.data[i]!, 4);
  });

  it('labels are resampled nearest-neighbour, background outside', () => {
    const label = { width: 4, height: 4, data: Uint8Array.from([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 0, 0, 3, 3, 0, 0]) };
    const up = resampleLabelAffine(label, 8, 8, invertAffine(resizeAffine(4, 4, 8, 8)));
    expect(up.data[0]).toBe(1);
    expect(up.data[7]).toBe(2);
    expect(up.data[7 * 8]).toBe(3);
    const shifted = resampleLabelAffine(label, 4, 4, [1, 0, 3, 0, 1, 0], 9);
    expect(Array.from(shifted.data.slice(0, 4))).toEqual([2, 9, 9, 9]);
  });
});
