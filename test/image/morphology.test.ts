import { describe, expect, it } from 'vitest';
import { closing, dilate, erode, kernelHalfWidths, opening, type Kernel } from '../../src/image/morphology.js';
import type { BinaryMask } from '../../src/image/types.js';
import { mask, randomMask, rows } from './helpers.js';

/** Brute-force reference straight from the definition (offsets of the kernel, outside = background). */
function inKernel(k: Kernel, dx: number, dy: number): boolean {
  const r = k.radius;
  if (Math.abs(dx) > r || Math.abs(dy) > r) return false;
  if (k.shape === 'square') return true;
  if (k.shape === 'cross') return dx === 0 || dy === 0;
  return dx * dx + dy * dy <= r * r;
}
function bruteForce(m: BinaryMask, k: Kernel, isErode: boolean): string[] {
  const out = new Uint8Array(m.data.length);
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      let all = true;
      let any = false;
      for (let dy = -k.radius; dy <= k.radius; dy++) {
        for (let dx = -k.radius; dx <= k.radius; dx++) {
          if (!inKernel(k, dx, dy)) continue;
          const xx = x + dx;
          const yy = y + dy;
          const v = xx >= 0 && yy >= 0 && xx < m.width && yy < m.height ? m.data[yy * m.width + xx] : 0;
          if (v) any = true;
          else all = false;
        }
      }
      out[y * m.width + x] = (isErode ? all : any) ? 1 : 0;
    }
  }
  return rows({ width: m.width, height: m.height, data: out });
}

describe('kernels', () => {
  it('span half-widths', () => {
    expect(Array.from(kernelHalfWidths({ shape: 'square', radius: 2 }))).toEqual([2, 2, 2, 2, 2]);
    expect(Array.from(kernelHalfWidths({ shape: 'cross', radius: 2 }))).toEqual([0, 0, 2, 0, 0]);
    expect(Array.from(kernelHalfWidths({ shape: 'disk', radius: 1 }))).toEqual([0, 1, 0]);
    // r=3: dy=±3 → 0, dy=±2 → floor(sqrt(5))=2, dy=±1 → floor(sqrt(8))=2, dy=0 → 3
    expect(Array.from(kernelHalfWidths({ shape: 'disk', radius: 3 }))).toEqual([0, 2, 2, 3, 2, 2, 0]);
  });
  it('rejects bad radii', () => {
    const m = mask(['#']);
    expect(() => erode(m, { shape: 'square', radius: -1 })).toThrow(RangeError);
    expect(() => dilate(m, { shape: 'disk', radius: 1.5 })).toThrow(RangeError);
  });
});

