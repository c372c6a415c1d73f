import { describe, expect, it } from 'vitest';
import {
  GlobalWarpMap, cropFitsImage, cropImage, cropLabel, cropToRefOriginal, refOriginalToCrop, resampleImageOnGrid, resampleLabelOnGrid,
} from '../../src/warp/roi-frames.js';
import { upsampleFlowPlanes, warpLabelNearest } from '../../src/warp/spatial.js';
import { affineWorkingFlow, labelOf, smoothImage } from './helpers.js';

describe('crop frames', () => {
  const frame = { x0: 37, y0: 12, width: 40, height: 25 };

  it('crop ↔ reference coordinates round-trip (continuous positions, inside and outside the crop)', () => {
    for (const [x, y] of [[37, 12], [50.25, 30.75], [0, 0], [-3.5, 100.125], [76, 36]] as const) {
      const { u, v } = refOriginalToCrop(frame, x, y);
      expect(cropToRefOriginal(frame, u, v)).toEqual({ x, y });
    }
    expect(refOriginalToCrop(frame, 37, 12)).toEqual({ u: 0, v: 0 });
    expect(cropToRefOriginal(frame, 39, 24)).toEqual({ x: 76, y: 36 });
  });

  it('cropImage / cropLabel hold the original pixels at crop + origin (all channels)', () => {
    const img = smoothImage(100, 60, 3);
    const lab = labelOf(100, 60, (x, y) => (x * 7 + y * 3) % 256);
    const ci = cropImage(img, frame);
    const cl = cropLabel(lab, frame);
    expect([ci.width, ci.height, ci.channels, cl.width, cl.height]).toEqual([40, 25, 3, 40, 25]);
    for (const [u, v] of [[0, 0], [39, 24], [13, 7]] as const) {
      const { x, y } = cropToRefOriginal(frame, u, v);
      for (let c = 0; c < 3; c++) expect(ci.data[(v * 40 + u) * 3 + c]).toBe(img.data[(y * 100 + x) * 3 + c]);
      expect(cl.data[v * 40 + u]).toBe(lab.data[y * 100 + x]);
    }
  });

  it('a crop must lie inside the image', () => {
    expect(cropFitsImage(frame, 100, 60)).toBe(true);
    expect(cropFitsImage(frame, 76, 60)).toBe(false);
    expect(cropFitsImage({ ...frame, x0: -1 }, 100, 60)).toBe(false);
    expect(cropFitsImage({ ...frame, x0: 1.5 }, 100, 60)).toBe(false);
    expect(() => cropImage(smoothImage(50, 50), frame)).toThrow(/does not fit the 50x50 image/);
  });
});

