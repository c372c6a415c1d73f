/**
 * Automatic choice of the image similarity loss (paper App. B.1): SSIM by default; NCC "for the datasets which
 * contain relatively large black padded areas" (OdontoAI, CAMUS), because SSIM is over-sensitive in low-variance
 * regions. The choice is made from the reference's working image (what the loss compares), by two measured
 * properties, and the reason is recorded:
 *   - paddingFraction: the fraction of 7×7 windows (SSIM's window) that are constant (standard deviation below
 *     FLAT_STD) at the black or white end of the normalised range (padding; smooth anatomy is not counted);
 *   - noiseRatio: the noise standard deviation (Immerkær's estimator, a Laplacian-difference mask) over the
 *     image's standard deviation (speckle, low contrast).
 * NCC when paddingFraction > PADDING_LIMIT or noiseRatio > NOISE_LIMIT (multi-scale NCC, 'ncc-ms', only when the
 * user asks: not yet measured on real speckle). The limits are set by measurement on the
 * stress set (bench/stress-bench.ts) and recorded beside them.
 */
import type { ImageLossKind, ImageLossMode } from './trainer.js';

export interface ImageLossChoice {
  kind: ImageLossKind;
  reason: string;
  paddingFraction: number;
  noiseRatio: number;
}

/** Windows with a standard deviation below this (intensities normalised to [0,1]) count as flat. */
export const FLAT_STD = 0.01;
/** ...and as padding when their mean is within this of 0 or 1. */
export const PADDING_LEVEL = 0.02;
export const PADDING_LIMIT = 0.2;
export const NOISE_LIMIT = 0.25;
const WINDOW = 7;

/**
 * Fraction of WINDOW×WINDOW windows (stride 1, fully inside) with a standard deviation below FLAT_STD and a mean
 * within PADDING_LEVEL of 0 or 1.
 */
export function paddingFraction(image: Float32Array, width: number, height: number): number {
  if (width < WINDOW || height < WINDOW) return 0;
  // Integral images of v and v².
  const W1 = width + 1;
  const s = new Float64Array(W1 * (height + 1));
  const ss = new Float64Array(W1 * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    let row2 = 0;
    for (let x = 0; x < width; x++) {
      const v = image[y * width + x]!;
      row += v;
      row2 += v * v;
      s[(y + 1) * W1 + x + 1] = s[y * W1 + x + 1]! + row;
      ss[(y + 1) * W1 + x + 1] = ss[y * W1 + x + 1]! + row2;
    }
  }
  const n = WINDOW * WINDOW;
  let flat = 0;
  let total = 0;
  for (let y = 0; y + WINDOW <= height; y++) {
    for (let x = 0; x + WINDOW <= width; x++) {
      const a = y * W1 + x;
      const b = y * W1 + x + WINDOW;
      const c = (y + WINDOW) * W1 + x;
      const d = (y + WINDOW) * W1 + x + WINDOW;
      const mean = (s[d]! - s[b]! - s[c]! + s[a]!) / n;
      const variance = (ss[d]! - ss[b]! - ss[c]! + ss[a]!) / n - mean * mean;
      if (variance < FLAT_STD * FLAT_STD && (mean <= PADDING_LEVEL || mean >= 1 - PADDING_LEVEL)) flat++;
      total++;
    }
  }
  return flat / total;
}

/**
 * Noise standard deviation over image standard deviation. Noise: Immerkær (1996), σ = √(π/2)/(6(W−2)(H−2)) ·
 * Σ|I ∗ N| with N = [[1,−2,1],[−2,4,−2],[1,−2,1]] (blind to linear ramps, sensitive to pixel noise).
 */
export function noiseRatio(image: Float32Array, width: number, height: number): number {
  if (width < 3 || height < 3) return 0;
  let sum = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const v =
        image[i - width - 1]! - 2 * image[i - width]! + image[i - width + 1]! -
        2 * image[i - 1]! + 4 * image[i]! - 2 * image[i + 1]! +
        image[i + width - 1]! - 2 * image[i + width]! + image[i + width + 1]!;
      sum += Math.abs(v);
    }
  }
  const sigma = (Math.sqrt(Math.PI / 2) * sum) / (6 * (width - 2) * (height - 2));
  let m = 0;
  for (let i = 0; i < image.length; i++) m += image[i]!;
  m /= image.length;
  let v2 = 0;
  for (let i = 0; i < image.length; i++) v2 += (image[i]! - m) ** 2;
  const std = Math.sqrt(v2 / image.length);
  return std > 1e-9 ? sigma / std : 0;
}

/** The image loss for `mode` ('auto' decides from the reference's working image, R×R in [0,1]). */
export function chooseImageLoss(referenceWork: Float32Array, resolution: number, mode: ImageLossMode): ImageLossChoice {
  const padding = paddingFraction(referenceWork, resolution, resolution);
  const noise = noiseRatio(referenceWork, resolution, resolution);
  const stats = { paddingFraction: Math.round(padding * 1000) / 1000, noiseRatio: Math.round(noise * 1000) / 1000 };
  if (mode !== 'auto') return { kind: mode, reason: `set by the user (--loss ${mode})`, ...stats };
  if (padding > PADDING_LIMIT) {
    return { kind: 'ncc', reason: `large padded areas (${(100 * padding).toFixed(0)} % of 7x7 windows constant black or white > ${100 * PADDING_LIMIT} %): NCC, as the paper for padded images`, ...stats };
  }
  if (noise > NOISE_LIMIT) {
    return { kind: 'ncc', reason: `noisy image (noise/contrast ${noise.toFixed(2)} > ${NOISE_LIMIT}): NCC`, ...stats };
  }
  return { kind: 'ssim', reason: `little padding (${(100 * padding).toFixed(0)} %) and low noise (${noise.toFixed(2)}): SSIM, the paper's default`, ...stats };
}
