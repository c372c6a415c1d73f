import { describe, expect, it } from 'vitest';
import {
  gridCellCenterSam1024,
  maskPixelCenterToSam1024,
  rescalePixelPoint,
  sam1024ToGridCell,
  samFrame,
} from '../../src/prompts/frames.js';

describe('frame conversions (800x600 image)', () => {
  const f = samFrame(800, 600);
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
