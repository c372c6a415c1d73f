import { describe, expect, it } from 'vitest';
import { composeAffine, invertAffine, resampleLabelAffine, resizeAffine, type Affine2D } from '../../src/image/affine.js';
import { generatePhantom } from '../../src/image/phantom.js';
import { resizeLabelNearest } from '../../src/image/resize.js';
import type { LabelMap } from '../../src/image/types.js';
import { upsampleFlowPlanes, warpLabelNearest } from '../../src/warp/spatial.js';
import { plainResizeMap, warpLabelThroughFrame, workingImage, workingOneHot } from '../../src/warp/working-frame.js';

const R = 64;
const ref = generatePhantom({ seed: 2, patient: 0, width: 200, height: 160, noise: 0 });

function agreement(a: LabelMap, b: LabelMap): number {
  let same = 0;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] === b.data[i]) same++;
  return same / a.data.length;
}

/** A test view of the reference through refToTest on a W×H grid: its label is the truth. */
function view(refToTest: Affine2D, W: number, H: number): LabelMap {
  return resampleLabelAffine(ref.label, W, H, invertAffine(refToTest));
}

describe('working frames (mixed sizes and aspect ratios)', () => {
  it('the label warp round-trips through an aligned frame for other sizes and aspect ratios (zero flow)', () => {
    const zero = new Float32Array(R * R * 2);
    const cases: { refToTest: Affine2D; W: number; H: number }[] = [
      // a crop of the reference's window x 20..180, y 0..160 shown at 0.7× (112×112: square from a 200×160 image)
      { refToTest: composeAffine(resizeAffine(160, 160, 112, 112), [1, 0, -20, 0, 1, 0]), W: 112, H: 112 },
      // padded to a tall 200×260 canvas (reference at the top-left + 30 px down), shown at 1.3×
      { refToTest: composeAffine(resizeAffine(200, 260, 260, 338), [1, 0, 0, 0, 1, 30]), W: 260, H: 338 },
      // rotated by 90° onto a 160×200 grid
      { refToTest: [0, -1, 159, 1, 0, 0], W: 160, H: 200 },
    ];
    for (const c of cases) {
      const frame = { width: c.W, height: c.H, warpToOriginal: composeAffine(c.refToTest, plainResizeMap(R, ref.label.width, ref.label.height)) };
      const label = warpLabelThroughFrame(ref.label, zero, R, frame, 'nearest');
      expect(label.width).toBe(c.W);
      expect(label.height).toBe(c.H);
      expect(agreement(label, view(c.refToTest, c.W, c.H))).toBeGreaterThan(0.995);
    }
  });

  it('a flow in the working grid moves the label by that many working pixels, in the frame', () => {
    // Frame: the reference itself at 2× (400×320). Flow +2 working px in x: the test pixel reads the reference
    // 2·(200/64) reference pixels to the right.
    const refToTest: Affine2D = resizeAffine(200, 160, 400, 320);
    const frame = { width: 400, height: 320, warpToOriginal: composeAffine(refToTest, plainResizeMap(R, 200, 160)) };
    const flow = new Float32Array(R * R * 2);
    for (let i = 0; i < R * R; i++) flow[2 * i] = 2;
    const label = warpLabelThroughFrame(ref.label, flow, R, frame, 'nearest');
    const shift = 2 * (200 / R);
    const expected = resampleLabelAffine(ref.label, 400, 320, composeAffine([1, 0, shift, 0, 1, 0], invertAffine(refToTest)));
    expect(agreement(label, expected)).toBeGreaterThan(0.995);
  });

  it('displacement scale α: 1 is Eq. 4, 0 copies the reference mask even through an aligned frame (Fig. 6)', () => {
    const refToTest: Affine2D = [0, -1, 159, 1, 0, 0]; // 90° onto 160×200
    const frame = { width: 160, height: 200, warpToOriginal: composeAffine(refToTest, plainResizeMap(R, 200, 160)) };
    const flow = new Float32Array(R * R * 2).fill(0.7);
    expect(Array.from(warpLabelThroughFrame(ref.label, flow, R, frame, 'nearest', 1).data)).toEqual(Array.from(warpLabelThroughFrame(ref.label, flow, R, frame).data));
    const copied = warpLabelThroughFrame(ref.label, flow, R, frame, 'nearest', 0);
    expect(agreement(copied, resizeLabelNearest(ref.label, 160, 200))).toBeGreaterThan(0.995);
  });

  it('the plain-resize frame is exactly the paper path (flow upsampled to the image, label sampled)', () => {
    const flow = new Float32Array(R * R * 2).map((_, i) => Math.sin(i * 0.01) * 1.5);
    const frame = { width: 150, height: 90, warpToOriginal: null };
    const viaFrame = warpLabelThroughFrame(ref.label, flow, R, frame, 'nearest');
    const direct = warpLabelNearest(ref.label, upsampleFlowPlanes(flow, R, R, 150, 90), 150, 90);
    expect(Array.from(viaFrame.data)).toEqual(Array.from(direct.data));
    // zero flow = the reference label resized
    expect(agreement(warpLabelThroughFrame(ref.label, new Float32Array(R * R * 2), R, frame), resizeLabelNearest(ref.label, 150, 90))).toBeGreaterThan(0.99);
  });

  it('working copies and one-hots follow the frame; pixels outside the image take the fill', () => {
    const refToTest = composeAffine(resizeAffine(160, 160, 112, 112), [1, 0, -20, 0, 1, 0]);
    const frame = { width: 112, height: 112, warpToOriginal: composeAffine(refToTest, plainResizeMap(R, 200, 160)) };
    const test = { width: 112, height: 112, channels: 1 as const, data: new Float32Array(112 * 112).fill(0.5) };
    const fill = new Float32Array(R * R).fill(0.9);
    const { work, inside } = workingImage(test, frame, R, null, fill);
    // The test shows reference columns 20..180 of 200: working columns below 20·64/200 ≈ 6.4 lie outside it.
    expect(inside[32 * R + 2]).toBe(0);
    expect(work[32 * R + 2]).toBeCloseTo(0.9, 6);
    expect(inside[32 * R + 32]).toBe(1);
    expect(work[32 * R + 32]).toBeCloseTo(0.5, 6);
    const testLabel = view(refToTest, 112, 112);
    const oneHot = workingOneHot(testLabel, [1, 2, 3], frame, R);
    const refOneHot = workingOneHot(ref.label, [1, 2, 3], { width: 200, height: 160, warpToOriginal: null }, R);
    // Inside the view, the test's one-hot in its aligned frame matches the reference's own (same anatomy).
    let diff = 0;
    let n = 0;
    for (let y = 8; y < 56; y++) for (let x = 10; x < 54; x++) for (let k = 0; k < 4; k++) {
      diff += Math.abs(oneHot[(y * R + x) * 4 + k]! - refOneHot[(y * R + x) * 4 + k]!);
      n++;
    }
    expect(diff / n).toBeLessThan(0.03);
    // Outside the view: background only.
    expect(oneHot[(32 * R + 1) * 4]).toBeCloseTo(1, 6);
  });
});
