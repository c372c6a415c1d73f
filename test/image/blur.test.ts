import { describe, expect, it } from 'vitest';
import { gaussianBlurPlane, gaussianKernel } from '../../src/image/blur.js';

describe('gaussianBlurPlane', () => {
  it('the kernel has radius ⌈3σ⌉, sums to 1 and follows exp(−i²/2σ²)', () => {
    const k = gaussianKernel(1.5);
    expect(k.length).toBe(2 * 5 + 1);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(k[5]! / k[6]!).toBeCloseTo(Math.exp(1 / (2 * 1.5 * 1.5)), 5);
    expect(gaussianKernel(0.2).length).toBe(3); // radius at least 1
  });

  it('an impulse far from the edges becomes the outer product of the kernel; a constant plane stays constant', () => {
    const W = 21;
    const plane = new Float32Array(W * W);
    plane[10 * W + 10] = 1;
    const out = gaussianBlurPlane(plane, W, W, 1.5);
    const k = gaussianKernel(1.5);
    for (const [dx, dy] of [[0, 0], [1, 0], [0, 2], [3, -4], [5, 5]] as const) {
      expect(out[(10 + dy) * W + 10 + dx]).toBeCloseTo(k[5 + dx]! * k[5 + dy]!, 7);
    }
    expect(out[0]).toBe(0);
    const flat = gaussianBlurPlane(new Float32Array(6 * 4).fill(0.3), 6, 4, 2);
    for (const v of flat) expect(v).toBeCloseTo(0.3, 6); // edges clamped: no darkening at the border
  });

  it('rejects a plane of the wrong size and a σ that is not positive', () => {
    expect(() => gaussianBlurPlane(new Float32Array(10), 3, 3, 1)).toThrow(/10 values is not 3x3/);
    expect(() => gaussianBlurPlane(new Float32Array(9), 3, 3, 0)).toThrow(/sigma must be > 0/);
  });
});
