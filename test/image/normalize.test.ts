import { describe, expect, it } from 'vitest';
import { normalizeIntensity, percentiles, toGrey } from '../../src/image/normalize.js';
import { rng } from './helpers.js';

describe('toGrey', () => {
  it('BT.601 luminance', () => {
    const out = toGrey({ width: 2, height: 1, channels: 3, data: Float32Array.from([1, 0, 0, 10, 20, 30]) });
    expect(out.channels).toBe(1);
    expect(out.data[0]).toBeCloseTo(0.299, 6);
    expect(out.data[1]).toBeCloseTo(0.299 * 10 + 0.587 * 20 + 0.114 * 30, 4);
  });
  it('grey input is copied', () => {
    const data = Float32Array.from([1, 2]);
    const out = toGrey({ width: 2, height: 1, channels: 1, data });
    expect(Array.from(out.data)).toEqual([1, 2]);
    expect(out.data).not.toBe(data);
  });
});

describe('percentiles', () => {
  it('linear interpolation between ranks (NumPy default)', () => {
    const v = Array.from({ length: 101 }, (_, i) => 100 - i); // 0..100 shuffled order (descending)
    expect(percentiles(v, [0, 50, 100, 0.5, 99.5])).toEqual([0, 50, 100, 0.5, 99.5]);
    expect(percentiles([1, 2, 3, 4], [50])[0]).toBeCloseTo(2.5, 12);
    expect(percentiles([5], [0, 37, 100])).toEqual([5, 5, 5]);
  });
  it('agrees with a sort-based reference on random data with ties', () => {
    const r = rng(11);
    const v = Array.from({ length: 2001 }, () => Math.floor(r() * 50) / 7);
    const sorted = Float32Array.from(v).sort();
    for (const p of [0, 0.5, 1, 13.7, 50, 99.5, 100]) {
      const pos = (p / 100) * (v.length - 1);
      const lo = Math.floor(pos);
      const hi = Math.min(lo + 1, v.length - 1);
      const ref = sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
      expect(percentiles(v, [p])[0]).toBeCloseTo(ref, 5);
    }
  });
  it('ignores NaN; all-NaN gives NaN; rejects p outside [0,100]', () => {
    expect(percentiles([NaN, 1, 3, NaN], [50])).toEqual([2]);
    expect(percentiles([NaN], [50])[0]).toBeNaN();
    expect(() => percentiles([1], [101])).toThrow(RangeError);
  });
});

describe('normalizeIntensity', () => {
  it('clips at the percentiles and scales to [0,1]', () => {
    const data = Float32Array.from({ length: 101 }, (_, i) => i);
    const out = normalizeIntensity({ width: 101, height: 1, channels: 1, data }, { lowPercentile: 10, highPercentile: 90 });
    expect(out.data[0]).toBe(0);
    expect(out.data[10]).toBe(0);
    expect(out.data[50]).toBeCloseTo(0.5, 6);
    expect(out.data[90]).toBeCloseTo(1, 6);
    expect(out.data[100]).toBe(1);
  });
  it('default 0.5/99.5 removes a single bright outlier', () => {
    const data = new Float32Array(1000);
    for (let i = 0; i < 1000; i++) data[i] = i % 100;
    data[0] = 1e6;
    const out = normalizeIntensity({ width: 1000, height: 1, channels: 1, data });
    expect(out.data[0]).toBe(1);
    expect(out.data[99]).toBeCloseTo(1, 6);
    expect(out.data[50]).toBeGreaterThan(0.49);
    expect(out.data[50]).toBeLessThan(0.52);
  });
  it('constant and 1-pixel images give zeros, never NaN', () => {
    const out = normalizeIntensity({ width: 3, height: 2, channels: 1, data: new Float32Array(6).fill(42) });
    expect(Array.from(out.data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(normalizeIntensity({ width: 1, height: 1, channels: 1, data: Float32Array.from([7]) }).data)).toEqual([0]);
  });
  it('RGB channels are normalised jointly (one range for all)', () => {
    const data = Float32Array.from([0, 50, 100, 100, 50, 0]);
    const out = normalizeIntensity({ width: 2, height: 1, channels: 3, data }, { lowPercentile: 0, highPercentile: 100 });
    expect(Array.from(out.data)).toEqual([0, 0.5, 1, 1, 0.5, 0]);
    expect(out.channels).toBe(3);
  });
  it('rejects bad percentiles', () => {
    const img = { width: 1, height: 1, channels: 1 as const, data: new Float32Array(1) };
    expect(() => normalizeIntensity(img, { lowPercentile: 60, highPercentile: 40 })).toThrow(RangeError);
  });
});
