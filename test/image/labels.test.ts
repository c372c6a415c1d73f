import { describe, expect, it } from 'vitest';
import { binaryOfClass, binaryOfClassCounted, classesPresent, countForeground } from '../../src/image/labels.js';
import { labelMap, mask, rows } from './helpers.js';

describe('labels', () => {
  const lm = labelMap(['.11.', '.13.', '33..']);
  it('binaryOfClass', () => {
    expect(rows(binaryOfClass(lm, 1))).toEqual(['.##.', '.#..', '....']);
    expect(rows(binaryOfClass(lm, 3))).toEqual(['....', '..#.', '##..']);
    expect(rows(binaryOfClass(lm, 2))).toEqual(['....', '....', '....']);
    for (const cls of [0, 1, 2, 3]) {
      const counted = binaryOfClassCounted(lm, cls);
      expect(counted.mask).toEqual(binaryOfClass(lm, cls));
      expect(counted.pixels).toBe(countForeground(counted.mask));
    }
  });
  it('classesPresent is sorted and excludes 0', () => {
    expect(classesPresent(lm)).toEqual([1, 3]);
    expect(classesPresent(labelMap(['...']))).toEqual([]);
    expect(classesPresent({ width: 3, height: 1, data: Uint8Array.from([255, 0, 7]) })).toEqual([7, 255]);
  });
  it('countForeground', () => {
    expect(countForeground(mask(['#.#', '.##']))).toBe(4);
    expect(countForeground(mask(['...']))).toBe(0);
    expect(countForeground({ width: 0, height: 0, data: new Uint8Array(0) })).toBe(0);
  });
  it('size mismatch is a RangeError', () => {
    expect(() => binaryOfClass({ width: 2, height: 2, data: new Uint8Array(3) }, 1)).toThrow(RangeError);
  });
});