describe('erode / dilate: hand-computed', () => {
  const square5in7 = mask([
    '.......',
    '.#####.',
    '.#####.',
    '.#####.',
    '.#####.',
    '.#####.',
    '.......',
  ]);
  it('7x7: 5x5 square eroded by radius-1 square is the 3x3 core', () => {
    expect(rows(erode(square5in7, { shape: 'square', radius: 1 }))).toEqual([
      '.......',
      '.......',
      '..###..',
      '..###..',
      '..###..',
      '.......',
      '.......',
    ]);
  });
  it('7x7: radius-2 square erosion leaves the centre pixel; radius 3 empties it (kernel larger than object)', () => {
    expect(rows(erode(square5in7, { shape: 'square', radius: 2 }))).toEqual([
      '.......',
      '.......',
      '.......',
      '...#...',
      '.......',
      '.......',
      '.......',
    ]);
    expect(Array.from(erode(square5in7, { shape: 'square', radius: 3 }).data).every((v) => v === 0)).toBe(true);
  });
  it('7x7: single pixel dilated by radius-1 cross and radius-2 disk', () => {
    const dot = mask(['.......', '.......', '.......', '...#...', '.......', '.......', '.......']);
    expect(rows(dilate(dot, { shape: 'cross', radius: 1 }))).toEqual([
      '.......',
      '.......',
      '...#...',
      '..###..',
      '...#...',
      '.......',
      '.......',
    ]);
    expect(rows(dilate(dot, { shape: 'disk', radius: 2 }))).toEqual([
      '.......',
      '...#...',
      '..###..',
      '.#####.',
      '..###..',
      '...#...',
      '.......',
    ]);
    expect(rows(dilate(dot, { shape: 'square', radius: 1 }))).toEqual([
      '.......',
      '.......',
      '..###..',
      '..###..',
      '..###..',
      '.......',
      '.......',
    ]);
  });
  it('outside the image is background: erosion shrinks a full image from the border', () => {
    const full = mask(['#####', '#####', '#####', '#####']);
    expect(rows(erode(full, { shape: 'square', radius: 1 }))).toEqual(['.....', '.###.', '.###.', '.....']);
    expect(rows(erode(full, { shape: 'cross', radius: 1 }))).toEqual(['.....', '.###.', '.###.', '.....']);
  });
  it('object touching the border: dilation clips, erosion eats the border column', () => {
    const m = mask(['##...', '##...', '##...']);
    expect(rows(dilate(m, { shape: 'square', radius: 1 }))).toEqual(['###..', '###..', '###..']);
    expect(rows(erode(m, { shape: 'cross', radius: 1 }))).toEqual(['.....', '.....', '.....']);
  });
  it('1-pixel image', () => {
    const on = mask(['#']);
    const off = mask(['.']);
    expect(rows(erode(on, { shape: 'square', radius: 1 }))).toEqual(['.']);
    expect(rows(dilate(on, { shape: 'disk', radius: 3 }))).toEqual(['#']);
    expect(rows(dilate(off, { shape: 'square', radius: 2 }))).toEqual(['.']);
    expect(rows(erode(on, { shape: 'square', radius: 0 }))).toEqual(['#']);
  });
  it('empty mask stays empty, radius 0 is a copy (not the same buffer)', () => {
    const empty = mask(['....', '....']);
    expect(rows(dilate(empty, { shape: 'square', radius: 2 }))).toEqual(['....', '....']);
    const m = mask(['#.', '.#']);
    const copy = dilate(m, { shape: 'disk', radius: 0 });
    expect(rows(copy)).toEqual(['#.', '.#']);
    expect(copy.data).not.toBe(m.data);
  });
});

describe('erode / dilate: match the brute-force definition on random masks', () => {
  const shapes = ['square', 'disk', 'cross'] as const;
  for (const shape of shapes) {
    for (const radius of [1, 2, 3, 5]) {
      it(`${shape} r=${radius}`, () => {
        for (const [w, h, density, seed] of [
          [17, 13, 0.7, 1],
          [9, 21, 0.3, 2],
          [4, 3, 0.8, 3],
        ] as const) {
          const m = randomMask(w, h, density, seed + radius);
          const k = { shape, radius };
          expect(rows(erode(m, k))).toEqual(bruteForce(m, k, true));
          expect(rows(dilate(m, k))).toEqual(bruteForce(m, k, false));
        }
      });
    }
  }
});

describe('opening / closing', () => {
  it('opening removes a 1-pixel spur and keeps the 3x3 block', () => {
    const m = mask(['.......', '.###...', '.####..', '.###...', '.......']);
    expect(rows(opening(m, { shape: 'square', radius: 1 }))).toEqual([
      '.......',
      '.###...',
      '.###...',
      '.###...',
      '.......',
    ]);
  });
  it('closing fills a 1-pixel gap and never removes border pixels', () => {
    const m = mask(['##.##', '##.##', '##.##']);
    expect(rows(closing(m, { shape: 'square', radius: 1 }))).toEqual(['#####', '#####', '#####']);
    const corner = mask(['#....', '.....', '.....']);
    expect(rows(closing(corner, { shape: 'disk', radius: 2 }))).toEqual(['#....', '.....', '.....']);
  });
  it('closing is extensive and opening anti-extensive on random masks', () => {
    for (const shape of ['square', 'disk', 'cross'] as const) {
      const m = randomMask(23, 19, 0.5, 7);
      const c = closing(m, { shape, radius: 2 });
      const o = opening(m, { shape, radius: 2 });
      for (let i = 0; i < m.data.length; i++) {
        if (m.data[i]) expect(c.data[i]).toBe(1);
        if (!m.data[i]) expect(o.data[i]).toBe(0);
      }
    }
  });
});
