/**
 * The area check's global scaling (pipeline/quality.ts globalAreaScale): what the initial alignment and the flow's
 * affine part alone do to a class's share of the image, so a zoomed image's anatomy is not called the wrong size.
 */
import { describe, expect, it } from 'vitest';
import { flowAffineFit } from '../../src/eval/quality-signals.js';
import { scoreQuality, type ImageSignalsInput } from '../../src/eval/quality-score.js';
import { globalAreaScale } from '../../src/pipeline/quality.js';

const R = 16;

/** φ(x) = (s − 1)·(x − c) + t: the working pixel x looks at the reference at c + s·(x − c) + t. */
function scalingFlow(s: number, t: [number, number] = [0, 0]): Float32Array {
  const c = (R - 1) / 2;
  const flow = new Float32Array(R * R * 2);
  for (let y = 0; y < R; y++) {
    for (let x = 0; x < R; x++) {
      flow[(y * R + x) * 2] = (s - 1) * (x - c) + t[0];
      flow[(y * R + x) * 2 + 1] = (s - 1) * (y - c) + t[1];
    }
  }
  return flow;
}

describe('globalAreaScale', () => {
  it('the affine fit of a scaling + shift flow is exact', () => {
    const fit = flowAffineFit(scalingFlow(0.5, [2, -1]), R, R);
    for (const [got, want] of fit.linear.map((v, i) => [v, [-0.5, 0, 0, -0.5][i]!])) expect(got).toBeCloseTo(want, 10);
    expect(fit.offset[0]).toBeCloseTo(2, 10);
    expect(fit.offset[1]).toBeCloseTo(-1, 10);
  });

  it('plain resize: 1 / det M (a flow that looks at half the reference size shows its anatomy 4× bigger)', () => {
    expect(globalAreaScale(scalingFlow(1), R, undefined, 100, 80)).toBeCloseTo(1, 10);
    expect(globalAreaScale(scalingFlow(0.5), R, undefined, 100, 80)).toBeCloseTo(4, 10);
    expect(globalAreaScale(scalingFlow(2), R, { width: 100, height: 80, warpToOriginal: null }, 100, 80)).toBeCloseTo(0.25, 10);
  });

  it('an aligned working frame counts with its own scale: the working grid covering a quarter of the test image', () => {
    // Working pixel → test pixel at half the plain resize's scale in each axis: the grid shows a quarter of the image.
    const frame = { width: 64, height: 64, warpToOriginal: [2, 0, 10, 0, 2, 5] as const };
    expect(globalAreaScale(scalingFlow(1), R, frame, 64, 64)).toBeCloseTo(0.25, 10);
    expect(globalAreaScale(scalingFlow(-1), R, undefined, 64, 64)).toBeCloseTo(1, 10); // a point reflection: det 1
    const mirrored = new Float32Array(R * R * 2); // φx = −2·(x − c): x ↦ −x about the centre, det M = −1
    for (let i = 0; i < R * R; i++) mirrored[2 * i] = -2 * ((i % R) - (R - 1) / 2);
    expect(globalAreaScale(mirrored, R, undefined, 64, 64)).toBeUndefined();
  });
});

describe('the area check uses the global scaling', () => {
  const image = (k: number, area: number, scale?: number): ImageSignalsInput => ({
    id: `i${k}`,
    perClass: [{ cls: 1, area, components: 1, largestShare: 1, referenceArea: 0.1, ...(scale !== undefined ? { referenceAreaScale: scale } : {}) }],
  });
  it('2.2× the reference share is right for an image zoomed in 1.5× (scale 2.25), wrong without the zoom', () => {
    const zoomed = scoreQuality([image(0, 0.22, 2.25)]);
    expect(zoomed[0]!.flag).toBe('ok');
    expect(zoomed[0]!.perClass[0]!.signals['areaVsReference']).toBeCloseTo(Math.abs(Math.log(0.22 / 0.225)), 10);
    const plain = scoreQuality([image(0, 0.22)]);
    expect(plain[0]!.flag).toBe('check');
    expect(plain[0]!.reasons[0]).toMatch(/area 2\.2× off the reference's/);
  });
});
