import { describe, expect, it } from 'vitest';
import { boundingBox, connectedComponents, fillHoles, largestComponent } from '../../src/image/components.js';
import type { BinaryMask, Box } from '../../src/image/types.js';
import { mask, rows } from './helpers.js';

describe('connectedComponents', () => {
  const twoBlobs = mask([
    '##.....',
    '##.....',
    '....###',
    '....###',
    '.......',
  ]);
  it('two separated blobs, raster-order labels and sizes', () => {
    const r = connectedComponents(twoBlobs);
    expect(r.count).toBe(2);
    expect(r.sizes).toEqual([4, 6]);
    expect(r.labels[0]).toBe(1);
    expect(r.labels[2 * 7 + 4]).toBe(2);
    expect(r.labels[3]).toBe(0);
  });
  it('diagonal neighbours join with 8-connectivity only', () => {
    const diag = mask(['#..', '.#.', '..#']);
    expect(connectedComponents(diag, 8).count).toBe(1);
    const r4 = connectedComponents(diag, 4);
    expect(r4.count).toBe(3);
    expect(r4.sizes).toEqual([1, 1, 1]);
    expect(Array.from(r4.labels)).toEqual([1, 0, 0, 0, 2, 0, 0, 0, 3]);
  });
  it('a U shape is one component (label propagation goes back up)', () => {
    const u = mask(['#.#', '#.#', '###']);
    const r = connectedComponents(u, 4);
    expect(r.count).toBe(1);
    expect(r.sizes).toEqual([7]);
  });
  it('empty mask and 1-pixel images', () => {
    expect(connectedComponents(mask(['...', '...']))).toMatchObject({ count: 0, sizes: [] });
    expect(connectedComponents(mask(['#']))).toMatchObject({ count: 1, sizes: [1] });
    expect(connectedComponents(mask(['.']))).toMatchObject({ count: 0, sizes: [] });
  });
  it('one huge component on a 1024x1024 image (no recursion overflow)', () => {
    const w = 1024;
    const data = new Uint8Array(w * w).fill(1);
    // a serpentine: block every other row except at alternating ends, one long path
    for (let y = 1; y < w; y += 2) {
      for (let x = 0; x < w; x++) data[y * w + x] = 0;
      data[y * w + ((y >> 1) % 2 === 0 ? w - 1 : 0)] = 1;
    }
    const r = connectedComponents({ width: w, height: w, data }, 4);
    expect(r.count).toBe(1);
    expect(r.sizes[0]).toBe(512 * 1024 + 512);
  });
  it('rejects bad connectivity', () => {
    expect(() => connectedComponents(mask(['#']), 6 as 4)).toThrow(RangeError);
  });
});

describe('largestComponent', () => {
  it('keeps the bigger blob', () => {
    const m = mask(['##.....', '##.....', '....###', '....###']);
    expect(rows(largestComponent(m))).toEqual(['.......', '.......', '....###', '....###']);
  });
  it('ties go to the first component in raster order; empty gives empty', () => {
    expect(rows(largestComponent(mask(['#.#'])))).toEqual(['#..']);
    expect(rows(largestComponent(mask(['...'])))).toEqual(['...']);
  });
  it('connectivity matters', () => {
    const m = mask(['#...', '.#..', '..##']);
    expect(rows(largestComponent(m, 8))).toEqual(['#...', '.#..', '..##']);
    expect(rows(largestComponent(m, 4))).toEqual(['....', '....', '..##']);
  });
});

describe('fillHoles', () => {
  it('fills the inside of a ring', () => {
    const ring = mask(['.......', '.#####.', '.#...#.', '.#...#.', '.#####.', '.......']);
    expect(rows(fillHoles(ring))).toEqual(['.......', '.#####.', '.#####.', '.#####.', '.#####.', '.......']);
  });
  it('does not fill a bay that opens to the border, nor a ring cut by the border', () => {
    const bay = mask(['.....', '.###.', '.#...', '.###.', '.....']);
    expect(rows(fillHoles(bay))).toEqual(rows(bay));
    const cut = mask(['#.#..', '#.#..', '###..']);
    expect(rows(fillHoles(cut))).toEqual(rows(cut));
  });
  it('an object touching the border with an inner hole is filled', () => {
    const m = mask(['####', '#..#', '####']);
    expect(rows(fillHoles(m))).toEqual(['####', '####', '####']);
  });
  it('a diagonal (8-connected) ring encloses its centre with the default 4-connected background', () => {
    const diamond = mask(['.....', '..#..', '.#.#.', '..#..', '.....']);
    expect(rows(fillHoles(diamond))).toEqual(['.....', '..#..', '.###.', '..#..', '.....']);
    expect(rows(fillHoles(diamond, 8))).toEqual(rows(diamond));
  });
  it('empty, full and 1-pixel masks', () => {
    expect(rows(fillHoles(mask(['...', '...'])))).toEqual(['...', '...']);
    expect(rows(fillHoles(mask(['##', '##'])))).toEqual(['##', '##']);
    expect(rows(fillHoles(mask(['.'])))).toEqual(['.']);
  });
});

describe('boundingBox', () => {
  it('inclusive corners', () => {
    expect(boundingBox(mask(['.....', '..#..', '.#...', '.....']))).toEqual({ x0: 1, y0: 1, x1: 2, y1: 2 });
    expect(boundingBox(mask(['#...', '...#']))).toEqual({ x0: 0, y0: 0, x1: 3, y1: 1 });
    expect(boundingBox(mask(['#']))).toEqual({ x0: 0, y0: 0, x1: 0, y1: 0 });
  });
  it('null when empty', () => {
    expect(boundingBox(mask(['...', '...']))).toBeNull();
  });
  it('the box of reading every pixel: scattered pixels, blobs, any width and alignment', () => {
    const naive = (m: BinaryMask): Box | null => {
      let x0 = m.width, y0 = m.height, x1 = -1, y1 = -1;
      for (let y = 0; y < m.height; y++) {
        for (let x = 0; x < m.width; x++) {
          if (m.data[y * m.width + x] === 0) continue;
          x0 = Math.min(x0, x);
          x1 = Math.max(x1, x);
          y0 = Math.min(y0, y);
          y1 = y;
        }
      }
      return x1 < 0 ? null : { x0, y0, x1, y1 };
    };
    let seed = 5;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let t = 0; t < 300; t++) {
      const width = 1 + Math.floor(rand() * 37);
      const height = 1 + Math.floor(rand() * 29);
      const offset = Math.floor(rand() * 4);
      const data = new Uint8Array(width * height + offset).subarray(offset);
      const kind = t % 3;
      if (kind === 0) {
        for (let k = Math.floor(rand() * 4); k > 0; k--) data[Math.floor(rand() * data.length)] = 1 + Math.floor(rand() * 255);
      } else {
        const cx = rand() * width, cy = rand() * height, r = rand() * 8;
        for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) data[y * width + x] = 1;
        if (kind === 2) data[Math.floor(rand() * data.length)] = 1;
      }
      const m = { width, height, data };
      expect(boundingBox(m)).toEqual(naive(m));
    }
  });
});
