import { describe, expect, it } from 'vitest';
import { normalizeIntensity } from '../../src/image/normalize.js';
import { contentMask } from '../../src/image/padding.js';
import { generatePhantom } from '../../src/image/phantom.js';
import { diceIoUPerClass } from '../../src/eval/metrics.js';
import { chooseAmongRepeats, findRepeatPeriod, PERIOD_MIN_CORRELATION, PERIOD_MIN_DIP, type RepeatCandidate } from '../../src/warp/periodic.js';
import { estimatePrealignment, PrealignReference } from '../../src/warp/prealign.js';
import { WarpPreprocessor } from '../../src/warp/preprocess.js';
import { resolveWarpSettings } from '../../src/warp/presets.js';
import { warpLabelThroughFrame } from '../../src/warp/working-frame.js';
import { generateRepeated } from '../../bench/stress/repeated.js';
import { discoverDataset } from '../../src/io/dataset.js';
import { readImage } from '../../src/io/image.js';
import { readLabelMap } from '../../src/io/mask.js';
import { describeWithShared, sharedPath } from '../fixtures/shared-data.js';

describe('findRepeatPeriod', () => {
  it('finds the period of a pattern that repeats every 10 px down, scaled to reference pixels', () => {
    // A stripe pattern: correlation cos(2π dy / 10), independent of dx, shrinking a little with the shift.
    const corr = (dx: number, dy: number): number => Math.cos((2 * Math.PI * dy) / 10) * (1 - Math.abs(dy) / 100) - Math.abs(dx) / 50;
    const p = findRepeatPeriod(24, 48, corr, 4);
    expect(p).not.toBeNull();
    expect(p!.dx).toBe(0);
    expect(p!.dy).toBe(40); // 10 level px × 4
    expect(p!.correlation).toBeCloseTo(0.9, 6);
    expect(p!.halfShiftCorrelation).toBeCloseTo(-0.95, 6);
  });

  it('finds none in a slowly decaying correlation (a smooth image: no dip between objects)', () => {
    const smooth = (dx: number, dy: number): number => Math.exp(-Math.hypot(dx, dy) / 20);
    expect(findRepeatPeriod(48, 48, smooth, 1)).toBeNull();
  });

  it('needs both the correlation and the dip: a weak repeat, or a peak with no dip, is no repeat', () => {
    const weak = (dx: number, dy: number): number => (PERIOD_MIN_CORRELATION - 0.05) * Math.cos((2 * Math.PI * dy) / 10) - Math.abs(dx) / 50;
    expect(findRepeatPeriod(24, 48, weak, 1)).toBeNull();
    // A bump on a high plateau: the peak at 10 px is a local maximum, but half the shift is nearly as high.
    const shallow = (dx: number, dy: number): number => 0.7 + 0.1 * Math.cos((2 * Math.PI * dy) / 10) - Math.abs(dx) / 50;
    expect(0.8 - shallow(0, 5)).toBeLessThan(PERIOD_MIN_DIP);
    expect(findRepeatPeriod(24, 48, shallow, 1)).toBeNull();
  });

  it('ignores shifts that overlap too little (null correlations)', () => {
    const corr = (dx: number, dy: number): number | null => (Math.abs(dy) > 8 ? null : Math.cos((2 * Math.PI * dy) / 10));
    expect(findRepeatPeriod(24, 48, corr, 1)).toBeNull();
  });
});

