/**
 * The review collector (pipeline/review.ts) on phantoms, with zero flows (no warp model needed): one image whose
 * mask was shifted away from its anatomy is found, the page and quality.csv hold every image, ground truth adds the
 * validation.
 */
import { describe, expect, it } from 'vitest';
import { diceIoUPerClass } from '../../src/eval/metrics.js';
import { generatePhantom } from '../../src/image/phantom.js';
import type { LabelMap } from '../../src/image/types.js';
import { qualityContext } from '../../src/pipeline/quality.js';
import { ReviewCollector } from '../../src/pipeline/review.js';

const SIZE = 96;
const R = 32;

/** The label moved right by dx pixels (the mask no longer sits on its organ). */
function shifted(label: LabelMap, dx: number): LabelMap {
  const data = new Uint8Array(label.data.length);
  for (let y = 0; y < label.height; y++) for (let x = dx; x < label.width; x++) data[y * label.width + x] = label.data[y * label.width + x - dx]!;
  return { ...label, data };
}

describe('ReviewCollector', () => {
  it('scores a run: the image with a misplaced mask is flagged; page, quality.csv and record cover every image', async () => {
    const ref = generatePhantom({ seed: 4, patient: 0, width: SIZE, noise: 2 });
    const ctx = qualityContext(ref, [1, 2, 3], R);
    const review = new ReviewCollector(ctx, { classNames: new Map([[1, 'right_lung'], [2, 'left_lung'], [3, 'heart']]), pictures: { maxSize: 64 } });
    const scores = new Map<string, ReturnType<typeof diceIoUPerClass>>();
    for (let k = 1; k <= 12; k++) {
      // Patients close to the reference's (fractional indices: the anatomy varies smoothly with the index), so that
      // the zero flow is a right registration and the labels (the ground truth) are what it would give.
      const ph = generatePhantom({ seed: 4, patient: k / 10, width: SIZE, noise: 2 });
      const label = k === 5 ? shifted(ph.label, 14) : ph.label;
      await review.add({ id: `p${k}`, image: ph.image, label, flowXyWarp: new Float32Array(R * R * 2) });
      scores.set(`p${k}`, diceIoUPerClass(label, ph.label, [1, 2, 3]));
    }
    expect(review.size).toBe(12);
    const out = review.finish({ title: 'test run', scores });
    const p5 = out.quality.find((q) => q.id === 'p5')!;
    expect(p5.flag).toBe('check');
    expect(Math.min(...out.quality.map((q) => q.score))).toBe(p5.score);
    expect(p5.reasons.join(' ')).toMatch(/right_lung|left_lung|heart/);
    expect(out.record).toMatchObject({ method: 'medpersam-quality', images: 12 });
    expect(out.record.flagged).toBeLessThanOrEqual(3);
    // Only p5's mask is wrong (the others equal their ground truth): the flagged images score worse.
    expect(out.record.validation!.n).toBe(12);
    expect(out.record.validation!.meanDiceFlagged).toBeLessThan(out.record.validation!.meanDiceOk);
    expect(out.html.match(/<article class="card"/g)).toHaveLength(12);
    expect(out.html.indexOf('data-id="p5"')).toBeLessThan(out.html.indexOf('data-id="p1"'));
    expect(out.html).toContain('Spearman(quality, Dice)');
    const rows = out.qualityCsv.trimEnd().split('\n');
    expect(rows).toHaveLength(13);
    expect(rows[0]!.startsWith('id,score,flag,right_lung_score,right_lung_flag')).toBe(true);
  });

  it('without pictures, the cards say so', async () => {
    const ref = generatePhantom({ seed: 4, patient: 0, width: 48, noise: 0 });
    const review = new ReviewCollector(qualityContext(ref, [1, 2, 3], 16), { pictures: false });
    await review.add({ id: 'a', image: ref.image, label: ref.label });
    const out = review.finish({ title: 't' });
    expect(out.html).toContain('no picture');
    expect(out.quality[0]!.perClass[0]!.signals.nccEdge).toBeUndefined(); // no flow: no registration signals
  });
});
