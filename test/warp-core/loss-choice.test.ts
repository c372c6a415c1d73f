import { describe, expect, it } from 'vitest';
import { chooseImageLoss, paddingFraction, noiseRatio } from '../../src/warp/loss-choice.js';
import { generatePhantom } from '../../src/image/phantom.js';
import { mulberry32 } from '../../src/image/random.js';
import { toWorkingImage } from '../../src/warp/model.js';

const R = 64;
const phantomWork = (noise: number): Float32Array => toWorkingImage(generatePhantom({ seed: 1, patient: 0, width: 128, noise }).image, R);

describe('image loss auto-choice (App. B.1 rule)', () => {
  it('keeps SSIM for a chest phantom without padding or strong noise', () => {
    const c = chooseImageLoss(phantomWork(6), R, 'auto');
    expect(c.kind).toBe('ssim');
    expect(c.reason).toMatch(/SSIM/);
    expect(c.noiseRatio).toBeLessThan(0.25);
  });

  it('picks NCC when a large part is black padding (an ultrasound sector, a letter-boxed scan)', () => {
    const work = phantomWork(6);
    // Keep a central disc, pad the rest with exact zeros.
    for (let y = 0; y < R; y++) for (let x = 0; x < R; x++) if ((x - 32) ** 2 + (y - 32) ** 2 > 22 ** 2) work[y * R + x] = 0;
    const c = chooseImageLoss(work, R, 'auto');
    expect(c.kind).toBe('ncc');
    expect(c.reason).toMatch(/padd/);
    expect(c.paddingFraction).toBeGreaterThan(0.3);
  });

  it('picks NCC for speckled images, and the user choice always wins', () => {
    const rng = mulberry32(5);
    // Multiplicative speckle on a low-contrast copy (0.2 + 0.5·v), kept inside (0, 1): no clipped padding.
    const work = phantomWork(0).map((v) => (0.2 + 0.5 * v) * (0.3 + 1.2 * rng()));
    const c = chooseImageLoss(work, R, 'auto');
    expect(c.kind).toBe('ncc');
    expect(c.reason).toMatch(/nois/);
    expect(chooseImageLoss(work, R, 'ssim')).toMatchObject({ kind: 'ssim', reason: expect.stringMatching(/--loss ssim/) });
  });

  it('measures padding windows and noise as stated', () => {
    const grey = new Float32Array(16 * 16).fill(0.5);
    expect(paddingFraction(grey, 16, 16)).toBe(0); // flat, but mid-grey: smooth anatomy, not padding
    expect(paddingFraction(new Float32Array(16 * 16), 16, 16)).toBe(1);
    expect(noiseRatio(grey, 16, 16)).toBe(0);
    const ramp = Float32Array.from({ length: 16 * 16 }, (_, i) => (i % 16) / 15);
    expect(paddingFraction(ramp, 16, 16)).toBe(0);
    expect(noiseRatio(ramp, 16, 16)).toBeCloseTo(0, 6); // the Laplacian mask is blind to ramps
  });
});
