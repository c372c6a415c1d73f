/**
 * Synthetic "other kind of scan" transforms for the warp stress set (issue 8 item 3). Pure: no file system.
 *
 * Geometric transforms act on a test image and its ground-truth mask together, through one affine map
 * `srcToOut` (source pixel frame → output pixel frame, pixel centres at integers): the image is resampled
 * bilinearly (box-filtered first when shrunk), the mask nearest-neighbour; what falls outside the source is 0
 * (black image, background label). Photometric transforms (inversion, speckle + low contrast, RGB) change the
 * image only.
 *
 * Every draw comes from a seeded generator, so a (seed, image index) pair always gives the same transform, and
 * every parameter is returned for the dataset's transforms.json.
 */
import {
  gridCentre,
  invertAffine,
  resampleAffine,
  resampleLabelAffine,
  similarityAffine,
  type Affine2D,
} from '../../src/image/affine.js';
import { mulberry32 } from '../../src/image/random.js';
import { toGrey } from '../../src/image/normalize.js';
import { resizePlaneBilinear } from '../../src/image/resize.js';
import type { FloatImage, LabelMap } from '../../src/image/types.js';

/** The stress transforms. 'identity' copies the source (a control). */
export const STRESS_TRANSFORMS = ['identity', 'rotate', 'scale', 'shift', 'similarity', 'invert', 'speckle', 'rgb', 'mixed-size'] as const;
export type StressTransformName = (typeof STRESS_TRANSFORMS)[number];

/** Ranges of the random draws (defaults: issue 8 item 3). */
export interface StressRanges {
  /** Rotation drawn uniformly in ±rotationDeg degrees. */
  rotationDeg: number;
  /** Scale drawn log-uniformly in [min, max] (> 1 enlarges the anatomy, cutting its edges off). */
  scale: [number, number];
  /** Shift drawn uniformly in ±shiftFraction of the width (x) and of the height (y). */
  shiftFraction: number;
  /** Probability that a test image is intensity-inverted ('invert'). */
  invertProbability: number;
  /** Speckle: number of looks L of the Gamma(L, 1/L) multiplicative noise (smaller = stronger), uniform in range. */
  speckleLooks: [number, number];
  /** Speckle: kept contrast (the image is mapped to 0.12 + c·I, then multiplied by the speckle), uniform in range. */
  contrast: [number, number];
  /** Mixed sizes: field-of-view change along one axis (crop < 1 < pad), log-uniform. */
  aspect: [number, number];
  /** Mixed sizes: output pixels per source pixel, log-uniform. */
  sizeFactor: [number, number];
}

export const DEFAULT_STRESS_RANGES: StressRanges = {
  rotationDeg: 45,
  scale: [0.6, 1.5],
  shiftFraction: 0.25,
  invertProbability: 0.5,
  speckleLooks: [1.5, 3],
  contrast: [0.25, 0.5],
  aspect: [0.65, 1.5],
  sizeFactor: [0.35, 1.2],
};

/** What was done to one image (all fields present; unused ones are null / identity). */
export interface StressRecord {
  /** Source and output sizes. */
  source: { width: number; height: number };
  output: { width: number; height: number };
  /** Affine map source pixel → output pixel ([a,b,c,d,e,f]: x' = a·x + b·y + c, y' = d·x + e·y + f). */
  srcToOut: number[];
  /** Similarity parameters about the image centres: out = c_out + scale·Rot(rotationDeg)·(src − c_src) + shift. */
  rotationDeg: number;
  scale: number;
  shiftPx: { x: number; y: number };
  /** Mixed sizes: the field of view taken from the source (pixels; may reach past it = padding). */
  fieldOfView: { x0: number; y0: number; width: number; height: number } | null;
  inverted: boolean;
  speckle: { looks: number; contrast: number; grainPx: number } | null;
  rgb: { redGain: number; greenGain: number; blueGain: number; vignetteCentre: { x: number; y: number } } | null;
}

/** Does this transform apply to the reference image too? (Folder-wide kinds of scan: speckle, colour.) */
export function appliesToReference(name: StressTransformName): boolean {
  return name === 'speckle' || name === 'rgb';
}

