/**
 * Initial alignment of a test image to the reference, before the warping network (issue 8 item 3): the network's
 * affine stage is bounded (network.ts: scale 0.5–1.5, rotation/shear about ±27°, shift ±25 %), so large rotations,
 * scale changes, shifts, crops and aspect-ratio changes are removed first by a similarity transform found here.
 * Pure (no tensors, no file system).
 *
 * Frames: `refToTest` maps a point of the reference's own pixel grid (xyOriginal of the reference) to the test's
 * (xyOriginal of the test), pixel centres at integers:
 *   x_test = c_test + s·Rot(θ)·(x_ref − c_ref) + t,   s = s0·scaleFactor, s0 = √(area_test / area_ref)
 * with c the grid centres. Both images are compared in their own isotropic pixels, so a crop or a pad that
 * changes the aspect ratio is a shift, not a distortion.
 *
 * Methods:
 *  - 'none': no alignment (each image is resized to the working grid on its own, as the paper does).
 *  - 'moments': centre, spread and principal axis of the intensity mass |I − background| (polarity-free).
 *  - 'search' (default): an exhaustive coarse search over rotation (±60°) × scale (½–2 × s0) × shift (±40 %) at
 *    24 px, then pattern-search refinement of the best distinct candidates (and of the moments estimate) at 48 px
 *    and of the best two at 96 px.
 * The objective is score = r·overlap^¼ − PRIOR_WEIGHT·d² over the reference's content pixels that land on the
 * test's content (padding excluded, image/padding.ts) of the histogram-equalised images: r the Pearson correlation
 * at 24 px, the mean local correlation over 5×5 / 7×7 windows at 48 / 96 px (edges, not shading, decide there);
 * overlap that fraction of the content (so that showing only a sliver of the test does not pay); d² a weak prior
 * towards the plain resize. With polarity 'auto' the search runs for −r too, and the image is called inverted when the best −r
 * alignment beats the best +r one by POLARITY_MARGIN.
 * The alignment found is used only on strong evidence (`trustAlignment`): it beats the plain resize by
 * `keepResizeMargin` in r, and, when it is far from the plain resize, reaches the correlation of images that show the
 * same anatomy with a clear margin over any different candidate; otherwise the plain resize is kept. Two images
 * whose substantial padding coincides (a fixed field of view: an ultrasound sector) keep the plain resize unsearched.
 */
import {
  affineScale,
  applyAffine,
  composeAffine,
  gridCentre,
  resizeAffine,
  similarityAffine,
  type Affine2D,
} from '../image/affine.js';
import { resizeImage } from '../image/resize.js';
import type { FloatImage } from '../image/types.js';
import { gaussianBlurPlane } from '../image/blur.js';
import { chooseAmongRepeats, findRepeatPeriod, type RepeatCandidate, type RepeatPeriod } from './periodic.js';

export type PrealignMethod = 'none' | 'moments' | 'search';
export type PolarityMode = 'auto' | 'keep';

export interface PrealignOptions {
  method: PrealignMethod;
  /** 'auto': detect an inverted test image (correlation < 0 at the best alignment); 'keep': never invert. */
  polarity: PolarityMode;
  /** Keep the plain resize unless the found alignment beats its correlation by this much (default 0.02). */
  keepResizeMargin?: number;
}

/** Similarity parameters (see the module comment). */
export interface SimilarityParams {
  rotationDeg: number;
  /** s / s0 (1 = the images' size ratio). */
  scaleFactor: number;
  /** t as a fraction of the test's width / height. */
  shiftX: number;
  shiftY: number;
}

export interface Prealignment {
  method: PrealignMethod;
  /** Reference pixel → test pixel, or null when the plain resize is kept (method 'none', or nothing better found). */
  refToTest: Affine2D | null;
  params: SimilarityParams | null;
  /** The test image's intensities are inverted relative to the reference (polarity 'auto' only). */
  inverted: boolean;
  /** Signed correlation at the chosen alignment (finest level), and with the plain resize. */
  correlation: number;
  resizeCorrelation: number;
  /** Objective evaluations (a cost measure). */
  evaluations: number;
  /** What the search found and why it was used or not ('search'; 'moments' in a fixed frame; see `trustAlignment`). */
  evidence?: AlignmentEvidence;
}

/**
 * The evidence for an alignment found by the search, from the images alone (no labels): how much it beats the
 * plain resize, how far from it it lies, and how clearly it beats the best different alignment.
 */
export interface AlignmentEvidence {
  /** Correlation at the alignment minus the plain resize's (finest level, signed for the polarity). */
  gain: number;
  /** Distance from the plain resize, d = √(transformMagnitude2) (1 = the edge of the stress set's ranges). */
  distance: number;
  /** Finest-level score margin over the best candidate that is a different alignment (null: none was left). */
  runnerUpMargin: number | null;
  /** IoU of the two images' padding under the plain resize (null: either is not substantially padded). */
  framePaddingIoU: number | null;
  trusted: boolean;
  reason: string;
}

