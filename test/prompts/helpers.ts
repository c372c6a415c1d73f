import type { BinaryMask } from '../../src/image/types.js';
import { mulberry32 } from '../../src/image/random.js';

/** Seeded PRNG (mulberry32, src/image/random.ts) so randomised test inputs are reproducible. */
export const rng = mulberry32;

export interface Ellipse {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
}

/** Union of filled axis-aligned ellipses. */
export function ellipsesMask(width: number, height: number, ellipses: Ellipse[]): BinaryMask {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (const e of ellipses) {
        const dx = (x - e.cx) / e.rx;
        const dy = (y - e.cy) / e.ry;
        if (dx * dx + dy * dy <= 1) {
          data[y * width + x] = 1;
          break;
        }
      }
    }
  }
  return { width, height, data };
}

/** Filled rectangle [x0, x1] x [y0, y1] (inclusive). */
export function rectMask(width: number, height: number, x0: number, y0: number, x1: number, y1: number): BinaryMask {
  const data = new Uint8Array(width * height);
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) data[y * width + x] = 1;
  return { width, height, data };
}

/** A random-ish blob: 1–3 overlapping ellipses around a centre. */
export function randomBlob(width: number, height: number, rand: () => number): BinaryMask {
  const n = 1 + Math.floor(rand() * 3);
  const cx = width * (0.35 + 0.3 * rand());
  const cy = height * (0.35 + 0.3 * rand());
  const ellipses: Ellipse[] = [];
  for (let i = 0; i < n; i++) {
    ellipses.push({
      cx: cx + (rand() - 0.5) * width * 0.2,
      cy: cy + (rand() - 0.5) * height * 0.2,
      rx: width * (0.08 + 0.15 * rand()),
      ry: height * (0.08 + 0.15 * rand()),
    });
  }
  return ellipsesMask(width, height, ellipses);
}

export function randomMap(n: number, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rand() * 2 - 1;
  return out;
}
