/**
 * Template matching inside a crop: where did the reference's object go in a test crop?
 *
 * After the global warp a small object can still be off by more than its own size (it moves against the anatomy
 * around it, and the global grid barely sees it). A warp network trained with a windowed similarity loss (SSIM,
 * NCC) gets almost no gradient while the object does not overlap itself, so the local stage first finds the
 * translation by normalised cross-correlation (NCC) of the reference crop's object neighbourhood (the template)
 * against the test crop, and the crop model learns the remaining deformation.
 *
 * The template is the reference crop's pixels in a box, optionally only those of a mask (the objects and a thin
 * ring of context around them: for a thin curved band, a box would be mostly background that the global warp
 * already aligned). Frames: both crops are on the same crop grid (xyCrop, roi-frames.ts). The result `shift`
 * (sx, sy) says that the template at crop position u appears in the test crop at u + shift. Integer search over
 * |s| ≤ maxShift where at least 3/4 of the template stays inside the crop (NCC over the part that does), coarse
 * to fine (2× averaged pyramid, then ±2 px at full size), then a parabola through the peak and its neighbours for
 * the sub-pixel part. A weak prior favours small shifts when the match is ambiguous:
 * score = NCC − priorWeight · |s|² / maxShift².
 *
 * The coarse level scores every shift at once from six cross-correlations by FFT (the NCC's sums over the template
 * pixels that stay inside the crop), then scores again directly, in the direct search's order, every shift within
 * FFT_MARGIN of the best FFT score (and any shift where a variance is too small for the FFT's rounding): the chosen
 * shift is the direct search's, bit for bit, at a fraction of its cost (a clavicle's band template of ~5000 coarse
 * pixels against 161² shifts took ~1 s per crop and test image directly).
 */
import type { Box } from '../image/types.js';
import { correlationsOfSpectra, nextPowerOfTwo, realSpectra, type Spectrum } from '../image/fft.js';

export interface ShiftMatch {
  /** Template position in the reference crop → its position in the test crop: u + shift (crop pixels). */
  shift: [number, number];
  /** NCC at the chosen integer shift (−1..1). */
  ncc: number;
  /** NCC without a shift (−1..1): how well the global warp alone already matched the template. */
  nccAtZero: number;
}

export interface MatchOptions {
  /** Largest shift tried along each axis (crop pixels). */
  maxShift: number;
  /** Weight of the small-shift prior (default 0.25). */
  priorWeight?: number;
  /** Template pixels to use inside the box (w × h, non-zero = used); default every pixel of the box. */
  mask?: Uint8Array;
  /**
   * How the coarse level scores its shifts: 'fft' (default) or 'direct' (each shift summed on its own, as before the
   * FFT path; the same shift, slower: kept to check the two agree).
   */
  coarseSearch?: 'fft' | 'direct';
}

/** Share of the template that must stay inside the test crop, and the default prior weight. */
const MIN_INSIDE = 0.75;
const DEFAULT_PRIOR = 0.25;

interface Plane {
  w: number;
  h: number;
  data: Float32Array;
}

/** The used template pixels of the box, as crop-plane indices and coordinates. */
interface Template {
  xs: Int32Array;
  ys: Int32Array;
}

function templateOf(box: Box, w: number, mask: Uint8Array | undefined): Template {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let y = box.y0; y <= box.y1; y++) {
    for (let x = box.x0; x <= box.x1; x++) {
      if (mask && mask[y * w + x] === 0) continue;
      xs.push(x);
      ys.push(y);
    }
  }
  return { xs: Int32Array.from(xs), ys: Int32Array.from(ys) };
}

function halveMask(mask: Uint8Array, w: number, h: number): Uint8Array {
  const hw = Math.max(1, w >> 1);
  const hh = Math.max(1, h >> 1);
  const out = new Uint8Array(hw * hh);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (mask[y * w + x]) out[Math.min(hh - 1, y >> 1) * hw + Math.min(hw - 1, x >> 1)] = 1;
  return out;
}