describe('GlobalWarpMap (test ↔ reference original frames through the global working flow)', () => {
  it('zero flow and equal sizes: the identity', () => {
    const map = new GlobalWarpMap(new Float32Array(32 * 32 * 2), 32, { width: 96, height: 64 }, { width: 96, height: 64 });
    expect(map.testToRef(10, 20)).toEqual({ x: 10, y: 20 });
    const back = map.refToTest(10.5, 20.25);
    expect(back.x).toBeCloseTo(10.5, 9);
    expect(back.y).toBeCloseTo(20.25, 9);
  });

  it('a constant working flow and different sizes: the analytic position', () => {
    // R = 32, test 128×64, ref 64×96; flow (+2, −1) working px.
    const flow = affineWorkingFlow(32, [0, 0, 2, 0, 0, -1]);
    const map = new GlobalWarpMap(flow, 32, { width: 128, height: 64 }, { width: 64, height: 96 });
    const q = map.testToRef(50, 30);
    const xw = ((50 + 0.5) * 32) / 128 - 0.5;
    const yw = ((30 + 0.5) * 32) / 64 - 0.5;
    expect(q.x).toBeCloseTo(((xw + 2 + 0.5) * 64) / 32 - 0.5, 9);
    expect(q.y).toBeCloseTo(((yw - 1 + 0.5) * 96) / 32 - 0.5, 9);
  });

  it('testToRef is where the full-resolution label warp reads the reference (same convention as labelFromFlow)', () => {
    const R = 32;
    const flow = affineWorkingFlow(R, [0.05, -0.02, 1.3, 0.03, 0.04, -0.7]);
    const test = { width: 48, height: 40 };
    const ref = labelOf(16, 16, (x, y) => y * 16 + x); // every pixel its own value
    const map = new GlobalWarpMap(flow, R, test, ref);
    const field = upsampleFlowPlanes(flow, R, R, test.width, test.height);
    const warped = warpLabelNearest(ref, field, test.width, test.height);
    let compared = 0;
    for (let y = 0; y < test.height; y++) {
      for (let x = 0; x < test.width; x++) {
        const q = map.testToRef(x, y);
        const xs = Math.round(q.x);
        const ys = Math.round(q.y);
        if (xs < 0 || ys < 0 || xs > 15 || ys > 15) continue;
        // positions on a rounding boundary may go either way in float32 vs float64
        if (Math.abs(q.x - Math.floor(q.x) - 0.5) < 1e-3 || Math.abs(q.y - Math.floor(q.y) - 0.5) < 1e-3) continue;
        expect(warped.data[y * test.width + x]).toBe(ys * 16 + xs);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(500);
  });

  it('refToTest inverts testToRef for an affine + smooth non-linear flow (to 1e-3 px)', () => {
    const R = 64;
    const flow = affineWorkingFlow(R, [0.1, 0.05, 3, -0.08, 0.12, -2]);
    for (let y = 0; y < R; y++) {
      for (let x = 0; x < R; x++) flow[(y * R + x) * 2] += 1.5 * Math.sin(x / 9) * Math.cos(y / 11);
    }
    const map = new GlobalWarpMap(flow, R, { width: 300, height: 200 }, { width: 256, height: 256 });
    for (const [x, y] of [[120, 80], [40.5, 150.25], [200, 30]] as const) {
      const p = map.refToTest(x, y);
      const q = map.testToRef(p.x, p.y);
      expect(Math.abs(q.x - x)).toBeLessThan(1e-3);
      expect(Math.abs(q.y - y)).toBeLessThan(1e-3);
    }
  });

  it('a test crop resampled through the global warp equals the reference crop when the test is the reference moved', () => {
    // Reference 64×64; the test is the reference shifted right by 6 px and down by 4 px (its pixel x reads the
    // reference at x − 6): the global flow is (−6, −4) test px = (−3, −2) working px at R = 32, test size 64.
    const ref = smoothImage(64, 64);
    const test = { width: 64, height: 64, channels: 1 as const, data: new Float32Array(64 * 64) };
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) test.data[y * 64 + x] = ref.data[Math.max(0, y - 4) * 64 + Math.max(0, x - 6)]!;
    const map = new GlobalWarpMap(affineWorkingFlow(32, [0, 0, -3, 0, 0, -2]), 32, test, ref);
    const frame = { x0: 10, y0: 20, width: 30, height: 24 };
    const grid = map.cropGridInTest(frame);
    expect(grid[0]).toBeCloseTo(16, 9);
    expect(grid[1]).toBeCloseTo(24, 9);
    const testCrop = resampleImageOnGrid(test, grid, frame.width, frame.height);
    const refCrop = cropImage(ref, frame);
    for (let i = 0; i < refCrop.data.length; i++) expect(testCrop.data[i]).toBeCloseTo(refCrop.data[i]!, 3);
    // labels go the same way (nearest)
    const refLab = labelOf(64, 64, (x, y) => (x >= 20 && x < 30 && y >= 25 && y < 35 ? 2 : 0));
    const testLab = labelOf(64, 64, (x, y) => refLab.data[Math.max(0, y - 4) * 64 + Math.max(0, x - 6)]!);
    expect(Array.from(resampleLabelOnGrid(testLab, grid, frame.width, frame.height).data)).toEqual(Array.from(cropLabel(refLab, frame).data));
    // the crop's footprint in the test: its outer pixel edges (x 9.5..39.5, y 19.5..43.5) moved by (+6, +4),
    // widened to whole pixels plus one pixel of slack
    expect(map.cropBoxInTest(frame)).toEqual({ x0: 14, y0: 22, x1: 47, y1: 49 });
  });
});