describe('chooseAmongRepeats', () => {
  const c = (periods: number, score: number, labelDisplacement: number): RepeatCandidate<string> => ({ params: `k${periods}`, score, labelDisplacement, periods });

  it('keeps, of the look-alikes within the tolerance, the one that moves the labels least', () => {
    const r = chooseAmongRepeats([c(0, 0.35, 0.2), c(1, 0.3, 0.03), c(-1, 0.33, 0.37)], 0.1);
    expect(r.chosen.params).toBe('k1');
    expect(r.reason).toBe('repeated structure: +1 period(s) from the best (score 0.300 vs 0.350, within 0.100), label shift 0.030 instead of 0.200');
  });

  it('keeps the best when the closer copy scores clearly worse than the pattern allows', () => {
    const r = chooseAmongRepeats([c(0, 0.35, 0.2), c(1, 0.2, 0.03)], 0.1);
    expect(r.chosen.params).toBe('k0');
    expect(r.reason).toBe('repeated structure: the best alignment moves the labels least of 1 look-alike(s) (label shift 0.200)');
  });

  it('measures the periods from the highest-scoring candidate', () => {
    const r = chooseAmongRepeats([c(0, 0.3, 0.1), c(-2, 0.36, 0.3), c(-1, 0.34, 0.05)], 0.1);
    expect(r.chosen.params).toBe('k-1');
    expect(r.reason).toContain('+1 period(s) from the best');
  });
});

describe('the initial alignment on repeated structures', () => {
  it('finds the repeat of a column of blocks, and none in a chest phantom', () => {
    const stack = generateRepeated('stack', 1, 0, 256).image;
    const column = new PrealignReference(normalizeIntensity(stack), contentMask(stack));
    // The generator's level pitch for patient 0: 256 / 6.2 × zoom 1.097 = 45.3 px, found on the 48 px level (±1 px there).
    expect(column.period).not.toBeNull();
    expect(Math.abs(column.period!.dx)).toBeLessThan(6);
    expect(Math.abs(column.period!.dy - 45.3)).toBeLessThan(6);
    const chest = generatePhantom({ seed: 1, patient: 0, width: 160, noise: 4 }).image;
    expect(new PrealignReference(normalizeIntensity(chest), contentMask(chest)).period).toBeNull();
  });

  // Images of the stress set's column whose labelled levels sit within half a level of the reference's place in the
  // field of view (the generator's recorded draws), where the search alone had put the labels one or two levels off
  // (the reference's labels carried through each image's working frame: 0.00 before, 0.88 and 0.92 now).
  it.each([9, 11])('keeps the labels on their level in stack_%i', (patient) => {
    const ref = generateRepeated('stack', 1, 0, 256);
    const test = generateRepeated('stack', 1, patient, 256);
    const pre = new WarpPreprocessor(resolveWarpSettings('cpu', {}).preprocess, ref, 128);
    const { frame, prealignment } = pre.prepare(test.image);
    const scores = diceIoUPerClass(warpLabelThroughFrame(ref.label, new Float32Array(128 * 128 * 2), 128, frame), test.label, [1, 2, 3, 4, 5]);
    for (const s of scores) expect(s.dice).toBeGreaterThan(0.7);
    expect(prealignment!.evidence!.reason).toMatch(/^repeated structure: /);
  }, 30_000);

  it('leaves an image without a repeat exactly as the search found it', () => {
    const chest = generatePhantom({ seed: 1, patient: 0, width: 160, noise: 4 }).image;
    const other = generatePhantom({ seed: 1, patient: 3, width: 160, noise: 4 }).image;
    const r = estimatePrealignment(new PrealignReference(normalizeIntensity(chest), contentMask(chest)), normalizeIntensity(other), { method: 'search', polarity: 'auto' }, contentMask(other));
    expect(r.evidence!.reason).not.toContain('repeated structure');
  });
});

// The repeat rule acts only where the reference repeats: on the team's real sets it finds no repeat, so their
// alignments (and runs) are exactly what they were.
describeWithShared('no repeat in the real references', ['data/jsrt-scr/images', 'data/camus-4ch-es/images'], () => {
  it.each(['data/jsrt-scr', 'data/camus-4ch-es'])('%s', async (set) => {
    const ds = await discoverDataset(sharedPath(set));
    const label = await readLabelMap(ds.reference.maskPath!, { classes: ds.classes });
    const { image } = await readImage(ds.reference.imagePath);
    expect(new WarpPreprocessor(resolveWarpSettings('cpu', {}).preprocess, { image, label }, 128).repeatPeriod).toBeNull();
  }, 30_000);
});
