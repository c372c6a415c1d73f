import { describe, expect, it } from 'vitest';
import { composeGlobalAndLocal, taperWeight } from '../../src/warp/roi-compose.js';
import { GlobalWarpMap } from '../../src/warp/roi-frames.js';
import { upsampleFlowPlanes, warpLabelNearest } from '../../src/warp/spatial.js';
import { warpLabelThroughFrame } from '../../src/warp/working-frame.js';
import { affineWorkingFlow, labelOf } from './helpers.js';

/** Reference position read for test pixel (x, y) through a composed field (the label warps' convention). */
function readPosition(field: Float32Array, test: { width: number }, ref: { width: number }, testH: number, refH: number, x: number, y: number) {
  const i = (y * test.width + x) * 2;
  return {
    x: (x + field[i]! + 0.5) * (ref.width / test.width) - 0.5,
    y: (y + field[i + 1]! + 0.5) * (refH / testH) - 0.5,
  };
}

/** A local flow on a crop grid from a function of the crop position. */
function cropFlow(w: number, h: number, f: (u: number, v: number) => [number, number]): Float32Array {
  const out = new Float32Array(w * h * 2);
  for (let v = 0; v < h; v++) {
    for (let u = 0; u < w; u++) {
      const [du, dv] = f(u, v);
      out[(v * w + u) * 2] = du;
      out[(v * w + u) * 2 + 1] = dv;
    }
  }
  return out;
}

describe('taperWeight', () => {
  const frame = { x0: 0, y0: 0, width: 20, height: 10 };
  it('is 1 inside, linear across the edge band, 0 outside; a hard edge without taper', () => {
    expect(taperWeight(frame, 10, 5, 4)).toBe(1);
    expect(taperWeight(frame, -0.5, 5, 4)).toBe(0);
    expect(taperWeight(frame, 1.5, 5, 4)).toBeCloseTo(0.5, 12);
    expect(taperWeight(frame, 10, 8.5, 4)).toBeCloseTo(0.25, 12);
    expect(taperWeight(frame, 25, 5, 4)).toBe(0);
    expect(taperWeight(frame, 0, 0, 0)).toBe(1);
    expect(taperWeight(frame, -0.6, 0, 0)).toBe(0);
  });
});

