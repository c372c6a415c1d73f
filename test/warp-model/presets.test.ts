import { describe, expect, it } from 'vitest';
import { PAPER_PRESET, resolveWarpSettings, CPU_PRESET } from '../../src/warp/presets.js';
import { SeededRng } from '../../src/warp/seeded-rng.js';

describe('warp presets', () => {
  it('paper preset = App. B.4 schedule and Table 12 JSRT weights', () => {
    expect(PAPER_PRESET.schedule).toMatchObject({ initialEpochs: 30, retrainEpochs: 10, retrainRounds: 5, batchSize: 32, learningRate: 1e-4 });
    // App. B.1 picks SSIM or NCC per dataset: 'auto' applies its rule (SSIM on JSRT, see loss-choice.test.ts).
    expect(PAPER_PRESET.loss).toMatchObject({ imageLoss: 'auto', lambdaWarp: 1, lambdaReg: 0.75, lambdaAug: 0.1, lambdaSeg: 1, augmentation: true });
    // The paper resizes each image on its own: no initial alignment, no polarity check, luminance.
    expect(PAPER_PRESET.preprocess).toEqual({ colour: 'luminance', prealign: 'none', polarity: 'keep', fill: 'zero', denoise: 'off' });
    expect(CPU_PRESET.preprocess).toEqual({ colour: 'auto', prealign: 'search', polarity: 'auto', fill: 'reference', denoise: 'auto' });
    expect(PAPER_PRESET.network).toMatchObject({ arch: 'nice-trans', affine: true, decoderWidth: 32 });
    expect(PAPER_PRESET.network.encoderWidths[0]).toBe(16);
  });

  it('overrides apply without mutating the presets', () => {
    const before = JSON.stringify(CPU_PRESET);
    const s = resolveWarpSettings('cpu', { network: { affine: false, resolution: 64 }, loss: { augmentation: false }, schedule: { initialEpochs: 2 }, preprocess: { prealign: 'none' } });
    expect(s.preprocess).toEqual({ colour: 'auto', prealign: 'none', polarity: 'auto', fill: 'reference', denoise: 'auto' });
    expect(s.network.affine).toBe(false);
    expect(s.network.resolution).toBe(64);
    expect(s.loss.augmentation).toBe(false);
    expect(s.schedule.initialEpochs).toBe(2);
    s.network.encoderWidths[0] = 99;
    expect(JSON.stringify(CPU_PRESET)).toBe(before);
    expect(() => resolveWarpSettings('nope' as 'cpu')).toThrow(/unknown warp preset/);
  });
});

describe('SeededRng', () => {
  it('is reproducible and restorable from its state', () => {
    const a = new SeededRng(7);
    a.next();
    const state = a.getState();
    const seq = [a.next(), a.next(), a.normal()];
    const b = new SeededRng(1);
    b.setState(state);
    expect([b.next(), b.next(), b.normal()]).toEqual(seq);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((p, q) => p + q, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
  });
});