function halve(p: Plane): Plane {
  const w = Math.max(1, p.w >> 1);
  const h = Math.max(1, p.h >> 1);
  const data = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const x0 = Math.min(2 * x, p.w - 1);
      const y0 = Math.min(2 * y, p.h - 1);
      const x1 = Math.min(x0 + 1, p.w - 1);
      const y1 = Math.min(y0 + 1, p.h - 1);
      data[y * w + x] = 0.25 * (p.data[y0 * p.w + x0]! + p.data[y0 * p.w + x1]! + p.data[y1 * p.w + x0]! + p.data[y1 * p.w + x1]!);
    }
  }
  return { w, h, data };
}

/**
 * NCC of the template of `ref` against `test` shifted by (dx, dy), over the template pixels that stay inside the
 * crop; null when fewer than MIN_INSIDE of them do.
 */
function nccAt(ref: Plane, test: Plane, t: Template, dx: number, dy: number): number | null {
  let sa = 0;
  let sb = 0;
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  let n = 0;
  for (let k = 0; k < t.xs.length; k++) {
    const x = t.xs[k]!;
    const y = t.ys[k]!;
    const xt = x + dx;
    const yt = y + dy;
    if (xt < 0 || yt < 0 || xt >= test.w || yt >= test.h) continue;
    const a = ref.data[y * ref.w + x]!;
    const b = test.data[yt * test.w + xt]!;
    sa += a;
    sb += b;
    saa += a * a;
    sbb += b * b;
    sab += a * b;
    n++;
  }
  if (n < MIN_INSIDE * t.xs.length || n < 2) return null;
  const cov = sab - (sa * sb) / n;
  const va = saa - (sa * sa) / n;
  const vb = sbb - (sb * sb) / n;
  return va <= 1e-12 || vb <= 1e-12 ? 0 : cov / Math.sqrt(va * vb);
}

function search(ref: Plane, test: Plane, t: Template, centre: [number, number], radius: number, maxShift: number, prior: number) {
  let best = { dx: 0, dy: 0, score: -Infinity, ncc: 0 };
  const scores = new Map<string, number>();
  for (let dy = centre[1] - radius; dy <= centre[1] + radius; dy++) {
    for (let dx = centre[0] - radius; dx <= centre[0] + radius; dx++) {
      if (Math.abs(dx) > maxShift || Math.abs(dy) > maxShift) continue;
      const ncc = nccAt(ref, test, t, dx, dy);
      if (ncc === null) continue;
      const score = ncc - (prior * (dx * dx + dy * dy)) / Math.max(1, maxShift * maxShift);
      scores.set(`${dx},${dy}`, score);
      if (score > best.score) best = { dx, dy, score, ncc };
    }
  }
  return { best, scores };
}

/**
 * FFT scores this close to the best one are scored again directly (the FFT's rounding of an NCC: ≤ 2e-14, measured
 * on a clavicle-sized coarse search, 5000 template pixels, ±80 shifts).
 */
const FFT_MARGIN = 1e-6;
/** A variance under this share of its second moment is scored directly (cancellation would dominate the FFT's). */
const FFT_FLAT = 1e-6;

/**
 * The reference side of the FFT search for one template (coarse plane, template and padded size), transformed once
 * and reused for every test crop: the indicator of the template pixels, their values and squares, and the
 * indicator of the test plane.
 */
class AllShiftsSearch {
  private readonly W: number;
  private readonly H: number;
  private readonly spectra: Spectrum[];

