/**
 * Intensity normalisation: grey conversion and percentile clip + min-max scaling to [0, 1].
 */
import type { FloatImage } from './types.js';

/** Luminance (ITU-R BT.601): 0.299 R + 0.587 G + 0.114 B. Grey images are copied. */
export function toGrey(img: FloatImage): FloatImage {
  const n = img.width * img.height;
  if (img.data.length !== n * img.channels) {
    throw new RangeError(`toGrey: data length ${img.data.length} does not match ${img.width}x${img.height}x${img.channels}`);
  }
  if (img.channels === 1) return { width: img.width, height: img.height, channels: 1, data: new Float32Array(img.data) };
  const src = img.data;
  const out = new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) out[i] = 0.299 * src[j]! + 0.587 * src[j + 1]! + 0.114 * src[j + 2]!;
  return { width: img.width, height: img.height, channels: 1, data: out };
}

export interface NormalizeOptions {
  /** Lower clip percentile in [0, 100]. Default 0.5. */
  lowPercentile?: number;
  /** Upper clip percentile in [0, 100], >= lowPercentile. Default 99.5. */
  highPercentile?: number;
}

/** Moves the k-th smallest value of a[left..right] to index k (quickselect, Hoare partition). */
function selectInPlace(a: Float32Array, k: number, left: number, right: number): void {
  while (left < right) {
    const mid = (left + right) >> 1;
    const x = a[left]!;
    const y = a[mid]!;
    const z = a[right]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return;
  }
}

/**
 * Percentiles of `values` (NaN ignored), exact, with the "linear" definition (NumPy's default): for p in [0, 100],
 * position = p/100 * (n-1) in the sorted values, interpolated linearly between the two neighbouring ranks.
 * Returns NaN for each p when there is no finite value. O(n) per percentile (quickselect on a copy).
 */
export function percentiles(values: ArrayLike<number>, ps: readonly number[]): number[] {
  let n = 0;
  const copy = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v)) copy[n++] = v;
  }
  const a = copy.subarray(0, n);
  return ps.map((p) => {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentiles: p must be in [0, 100], got ${p}`);
    if (n === 0) return Number.NaN;
    const pos = (p / 100) * (n - 1);
    const lo = Math.floor(pos);
    const frac = pos - lo;
    selectInPlace(a, lo, 0, n - 1);
    const vLo = a[lo]!;
    if (frac === 0 || lo + 1 >= n) return vLo;
    // After selection everything right of lo is >= a[lo]; the next rank is their minimum.
    let vHi = Infinity;
    for (let i = lo + 1; i < n; i++) if (a[i]! < vHi) vHi = a[i]!;
    return vLo + frac * (vHi - vLo);
  });
}

/**
 * Clips intensities to [P_low, P_high] (percentiles over all pixels and channels jointly, see `percentiles`) and
 * rescales that range to [0, 1]. A constant image (P_high <= P_low) becomes all zeros; NaN pixels become 0.
 */
export function normalizeIntensity(img: FloatImage, opts: NormalizeOptions = {}): FloatImage {
  const low = opts.lowPercentile ?? 0.5;
  const high = opts.highPercentile ?? 99.5;
  if (!(low >= 0 && high <= 100 && low <= high)) {
    throw new RangeError(`normalizeIntensity: need 0 <= lowPercentile <= highPercentile <= 100, got ${low}, ${high}`);
  }
  const src = img.data;
  if (src.length !== img.width * img.height * img.channels) {
    throw new RangeError(`normalizeIntensity: data length ${src.length} does not match ${img.width}x${img.height}x${img.channels}`);
  }
  const [lo, hi] = percentiles(src, [low, high]) as [number, number];
  const out = new Float32Array(src.length);
  const range = hi - lo;
  if (range > 0 && Number.isFinite(range)) {
    const inv = 1 / range;
    for (let i = 0; i < src.length; i++) {
      const v = (src[i]! - lo) * inv;
      out[i] = v > 0 ? (v < 1 ? v : 1) : 0; // NaN compares false → 0
    }
  }
  return { width: img.width, height: img.height, channels: img.channels, data: out };
}