/** Longest sides of the pyramid levels: coarse search, then two refinements. */
const LEVELS = [24, 48, 96] as const;
/** Window of the local correlation at each level (the coarse level uses the global correlation). */
const LOCAL_WINDOWS = [0, 5, 7] as const;
/** A window whose variance (equalised intensities) is below this is flat and left out. */
const LOCAL_FLAT_VARIANCE = 1e-4;
const COARSE_ROTATIONS_DEG = Array.from({ length: 17 }, (_, i) => -60 + 7.5 * i);
const COARSE_SCALE_LOG2 = Array.from({ length: 9 }, (_, i) => (i - 4) / 4); // 0.5 … 2
const COARSE_SHIFTS = Array.from({ length: 9 }, (_, i) => -0.4 + 0.1 * i);
const REFINE_CANDIDATES = 5;
/** Alignments where less than this fraction of the reference's content lands on the test's are not considered. */
const MIN_OVERLAP = 0.2;
/** The best inverted (−r) alignment must beat the best upright one by this much to call the image inverted. */
const POLARITY_MARGIN = 0.1;
/** Default `keepResizeMargin`. */
const KEEP_RESIZE_MARGIN = 0.02;
/**
 * A weak prior towards the plain resize: the score is r − PRIOR_WEIGHT·d², d² = (θ/45°)² + (ln s/ln 1.5)² +
 * (|t|/25 %)² (d = 1 at the edge of the stress set's ranges). Chest X-rays correlate almost as well (r ~0.55)
 * with far-off alignments as with the right one when the patients differ; the prior settles those ties.
 */
const PRIOR_WEIGHT = 0.03;
/**
 * Trusting the search (`trustAlignment`). A correction within NEAR_DISTANCE of the plain resize is trusted on its
 * gain alone: if it is wrong, it is wrong by little. A far one moves the labels by a large fraction of the image,
 * so a wrong one costs the whole image; it is trusted only when the correlation it reaches is that of images that
 * show the same anatomy (≥ FAR_MIN_CORRELATION) and it beats every different candidate by FAR_MIN_MARGIN (one
 * clear optimum, not a pick among look-alikes: speckle, repeated structures, a featureless field).
 */
export const NEAR_DISTANCE = 0.5;
export const FAR_MIN_CORRELATION = 0.3;
export const FAR_MIN_MARGIN = 0.02;
/**
 * A fixed field of view: when both images are substantially padded (at least FIXED_FRAME_MIN_PADDING of each) and
 * their padding regions coincide under the plain resize (intersection over union ≥ FIXED_FRAME_IOU), the frame is
 * the scanner's (an ultrasound sector, a circular field of view), not the patient's: the anatomy moves inside it, and
 * the plain resize is kept (the warp network follows the anatomy). A sector pads about a third of the image; the
 * thin constant edges of a radiograph, or the corners a rotation or a shift leaves (the stress set), do not make a
 * frame, or do not coincide. Apical echo views (CAMUS) share one probe geometry with depth and width settings that
 * differ between patients (their sectors' padding coincides at IoU 0.87 on the first 40).
 */
export const FIXED_FRAME_MIN_PADDING = 0.1;
export const FIXED_FRAME_IOU = 0.7;

/** Whether two alignments are different candidates (not the same optimum found twice). */
function distinctAlignments(p: SimilarityParams, q: SimilarityParams): boolean {
  return (
    Math.abs(p.rotationDeg - q.rotationDeg) > 10 ||
    Math.abs(Math.log2(p.scaleFactor / q.scaleFactor)) > 0.3 ||
    Math.hypot(p.shiftX - q.shiftX, p.shiftY - q.shiftY) > 0.15
  );
}

/** The trust rule (see NEAR_DISTANCE): gain over the plain resize, then, far from it, correlation and margin. */
export function trustAlignment(e: Omit<AlignmentEvidence, 'trusted' | 'reason'>, correlation: number, keepResizeMargin: number): { trusted: boolean; reason: string } {
  const f = (x: number): string => x.toFixed(3);
  if (e.gain < keepResizeMargin) return { trusted: false, reason: `gain ${f(e.gain)} over the plain resize < ${keepResizeMargin}` };
  if (e.distance <= NEAR_DISTANCE) return { trusted: true, reason: `near the plain resize (d ${f(e.distance)} ≤ ${NEAR_DISTANCE}), gain ${f(e.gain)}` };
  if (correlation < FAR_MIN_CORRELATION) {
    return { trusted: false, reason: `far (d ${f(e.distance)}) at a low correlation (${f(correlation)} < ${FAR_MIN_CORRELATION}): a guess` };
  }
  if (e.runnerUpMargin !== null && e.runnerUpMargin < FAR_MIN_MARGIN) {
    return { trusted: false, reason: `far (d ${f(e.distance)}) and no clear optimum (margin ${f(e.runnerUpMargin)} over a different alignment < ${FAR_MIN_MARGIN})` };
  }
  return { trusted: true, reason: `far (d ${f(e.distance)}) with strong evidence (r ${f(correlation)}, gain ${f(e.gain)}, margin ${e.runnerUpMargin === null ? 'n/a' : f(e.runnerUpMargin)})` };
}