  constructor(
    private readonly ref: Plane,
    private readonly t: Template,
    private readonly maxShift: number,
    private readonly prior: number,
  ) {
    const W = (this.W = nextPowerOfTwo(ref.w + maxShift));
    const H = (this.H = nextPowerOfTwo(ref.h + maxShift));
    const [inT, a, aa, inTest] = [0, 1, 2, 3].map(() => new Float64Array(W * H)) as [Float64Array, Float64Array, Float64Array, Float64Array];
    for (let k = 0; k < t.xs.length; k++) {
      const i = t.ys[k]! * W + t.xs[k]!;
      const v = ref.data[t.ys[k]! * ref.w + t.xs[k]!]!;
      inT[i] = 1;
      a[i] = v;
      aa[i] = v * v;
    }
    for (let y = 0; y < ref.h; y++) inTest.fill(1, y * W, y * W + ref.w);
    this.spectra = realSpectra([inT, a, aa, inTest], W, H);
  }

  /** `search(ref, test, t, [0, 0], maxShift, maxShift, prior).best` (see the file comment). */
  best(test: Plane) {
    const { W, H, t, maxShift, prior, ref } = this;
    const b = new Float64Array(W * H);
    const bb = new Float64Array(W * H);
    for (let y = 0; y < test.h; y++) {
      for (let x = 0; x < test.w; x++) {
        const v = test.data[y * test.w + x]!;
        b[y * W + x] = v;
        bb[y * W + x] = v * v;
      }
    }
    // spectra: 0 template indicator, 1 a, 2 a², 3 test-plane indicator, 4 b, 5 b²
    const spectra = [...this.spectra, ...realSpectra([b, bb], W, H)];
    // n, Σa, Σa², Σb, Σb², Σab over the template pixels that land inside the test plane, per shift
    const [cn, ca, caa, cb, cbb, cab] = correlationsOfSpectra(spectra, [[0, 3], [1, 3], [2, 3], [0, 4], [0, 5], [1, 4]], W, H);
    const scoreOf = (dx: number, dy: number, ncc: number) => ncc - (prior * (dx * dx + dy * dy)) / Math.max(1, maxShift * maxShift);
    const candidates: { dx: number; dy: number; approx: number; flat: boolean }[] = [];
    let top = -Infinity;
    for (let dy = -maxShift; dy <= maxShift; dy++) {
      for (let dx = -maxShift; dx <= maxShift; dx++) {
        const i = ((dy + H) % H) * W + ((dx + W) % W);
        const n = Math.round(cn[i]!);
        if (n < MIN_INSIDE * t.xs.length || n < 2) continue;
        const va = caa[i]! - (ca[i]! * ca[i]!) / n;
        const vb = cbb[i]! - (cb[i]! * cb[i]!) / n;
        const flat = va <= FFT_FLAT * Math.abs(caa[i]!) || vb <= FFT_FLAT * Math.abs(cbb[i]!);
        const approx = scoreOf(dx, dy, flat ? 0 : (cab[i]! - (ca[i]! * cb[i]!) / n) / Math.sqrt(va * vb));
        if (!flat) top = Math.max(top, approx);
        candidates.push({ dx, dy, approx, flat });
      }
    }
    let best = { dx: 0, dy: 0, score: -Infinity, ncc: 0 };
    for (const c of candidates) {
      if (!c.flat && c.approx < top - FFT_MARGIN) continue;
      const ncc = nccAt(ref, test, t, c.dx, c.dy);
      if (ncc === null) continue;
      const score = scoreOf(c.dx, c.dy, ncc);
      if (score > best.score) best = { dx: c.dx, dy: c.dy, score, ncc };
    }
    return best;
  }
}

/** Sub-pixel offset of a parabola through (−1, a), (0, b), (1, c), clamped to ±0.5. */
function parabolaPeak(a: number | undefined, b: number, c: number | undefined): number {
  if (a === undefined || c === undefined) return 0;
  const den = a - 2 * b + c;
  if (den >= 0) return 0;
  return Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / den));
}

/**
 * A template of a reference crop, prepared once to be matched against many test crops (the reference side of the
 * coarse FFT search is kept). `refCrop` is a grey w × h plane; `box` the template (xyCrop, inclusive).
 */
