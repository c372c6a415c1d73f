import type { BinaryMask, LabelMap } from '../../src/image/types.js';
import { mulberry32 } from '../../src/image/random.js';

/** Mask from rows of '.'/'#' (or digits for label maps): `mask(['.#.', '###'])`. */
export function mask(rows: string[]): BinaryMask {
  const height = rows.length;
  const width = height ? rows[0]!.length : 0;
  const data = new Uint8Array(width * height);
  rows.forEach((r, y) => {
    if (r.length !== width) throw new Error('ragged rows');
    for (let x = 0; x < width; x++) data[y * width + x] = r[x] === '#' || r[x] === '1' ? 1 : 0;
  });
  return { width, height, data };
}

export function labelMap(rows: string[]): LabelMap {
  const height = rows.length;
  const width = height ? rows[0]!.length : 0;
  const data = new Uint8Array(width * height);
  rows.forEach((r, y) => {
    for (let x = 0; x < width; x++) data[y * width + x] = r[x] === '.' ? 0 : Number(r[x]);
  });
  return { width, height, data };
}

/** Mask back to '.'/'#' rows, for readable assertions. */
export function rows(m: { width: number; height: number; data: ArrayLike<number> }): string[] {
  const out: string[] = [];
  for (let y = 0; y < m.height; y++) {
    let s = '';
    for (let x = 0; x < m.width; x++) s += m.data[y * m.width + x] ? '#' : '.';
    out.push(s);
  }
  return out;
}

/** Seeded PRNG (mulberry32, src/image/random.ts) so randomised test inputs are reproducible. */
export const rng = mulberry32;

export function randomMask(width: number, height: number, density: number, seed: number): BinaryMask {
  const r = rng(seed);
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = r() < density ? 1 : 0;
  return { width, height, data };
}
