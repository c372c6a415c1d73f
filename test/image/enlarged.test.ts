/** An enlarged mask's box, resize, row runs and decoder mask input equal those of the enlarged mask built. */
import { describe, expect, it } from 'vitest';
import { boundingBox } from '../../src/image/components.js';
import {
  enlargedBoundingBox,
  enlargedMask,
  enlargedRowRuns,
  enlargedStarts,
  materializeEnlarged,
  resizeEnlargedNearest,
} from '../../src/image/enlarged.js';
import { resizeBinaryNearest } from '../../src/image/resize.js';
import type { BinaryMask } from '../../src/image/types.js';
import { samFrame } from '../../src/sam/frames.js';
import { binaryFractionSam256, binaryFractionSam256Enlarged, buildMaskInput } from '../../src/sam/prompt-frames.js';

let seed = 9;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);

/** Blobs and specks on a w×h mask (empty when `blobs` is 0). */
function randomMask(w: number, h: number, blobs: number): BinaryMask {
  const data = new Uint8Array(w * h);
  for (let b = 0; b < blobs; b++) {
    const cx = rand() * w, cy = rand() * h, rx = 1 + rand() * w * 0.3, ry = 1 + rand() * h * 0.3;
    for (let y = Math.max(0, Math.floor(cy - ry)); y < Math.min(h, cy + ry + 1); y++) {
      for (let x = Math.max(0, Math.floor(cx - rx)); x < Math.min(w, cx + rx + 1); x++) if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) data[y * w + x] = 1;
    }
    data[Math.floor(rand() * data.length)] = 1;
  }
  return { width: w, height: h, data };
}

/** Maximal foreground runs of each row of a built mask. */
function rowRuns(m: BinaryMask): number[][] {
  const out: number[][] = [];
  for (let y = 0; y < m.height; y++) {
    const runs: number[] = [];
    let a = -1;
    for (let x = 0; x <= m.width; x++) {
      const on = x < m.width && m.data[y * m.width + x] !== 0;
      if (on && a < 0) a = x;
      if (!on && a >= 0) {
        runs.push(a, x);
        a = -1;
      }
    }
    out.push(runs);
  }
  return out;
}

/** Same size and bytes (typed arrays compared as bytes: element-wise deep equality is slow at 1024²). */
function expectSame(a: { width: number; height: number; data: Uint8Array } | Float32Array, b: typeof a): void {
  const bytes = (x: typeof a) => (x instanceof Float32Array ? Buffer.from(x.buffer, x.byteOffset, x.byteLength) : Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength));
  if (!(a instanceof Float32Array) && !(b instanceof Float32Array)) expect([a.width, a.height]).toEqual([b.width, b.height]);
  expect(bytes(a).equals(bytes(b))).toBe(true);
}

const sizes: [number, number, number, number][] = [
  [256, 256, 1024, 1024],
  [256, 192, 640, 480],
  [40, 77, 97, 161],
  [30, 20, 30, 20],
  [1, 1, 5, 9],
  [256, 175, 300, 205],
];

describe('enlarged masks', () => {
  it('starts: small index a covers [start[a], start[a + 1]) of the nearest enlargement', () => {
    for (const [s, n] of [[256, 1024], [40, 97], [7, 7], [1, 5], [175, 205]]) {
      const start = enlargedStarts(s!, n!);
      const built = resizeBinaryNearest({ width: s!, height: 1, data: Uint8Array.from({ length: s! }, (_, i) => i % 2) }, n!, 1);
      for (let a = 0; a < s!; a++) {
        expect(start[a + 1]!).toBeGreaterThan(start[a]!);
        for (let x = start[a]!; x < start[a + 1]!; x++) expect(built.data[x]).toBe(a % 2);
      }
      expect(start[0]).toBe(0);
      expect(start[s!]).toBe(n);
    }
  });

  it('box, working-frame resize and row runs equal those of the built enlargement', () => {
    for (const [w, h, W, H] of sizes) {
      for (const blobs of [0, 1, 3]) {
        const small = randomMask(w, h, blobs);
        const e = enlargedMask(small, W, H);
        const built = materializeEnlarged(e);
        expectSame(built, resizeBinaryNearest(small, W, H));
        expect(enlargedBoundingBox(e)).toEqual(boundingBox(built));
        for (const [ow, oh] of [[w, h], [Math.max(1, Math.round(W / 3)), Math.max(1, Math.round(H / 3))], [W, H]]) {
          expectSame(resizeEnlargedNearest(e, ow!, oh!), resizeBinaryNearest(built, ow!, oh!));
        }
        expect(enlargedRowRuns(e).map((r) => Array.from(r))).toEqual(rowRuns(built));
      }
    }
  });

  it('the decoder mask input of an enlarged mask has the bits of the built one', () => {
    for (const [w, h, W, H] of sizes) {
      for (const blobs of [0, 2, 5]) {
        const e = enlargedMask(randomMask(w, h, blobs), W, H);
        const built = materializeEnlarged(e);
        const frame = samFrame(W, H);
        expectSame(binaryFractionSam256Enlarged(e, frame), binaryFractionSam256(built.data, frame));
        expectSame(buildMaskInput({ kind: 'binaryEnlarged', mask: e }, frame, 20), buildMaskInput({ kind: 'binary', mask: built }, frame, 20));
      }
    }
  });

  it('refuses to shrink, and a mask input for another image size', () => {
    expect(() => enlargedMask({ width: 4, height: 4, data: new Uint8Array(16) }, 3, 8)).toThrow(RangeError);
    const e = enlargedMask({ width: 4, height: 4, data: new Uint8Array(16) }, 8, 8);
    expect(() => buildMaskInput({ kind: 'binaryEnlarged', mask: e }, samFrame(9, 8))).toThrow(/enlarged to 8×8/);
  });
});