export class ShiftMatcher {
  private readonly ref: Plane;
  private readonly template: Template;
  private readonly maxShift: number;
  private readonly prior: number;
  /** The coarse level (half size, shifts of 2 px) when the full search would be large; null otherwise. */
  private readonly coarse: { template: Template; ref: Plane; fft: AllShiftsSearch | null } | null = null;

  constructor(refCrop: Float32Array, w: number, h: number, box: Box, opts: MatchOptions) {
    if (refCrop.length !== w * h) throw new Error(`matchShift: planes must be ${w}x${h}`);
    if (opts.mask && opts.mask.length !== w * h) throw new Error(`matchShift: mask must be ${w}x${h}`);
    this.maxShift = Math.max(0, Math.floor(opts.maxShift));
    this.prior = opts.priorWeight ?? DEFAULT_PRIOR;
    this.ref = { w, h, data: refCrop };
    this.template = templateOf(box, w, opts.mask);
    const { template, maxShift } = this;
    if (template.xs.length > 0 && template.xs.length * (2 * maxShift + 1) ** 2 > 2e6 && maxShift >= 4) {
      const half = (b: Box): Box => ({ x0: b.x0 >> 1, y0: b.y0 >> 1, x1: b.x1 >> 1, y1: b.y1 >> 1 });
      const hr = halve(this.ref);
      const coarse = templateOf(half(box), hr.w, opts.mask ? halveMask(opts.mask, w, h) : undefined);
      const fft = opts.coarseSearch === 'direct' ? null : new AllShiftsSearch(hr, coarse, maxShift >> 1, this.prior);
      this.coarse = { template: coarse, ref: hr, fft };
    }
  }

  /** The shift of the template into `testCrop` (a grey plane of the crop's size). */
  match(testCrop: Float32Array): ShiftMatch {
    const { ref, template, maxShift, prior } = this;
    if (testCrop.length !== ref.w * ref.h) throw new Error(`matchShift: planes must be ${ref.w}x${ref.h}`);
    const test: Plane = { w: ref.w, h: ref.h, data: testCrop };
    if (template.xs.length === 0) return { shift: [0, 0], ncc: 0, nccAtZero: 0 };
    const nccAtZero = nccAt(ref, test, template, 0, 0) ?? 0;
    let centre: [number, number] = [0, 0];
    let radius = maxShift;
    if (this.coarse) {
      const { template: coarse, ref: hr, fft } = this.coarse;
      const ht = halve(test);
      const best = fft ? fft.best(ht) : search(hr, ht, coarse, [0, 0], maxShift >> 1, maxShift >> 1, prior).best;
      if (best.score > -Infinity) centre = [2 * best.dx, 2 * best.dy];
      radius = 2;
    }
    const { best, scores } = search(ref, test, template, centre, radius, maxShift, prior);
    if (best.score === -Infinity) return { shift: [0, 0], ncc: nccAtZero, nccAtZero };
    const at = (dx: number, dy: number) => scores.get(`${dx},${dy}`);
    const fx = parabolaPeak(at(best.dx - 1, best.dy), best.score, at(best.dx + 1, best.dy));
    const fy = parabolaPeak(at(best.dx, best.dy - 1), best.score, at(best.dx, best.dy + 1));
    return { shift: [best.dx + fx, best.dy + fy], ncc: best.ncc, nccAtZero };
  }
}

/**
 * The shift of the template `box` (xyCrop of the reference crop, inclusive) into the test crop. `refCrop` and
 * `testCrop` are grey planes of the same crop size (w × h). (Many test crops: a `ShiftMatcher`.)
 */
export function matchShift(refCrop: Float32Array, testCrop: Float32Array, w: number, h: number, box: Box, opts: MatchOptions): ShiftMatch {
  if (testCrop.length !== w * h) throw new Error(`matchShift: planes must be ${w}x${h}`);
  return new ShiftMatcher(refCrop, w, h, box, opts).match(testCrop);
}