function transformMagnitude2(p: SimilarityParams): number {
  return (p.rotationDeg / 45) ** 2 + (Math.log(p.scaleFactor) / Math.log(1.5)) ** 2 + (p.shiftX ** 2 + p.shiftY ** 2) / 0.25 ** 2;
}

interface Level {
  width: number;
  height: number;
  data: Float32Array;
  /** level pixel → original pixel */
  toOriginal: Affine2D;
  /** Median of the content's outer ring (the background, for the moments). */
  background: number;
  /** 1 = content, 0 = padding (image/padding.ts), or null when the image has no padding. */
  valid: Uint8Array | null;
}

/**
 * Median of the content's outer ring: content pixels with a 4-neighbour that is padding or off the image (the plain
 * image border when there is no padding). For the moments: the value around the anatomy, dark or bright.
 */
function borderMedian(data: Float32Array, w: number, h: number, valid: Uint8Array | null): number {
  const ring: number[] = [];
  const isContent = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < w && y < h && (!valid || valid[y * w + x] === 1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!isContent(x, y)) continue;
      if (!isContent(x - 1, y) || !isContent(x + 1, y) || !isContent(x, y - 1) || !isContent(x, y + 1)) ring.push(data[y * w + x]!);
    }
  }
  ring.sort((p, q) => p - q);
  return ring[ring.length >> 1] ?? 0;
}

/**
 * Histogram equalisation of a [0,1] image (256 bins): intensities become their rank in [0,1], so that images
 * whose intensities differ by any increasing map (exposure, contrast, windowing) correlate linearly. Ranks are
 * counted over the content pixels only when a content mask is given.
 */
export function equalizeHistogram(image: FloatImage, content: Uint8Array | null = null): FloatImage {
  const bins = 256;
  const hist = new Float64Array(bins);
  const bin = (v: number): number => Math.min(bins - 1, Math.max(0, Math.floor(v * bins)));
  let n = 0;
  for (let i = 0; i < image.data.length; i++) {
    if (content && !content[i]) continue;
    hist[bin(image.data[i]!)]++;
    n++;
  }
  n = Math.max(n, 1);
  // Mid-rank of each bin: pixels of one bin share one value.
  const map = new Float32Array(bins);
  let below = 0;
  for (let k = 0; k < bins; k++) {
    map[k] = (below + hist[k]! / 2) / n;
    below += hist[k]!;
  }
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = map[bin(image.data[i]!)]!;
  return { ...image, data };
}

/**
 * Area-downsampled copies of the equalised image with the longest side at each of LEVELS (isotropic); `content`
 * (1 = content, 0 = padding) becomes a per-level mask (content where at least half of the pixel is content).
 * `smoothing` > 0 (noisy images, preprocess.ts denoise): each level is then smoothed by a Gaussian of σ =
 * smoothing × its longest side (the same physical width at every level).
 */
function pyramid(image: FloatImage, content: Uint8Array | null, smoothing: number): Level[] {
  const equalized = equalizeHistogram(image, content);
  const contentPlane: FloatImage | null = content ? { width: image.width, height: image.height, channels: 1, data: Float32Array.from(content) } : null;
  return LEVELS.map((L) => {
    const f = Math.max(image.width, image.height) / L;
    const w = Math.max(1, Math.round(image.width / f));
    const h = Math.max(1, Math.round(image.height / f));
    const area = resizeImage(equalized, w, h, 'area').data;
    const data = smoothing > 0 ? gaussianBlurPlane(area, w, h, smoothing * Math.max(w, h)) : area;
    const valid = contentPlane ? Uint8Array.from(resizeImage(contentPlane, w, h, 'area').data, (v) => (v >= 0.5 ? 1 : 0)) : null;
    return { width: w, height: h, data, toOriginal: resizeAffine(w, h, image.width, image.height), background: borderMedian(data, w, h, valid), valid };
  });
}

/** The reference side of the alignment, prepared once per reference (normalised grey image, any size). */
export class PrealignReference {
  readonly width: number;
  readonly height: number;
  readonly levels: Level[];
  readonly moments: MassMoments;
  /** Gaussian σ of every level as a fraction of its longest side (0 = none); test images get the same. */
  readonly smoothing: number;
  private repeat: RepeatPeriod | null | undefined;
  /** Centre of the reference's labels (reference pixels; the image centre when not given). */
  readonly labelCentre: { x: number; y: number };

