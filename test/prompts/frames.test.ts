import { describe, expect, it } from 'vitest';
import {
  gridCellCenterSam1024,
  maskPixelCenterToSam1024,
  originalToSam1024,
  rescalePixelPoint,
  sam1024ToGridCell,
  sam1024ToOriginal,
  samFrame,
} from '../../src/prompts/frames.js';

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
  });
  it('rejects bad sizes', () => {
    expect(() => samFrame(0, 10)).toThrow(RangeError);
    expect(() => samFrame(10, 10, { paddedSize: 1000, gridSize: 64 })).toThrow(RangeError);
  });
});

describe('frame conversions (800x600 image)', () => {
  const f = samFrame(800, 600);
  it('original → sam1024 → original', () => {
    expect(originalToSam1024(f, { x: 400, y: 300 })).toEqual({ x: 512, y: 384 });
    expect(originalToSam1024(f, { x: 799, y: 599 })).toEqual({ x: 1022.72, y: 766.72 });
    const back = sam1024ToOriginal(f, { x: 512, y: 384 });
    expect(back.x).toBeCloseTo(400, 12);
    expect(back.y).toBeCloseTo(300, 12);
  });
  it('sam1024 → grid cell and cell centres', () => {
    expect(sam1024ToGridCell(f, { x: 512, y: 384 })).toEqual({ x: 32, y: 24 });
    expect(sam1024ToGridCell(f, { x: 15.99, y: 16 })).toEqual({ x: 0, y: 1 });
    expect(gridCellCenterSam1024(f, { x: 0, y: 0 })).toEqual({ x: 8, y: 8 });
    expect(gridCellCenterSam1024(f, { x: 63, y: 47 })).toEqual({ x: 1016, y: 760 });
  });
  it('mask pixel centres in a half-size working frame (400x300): one mask pixel = 2.56 sam1024 pixels', () => {
    const a = maskPixelCenterToSam1024(f, 400, 300, { x: 0, y: 0 });
    expect(a.x).toBeCloseTo(1.28, 10);
    expect(a.y).toBeCloseTo(1.28, 10);
    const b = maskPixelCenterToSam1024(f, 400, 300, { x: 199, y: 149 });
    expect(b.x).toBeCloseTo(199.5 * 2.56, 10);
    expect(b.y).toBeCloseTo(149.5 * 2.56, 10);
  });
  it('rescalePixelPoint maps pixel centres and clamps', () => {
    expect(rescalePixelPoint({ x: 0, y: 0 }, 400, 300, 800, 600)).toEqual({ x: 1, y: 1 }); // 0.5*2-0.5 = 0.5 → round 1
    expect(rescalePixelPoint({ x: 10, y: 20 }, 400, 300, 800, 600)).toEqual({ x: 21, y: 41 });
    expect(rescalePixelPoint({ x: 21, y: 41 }, 800, 600, 400, 300)).toEqual({ x: 10, y: 20 });
    expect(rescalePixelPoint({ x: 399, y: 299 }, 400, 300, 800, 600)).toEqual({ x: 799, y: 599 });
  });
});
