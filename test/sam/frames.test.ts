import { describe, expect, it } from 'vitest';
import { samFrame, xyOriginalToXySam1024, xySam1024ToXyOriginal } from '../../src/sam/frames.js';

describe('samFrame', () => {
  it('800x600: scale 1.28, 1024x768 in the padded square, 16-px cells, 64x48 cells of image', () => {
    const f = samFrame(800, 600);
    expect(f.scale).toBeCloseTo(1.28, 12);
    expect(f.resizedWidth).toBe(1024);
    expect(f.resizedHeight).toBe(768);
    expect(f.paddedSize).toBe(1024);
    expect(f.gridSize).toBe(64);
    expect(f.cellSize).toBe(16);
    expect(f.gridColumnsUsed).toBe(64);
    expect(f.gridRowsUsed).toBe(48);
  });
  it('rounds the resized size like SAM (floor(x * scale + 0.5))', () => {
    const f = samFrame(700, 1000); // scale 1.024, 700 * 1.024 = 716.8 → 717
    expect(f.resizedWidth).toBe(717);
    expect(f.resizedHeight).toBe(1024);
    expect(f.gridColumnsUsed).toBe(45); // ceil(717 / 16)
    expect(samFrame(600, 800)).toMatchObject({ resizedWidth: 768, resizedHeight: 1024 });
  });
  it('rejects bad sizes', () => {
    expect(() => samFrame(0, 10)).toThrow(RangeError);
    expect(() => samFrame(10, 10, { paddedSize: 1000, gridSize: 64 })).toThrow(RangeError);
  });
});

describe('original <-> sam1024 points', () => {
  it('800x600: (400,300) → (512,384) and back', () => {
    const f = samFrame(800, 600);
    expect(xyOriginalToXySam1024({ x: 400, y: 300 }, f)).toEqual({ x: 512, y: 384 });
    expect(xyOriginalToXySam1024({ x: 799, y: 599 }, f)).toEqual({ x: 1022.72, y: 766.72 });
    const p = xyOriginalToXySam1024({ x: 400, y: 300 }, f);
    expect(p.x).toBeCloseTo(512, 10);
    expect(p.y).toBeCloseTo(384, 10);
    const back = xySam1024ToXyOriginal(p, f);
    expect(back.x).toBeCloseTo(400, 10);
    expect(back.y).toBeCloseTo(300, 10);
    const back2 = xySam1024ToXyOriginal({ x: 512, y: 384 }, f);
    expect(back2.x).toBeCloseTo(400, 12);
    expect(back2.y).toBeCloseTo(300, 12);
  });

  it('uses per-axis newW/oldW, newH/oldH (floor(x*scale+0.5) rounding)', () => {
    const f = samFrame(1000, 333); // scale 1.024, 1024 x floor(340.992 + 0.5) = 341
    expect([f.resizedWidth, f.resizedHeight]).toEqual([1024, 341]);
    const p = xyOriginalToXySam1024({ x: 500, y: 333 }, f);
    expect(p.x).toBeCloseTo(512, 10);
    expect(p.y).toBeCloseTo(341, 10); // 333 * 341/333, not 333 * 1.024 = 340.99
  });
});
