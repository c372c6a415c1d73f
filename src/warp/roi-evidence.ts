/**
 * The region-of-interest stage's evidence: does a crop model's refinement of an object make the test images look
 * more like the reference there than the global warp alone? Decided per object, from the run's own images.
 *
 * Some test images are held out of the crop models' training (`heldOutIds`: evenly spread over the folder). After
 * the crop models trained, on each held-out image and for each object of each crop, two reference reads are compared
 * with the test crop T (the test image resampled onto the crop through the global warp, xyCrop, roi-frames.ts):
 *   global alone:    Ig(v) = I_ref(v)                 (the crop starts globally aligned)
 *   global ∘ local:  Il(v) = I_ref(v + D(v))          (D: the local correction of roi-compose.ts, pre-shift included)
 * by local normalised cross-correlation (NCC, the crop models' own similarity: windows of 9 local working pixels,
 * i.e. `windowRadiusPx` = 4 · crop side / local resolution in crop pixels), averaged over the object's neighbourhood
 * (its reference pixels, read through each map, dilated by one window radius: every window that sees the object's
 * outline). The object keeps its refinement when the held-out images' mean NCC gain is positive and at least half
 * of them improve; otherwise its pixels keep the global warp's labels (roi-stage.ts).
 * Held out, because the crop model was trained to raise exactly this similarity on its training images: on those it
 * rises also where the finer scale follows ribs and noise instead of the object (issue 12's JSRT apex, costophrenic
 * angle and lung-border bands); on images it never saw it rises only where the object's own edges carry it.
 */
import type { Box } from '../image/types.js';
import { sampleBilinearClamped } from '../image/bilinear.js';
import { localCorrection, type LocalRefinement } from './roi-compose.js';

export interface EvidenceOptions {
  /** Share of the test images held out of the crop models' training (default 0.25) ... */
  heldOutShare: number;
  /** ... at least this many (default 3) and at most this many (default 16); */
  minHeldOut: number;
  maxHeldOut: number;
  /** with fewer test images than this, none is held out and the evidence is in-sample (default 8). */
  minTestsToHoldOut: number;
}

export const DEFAULT_EVIDENCE: EvidenceOptions = { heldOutShare: 0.25, minHeldOut: 3, maxHeldOut: 16, minTestsToHoldOut: 8 };

/** The test images held out of the crop models' training: evenly spaced over `ids` (none for small folders). */
export function heldOutIds(ids: readonly string[], opts: Partial<EvidenceOptions> = {}): string[] {
  const o = { ...DEFAULT_EVIDENCE, ...opts };
  const n = ids.length;
  if (n < o.minTestsToHoldOut) return [];
  const k = Math.min(o.maxHeldOut, Math.max(o.minHeldOut, Math.round(o.heldOutShare * n)), n - 1);
  const out: string[] = [];
  for (let j = 0; j < k; j++) out.push(ids[Math.floor(((j + 0.5) * n) / k)]!);
  return out;
}

/** Per object: the evidence and the decision (what a run records). */
export interface ObjectEvidence {
  /** 'held-out' (images the crop model never trained on) or 'in-sample' (too few test images to hold some out). */
  basis: 'held-out' | 'in-sample';
  images: number;
  /** Mean local NCC over the object's neighbourhood: reference read through the global warp alone / global ∘ local. */
  nccGlobal: number;
  nccLocal: number;
  /** Mean of nccLocal − nccGlobal over the images, and how many images improved. */
  gain: number;
  improved: number;
  kept: boolean;
}

/**
 * Local NCC of a and b (w × h) over (2r+1)² windows, averaged over the pixels where `region` is non-zero; windows are
 * clipped at the plane's edge; a window where either plane is flat counts as 0.
 */
export function meanLocalNcc(a: Float32Array, b: Float32Array, w: number, h: number, r: number, region: Uint8Array): number {
  const W1 = w + 1;
  const sums = [a, b, null, null, null].map(() => new Float64Array(W1 * (h + 1)));
  const [sa, sb, saa, sbb, sab] = sums as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const k = (y + 1) * W1 + x + 1;
      const va = a[i]!;
      const vb = b[i]!;
      const vals = [va, vb, va * va, vb * vb, va * vb];
      for (let s = 0; s < 5; s++) {
        const t = sums[s]!;
        t[k] = vals[s]! + t[k - 1]! + t[k - W1]! - t[k - W1 - 1]!;
      }
    }
  }
  const rect = (t: Float64Array, x0: number, y0: number, x1: number, y1: number) =>
    t[(y1 + 1) * W1 + x1 + 1]! - t[y0 * W1 + x1 + 1]! - t[(y1 + 1) * W1 + x0]! + t[y0 * W1 + x0]!;
  let total = 0;
  let n = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!region[y * w + x]) continue;
      const x0 = Math.max(0, x - r);
      const y0 = Math.max(0, y - r);
      const x1 = Math.min(w - 1, x + r);
      const y1 = Math.min(h - 1, y + r);
      const m = (x1 - x0 + 1) * (y1 - y0 + 1);
      const ma = rect(sa, x0, y0, x1, y1) / m;
      const mb = rect(sb, x0, y0, x1, y1) / m;
      const va = rect(saa, x0, y0, x1, y1) / m - ma * ma;
      const vb = rect(sbb, x0, y0, x1, y1) / m - mb * mb;
      const cov = rect(sab, x0, y0, x1, y1) / m - ma * mb;
      const eps = 1e-6 * (Math.abs(ma) + Math.abs(mb) + 1) ** 2;
      total += va > eps && vb > eps ? cov / Math.sqrt(va * vb) : 0;
      n++;
    }
  }
  return n > 0 ? total / n : 0;
}