  /**
   * referenceGrey: normalised grey image; content: its content mask (image/padding.ts), null = all content;
   * smoothing: see `pyramid` (0 = none); labelCentre: centre of the reference's labelled pixels.
   */
  constructor(referenceGrey: FloatImage, content: Uint8Array | null = null, smoothing = 0, labelCentre: { x: number; y: number } | null = null) {
    if (referenceGrey.channels !== 1) throw new Error('PrealignReference: expects a grey image');
    this.width = referenceGrey.width;
    this.height = referenceGrey.height;
    this.smoothing = smoothing;
    this.levels = pyramid(referenceGrey, content, smoothing);
    this.moments = massMoments(this.levels[2]!);
    this.labelCentre = labelCentre ?? gridCentre(this.width, this.height);
  }

  /** The reference's repeat (periodic.ts), or null when its pattern does not repeat; found on first use. */
  get period(): RepeatPeriod | null {
    if (this.repeat === undefined) this.repeat = referencePeriod(this.levels[PERIOD_LEVEL]!, this.levels[PERIOD_LEVEL]!.toOriginal[0]);
    return this.repeat;
  }
}

/** The level on which the reference's repeat is looked for (48 px: a vertebra or a tooth spans several pixels). */
const PERIOD_LEVEL = 1;
/** Part of the reference's content that must overlap its shifted self for the shift to count. */
const PERIOD_MIN_OVERLAP = 0.5;

/** The reference's repeat: its local correlation (as the search measures it) with itself under integer shifts. */
function referencePeriod(level: Level, toOriginal: number): RepeatPeriod | null {
  const scratch = scratchFor(level);
  const correlationAt = (dx: number, dy: number): number | null => {
    const overlap = sampleOver(level, level, [1, 0, dx, 0, 1, dy], scratch);
    return overlap < PERIOD_MIN_OVERLAP ? null : localCorrelation(level, scratch, LOCAL_WINDOWS[PERIOD_LEVEL]!);
  };
  return findRepeatPeriod(level.width, level.height, correlationAt, toOriginal);
}

/** Scratch buffers of one level (reused by every evaluation). */
interface Scratch {
  samples: Float32Array;
  mask: Uint8Array;
  integral: Float64Array[];
}

function scratchFor(level: Level): Scratch {
  const n = level.width * level.height;
  const m = (level.width + 1) * (level.height + 1);
  return { samples: new Float32Array(n), mask: new Uint8Array(n), integral: Array.from({ length: 6 }, () => new Float64Array(m)) };
}

/**
 * Sample `other` (bilinearly) at `domainToOther` of each content pixel of `domain`; mask = 1 where the sample lands
 * on `other`'s content. Returns the overlap: masked samples over `domain`'s content pixels.
 */
function sampleOver(domain: Level, other: Level, domainToOther: Affine2D, out: Scratch): number {
  const [a, b, c, d, e, f] = domainToOther;
  const W = other.width;
  const H = other.height;
  const od = other.data;
  const domainValid = domain.valid;
  const otherValid = other.valid;
  let inside = 0;
  let content = 0;
  for (let y = 0, i = 0; y < domain.height; y++) {
    let px = b * y + c;
    let py = e * y + f;
    for (let x = 0; x < domain.width; x++, i++, px += a, py += d) {
      out.mask[i] = 0;
      if (domainValid && !domainValid[i]) continue;
      content++;
      if (px < -0.5 || py < -0.5 || px > W - 0.5 || py > H - 0.5) continue;
      const qx = px < 0 ? 0 : px > W - 1 ? W - 1 : px;
      const qy = py < 0 ? 0 : py > H - 1 ? H - 1 : py;
      if (otherValid && !otherValid[Math.round(qy) * W + Math.round(qx)]) continue;
      const x0 = qx >= W - 1 ? W - 2 : qx | 0;
      const y0 = qy >= H - 1 ? H - 2 : qy | 0;
      const fx = qx - x0;
      const fy = qy - y0;
      const o = y0 * W + x0;
      const top = od[o]! + (od[o + 1]! - od[o]!) * fx;
      const bottom = od[o + W]! + (od[o + W + 1]! - od[o + W]!) * fx;
      out.samples[i] = top + (bottom - top) * fy;
      out.mask[i] = 1;
      inside++;
    }
  }
  return inside / Math.max(content, 1);
}

/** Pearson correlation of the domain's values with the masked samples. */
function globalCorrelation(domain: Level, s: Scratch): number {
  const dd = domain.data;
  let n = 0;
  let sd = 0;
  let so = 0;
  let sdd = 0;
  let soo = 0;
  let sdo = 0;
  for (let i = 0; i < dd.length; i++) {
    if (!s.mask[i]) continue;
    const v = dd[i]!;
    const t = s.samples[i]!;
    n++;
    sd += v;
    so += t;
    sdd += v * v;
    soo += t * t;
    sdo += v * t;
  }
  if (n < 16) return 0;
  const cov = sdo - (sd * so) / n;
  const den = Math.sqrt((sdd - (sd * sd) / n) * (soo - (so * so) / n));
  return den > 1e-12 ? cov / den : 0;
}

