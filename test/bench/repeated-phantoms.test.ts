import { describe, expect, it } from 'vitest';
import { generateRepeated, STACK_LABELLED, TEETH_PER_ROW } from '../../bench/stress/repeated.js';

/** Row (y) of the centre of mass of each class present in a label map. */
function classCentres(label: { width: number; height: number; data: Uint8Array }): Map<number, { x: number; y: number; n: number }> {
  const acc = new Map<number, { x: number; y: number; n: number }>();
  for (let i = 0; i < label.data.length; i++) {
    const c = label.data[i]!;
    if (c === 0) continue;
    const a = acc.get(c) ?? { x: 0, y: 0, n: 0 };
    a.x += i % label.width;
    a.y += Math.floor(i / label.width);
    a.n++;
    acc.set(c, a);
  }
  for (const a of acc.values()) {
    a.x /= a.n;
    a.y /= a.n;
  }
  return acc;
}

describe('repeated-structure phantoms (stress set)', () => {
  it('stack: five labelled levels in order down a column, unlabelled look-alikes around them, varying field of view', () => {
    const shapes = new Set<string>();
    const firstLevelY: number[] = [];
    for (const patient of [0, 1, 2, 3]) {
      const { image, label } = generateRepeated('stack', 1, patient, 256);
      expect(image.height).toBe(256);
      expect(image.width).toBeGreaterThanOrEqual(Math.round(0.45 * 256));
      expect(image.width).toBeLessThanOrEqual(Math.round(0.8 * 256));
      shapes.add(`${image.width}`);
      const centres = classCentres(label);
      expect([...centres.keys()].sort()).toEqual([1, 2, 3, 4, 5].slice(0, STACK_LABELLED));
      const ys = [1, 2, 3, 4, 5].map((c) => centres.get(c)!.y);
      for (let k = 1; k < ys.length; k++) expect(ys[k]!).toBeGreaterThan(ys[k - 1]!);
      firstLevelY.push(ys[0]!);
      // Bright block pixels outside the labels: the unlabelled neighbours of the column.
      let unlabelledBright = 0;
      for (let i = 0; i < label.data.length; i++) if (label.data[i] === 0 && image.data[i]! > 120) unlabelledBright++;
      expect(unlabelledBright).toBeGreaterThan(200);
    }
    expect(shapes.size).toBeGreaterThan(1);
    expect(Math.max(...firstLevelY) - Math.min(...firstLevelY)).toBeGreaterThan(5);
  });

  it('teeth: 2 × TEETH_PER_ROW classes, upper row above lower row, left to right by class', () => {
    const { image, label } = generateRepeated('teeth', 1, 0, 128);
    expect(image.width).toBe(256);
    const centres = classCentres(label);
    expect(centres.size).toBe(2 * TEETH_PER_ROW);
    for (let k = 1; k < TEETH_PER_ROW; k++) {
      expect(centres.get(k + 1)!.x).toBeGreaterThan(centres.get(k)!.x);
      expect(centres.get(TEETH_PER_ROW + k)!.y).toBeGreaterThan(centres.get(k)!.y);
    }
  });

  it('is deterministic per (seed, patient)', () => {
    expect(generateRepeated('stack', 3, 2, 64).image.data).toEqual(generateRepeated('stack', 3, 2, 64).image.data);
    expect(generateRepeated('stack', 3, 2, 64).image.data).not.toEqual(generateRepeated('stack', 3, 1, 64).image.data);
  });
});
