import { describe, expect, it } from 'vitest';
import { argMaxIn, argMinIn, topKIndices } from '../../src/prompts/select.js';

describe('argMaxIn / argMinIn (Eq. 10)', () => {
  const sim = Float32Array.from([0.1, 0.9, 0.3, 0.9, -0.5, 0.2, -0.5, 0.0]);
  it('picks the known max and min of a subset', () => {
    expect(argMaxIn(sim, [0, 2, 5])).toBe(2);
    expect(argMinIn(sim, [0, 2, 5])).toBe(0);
  });
  it('breaks ties by the lowest raster index', () => {
    expect(argMaxIn(sim, [1, 2, 3])).toBe(1);
    expect(argMinIn(sim, [4, 5, 6])).toBe(4);
  });
  it('returns -1 for an empty subregion and skips NaN', () => {
    expect(argMaxIn(sim, [])).toBe(-1);
    const withNaN = Float32Array.from([NaN, 0.5, NaN, -0.2]);
    expect(argMaxIn(withNaN, [0, 1, 2, 3])).toBe(1);
    expect(argMinIn(withNaN, [0, 1, 2, 3])).toBe(3);
    expect(argMaxIn(withNaN, [0, 2])).toBe(0);
  });
});

describe('topKIndices', () => {
  const sim = Float32Array.from([0.1, 0.9, 0.3, 0.9, -0.5, 0.2, -0.5, 0.0]);
  it('orders the k best first, ties by lowest index', () => {
    expect(topKIndices(sim, 3, 'max')).toEqual([1, 3, 2]);
    expect(topKIndices(sim, 3, 'min')).toEqual([4, 6, 7]);
  });
  it('restricts to given indices and handles k larger than the set', () => {
    expect(topKIndices(sim, 5, 'max', [0, 4, 7])).toEqual([0, 7, 4]);
    expect(topKIndices(sim, 0, 'max')).toEqual([]);
  });
  it('matches a full sort on random data', () => {
    const n = 500;
    const data = new Float32Array(n);
    let s = 7;
    for (let i = 0; i < n; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      data[i] = Math.round((s / 2147483648) * 50) / 50; // many ties
    }
    const all = Array.from({ length: n }, (_, i) => i);
    const byMax = [...all].sort((a, b) => data[b]! - data[a]! || a - b).slice(0, 7);
    const byMin = [...all].sort((a, b) => data[a]! - data[b]! || a - b).slice(0, 7);
    expect(topKIndices(data, 7, 'max')).toEqual(byMax);
    expect(topKIndices(data, 7, 'min')).toEqual(byMin);
  });
});