/**
 * Mean local correlation over window×window windows (stride 1) that are at least ¾ masked and not flat in either
 * image: sensitive to where edges are, blind to slow intensity differences (shadows, exposure), so it separates the
 * right alignment from far-off ones that happen to correlate globally.
 */
function localCorrelation(domain: Level, s: Scratch, window: number): number {
  const w = domain.width;
  const h = domain.height;
  const W1 = w + 1;
  const [cnt, sd, so, sdd, soo, sdo] = s.integral as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const dd = domain.data;
  for (let y = 0; y < h; y++) {
    let r0 = 0;
    let r1 = 0;
    let r2 = 0;
    let r3 = 0;
    let r4 = 0;
    let r5 = 0;
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (s.mask[i]) {
        const v = dd[i]!;
        const t = s.samples[i]!;
        r0 += 1;
        r1 += v;
        r2 += t;
        r3 += v * v;
        r4 += t * t;
        r5 += v * t;
      }
      const k = (y + 1) * W1 + x + 1;
      const up = y * W1 + x + 1;
      cnt[k] = cnt[up]! + r0;
      sd[k] = sd[up]! + r1;
      so[k] = so[up]! + r2;
      sdd[k] = sdd[up]! + r3;
      soo[k] = soo[up]! + r4;
      sdo[k] = sdo[up]! + r5;
    }
  }
  const box = (t: Float64Array, x: number, y: number): number =>
    t[(y + window) * W1 + x + window]! - t[y * W1 + x + window]! - t[(y + window) * W1 + x]! + t[y * W1 + x]!;
  const minCount = 0.75 * window * window;
  let sum = 0;
  let windows = 0;
  for (let y = 0; y + window <= h; y++) {
    for (let x = 0; x + window <= w; x++) {
      const n = box(cnt, x, y);
      if (n < minCount) continue;
      const md = box(sd, x, y) / n;
      const mo = box(so, x, y) / n;
      const vd = box(sdd, x, y) / n - md * md;
      const vo = box(soo, x, y) / n - mo * mo;
      if (vd < LOCAL_FLAT_VARIANCE || vo < LOCAL_FLAT_VARIANCE) continue;
      sum += (box(sdo, x, y) / n - md * mo) / Math.sqrt(vd * vo);
      windows++;
    }
  }
  return windows > 0 ? sum / windows : 0;
}

function similarityFor(p: SimilarityParams, ref: { width: number; height: number }, test: { width: number; height: number }): Affine2D {
  const s0 = Math.sqrt((test.width * test.height) / (ref.width * ref.height));
  return similarityAffine(gridCentre(ref.width, ref.height), gridCentre(test.width, test.height), s0 * p.scaleFactor, (p.rotationDeg * Math.PI) / 180, {
    x: p.shiftX * test.width,
    y: p.shiftY * test.height,
  });
}

type Sign = 1 | -1;

interface Scored {
  params: SimilarityParams;
  score: number;
}

interface Measured {
  /** Pearson r over the overlap, the overlap factor overlap^¼, the prior term; ok = enough overlap. */
  r: number;
  factor: number;
  prior: number;
  ok: boolean;
}

const scoreOf = (m: Measured, sign: Sign): number => (m.ok ? sign * m.r * m.factor - m.prior : -Infinity);

interface MassMoments {
  /** centre of mass in original pixels, covariance eigen-decomposition */
  cx: number;
  cy: number;
  /** sqrt of the covariance determinant^(1/2): a size measure in original pixels² */
  spread: number;
  /** principal axis angle (radians, in (−π/2, π/2]) and anisotropy λ1/λ2 ≥ 1 */
  angle: number;
  anisotropy: number;
}

/**
 * Moments of the mass |I − b| over the content pixels of a pyramid level, b the level's background (the median of
 * the content's outer ring, dark or bright): polarity-free, so an inverted image has the same moments.
 */
