import { describe, expect, it } from 'vitest';
import { mulberry32 as uniformSource } from '../../src/image/random.js';
import { mulberry32, uniform } from '../../src/warp/rng.js';

describe('warp rng', () => {
  it('mulberry32 UniformRng draws the image/random sequence', () => {
    const a = mulberry32(5);
    const b = uniformSource(5);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 100 }, () => b()));
    expect(mulberry32(1).next()).toBe(0.6270739405881613);
  });
  it('uniform maps [0, 1) onto [lo, hi)', () => {
    expect(uniform({ next: () => 0 }, 2, 6)).toBe(2);
    expect(uniform({ next: () => 0.5 }, 2, 6)).toBe(4);
  });
});
