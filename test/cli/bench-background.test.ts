import { describe, expect, it } from 'vitest';
import { parseClassList } from '../../src/cli/commands/bench.js';
import { asBackground } from '../../src/pipeline/bench-warp.js';
import { MedpersamUserError } from '../../src/errors.js';

describe('bench --background-classes (a protocol that scores some classes only)', () => {
  it('sets the listed classes to background and keeps the others', () => {
    const label = { width: 4, height: 1, data: Uint8Array.from([0, 1, 2, 3]) };
    expect([...asBackground(label, [2]).data]).toEqual([0, 1, 0, 3]);
    expect([...asBackground(label, [1, 3]).data]).toEqual([0, 0, 2, 0]);
    expect(asBackground(label, undefined)).toBe(label);
  });

  it('parses a comma-separated list of class values and names a bad one', () => {
    expect(parseClassList('2')).toEqual([2]);
    expect(parseClassList('2, 4')).toEqual([2, 4]);
    expect(() => parseClassList('2,x')).toThrow(MedpersamUserError);
    expect(() => parseClassList('0')).toThrow(/"0" is not a class value \(1–255\) in "0"/);
  });
});