function massMoments(level: Level): MassMoments {
  const { width: w, height: h, data } = level;
  const bg = level.background;
  let m = 0;
  let mx = 0;
  let my = 0;
  const valid = level.valid;
  const weight = (i: number): number => (valid && !valid[i] ? 0 : Math.abs(data[i]! - bg));
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      const v = weight(i);
      m += v;
      mx += v * x;
      my += v * y;
    }
  }
  if (m <= 1e-9) m = 1e-9;
  const cx = mx / m;
  const cy = my / m;
  let cxx = 0;
  let cyy = 0;
  let cxy = 0;
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      const v = weight(i);
      cxx += v * (x - cx) ** 2;
      cyy += v * (y - cy) ** 2;
      cxy += v * (x - cx) * (y - cy);
    }
  }
  cxx /= m;
  cyy /= m;
  cxy /= m;
  const tr = cxx + cyy;
  const disc = Math.sqrt(Math.max(0, ((cxx - cyy) / 2) ** 2 + cxy * cxy));
  const l1 = tr / 2 + disc;
  const l2 = Math.max(tr / 2 - disc, 1e-9);
  const k = affineScale(level.toOriginal); // original pixels per level pixel
  const centre = { x: level.toOriginal[0] * cx + level.toOriginal[2], y: level.toOriginal[4] * cy + level.toOriginal[5] };
  return {
    cx: centre.x,
    cy: centre.y,
    spread: Math.sqrt(Math.sqrt(l1 * l2)) * k,
    angle: 0.5 * Math.atan2(2 * cxy, cxx - cyy),
    anisotropy: Math.sqrt(l1 / l2),
  };
}

/** Similarity parameters from the two images' mass moments. */
function momentsParams(ref: PrealignReference, test: { width: number; height: number; moments: MassMoments }): SimilarityParams {
  const a = ref.moments;
  const b = test.moments;
  const s0 = Math.sqrt((test.width * test.height) / (ref.width * ref.height));
  const s = b.spread / Math.max(a.spread, 1e-9);
  // Principal axes are defined up to 180°: take the difference in (−90°, 90°]; no rotation when either is round.
  let rot = 0;
  if (a.anisotropy > 1.15 && b.anisotropy > 1.15) {
    rot = b.angle - a.angle;
    while (rot > Math.PI / 2) rot -= Math.PI;
    while (rot <= -Math.PI / 2) rot += Math.PI;
  }
  const p: SimilarityParams = { rotationDeg: (rot * 180) / Math.PI, scaleFactor: s / s0, shiftX: 0, shiftY: 0 };
  // Shift so that the reference's centre of mass lands on the test's.
  const m = similarityFor(p, ref, test);
  const landed = { x: m[0] * a.cx + m[1] * a.cy + m[2], y: m[3] * a.cx + m[4] * a.cy + m[5] };
  p.shiftX = (b.cx - landed.x) / test.width;
  p.shiftY = (b.cy - landed.y) / test.height;
  return p;
}

/**
 * Intersection over union of the two images' padding (content masks at one pyramid level, the test's sampled
 * nearest at the reference's pixels under the plain resize); null when either image is not substantially padded
 * (FIXED_FRAME_MIN_PADDING).
 */
function sharedFramePaddingIoU(refLevel: Level, testLevel: Level): number | null {
  if (!refLevel.valid || !testLevel.valid) return null;
  const padShare = (l: Level): number => l.valid!.reduce((n, v) => n + (v ? 0 : 1), 0) / l.valid!.length;
  if (padShare(refLevel) < FIXED_FRAME_MIN_PADDING || padShare(testLevel) < FIXED_FRAME_MIN_PADDING) return null;
  let both = 0;
  let either = 0;
  for (let y = 0; y < refLevel.height; y++) {
    const ty = Math.min(testLevel.height - 1, Math.floor(((y + 0.5) * testLevel.height) / refLevel.height));
    for (let x = 0; x < refLevel.width; x++) {
      const tx = Math.min(testLevel.width - 1, Math.floor(((x + 0.5) * testLevel.width) / refLevel.width));
      const padRef = refLevel.valid[y * refLevel.width + x] === 0;
      const padTest = testLevel.valid[ty * testLevel.width + tx] === 0;
      if (padRef && padTest) both++;
      if (padRef || padTest) either++;
    }
  }
  return either > 0 ? both / either : null;
}

/**
 * Estimate the alignment of a test image (normalised grey, any size; `testContent` its content mask, see
 * image/padding.ts) to the prepared reference.
 */
