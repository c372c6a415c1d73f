import { describe, expect, it } from 'vitest';
import {
  generatePhantom,
  insideShape,
  phantomGeometry,
  pixelToAnatomy,
  PHANTOM_CLASSES,
} from '../../src/image/phantom.js';

function countClass(data: Uint8Array, cls: number): number {
  let n = 0;
  for (const v of data) if (v === cls) n++;
  return n;
}

describe('generatePhantom', () => {
  it('gives identical bytes for the same (seed, patient)', () => {
    const a = generatePhantom({ seed: 7, patient: 3, width: 96, height: 80 });
    const b = generatePhantom({ seed: 7, patient: 3, width: 96, height: 80 });
    expect(Buffer.from(a.image.data.buffer).equals(Buffer.from(b.image.data.buffer))).toBe(true);
    expect(Buffer.from(a.label.data).equals(Buffer.from(b.label.data))).toBe(true);
    expect(a.image).toMatchObject({ width: 96, height: 80, channels: 1 });
    expect(a.label).toMatchObject({ width: 96, height: 80 });
    expect(a.image.data.length).toBe(96 * 80);
  });

  it('differs between patients and between seeds', () => {
    const p0 = generatePhantom({ seed: 7, patient: 0, width: 64 });
    const p1 = generatePhantom({ seed: 7, patient: 1, width: 64 });
    const q0 = generatePhantom({ seed: 8, patient: 0, width: 64 });
    expect(Buffer.from(p0.label.data).equals(Buffer.from(p1.label.data))).toBe(false);
    expect(Buffer.from(p0.label.data).equals(Buffer.from(q0.label.data))).toBe(false);
  });

  it('varies smoothly: neighbouring patients overlap more than distant ones', () => {
    const overlap = (a: Uint8Array, b: Uint8Array) => {
      let same = 0;
      let fg = 0;
      for (let i = 0; i < a.length; i++) {
        if (a[i] || b[i]) {
          fg++;
          if (a[i] === b[i]) same++;
        }
      }
      return same / fg;
    };
    const base = generatePhantom({ seed: 3, patient: 20, width: 96, noise: 0 }).label.data;
    const near = generatePhantom({ seed: 3, patient: 21, width: 96, noise: 0 }).label.data;
    let farMin = 1;
    for (const p of [28, 30, 32, 34]) {
      farMin = Math.min(farMin, overlap(base, generatePhantom({ seed: 3, patient: p, width: 96, noise: 0 }).label.data));
    }
    expect(overlap(base, near)).toBeGreaterThan(0.85);
    expect(overlap(base, near)).toBeGreaterThan(farMin);
  });

  it('holds all three classes, with plausible sizes and sides', () => {
    for (let patient = 0; patient < 12; patient++) {
      const { label, image } = generatePhantom({ seed: 1, patient, width: 128 });
      const n = 128 * 128;
      for (const cls of [1, 2, 3]) {
        const share = countClass(label.data, cls) / n;
        expect(share).toBeGreaterThan(0.01);
        expect(share).toBeLessThan(0.25);
      }
      // class 1 (right lung) sits on the image's left, class 2 on the right.
      let x1 = 0;
      let n1 = 0;
      let x2 = 0;
      let n2 = 0;
      for (let i = 0; i < n; i++) {
        if (label.data[i] === 1) (x1 += i % 128), n1++;
        if (label.data[i] === 2) (x2 += i % 128), n2++;
      }
      expect(x1 / n1).toBeLessThan(64);
      expect(x2 / n2).toBeGreaterThan(64);
      // no other values; intensities in range
      expect(label.data.every((v) => v <= 3)).toBe(true);
      expect(image.data.every((v) => v >= 0 && v <= 255)).toBe(true);
    }
    expect([...PHANTOM_CLASSES.keys()]).toEqual([0, 1, 2, 3]);
  });

  it('paints the heart last: it covers pixels that lie inside a lung shape', () => {
    const width = 128;
    let covered = 0;
    for (let patient = 0; patient < 4; patient++) {
      const g = phantomGeometry(5, patient);
      const { label } = generatePhantom({ seed: 5, patient, width });
      let heartInLung = 0;
      for (let y = 0; y < width; y++) {
        for (let x = 0; x < width; x++) {
          const { u, v } = pixelToAnatomy(g, x, y, width, width);
          const inLung = insideShape(g.rightLung, u, v) || insideShape(g.leftLung, u, v);
          const inHeart = insideShape(g.heart, u, v);
          const cls = label.data[y * width + x];
          if (inHeart && insideShape(g.body, u, v)) expect(cls).toBe(3);
          if (inLung && inHeart) heartInLung++;
        }
      }
      expect(heartInLung).toBeGreaterThan(0);
      covered += heartInLung;
    }
    expect(covered).toBeGreaterThan(40);
  });

  it('lungs are darker than the body and the heart; noise has the requested spread', () => {
    const { image, label } = generatePhantom({ seed: 2, patient: 4, width: 128, noise: 0 });
    const mean = (cls: number) => {
      let s = 0;
      let n = 0;
      for (let i = 0; i < label.data.length; i++) if (label.data[i] === cls) (s += image.data[i]!), n++;
      return s / n;
    };
    expect(mean(1)).toBeLessThan(mean(3) - 30);
    expect(mean(2)).toBeLessThan(mean(3) - 30);
    const noisy = generatePhantom({ seed: 2, patient: 4, width: 128, noise: 10 });
    let sum = 0;
    let sum2 = 0;
    let n = 0;
    for (let i = 0; i < image.data.length; i++) {
      const clean = image.data[i]!;
      if (clean < 30 || clean > 225) continue; // avoid clamping
      const d = noisy.image.data[i]! - clean;
      sum += d;
      sum2 += d * d;
      n++;
    }
    const sd = Math.sqrt(sum2 / n - (sum / n) ** 2);
    expect(sd).toBeGreaterThan(9);
    expect(sd).toBeLessThan(11);
  });
});