/** Per-image seeded uniform draws. */
export class StressRng {
  private readonly next: () => number;
  constructor(seed: number, index: number) {
    this.next = mulberry32((Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0);
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  logUniform(lo: number, hi: number): number {
    return Math.exp(this.uniform(Math.log(lo), Math.log(hi)));
  }
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** Gamma(shape k, scale 1/k) (mean 1), Marsaglia–Tsang; k < 1 via the boost u^(1/k). */
  gammaMeanOne(k: number): number {
    const boost = k < 1 ? Math.pow(this.next(), 1 / k) : 1;
    const a = k < 1 ? k + 1 : k;
    const d = a - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return (d * v * boost) / k;
    }
  }
}

function identityRecord(width: number, height: number): StressRecord {
  return {
    source: { width, height },
    output: { width, height },
    srcToOut: [1, 0, 0, 0, 1, 0],
    rotationDeg: 0,
    scale: 1,
    shiftPx: { x: 0, y: 0 },
    fieldOfView: null,
    inverted: false,
    speckle: null,
    rgb: null,
  };
}

/** Draw the geometry of one test image (size unchanged except for 'mixed-size'). */
export function drawGeometry(name: StressTransformName, width: number, height: number, rng: StressRng, ranges: StressRanges): StressRecord {
  const rec = identityRecord(width, height);
  if (name === 'rotate' || name === 'scale' || name === 'shift' || name === 'similarity') {
    const both = name === 'similarity';
    rec.rotationDeg = name === 'rotate' || both ? rng.uniform(-ranges.rotationDeg, ranges.rotationDeg) : 0;
    rec.scale = name === 'scale' || both ? rng.logUniform(ranges.scale[0], ranges.scale[1]) : 1;
    rec.shiftPx =
      name === 'shift' || both
        ? { x: rng.uniform(-1, 1) * ranges.shiftFraction * width, y: rng.uniform(-1, 1) * ranges.shiftFraction * height }
        : { x: 0, y: 0 };
    const c = gridCentre(width, height);
    rec.srcToOut = [...similarityAffine(c, c, rec.scale, (rec.rotationDeg * Math.PI) / 180, rec.shiftPx)];
  } else if (name === 'mixed-size') {
    const f = rng.logUniform(ranges.aspect[0], ranges.aspect[1]);
    const alongX = rng.uniform(0, 1) < 0.5;
    const k = rng.logUniform(ranges.sizeFactor[0], ranges.sizeFactor[1]);
    const fovW = alongX ? f * width : width;
    const fovH = alongX ? height : f * height;
    // A crop (f < 1) or a pad (f > 1) at a random offset along the changed axis.
    const slackX = width - fovW;
    const slackY = height - fovH;
    const x0 = alongX ? rng.uniform(Math.min(0, slackX), Math.max(0, slackX)) : 0;
    const y0 = alongX ? 0 : rng.uniform(Math.min(0, slackY), Math.max(0, slackY));
    const outW = Math.max(16, Math.round(k * fovW));
    const outH = Math.max(16, Math.round(k * fovH));
    rec.fieldOfView = { x0, y0, width: fovW, height: fovH };
    rec.output = { width: outW, height: outH };
    // Edges map to edges: out + 0.5 = (src + 0.5 − origin)·out/fov.
    const sx = outW / fovW;
    const sy = outH / fovH;
    rec.srcToOut = [sx, 0, sx * (0.5 - x0) - 0.5, 0, sy, sy * (0.5 - y0) - 0.5];
    rec.scale = Math.sqrt(sx * sy);
  }
  return rec;
}

/** Apply the geometry of `rec` to an image and its label map. */
export function applyGeometry(image: FloatImage, label: LabelMap, rec: StressRecord): { image: FloatImage; label: LabelMap } {
  const m = rec.srcToOut as unknown as Affine2D;
  const identity = m.every((v, i) => v === [1, 0, 0, 0, 1, 0][i]) && rec.output.width === image.width && rec.output.height === image.height;
  if (identity) return { image, label };
  const outToSrc = invertAffine(m);
  return {
    image: resampleAffine(image, rec.output.width, rec.output.height, outToSrc, { fill: 0 }).image,
    label: resampleLabelAffine(label, rec.output.width, rec.output.height, outToSrc, 0),
  };
}

/** Intensity inversion on a 0..255 image: v → 255 − v. */
export function invertImage(image: FloatImage): FloatImage {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = 255 - image.data[i]!;
  return { ...image, data };
}

/**
 * Ultrasound-like image: low contrast (0..255 → 255·(0.12 + c·v/255)) times spatially correlated multiplicative
 * speckle (Gamma(L, 1/L) drawn on a grid of `grainPx` pixels, bilinearly upsampled), clamped to 0..255. Grey only.
 */
export function speckleImage(image: FloatImage, rng: StressRng, ranges: StressRanges): { image: FloatImage; speckle: NonNullable<StressRecord['speckle']> } {
  const looks = rng.uniform(ranges.speckleLooks[0], ranges.speckleLooks[1]);
  const contrast = rng.uniform(ranges.contrast[0], ranges.contrast[1]);
  const grainPx = Math.max(1, Math.round(Math.max(image.width, image.height) / 200));
  const gw = Math.max(2, Math.ceil(image.width / grainPx));
  const gh = Math.max(2, Math.ceil(image.height / grainPx));
  const grid = new Float32Array(gw * gh);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.gammaMeanOne(looks);
  const field = resizePlaneBilinear(grid, gw, gh, image.width, image.height);
  const data = new Float32Array(image.width * image.height);
  for (let i = 0; i < data.length; i++) {
    const v = 255 * (0.12 + (contrast * image.data[i]!) / 255) * field[i]!;
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { image: { width: image.width, height: image.height, channels: 1, data }, speckle: { looks, contrast, grainPx } };
}

/**
 * Colour-photo-like RGB image from a grey one (fundus-like: the structure lives in green; red is bright, carries
 * a strong vignette and noise; blue is dark and noisy). Per-image channel gains and vignette centre jitter.
 */
export function colouriseImage(image: FloatImage, rng: StressRng): { image: FloatImage; rgb: NonNullable<StressRecord['rgb']> } {
  const { width: W, height: H } = image;
  const redGain = rng.uniform(0.9, 1.1);
  const greenGain = rng.uniform(0.85, 1.15);
  const blueGain = rng.uniform(0.8, 1.2);
  const vignetteCentre = { x: rng.uniform(0.4, 0.6), y: rng.uniform(0.4, 0.6) };
  const data = new Float32Array(W * H * 3);
  const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);
  const rmax = Math.hypot(Math.max(vignetteCentre.x, 1 - vignetteCentre.x) * W, Math.max(vignetteCentre.y, 1 - vignetteCentre.y) * H);
  for (let y = 0, i = 0; y < H; y++) {
    for (let x = 0; x < W; x++, i++) {
      const v = image.data[i]! / 255;
      const r = Math.hypot(x - vignetteCentre.x * W, y - vignetteCentre.y * H) / rmax;
      const vignette = 1 - 0.6 * r * r;
      data[3 * i] = clamp(255 * redGain * (0.45 * vignette + 0.2 * v + 0.12 * rng.normal()));
      data[3 * i + 1] = clamp(255 * greenGain * (0.05 + 0.7 * v * (0.8 + 0.2 * vignette)));
      data[3 * i + 2] = clamp(255 * blueGain * (0.12 + 0.08 * (1 - v) + 0.08 * rng.normal()));
    }
  }
  return { image: { width: W, height: H, channels: 3, data }, rgb: { redGain, greenGain, blueGain, vignetteCentre } };
}

/**
 * One image of a stress set: draw the transform `name` with `rng`, apply it (geometry to image + label, then the
 * photometric part to the image), return both and the record. `isReference` keeps the geometry of the reference
 * unchanged (only folder-wide photometric kinds, see appliesToReference, touch it).
 */
export function stressImage(
  name: StressTransformName,
  image: FloatImage,
  label: LabelMap,
  rng: StressRng,
  ranges: StressRanges = DEFAULT_STRESS_RANGES,
  isReference = false,
): { image: FloatImage; label: LabelMap; record: StressRecord } {
  let record = identityRecord(image.width, image.height);
  let out = { image, label };
  if (isReference && !appliesToReference(name)) return { ...out, record };
  if (!isReference) {
    record = drawGeometry(name, image.width, image.height, rng, ranges);
    out = applyGeometry(image, label, record);
  }
  if (name === 'invert' && rng.uniform(0, 1) < ranges.invertProbability) {
    record.inverted = true;
    out = { ...out, image: invertImage(out.image) };
  } else if (name === 'speckle') {
    const s = speckleImage(out.image.channels === 1 ? out.image : toGrey(out.image), rng, ranges);
    record.speckle = s.speckle;
    out = { ...out, image: s.image };
  } else if (name === 'rgb') {
    const c = colouriseImage(out.image.channels === 1 ? out.image : toGrey(out.image), rng);
    record.rgb = c.rgb;
    out = { ...out, image: c.image };
  }
  return { ...out, record };
}

/** The recorded geometry as a map output pixel → source pixel (for checks and for quality scores). */
export function outToSource(record: StressRecord): Affine2D {
  return invertAffine(record.srcToOut as unknown as Affine2D);
}