export function estimatePrealignment(ref: PrealignReference, testGrey: FloatImage, opts: PrealignOptions, testContent: Uint8Array | null = null): Prealignment {
  if (testGrey.channels !== 1) throw new Error('estimatePrealignment: expects a grey image');
  const test = { width: testGrey.width, height: testGrey.height };
  const testLevels = pyramid(testGrey, testContent, ref.smoothing);
  const finest = LEVELS.length - 1;
  let evaluations = 0;
  const signs: Sign[] = opts.polarity === 'auto' ? [1, -1] : [1];

  const scratch = ref.levels.map(scratchFor);
  /**
   * The similarity over the reference's content (global r at the coarse level, local correlation at the finer
   * ones), the overlap factor and the prior, for an alignment at one level.
   */
  const measure = (level: number, refToTest: Affine2D, params: SimilarityParams | null): Measured => {
    evaluations++;
    const levelMap = composeAffine(
      composeAffine(resizeAffine(test.width, test.height, testLevels[level]!.width, testLevels[level]!.height), refToTest),
      ref.levels[level]!.toOriginal,
    );
    const overlap = sampleOver(ref.levels[level]!, testLevels[level]!, levelMap, scratch[level]!);
    const r = level === 0 ? globalCorrelation(ref.levels[level]!, scratch[level]!) : localCorrelation(ref.levels[level]!, scratch[level]!, LOCAL_WINDOWS[level]!);
    return { r, ok: overlap >= MIN_OVERLAP, factor: Math.sqrt(Math.sqrt(overlap)), prior: params ? PRIOR_WEIGHT * transformMagnitude2(params) : 0 };
  };
  const measureParams = (level: number, p: SimilarityParams): Measured => measure(level, similarityFor(p, ref, test), p);

  const resize = measure(finest, resizeAffine(ref.width, ref.height, test.width, test.height), null);
  const result = (params: SimilarityParams | null, r: number, inverted: boolean): Prealignment => ({
    method: opts.method,
    refToTest: params ? similarityFor(params, ref, test) : null,
    params,
    inverted,
    correlation: r,
    resizeCorrelation: resize.r,
    evaluations,
  });
  /** One correlation decides the polarity when there is no search. */
  const invertedAt = (r: number): boolean => signs.length > 1 && r < -POLARITY_MARGIN;
  if (opts.method === 'none') return result(null, resize.r, invertedAt(resize.r));

  const framePaddingIoU = sharedFramePaddingIoU(ref.levels[finest]!, testLevels[finest]!);
  if (framePaddingIoU !== null && framePaddingIoU >= FIXED_FRAME_IOU) {
    const fixed = { gain: 0, distance: 0, runnerUpMargin: null, framePaddingIoU };
    const reason = `fixed field of view (the padding of both images coincides: IoU ${framePaddingIoU.toFixed(3)} ≥ ${FIXED_FRAME_IOU}): plain resize`;
    // One correlation decides the polarity here; on speckle it scatters around 0 (CAMUS: −0.11 to 0.32), so an
    // inversion needs the correlation of images that show the same anatomy, negated.
    const inverted = signs.length > 1 && resize.r < -FAR_MIN_CORRELATION;
    return { ...result(null, resize.r, inverted), evidence: { ...fixed, trusted: false, reason } };
  }
  const momentsEstimate = momentsParams(ref, { ...test, moments: massMoments(testLevels[2]!) });
  if (opts.method === 'moments') {
    const m = measureParams(finest, momentsEstimate);
    const inverted = invertedAt(m.r);
    const sign = inverted ? -1 : 1;
    if (sign * m.r < sign * resize.r + (opts.keepResizeMargin ?? KEEP_RESIZE_MARGIN)) return result(null, resize.r, inverted);
    return result(momentsEstimate, m.r, inverted);
  }

  /** Pattern search on (rotation, log2 scale, shiftX, shiftY) at one level, for one polarity. */
  const refine = (start: SimilarityParams, level: number, sign: Sign): Scored => {
    let p = { ...start };
    let score = scoreOf(measureParams(level, p), sign);
    const steps = level === 1 ? [4, 0.08, 0.03, 0.03] : [1.5, 0.03, 0.01, 0.01];
    const minSteps = level === 1 ? [0.5, 0.01, 0.004, 0.004] : [0.2, 0.004, 0.0015, 0.0015];
    for (let iter = 0; iter < 60; iter++) {
      let improved = false;
      for (let k = 0; k < 4; k++) {
        for (const dir of [1, -1]) {
          const q = { ...p };
          if (k === 0) q.rotationDeg += dir * steps[0]!;
          if (k === 1) q.scaleFactor *= 2 ** (dir * steps[1]!);
          if (k === 2) q.shiftX += dir * steps[2]!;
          if (k === 3) q.shiftY += dir * steps[3]!;
          const sq = scoreOf(measureParams(level, q), sign);
          if (sq > score + 1e-6) {
            p = q;
            score = sq;
            improved = true;
          }
        }
      }
      if (!improved) {
        let done = true;
        for (let k = 0; k < 4; k++) {
          steps[k]! /= 2;
          if (steps[k]! >= minSteps[k]!) done = false;
        }
        if (done) break;
      }
    }
    return { params: p, score };
  };

  // Coarse exhaustive search (one correlation per grid point serves both polarities).
  const coarse: { params: SimilarityParams; m: Measured }[] = [];
  for (const rotationDeg of COARSE_ROTATIONS_DEG) {
    for (const l2 of COARSE_SCALE_LOG2) {
      for (const shiftY of COARSE_SHIFTS) {
        for (const shiftX of COARSE_SHIFTS) {
          const params = { rotationDeg, scaleFactor: 2 ** l2, shiftX, shiftY };
          coarse.push({ params, m: measureParams(0, params) });
        }
      }
    }
  }
  // Per polarity: distinct best coarse candidates (and the moments estimate), refined at 48 px, the best two at 96 px.
  const bestPerSign = signs.map((sign) => {
    const ranked = coarse.map((c) => ({ params: c.params, score: scoreOf(c.m, sign) })).sort((p, q) => q.score - p.score);
    const seeds: SimilarityParams[] = [momentsEstimate];
    for (const c of ranked) {
      if (seeds.length > REFINE_CANDIDATES) break;
      if (seeds.every((s) => distinctAlignments(s, c.params))) seeds.push(c.params);
    }
    const atMiddle = seeds.map((seed) => refine(seed, 1, sign)).sort((p, q) => q.score - p.score);
    const atFinest = atMiddle.slice(0, 2).map((c) => refine(c.params, 2, sign)).sort((p, q) => q.score - p.score);
    const best = atFinest[0]!;
    // The runner-up: the best finest-level score of the other candidates that are a different alignment.
    const others = [...atFinest.slice(1), ...atMiddle.slice(2)].filter((c) => distinctAlignments(c.params, best.params));
    const runnerUp = others.length > 0 ? Math.max(...others.map((c) => scoreOf(measureParams(finest, c.params), sign))) : null;
    return { sign, ...best, runnerUp };
  });
  const positive = bestPerSign[0]!;
  const negative = bestPerSign[1];
  const searched = negative && negative.score > positive.score + POLARITY_MARGIN ? negative : positive;
  const repeat = ref.period ? chooseRepeat(ref, ref.period, test, searched, (p) => refine(p, finest, searched.sign)) : null;
  // A repeat resolved by the labels' place has no different candidate left: its look-alikes were the candidates.
  const chosen = repeat ? { ...searched, params: repeat.chosen.params, score: repeat.chosen.score, runnerUp: null } : searched;
  const found = measureParams(finest, chosen.params);
  const inverted = chosen.sign < 0;
  const measured = {
    gain: chosen.sign * (found.r - resize.r),
    distance: Math.sqrt(transformMagnitude2(chosen.params)),
    runnerUpMargin: chosen.runnerUp === null ? null : chosen.score - chosen.runnerUp,
    framePaddingIoU,
  };
  const trust = trustAlignment(measured, chosen.sign * found.r, opts.keepResizeMargin ?? KEEP_RESIZE_MARGIN);
  const evidence: AlignmentEvidence = { ...measured, ...trust, ...(repeat ? { reason: `${repeat.reason}; ${trust.reason}` } : {}) };
  // Keep the plain resize unless the evidence for the alignment is strong enough (for this polarity).
  if (!evidence.trusted) return { ...result(null, resize.r, inverted), evidence };
  return { ...result(chosen.params, found.r, inverted), evidence };
}