describe('composeGlobalAndLocal (flow composition: global warp, then the crop warp)', () => {
  const R = 32;
  const test = { width: 96, height: 80 };
  const ref = { width: 64, height: 64 };

  it('without refinements it is exactly the field of the global label warp', () => {
    const flow = affineWorkingFlow(R, [0.05, 0.01, 1.5, -0.02, 0.03, -2]);
    const map = new GlobalWarpMap(flow, R, test, ref);
    expect(Array.from(composeGlobalAndLocal(map, []))).toEqual(Array.from(upsampleFlowPlanes(flow, R, R, test.width, test.height)));
  });

  it('two translations add inside the crop and only the global one applies outside', () => {
    // global: +2 working px in x (= +4 ref px at ref 64 / R 32); local: (+3, −1) crop px, hard edge.
    const map = new GlobalWarpMap(affineWorkingFlow(R, [0, 0, 2, 0, 0, 0]), R, test, ref);
    const frame = { x0: 20, y0: 16, width: 24, height: 20 };
    const field = composeGlobalAndLocal(map, [{ frame, flowXyCrop: cropFlow(24, 20, () => [3, -1]), taperPx: 0 }]);
    let inside = 0;
    let outside = 0;
    for (let y = 0; y < test.height; y += 3) {
      for (let x = 0; x < test.width; x += 3) {
        const g = map.testToRef(x, y);
        const q = readPosition(field, test, ref, test.height, ref.height, x, y);
        const inCrop = g.x - frame.x0 > -0.5 + 1e-9 && g.x - frame.x0 < frame.width - 0.5 - 1e-9 && g.y - frame.y0 > -0.5 + 1e-9 && g.y - frame.y0 < frame.height - 0.5 - 1e-9;
        const expected = inCrop ? { x: g.x + 3, y: g.y - 1 } : g;
        expect(q.x).toBeCloseTo(expected.x, 4);
        expect(q.y).toBeCloseTo(expected.y, 4);
        if (inCrop) inside++;
        else outside++;
      }
    }
    expect(inside).toBeGreaterThan(30);
    expect(outside).toBeGreaterThan(300);
  });

  it('affine ∘ affine: the composed map is the analytic composition L(G(p)) inside the crop', () => {
    const map = new GlobalWarpMap(affineWorkingFlow(R, [0.06, -0.03, 1.2, 0.04, 0.05, -0.8]), R, test, ref);
    const frame = { x0: 12, y0: 10, width: 40, height: 40 };
    // local ψ(u, v) = (0.1u − 0.05v + 1, 0.02u + 0.08v − 2): bilinear interpolation of a linear field is exact
    const psi = (u: number, v: number): [number, number] => [0.1 * u - 0.05 * v + 1, 0.02 * u + 0.08 * v - 2];
    const field = composeGlobalAndLocal(map, [{ frame, flowXyCrop: cropFlow(40, 40, psi), taperPx: 0 }]);
    let checked = 0;
    for (let y = 0; y < test.height; y += 2) {
      for (let x = 0; x < test.width; x += 2) {
        const g = map.testToRef(x, y);
        const u = g.x - frame.x0;
        const v = g.y - frame.y0;
        if (u < 0 || v < 0 || u > 39 || v > 39) continue; // the interior, where ψ is not edge-clamped
        const [du, dv] = psi(u, v);
        const q = readPosition(field, test, ref, test.height, ref.height, x, y);
        expect(q.x).toBeCloseTo(g.x + du, 3);
        expect(q.y).toBeCloseTo(g.y + dv, 3);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('with a taper the composed map is continuous across the crop edge (equals the global map there)', () => {
    const map = new GlobalWarpMap(affineWorkingFlow(R, [0, 0, 0.5, 0, 0, 0.25]), R, test, ref);
    const frame = { x0: 16, y0: 16, width: 32, height: 32 };
    const field = composeGlobalAndLocal(map, [{ frame, flowXyCrop: cropFlow(32, 32, () => [5, 5]), taperPx: 8 }]);
    let maxJump = 0;
    for (let y = 0; y < test.height; y++) {
      for (let x = 1; x < test.width; x++) {
        const a = readPosition(field, test, ref, test.height, ref.height, x - 1, y);
        const b = readPosition(field, test, ref, test.height, ref.height, x, y);
        maxJump = Math.max(maxJump, Math.abs(b.x - a.x - ref.width / test.width), Math.abs(b.y - a.y));
      }
    }
    // a 5 px offset faded over 8 crop px changes by at most 5/8 px per crop px (≈ 0.42 per test px here)
    expect(maxJump).toBeLessThan(0.5);
  });

  it('labels read through the composed field: a reference square lands where global then local put it', () => {
    // Reference: a 6×6 square of class 3 at (30..35, 30..35). Global: identity (same sizes). Local: ψ = (+4, 0) crop
    // px → test pixel x reads reference x + 4, so the square appears 4 px to the left in the test.
    const size = { width: 64, height: 64 };
    const refLabel = labelOf(64, 64, (x, y) => (x >= 30 && x <= 35 && y >= 30 && y <= 35 ? 3 : 0));
    const map = new GlobalWarpMap(new Float32Array(R * R * 2), R, size, size);
    const frame = { x0: 16, y0: 16, width: 36, height: 36 };
    const field = composeGlobalAndLocal(map, [{ frame, flowXyCrop: cropFlow(36, 36, () => [4, 0]), taperPx: 0 }]);
    const warped = warpLabelNearest(refLabel, field, 64, 64);
    const expected = labelOf(64, 64, (x, y) => (x >= 26 && x <= 31 && y >= 30 && y <= 35 ? 3 : 0));
    expect(Array.from(warped.data)).toEqual(Array.from(expected.data));
  });

  it('a pre-shifted test crop (constant s): D(v) = ψ(v − s) − s', () => {
    const size = { width: 64, height: 64 };
    const map = new GlobalWarpMap(new Float32Array(R * R * 2), R, size, size);
    const frame = { x0: 8, y0: 8, width: 48, height: 48 };
    const psi = (u: number, v: number): [number, number] => [0.05 * u, -0.03 * v + 1];
    const field = composeGlobalAndLocal(map, [{ frame, flowXyCrop: cropFlow(48, 48, psi), taperPx: 0, preShift: cropFlow(48, 48, () => [3, -2]) }]);
    for (const [x, y] of [[20, 20], [30, 25], [40, 44]] as const) {
      const u = x - frame.x0;
      const v = y - frame.y0;
      const [du, dv] = psi(u - 3, v + 2);
      const q = readPosition(field, size, size, 64, 64, x, y);
      expect(q.x).toBeCloseTo(x + du - 3, 4);
      expect(q.y).toBeCloseTo(y + dv + 2, 4);
    }
  });

  it('a varying pre-shift field S: the test crop pixel u with u + S(u) = v is found by fixed-point iteration', () => {
    const size = { width: 64, height: 64 };
    const map = new GlobalWarpMap(new Float32Array(R * R * 2), R, size, size);
    const frame = { x0: 8, y0: 8, width: 48, height: 48 };
    // S(u) = (0.1·u + 2, −0.05·v): u + S(u) = v  ⇔  u = (v_x − 2) / 1.1, u_y = v_y / 0.95; ψ = (1, 0.5)
    const field = composeGlobalAndLocal(map, [
      { frame, flowXyCrop: cropFlow(48, 48, () => [1, 0.5]), taperPx: 0, preShift: cropFlow(48, 48, (u, v) => [0.1 * u + 2, -0.05 * v]) },
    ]);
    for (const [x, y] of [[20, 20], [33, 41], [45, 12]] as const) {
      const v = [x - frame.x0, y - frame.y0];
      const u = [(v[0]! - 2) / 1.1, v[1]! / 0.95];
      const q = readPosition(field, size, size, 64, 64, x, y);
      expect(q.x).toBeCloseTo(x + (u[0]! + 1 - v[0]!), 3);
      expect(q.y).toBeCloseTo(y + (u[1]! + 0.5 - v[1]!), 3);
    }
  });

  it('overlapping crops: each correction holds near its own objects, they mix half way, no jump', () => {
    const size = { width: 128, height: 128 };
    const map = new GlobalWarpMap(new Float32Array(R * R * 2), R, size, size);
    // crop A x 0..63 (object at x 20..25) corrects by +4 px in x; crop B x 40..103 (object at x 78..83 in the
    // image = 38..43 in B) by −4 px; they overlap on x 40..63.
    const a = { frame: { x0: 0, y0: 32, width: 64, height: 64 }, flowXyCrop: cropFlow(64, 64, () => [4, 0]), taperPx: 0, objectBox: { x0: 20, y0: 20, x1: 25, y1: 25 } };
    const b = { frame: { x0: 40, y0: 32, width: 64, height: 64 }, flowXyCrop: cropFlow(64, 64, () => [-4, 0]), taperPx: 0, objectBox: { x0: 38, y0: 20, x1: 43, y1: 25 } };
    const field = composeGlobalAndLocal(map, [a, b], { ownershipPx: 4 });
    const dx = (x: number) => readPosition(field, size, size, 128, 128, x, 55).x - x;
    expect(dx(22)).toBeCloseTo(4, 6); // A only
    // in both crops, nearer A's object (d_A = 20, d_B = 33): weights 1 : e^(−13/4)
    const e = Math.exp(-13 / 4);
    expect(dx(45)).toBeCloseTo((4 * (1 - e)) / (1 + e), 4);
    expect(dx(80)).toBeCloseTo(-4, 6); // B only (its object)
    // half way (d_A = 27, d_B = 26): nearly the average, slightly towards B
    const h = Math.exp(-1 / 4);
    expect(dx(52)).toBeCloseTo((4 * h - 4) / (1 + h), 4);
    expect(Math.abs(dx(60))).toBeLessThan(4);
    let maxJump = 0;
    for (let x = 1; x < 128; x++) if (x !== 40 && x !== 64 && x !== 104) maxJump = Math.max(maxJump, Math.abs(dx(x) - dx(x - 1)));
    expect(maxJump).toBeLessThan(1.5); // smooth inside the overlap (hard edges only where a crop ends: x = 40, 64, 104)
  });
});


describe('GlobalWarpMap through an aligned test frame (initial alignment, working-frame.ts)', () => {
  const R = 32;
  const test = { width: 90, height: 70 };
  const ref = { width: 64, height: 64 };
  // xyWarp → xyTestOriginal: rotation by 20°, scale 2.2, shift — what warp/prealign.ts may find.
  const c = Math.cos((20 * Math.PI) / 180) * 2.2;
  const s = Math.sin((20 * Math.PI) / 180) * 2.2;
  const warpToOriginal = [c, -s, 30, s, c, 5] as const;
  const flow = affineWorkingFlow(R, [0.03, -0.02, 1.1, 0.01, 0.02, -0.7]);
  const map = new GlobalWarpMap(flow, R, test, ref, warpToOriginal);

  it('reads the reference where warpLabelThroughFrame does (Eq. 4 in original pixels)', () => {
    // A reference label whose value encodes its own x: the label warp reads it at testToRef(x, y) (nearest).
    const refLabel = labelOf(ref.width, ref.height, (x) => Math.min(255, x * 3));
    const warped = warpLabelThroughFrame(refLabel, flow, R, { width: test.width, height: test.height, warpToOriginal }, 'nearest');
    let compared = 0;
    for (let y = 0; y < test.height; y += 5) {
      for (let x = 0; x < test.width; x += 5) {
        const q = map.testToRef(x, y);
        const rx = Math.round(q.x);
        const ry = Math.round(q.y);
        if (rx < 1 || ry < 1 || rx > ref.width - 2 || ry > ref.height - 2 || Math.abs(q.x - rx) > 0.4) continue;
        expect(warped.data[y * test.width + x]).toBe(Math.min(255, rx * 3));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(20);
  });

  it('refToTest inverts testToRef', () => {
    for (const [x, y] of [[20, 30], [40, 10], [55, 50]] as const) {
      const p = map.refToTest(x, y);
      const q = map.testToRef(p.x, p.y);
      expect(q.x).toBeCloseTo(x, 3);
      expect(q.y).toBeCloseTo(y, 3);
    }
  });

  it('differs from the plain-resize map (the frame is really used)', () => {
    const plain = new GlobalWarpMap(flow, R, test, ref);
    const a = map.testToRef(45, 35);
    const b = plain.testToRef(45, 35);
    expect(Math.hypot(a.x - b.x, a.y - b.y)).toBeGreaterThan(1);
  });
});

describe('composeGlobalAndLocal through an aligned test frame', () => {
  it('without refinements it gives exactly the labels of warpLabelThroughFrame (Eq. 4 through the frame)', () => {
    const R = 32;
    const test = { width: 90, height: 70 };
    const ref = { width: 64, height: 64 };
    const c = Math.cos(0.35) * 2.2;
    const s = Math.sin(0.35) * 2.2;
    const warpToOriginal = [c, -s, 30, s, c, 5] as const;
    const flow = affineWorkingFlow(R, [0.03, -0.02, 1.1, 0.01, 0.02, -0.7]);
    const map = new GlobalWarpMap(flow, R, test, ref, warpToOriginal);
    const refLabel = labelOf(ref.width, ref.height, (x, y) => ((x >> 2) * 16 + (y >> 2)) & 255);
    const composed = warpLabelNearest(refLabel, composeGlobalAndLocal(map, []), test.width, test.height);
    const direct = warpLabelThroughFrame(refLabel, flow, R, { ...test, warpToOriginal }, 'nearest');
    expect(Array.from(composed.data)).toEqual(Array.from(direct.data));
  });
});
