/**
 * Which channel, or which combination of channels, of a colour image feeds the (grey) warping network
 * (issue 8 item 3: fundus photos, dermoscopy, colour-coded scans). Pure, browser-safe.
 *
 * A projection is a weight vector w over (R, G, B): grey = w·rgb. The automatic choice uses the one annotated
 * reference: the projection that shows the edges of its labelled structures best — Fisher's criterion of the
 * band just inside each class's mask against the band just outside it (contrast across the boundary over the
 * spread within the bands) — among luminance, red, green, blue and the Fisher discriminant direction itself
 * ('lda', the best linear projection for that criterion). The simpler named projections are preferred unless 'lda' beats the best of them by more than
 * LDA_MARGIN (relative), since it is fitted to one image. Grey images pass through unchanged.
 */
import type { FloatImage, LabelMap } from './types.js';
import { resizeImage, resizeLabelNearest } from './resize.js';
import { dilate, erode } from './morphology.js';
import { binaryOfClass, classesPresent } from './labels.js';

export type ColourMode = 'auto' | 'luminance' | 'red' | 'green' | 'blue' | 'lda';
export type ColourProjectionName = Exclude<ColourMode, 'auto'>;

export interface ColourProjection {
  name: ColourProjectionName;
  /** grey = w[0]·R + w[1]·G + w[2]·B. */
  weights: [number, number, number];
  /** Fisher criterion of each candidate on the reference (empty for grey references or a fixed mode). */
  fisher: Partial<Record<ColourProjectionName, number>>;
  reason: string;
}

/** ITU-R BT.601 luminance, as image/normalize.ts `toGrey`. */
export const LUMINANCE_WEIGHTS: [number, number, number] = [0.299, 0.587, 0.114];
const NAMED: Record<Exclude<ColourProjectionName, 'lda'>, [number, number, number]> = {
  luminance: LUMINANCE_WEIGHTS,
  red: [1, 0, 0],
  green: [0, 1, 0],
  blue: [0, 0, 1],
};
/** 'lda' must beat the best named projection's criterion by this factor to be chosen. */
const LDA_MARGIN = 1.15;
/** The statistics are taken on a copy with this longest side. */
const STATS_SIZE = 256;
/** Width of the boundary bands, as a fraction of the longest side. */
const BAND_FRACTION = 0.02;

/** grey = w·rgb for a 3-channel image; a grey image is returned as is. */
export function projectToGrey(image: FloatImage, weights: readonly [number, number, number]): FloatImage {
  if (image.channels === 1) return image;
  const n = image.width * image.height;
  const src = image.data;
  const out = new Float32Array(n);
  const [wr, wg, wb] = weights;
  for (let i = 0, j = 0; i < n; i++, j += 3) out[i] = wr * src[j]! + wg * src[j + 1]! + wb * src[j + 2]!;
  return { width: image.width, height: image.height, channels: 1, data: out };
}

interface BandStats {
  count: number;
  mean: [number, number, number];
  /** Covariance, row-major 3×3. */
  cov: number[];
}

function bandStats(image: FloatImage, band: Uint8Array): BandStats | null {
  const s = [0, 0, 0];
  const ss = new Array(9).fill(0);
  let count = 0;
  for (let i = 0; i < band.length; i++) {
    if (!band[i]) continue;
    count++;
    for (let a = 0; a < 3; a++) {
      const va = image.data[3 * i + a]!;
      s[a]! += va;
      for (let b = 0; b < 3; b++) ss[3 * a + b] += va * image.data[3 * i + b]!;
    }
  }
  if (count < 4) return null;
  const mean = s.map((x) => x / count) as [number, number, number];
  return { count, mean, cov: ss.map((x, k) => x / count - mean[Math.floor(k / 3)]! * mean[k % 3]!) };
}

/**
 * Between (Sb) and within (Sw) scatter of the reference's class boundaries, row-major 3×3: for each foreground
 * class, the band just inside its mask against the band just outside (BAND_FRACTION of the image's longest side
 * wide); Sb = Σ (μ_in − μ_out)(μ_in − μ_out)ᵀ, Sw = Σ (C_in + C_out). A projection with a large wᵀSb w / wᵀSw w
 * shows the edges the registration has to align.
 */
function boundaryScatter(image: FloatImage, label: LabelMap): { sb: number[]; sw: number[] } {
  const f = Math.max(image.width, image.height) / STATS_SIZE;
  let img = image;
  let lab = label;
  if (f > 1) {
    const w = Math.max(1, Math.round(image.width / f));
    const h = Math.max(1, Math.round(image.height / f));
    img = resizeImage(image, w, h, 'area');
    lab = resizeLabelNearest(label, w, h);
  }
  const radius = Math.max(1, Math.round(BAND_FRACTION * Math.max(img.width, img.height)));
  const kernel = { shape: 'square' as const, radius };
  const sb = new Array(9).fill(0);
  const sw = new Array(9).fill(0);
  for (const cls of classesPresent(lab)) {
    const mask = binaryOfClass(lab, cls);
    const inner = erode(mask, kernel);
    const outer = dilate(mask, kernel);
    const inBand = mask.data.map((v, i) => (v && !inner.data[i] ? 1 : 0));
    const outBand = outer.data.map((v, i) => (v && !mask.data[i] ? 1 : 0));
    const a = bandStats(img, inBand);
    const b = bandStats(img, outBand);
    if (!a || !b) continue;
    const d = [0, 1, 2].map((k) => a.mean[k]! - b.mean[k]!);
    for (let p = 0; p < 3; p++) {
      for (let q = 0; q < 3; q++) {
        sb[3 * p + q] += d[p]! * d[q]!;
        sw[3 * p + q] += a.cov[3 * p + q]! + b.cov[3 * p + q]!;
      }
    }
  }
  return { sb, sw };
}

