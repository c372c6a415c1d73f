import { describe, expect, it } from 'vitest';
import { matchShift } from '../../src/warp/roi-match.js';

/** A 64 × 64 crop: a fixed texture and a bright disc (radius 6) at (cx, cy); sub-pixel centres give soft edges. */
function crop(cx: number, cy: number, textureAmplitude = 10): Float32Array {
  const out = new Float32Array(64 * 64);
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) {
      const d = Math.hypot(x - cx, y - cy);
      const disc = Math.min(1, Math.max(0, 6.5 - d)); // linear edge over 1 px
      out[y * 64 + x] = 100 + textureAmplitude * Math.sin(x * 0.4) * Math.cos(y * 0.3) + 120 * disc;
    }
  }
  return out;
}
const box = { x0: 24, y0: 24, x1: 39, y1: 39 }; // the reference disc at (31.5, 31.5) plus a margin

describe('matchShift (template matching inside a crop)', () => {
  it('finds an integer shift of the object exactly', () => {
    const m = matchShift(crop(31.5, 31.5), crop(31.5 + 9, 31.5 - 5), 64, 64, box, { maxShift: 20 });
    expect(m.shift[0]).toBeCloseTo(9, 1);
    expect(m.shift[1]).toBeCloseTo(-5, 1);
    expect(m.ncc).toBeGreaterThan(0.8);
    // without the shift the template meets the moved disc only in part: a much lower NCC
    expect(m.nccAtZero).toBeLessThan(m.ncc - 0.3);
    // an unmoved disc: the best shift is 0 and both NCCs are the same (1: the same pixels)
    const still = matchShift(crop(31.5, 31.5), crop(31.5, 31.5), 64, 64, box, { maxShift: 20 });
    expect(Math.abs(still.shift[0]) + Math.abs(still.shift[1])).toBeLessThan(1e-3); // the parabola's sub-pixel part
    expect(still.ncc).toBeCloseTo(1, 6);
    expect(still.nccAtZero).toBe(still.ncc);
  });

  it('finds a sub-pixel shift to within 0.25 px, and the object rather than the background texture', () => {
    // The background texture stays where it is (the global warp aligned it); only the disc moved.
    const m = matchShift(crop(31.5, 31.5), crop(31.5 - 7.4, 31.5 + 3.3), 64, 64, box, { maxShift: 20 });
    expect(Math.abs(m.shift[0] - -7.4)).toBeLessThan(0.25);
    expect(Math.abs(m.shift[1] - 3.3)).toBeLessThan(0.25);
  });

  it('the coarse-to-fine path (large search) finds the same shift', () => {
    const big = { x0: 4, y0: 4, x1: 59, y1: 59 };
    const m = matchShift(crop(31.5, 31.5), crop(31.5 + 2, 31.5 + 3), 64, 64, big, { maxShift: 30 });
    expect(m.shift[0]).toBeCloseTo(2, 0);
    expect(m.shift[1]).toBeCloseTo(3, 0);
  });

  it('keeps at least 3/4 of the template inside the crop, and returns no shift for a featureless crop', () => {
    // the disc moved 30 px right: at most a quarter of the 16 px template may leave the 64 px crop
    const m = matchShift(crop(31.5, 31.5), crop(31.5 + 30, 31.5), 64, 64, box, { maxShift: 40 });
    expect(box.x1 + m.shift[0]).toBeLessThanOrEqual(63.5 + 0.25 * 16);
    const flat = new Float32Array(64 * 64).fill(7);
    expect(matchShift(flat, flat, 64, 64, box, { maxShift: 5 }).shift).toEqual([0, 0]);
  });

  it('a mask restricts the template to the object and its rim (the background texture cannot pull it back)', () => {
    // the template box is the whole crop; unmasked, the aligned background wins; masked to the disc, the disc wins
    const whole = { x0: 0, y0: 0, x1: 63, y1: 63 };
    const mask = new Uint8Array(64 * 64);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) mask[y * 64 + x] = Math.hypot(x - 31.5, y - 31.5) <= 9 ? 1 : 0;
    const ref = crop(31.5, 31.5, 80);
    const test = crop(31.5 + 6, 31.5 + 4, 80);
    expect(matchShift(ref, test, 64, 64, whole, { maxShift: 12 }).shift.map(Math.round)).not.toEqual([6, 4]);
    const masked = matchShift(ref, test, 64, 64, whole, { maxShift: 12, mask });
    expect(masked.shift[0]).toBeCloseTo(6, 0);
    expect(masked.shift[1]).toBeCloseTo(4, 0);
  });
});