/** One object's neighbourhood on the crop grid: its reference pixels (crop-size mask, non-zero = object). */
export interface ObjectRegion {
  /** Crop-size mask of the object's own reference pixels. */
  mask: Uint8Array;
  /** Its inclusive box (crop pixels). */
  box: Box;
}

/** Dilate a crop-size mask by a square of radius r (separable max), for the neighbourhood of an object. */
function dilateSquare(mask: Uint8Array, w: number, h: number, r: number): Uint8Array {
  const rows = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) continue;
      for (let dx = Math.max(0, x - r); dx <= Math.min(w - 1, x + r); dx++) rows[y * w + dx] = 1;
    }
  }
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!rows[y * w + x]) continue;
      for (let dy = Math.max(0, y - r); dy <= Math.min(h - 1, y + r); dy++) out[dy * w + x] = 1;
    }
  }
  return out;
}

/**
 * NCC of one test crop against the reference read through the global warp alone and through global ∘ local, per
 * object (see the file comment). `refGrey`, `testGrey`: crop-size grey planes (the test crop without pre-shift);
 * `refinement`: the crop's local warp for this test image (flow and pre-shift on the crop grid).
 */
export function cropSimilarity(
  refGrey: Float32Array,
  testGrey: Float32Array,
  refinement: LocalRefinement,
  objects: readonly ObjectRegion[],
  windowRadiusPx: number,
): { nccGlobal: number; nccLocal: number }[] {
  const { width: w, height: h } = refinement.frame;
  const n = w * h;
  const readLocal = new Float32Array(n);
  const landing = new Int32Array(n);
  const d = new Float64Array(2);
  const scratch = new Float64Array(2);
  const one = new Float32Array(1);
  for (let v = 0, i = 0; v < h; v++) {
    for (let u = 0; u < w; u++, i++) {
      localCorrection(refinement, u, v, d, scratch);
      const x = u + d[0]!;
      const y = v + d[1]!;
      sampleBilinearClamped(refGrey, w, h, 1, x, y, one, 0);
      readLocal[i] = one[0]!;
      const xi = Math.min(w - 1, Math.max(0, Math.round(x)));
      const yi = Math.min(h - 1, Math.max(0, Math.round(y)));
      landing[i] = yi * w + xi;
    }
  }
  return objects.map((o) => {
    const near = dilateSquare(o.mask, w, h, windowRadiusPx);
    // the object's neighbourhood as each map places it in the test crop: through the global warp alone it stays
    // where the reference has it; through global ∘ local, where the local correction reads it from
    const region = new Uint8Array(n);
    for (let i = 0; i < n; i++) region[i] = near[i]! | near[landing[i]!]!;
    return {
      nccGlobal: meanLocalNcc(testGrey, refGrey, w, h, windowRadiusPx, region),
      nccLocal: meanLocalNcc(testGrey, readLocal, w, h, windowRadiusPx, region),
    };
  });
}

/** The decision from per-image similarities of one object (see the file comment). */
export function decideObject(perImage: readonly { nccGlobal: number; nccLocal: number }[], basis: ObjectEvidence['basis']): ObjectEvidence {
  const m = perImage.length;
  const mean = (f: (s: { nccGlobal: number; nccLocal: number }) => number) => (m > 0 ? perImage.reduce((a, s) => a + f(s), 0) / m : 0);
  const gain = mean((s) => s.nccLocal - s.nccGlobal);
  const improved = perImage.filter((s) => s.nccLocal > s.nccGlobal).length;
  return {
    basis,
    images: m,
    nccGlobal: mean((s) => s.nccGlobal),
    nccLocal: mean((s) => s.nccLocal),
    gain,
    improved,
    kept: m > 0 && gain > 0 && 2 * improved >= m,
  };
}