function quadratic(m: number[], w: readonly number[]): number {
  let q = 0;
  for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) q += w[a]! * m[3 * a + b]! * w[b]!;
  return q;
}

/** Fisher's criterion wᵀSb w / wᵀSw w of a projection (0 when there is no within-class spread and no separation). */
function fisher(sb: number[], sw: number[], w: readonly number[]): number {
  const within = quadratic(sw, w);
  const between = quadratic(sb, w);
  return within > 1e-12 ? between / within : between > 0 ? Infinity : 0;
}

function invert3(m: number[]): number[] | null {
  const [a, b, c, d, e, f, g, h, i] = m as [number, number, number, number, number, number, number, number, number];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-12) return null;
  return [A / det, -(b * i - c * h) / det, (b * f - c * e) / det, B / det, (a * i - c * g) / det, -(a * f - c * d) / det, C / det, -(a * h - b * g) / det, (a * e - b * d) / det];
}

/**
 * The Fisher discriminant direction: the leading eigenvector of Sw⁻¹Sb (power iteration), scaled so its weights'
 * absolute values sum to 1 and signed so it correlates positively with luminance (bright stays bright).
 */
function ldaDirection(sb: number[], sw: number[]): [number, number, number] | null {
  // A small ridge keeps Sw invertible when a channel is constant.
  const trace = sw[0]! + sw[4]! + sw[8]!;
  const ridge = sw.map((v, k) => (k % 4 === 0 ? v + 1e-6 * trace + 1e-9 : v));
  const inv = invert3(ridge);
  if (!inv) return null;
  const m = new Array(9).fill(0);
  for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) for (let k = 0; k < 3; k++) m[3 * a + b] += inv[3 * a + k]! * sb[3 * k + b]!;
  let w = [1, 1, 1];
  for (let it = 0; it < 100; it++) {
    const next = [0, 1, 2].map((a) => m[3 * a]! * w[0]! + m[3 * a + 1]! * w[1]! + m[3 * a + 2]! * w[2]!);
    const norm = Math.hypot(...next);
    if (!(norm > 1e-15)) return null;
    w = next.map((x) => x / norm);
  }
  const l1 = Math.abs(w[0]!) + Math.abs(w[1]!) + Math.abs(w[2]!);
  const sign = w[0]! * LUMINANCE_WEIGHTS[0] + w[1]! * LUMINANCE_WEIGHTS[1] + w[2]! * LUMINANCE_WEIGHTS[2] < 0 ? -1 : 1;
  return w.map((x) => (sign * x) / l1) as [number, number, number];
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * The projection for `mode` given the reference image and its label map. Grey references: luminance (a no-op
 * for grey test images; colour test images in a grey folder are reduced by luminance).
 */
export function chooseColourProjection(reference: FloatImage, label: LabelMap, mode: ColourMode = 'auto'): ColourProjection {
  if (reference.width !== label.width || reference.height !== label.height) {
    throw new Error(`chooseColourProjection: image ${reference.width}x${reference.height} and label ${label.width}x${label.height} differ in size`);
  }
  if (reference.channels === 1) {
    const name = mode === 'auto' ? 'luminance' : mode;
    const weights = name === 'lda' ? LUMINANCE_WEIGHTS : NAMED[name];
    return { name, weights: [...weights], fisher: {}, reason: 'grey reference: colour test images are reduced by this projection' };
  }
  const { sb, sw } = boundaryScatter(reference, label);
  const scores: Partial<Record<ColourProjectionName, number>> = {};
  for (const [name, w] of Object.entries(NAMED)) scores[name as ColourProjectionName] = round(fisher(sb, sw, w));
  const lda = ldaDirection(sb, sw);
  if (lda) scores.lda = round(fisher(sb, sw, lda));
  if (mode !== 'auto') {
    const weights = mode === 'lda' ? (lda ?? LUMINANCE_WEIGHTS) : NAMED[mode];
    return { name: mode, weights: [...weights], fisher: scores, reason: `set by the user (--colour ${mode})` };
  }
  let best: Exclude<ColourProjectionName, 'lda'> = 'luminance';
  for (const name of ['red', 'green', 'blue'] as const) if ((scores[name] ?? 0) > (scores[best] ?? 0)) best = name;
  if (lda && (scores.lda ?? 0) > LDA_MARGIN * (scores[best] ?? 0)) {
    return {
      name: 'lda',
      weights: lda.map(round) as [number, number, number],
      fisher: scores,
      reason: `the reference's classes separate best on the Fisher direction (criterion ${scores.lda} vs ${scores[best]} for ${best})`,
    };
  }
  return {
    name: best,
    weights: [...NAMED[best]],
    fisher: scores,
    reason: best === 'luminance' ? 'luminance separates the reference\'s classes as well as any single channel' : `the reference's classes separate best on ${best} (Fisher criterion ${scores[best]} vs luminance ${scores.luminance})`,
  };
}