/** Whole periods tried on either side of the search's best alignment. */
const REPEAT_PERIODS = 3;

/**
 * The search's best alignment and its copies shifted by whole periods of the reference's repeat (each refined at
 * the finest level), judged by periodic.ts `chooseAmongRepeats`: a copy maps reference point x where the best
 * maps x + k·period, i.e. its shift grows by k·s·Rot(θ)·period.
 */
function chooseRepeat(
  ref: PrealignReference,
  period: RepeatPeriod,
  test: { width: number; height: number },
  best: Scored,
  refineAtFinest: (p: SimilarityParams) => Scored,
): { chosen: RepeatCandidate<SimilarityParams>; reason: string } {
  const plain = applyAffine(resizeAffine(ref.width, ref.height, test.width, test.height), ref.labelCentre.x, ref.labelCentre.y);
  const candidate = (s: Scored, periods: number): RepeatCandidate<SimilarityParams> => {
    const at = applyAffine(similarityFor(s.params, ref, test), ref.labelCentre.x, ref.labelCentre.y);
    return { params: s.params, score: s.score, periods, labelDisplacement: Math.hypot((at.x - plain.x) / test.width, (at.y - plain.y) / test.height) };
  };
  const one = similarityFor({ ...best.params, shiftX: 0, shiftY: 0 }, ref, test);
  // The test-pixel shift of one period: the linear part of the alignment applied to the period vector.
  const stepX = one[0] * period.dx + one[1] * period.dy;
  const stepY = one[3] * period.dx + one[4] * period.dy;
  const candidates = [candidate(best, 0)];
  for (let k = -REPEAT_PERIODS; k <= REPEAT_PERIODS; k++) {
    if (k === 0) continue;
    const start = { ...best.params, shiftX: best.params.shiftX + (k * stepX) / test.width, shiftY: best.params.shiftY + (k * stepY) / test.height };
    const refined = refineAtFinest(start);
    if (Number.isFinite(refined.score)) candidates.push(candidate(refined, k));
  }
  return chooseAmongRepeats(candidates, 1 - period.correlation);
}