describe('matchShift: the FFT coarse search chooses what the direct one does', () => {
  /** A w × h crop with a curved bright band 36 px thick (a clavicle at 1024 px) moved by (sx, sy), on texture and noise. */
  function bandCrop(w: number, h: number, sx: number, sy: number, seed: number): Float32Array {
    let s = seed >>> 0;
    const noise = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const out = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const u = x - sx;
        const inBand = Math.abs(y - sy - (60 + 0.3 * u - 0.0008 * u * u)) < 18 ? 1 : 0;
        out[y * w + x] = 0.3 + 0.3 * inBand + 0.05 * Math.sin(x * 0.2) * Math.cos(y * 0.13) + 0.05 * noise();
      }
    }
    return out;
  }

  it('the same shift and NCC, bit for bit, on band crops of a clavicle crop size moved up to ±30 px', () => {
    const w = 321;
    const h = 182;
    const mask = new Uint8Array(w * h);
    const box = { x0: w, y0: h, x1: 0, y1: 0 };
    for (let y = 0; y < h; y++) {
      for (let x = 20; x < 300; x++) {
        if (Math.abs(y - (60 + 0.3 * x - 0.0008 * x * x)) >= 34) continue;
        mask[y * w + x] = 1;
        Object.assign(box, { x0: Math.min(box.x0, x), y0: Math.min(box.y0, y), x1: Math.max(box.x1, x), y1: Math.max(box.y1, y) });
      }
    }
    const ref = bandCrop(w, h, 0, 0, 1);
    for (const [sx, sy, seed] of [[-23, -5, 2], [17, 9, 3], [0, 0, 4], [29, -14, 5]] as const) {
      const test = bandCrop(w, h, sx, sy, seed);
      const opts = { maxShift: 160, mask };
      const direct = matchShift(ref, test, w, h, box, { ...opts, coarseSearch: 'direct' });
      const fft = matchShift(ref, test, w, h, box, opts);
      expect(fft).toEqual(direct);
      // and it finds the band: across it to a pixel; along it (a long band, only its ends place it) to 4 px
      expect(Math.abs(fft.shift[0] - sx)).toBeLessThan(4);
      expect(Math.abs(fft.shift[1] - sy)).toBeLessThan(1.5);
    }
  });

  it('the same on the disc crops, with and without a mask, and on a featureless crop (every shift flat)', () => {
    const big = { x0: 4, y0: 4, x1: 59, y1: 59 };
    for (const [dx, dy] of [[2, 3], [-11, 7], [0, 0]] as const) {
      const a = matchShift(crop(31.5, 31.5), crop(31.5 + dx, 31.5 + dy), 64, 64, big, { maxShift: 30 });
      expect(a).toEqual(matchShift(crop(31.5, 31.5), crop(31.5 + dx, 31.5 + dy), 64, 64, big, { maxShift: 30, coarseSearch: 'direct' }));
    }
    const flat = new Float32Array(64 * 64).fill(7);
    expect(matchShift(flat, flat, 64, 64, big, { maxShift: 30 })).toEqual(matchShift(flat, flat, 64, 64, big, { maxShift: 30, coarseSearch: 'direct' }));
  });
});
