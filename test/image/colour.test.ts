import { describe, expect, it } from 'vitest';
import { chooseColourProjection, LUMINANCE_WEIGHTS, projectToGrey } from '../../src/image/colour.js';
import { mulberry32 } from '../../src/image/random.js';
import type { FloatImage, LabelMap } from '../../src/image/types.js';

/**
 * A disc (label 1) on a 64×64 RGB image; `inside`/`outside` give each channel's mean, `noise` each channel's
 * independent uniform noise (standard deviation), `sharedNoise` one noise value added to every channel.
 */
function rgbDisc(inside: number[], outside: number[], noise: number[], seed = 1, sharedNoise = 0): { image: FloatImage; label: LabelMap } {
  const W = 64;
  const rng = mulberry32(seed);
  const data = new Float32Array(W * W * 3);
  const lab = new Uint8Array(W * W);
  for (let y = 0; y < W; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const isIn = (x - 32) ** 2 + (y - 30) ** 2 < 15 ** 2;
      lab[i] = isIn ? 1 : 0;
      const shared = sharedNoise * (rng() - 0.5) * 2 * Math.sqrt(3);
      for (let c = 0; c < 3; c++) data[3 * i + c] = (isIn ? inside[c]! : outside[c]!) + shared + noise[c]! * (rng() - 0.5) * 2 * Math.sqrt(3);
    }
  }
  return { image: { width: W, height: W, channels: 3, data }, label: { width: W, height: W, data: lab } };
}

describe('colour projection', () => {
  it('projectToGrey is w·rgb and leaves grey images alone', () => {
    const img: FloatImage = { width: 2, height: 1, channels: 3, data: Float32Array.from([10, 20, 30, 1, 2, 3]) };
    expect(Array.from(projectToGrey(img, [0, 1, 0]).data)).toEqual([20, 2]);
    expect(projectToGrey(img, LUMINANCE_WEIGHTS).data[0]).toBeCloseTo(0.299 * 10 + 0.587 * 20 + 0.114 * 30, 4);
    const grey: FloatImage = { width: 1, height: 1, channels: 1, data: Float32Array.from([7]) };
    expect(projectToGrey(grey, [0, 0, 1])).toBe(grey);
  });

  it("auto picks the channel that shows the reference's edges (blue here: red is noise, green is flat)", () => {
    const { image, label } = rgbDisc([100, 128, 200], [100, 128, 60], [40, 0, 5]);
    const p = chooseColourProjection(image, label, 'auto');
    expect(p.name).toBe('blue');
    expect(p.weights).toEqual([0, 0, 1]);
    expect(p.fisher.blue!).toBeGreaterThan(10 * p.fisher.luminance!);
    expect(p.reason).toMatch(/blue/);
  });

  it('auto takes the Fisher direction when no single channel shows the edge (opposite contrast in red and green)', () => {
    // Red rises inside, green falls inside by the same amount: luminance nearly cancels, red − green shows it best.
    const { image, label } = rgbDisc([150, 90, 100], [110, 130, 100], [12, 12, 12]);
    const p = chooseColourProjection(image, label, 'auto');
    expect(p.name).toBe('lda');
    // ±(red − green), signed so that it correlates positively with luminance; blue (no edge) nearly unused.
    expect(p.weights[0] * p.weights[1]).toBeLessThan(0);
    expect(Math.min(Math.abs(p.weights[0]), Math.abs(p.weights[1]))).toBeGreaterThan(0.35);
    expect(Math.abs(p.weights[2])).toBeLessThan(0.15);
    expect(p.weights[0] * 0.299 + p.weights[1] * 0.587 + p.weights[2] * 0.114).toBeGreaterThan(0);
    expect(Math.abs(p.weights[0]) + Math.abs(p.weights[1]) + Math.abs(p.weights[2])).toBeCloseTo(1, 2);
    expect(p.fisher.lda!).toBeGreaterThan(1.15 * Math.max(p.fisher.red!, p.fisher.green!));
  });

  it('keeps luminance for a grey image stored as RGB, honours a fixed mode, passes grey references', () => {
    const same = rgbDisc([200, 200, 200], [60, 60, 60], [0, 0, 0], 1, 5);
    expect(chooseColourProjection(same.image, same.label, 'auto').name).toBe('luminance');
    expect(chooseColourProjection(same.image, same.label, 'red')).toMatchObject({ name: 'red', weights: [1, 0, 0] });
    const grey: FloatImage = { width: 64, height: 64, channels: 1, data: new Float32Array(64 * 64) };
    expect(chooseColourProjection(grey, same.label, 'auto')).toMatchObject({ name: 'luminance', fisher: {} });
    expect(() => chooseColourProjection(grey, { width: 2, height: 2, data: new Uint8Array(4) })).toThrow(/differ in size/);
  });
});
