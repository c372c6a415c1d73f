// Note for warp-model: the one-hot form your tmp-core-stubs `augmentPair(ref, rng, preset)` stands in for is
// `augmentOneHot(ref, rng, preset)` here (same argument order and fields: image, oneHot, size,
// classesWithBackground; returns { image, oneHot, params, outputToSource }). `augmentPair` is the label-map form.
/**
 * Augmentation of the reference pair for the augmentation loss (paper Eq. 2, Appendix B.2, Table 13).
 * Pure typed arrays, no tensors, deterministic for a seeded rng.
 *
 * One random geometric transform (rotation, translation, scaling, x-shear about the image centre, then a random
 * resized crop scaled back to the full size) is applied to the image (bilinear) and to the label map (nearest) or
 * the one-hot planes (bilinear), so they stay aligned; then colour jitter (brightness, contrast, gamma) on the
 * image only. Samples outside the source: image → `fillValue` (0), labels → background 0.
 *
 * Ranges (Table 13): 'paper' = Shenzhen/OdontoAI/CAMUS/JSRT column, 'wide' = BUU column.
 * Interpretation choices (the table gives bare ranges; document, do not hide):
 * - translation (a, b): a MAGNITUDE range as a fraction of the image size: |tx|/W and |ty|/H each uniform in
 *   [a, b] with a random sign (so (0.1, 0.3) always moves by 10–30 %). (torchvision's `translate=(a, b)` would
 *   instead mean max fractions for x and y separately.)
 * - shear: x-shear angle uniform in the range (torchvision RandomAffine with a 2-tuple shear); no y-shear.
 * - colour jitter: the paper's values were lost in extraction. torchvision-like ColorJitter semantics, our
 *   defaults: brightness factor in [1−b, 1+b] (multiply), contrast factor in [1−c, 1+c] (blend with the image
 *   mean), then gamma in [g0, g1] (x^γ, on [0,1] images); applied in that fixed order, result clamped to [0,1].
 *   paper: b = c = 0.2, γ ∈ [0.85, 1.15]; wide: b = c = 0.4, γ ∈ [0.7, 1.4].
 * - random crop: torchvision RandomResizedCrop semantics (area fraction `cropScale`, aspect ratio `cropRatio`,
 *   resized back to W×H), our defaults: paper (0.8, 1.0), wide (0.6, 1.0); ratio (3/4, 4/3).
 */
import { type UniformRng, uniform } from './rng.js';

export type AugmentPresetName = 'paper' | 'wide';

export interface AugmentPreset {
  /** Rotation angle range in degrees. */
  rotationDeg: [number, number];
  /** Translation magnitude range as a fraction of width/height (random sign per axis). */
  translateFrac: [number, number];
  /** Isotropic scale factor range. */
  scale: [number, number];
  /** x-shear angle range in degrees. */
  shearDeg: [number, number];
  /** Brightness jitter b: factor uniform in [1−b, 1+b]. */
  brightness: number;
  /** Contrast jitter c: factor uniform in [1−c, 1+c]. */
  contrast: number;
  /** Gamma range (x^γ). */
  gamma: [number, number];
  /** Random resized crop: area fraction range. */
  cropScale: [number, number];
  /** Random resized crop: aspect ratio (w/h) range, sampled log-uniformly. */
  cropRatio: [number, number];
}

export const AUGMENT_PRESETS: Readonly<Record<AugmentPresetName, Readonly<AugmentPreset>>> = {
  paper: {
    rotationDeg: [-10, 10],
    translateFrac: [0, 0.1],
    scale: [0.9, 1.1],
    shearDeg: [-10, 10],
    brightness: 0.2,
    contrast: 0.2,
    gamma: [0.85, 1.15],
    cropScale: [0.8, 1],
    cropRatio: [3 / 4, 4 / 3],
  },
  wide: {
    rotationDeg: [-30, 30],
    translateFrac: [0.1, 0.3],
    scale: [0.8, 1.2],
    shearDeg: [-20, 20],
    brightness: 0.4,
    contrast: 0.4,
    gamma: [0.7, 1.4],
    cropScale: [0.6, 1],
    cropRatio: [3 / 4, 4 / 3],
  },
};

/** One concrete draw of the augmentation (all in the original image's pixel frame). */
export interface AugmentParams {
  rotationDeg: number;
  /** Translation in pixels. */
  translateX: number;
  translateY: number;
  scale: number;
  shearDeg: number;
  /** Crop window of the affine output (pixels, top-left corner and size), resized back to W×H. */
  crop: { x: number; y: number; width: number; height: number };
  brightness: number;
  contrast: number;
  gamma: number;
}

/** The parameters that change nothing. */
export function identityAugmentParams(width: number, height: number): AugmentParams {
  return {
    rotationDeg: 0, translateX: 0, translateY: 0, scale: 1, shearDeg: 0,
    crop: { x: 0, y: 0, width, height }, brightness: 1, contrast: 1, gamma: 1,
  };
}

function resolvePreset(preset: AugmentPresetName | AugmentPreset): AugmentPreset {
  if (typeof preset !== 'string') return preset;
  const p = AUGMENT_PRESETS[preset];
  if (p == null) throw new Error(`unknown augmentation preset '${String(preset)}' (paper | wide)`);
  return p;
}

/** Draw parameters from a preset. The order of draws is fixed (deterministic for a seeded rng). */
export function sampleAugmentParams(
  preset: AugmentPresetName | AugmentPreset, width: number, height: number, rng: UniformRng,
): AugmentParams {
  const p = resolvePreset(preset);
  const sign = (): number => (rng.next() < 0.5 ? -1 : 1);
  const rotationDeg = uniform(rng, p.rotationDeg[0], p.rotationDeg[1]);
  const translateX = sign() * uniform(rng, p.translateFrac[0], p.translateFrac[1]) * width;
  const translateY = sign() * uniform(rng, p.translateFrac[0], p.translateFrac[1]) * height;
  const scale = uniform(rng, p.scale[0], p.scale[1]);
  const shearDeg = uniform(rng, p.shearDeg[0], p.shearDeg[1]);
  // RandomResizedCrop: area fraction and log-uniform aspect ratio; clamp to the image.
  const area = uniform(rng, p.cropScale[0], p.cropScale[1]) * width * height;
  const ratio = Math.exp(uniform(rng, Math.log(p.cropRatio[0]), Math.log(p.cropRatio[1])));
  const cw = Math.min(width, Math.sqrt(area * ratio));
  const ch = Math.min(height, Math.sqrt(area / ratio));
  const crop = { x: rng.next() * (width - cw), y: rng.next() * (height - ch), width: cw, height: ch };
  const brightness = uniform(rng, 1 - p.brightness, 1 + p.brightness);
  const contrast = uniform(rng, 1 - p.contrast, 1 + p.contrast);
  const gamma = uniform(rng, p.gamma[0], p.gamma[1]);
  return { rotationDeg, translateX, translateY, scale, shearDeg, crop, brightness, contrast, gamma };
}

/**
 * The affine map from OUTPUT pixel (u, v) to SOURCE pixel (x, y), as [a, b, c, d, e, f]:
 * x = a u + b v + c, y = d u + e v + f. The forward transform (source → affine output) is
 * T = Translate(centre + t) · Rotate(θ) · ShearX(φ) · Scale(s) · Translate(−centre), centre = ((W−1)/2, (H−1)/2);
 * the crop then maps output (u, v) to affine-output (x₀ + (u+½)·cw/W − ½, y₀ + (v+½)·ch/H − ½).
 */
export function outputToSourceMatrix(params: AugmentParams, width: number, height: number): number[] {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const th = (params.rotationDeg * Math.PI) / 180;
  const sh = Math.tan((params.shearDeg * Math.PI) / 180);
  const cos = Math.cos(th);
  const sin = Math.sin(th);
  const s = params.scale;
  // M = R · Shear · S (2x2): Shear = [[1, sh], [0, 1]]
  const m00 = cos * s;
  const m01 = (cos * sh - sin) * s;
  const m10 = sin * s;
  const m11 = (sin * sh + cos) * s;
  // forward: p' = M (p − c) + c + t  →  inverse: p = M⁻¹ (p' − c − t) + c
  const det = m00 * m11 - m01 * m10;
  const i00 = m11 / det;
  const i01 = -m01 / det;
  const i10 = -m10 / det;
  const i11 = m00 / det;
  // crop: p' = (kx u + ox, ky v + oy)
  const kx = params.crop.width / width;
  const ky = params.crop.height / height;
  const ox = params.crop.x + 0.5 * kx - 0.5 - cx - params.translateX;
  const oy = params.crop.y + 0.5 * ky - 0.5 - cy - params.translateY;
  return [i00 * kx, i01 * ky, i00 * ox + i01 * oy + cx, i10 * kx, i11 * ky, i10 * ox + i11 * oy + cy];
}

export interface AugmentOptions {
  /** Image value for samples outside the source, default 0. */
  fillValue?: number;
  /** Clamp the jittered image to [0, 1] (default true: images are normalised to [0,1]). */
  clamp01?: boolean;
}

export interface AugmentResult {
  /** Augmented image, width×height×channels (same layout as the input). */
  image: Float32Array;
  /** Augmented label map (nearest), width×height. */
  labels: Uint8Array;
  params: AugmentParams;
  /** Output pixel → source pixel affine, see outputToSourceMatrix. */
  outputToSource: number[];
}

function bilinearChannels(
  src: Float32Array, width: number, height: number, channels: number, m: number[], outside: number, out: Float32Array,
): void {
  const [a, b, c, d, e, f] = m as [number, number, number, number, number, number];
  for (let v = 0, o = 0; v < height; v++) {
    for (let u = 0; u < width; u++, o += channels) {
      const x = a * u + b * v + c;
      const y = d * u + e * v + f;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      for (let k = 0; k < channels; k++) {
        const at = (xx: number, yy: number): number =>
          xx < 0 || yy < 0 || xx >= width || yy >= height ? outside : src[(yy * width + xx) * channels + k]!;
        const top = fx === 0 ? at(x0, y0) : at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
        const bot = fy === 0 ? 0 : fx === 0 ? at(x0, y0 + 1) : at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
        out[o + k] = fy === 0 ? top : top * (1 - fy) + bot * fy;
      }
    }
  }
}

function nearestLabels(src: Uint8Array, width: number, height: number, m: number[], out: Uint8Array): void {
  const [a, b, c, d, e, f] = m as [number, number, number, number, number, number];
  for (let v = 0, o = 0; v < height; v++) {
    for (let u = 0; u < width; u++, o++) {
      const x = Math.round(a * u + b * v + c);
      const y = Math.round(d * u + e * v + f);
      out[o] = x < 0 || y < 0 || x >= width || y >= height ? 0 : src[y * width + x]!;
    }
  }
}

/** Brightness → contrast (blend with the mean) → gamma, in place; factors of 1 leave values bit-identical. */
function colourJitter(img: Float32Array, params: AugmentParams, clamp01: boolean): void {
  const n = img.length;
  if (params.brightness !== 1) for (let i = 0; i < n; i++) img[i] = img[i]! * params.brightness;
  if (clamp01 && params.brightness !== 1) for (let i = 0; i < n; i++) img[i] = Math.min(1, Math.max(0, img[i]!));
  if (params.contrast !== 1 && n > 0) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += img[i]!;
    mean /= n;
    for (let i = 0; i < n; i++) img[i] = mean + (img[i]! - mean) * params.contrast;
    if (clamp01) for (let i = 0; i < n; i++) img[i] = Math.min(1, Math.max(0, img[i]!));
  }
  if (params.gamma !== 1) for (let i = 0; i < n; i++) img[i] = Math.pow(Math.max(0, img[i]!), params.gamma);
}

function checkSizes(width: number, height: number, image: Float32Array, fn: string): number {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`${fn}: bad size ${width}×${height}`);
  }
  const channels = image.length / (width * height);
  if (!Number.isInteger(channels) || channels < 1) {
    throw new Error(`${fn}: image length ${image.length} is not a multiple of ${width}×${height}`);
  }
  return channels;
}

/** Apply given parameters (deterministic, no rng). image: width×height×channels interleaved; labels: width×height. */
export function augmentWithParams(
  image: Float32Array, labels: Uint8Array, width: number, height: number, params: AugmentParams, opts: AugmentOptions = {},
): AugmentResult {
  const channels = checkSizes(width, height, image, 'augmentWithParams');
  if (labels.length !== width * height) throw new Error(`augmentWithParams: label length ${labels.length} ≠ ${width}×${height}`);
  const m = outputToSourceMatrix(params, width, height);
  const outImage = new Float32Array(image.length);
  bilinearChannels(image, width, height, channels, m, opts.fillValue ?? 0, outImage);
  colourJitter(outImage, params, opts.clamp01 ?? true);
  const outLabels = new Uint8Array(labels.length);
  nearestLabels(labels, width, height, m, outLabels);
  return { image: outImage, labels: outLabels, params, outputToSource: m };
}

/**
 * Augment the reference pair (Eq. 2): draw parameters from the preset and apply them to the image (bilinear +
 * colour jitter) and the label map (nearest), aligned.
 * @param image  width×height×channels float image (normalised to [0,1] for the colour jitter clamp)
 * @param mask   width×height label map (0 = background)
 */
export function augmentPair(
  image: Float32Array, mask: Uint8Array, width: number, height: number,
  preset: AugmentPresetName | AugmentPreset, rng: UniformRng, opts: AugmentOptions = {},
): AugmentResult {
  const params = sampleAugmentParams(preset, width, height, rng);
  return augmentWithParams(image, mask, width, height, params, opts);
}

export interface OneHotReference {
  /** width×height grey image in [0,1]. */
  image: Float32Array;
  /** width×height×K one-hot (or soft) planes, interleaved, channel 0 = background. */
  oneHot: Float32Array;
  /** Number of planes K (background included). */
  classesWithBackground: number;
  /** Square side (when width/height are not given). */
  size?: number;
  width?: number;
  height?: number;
}

export interface OneHotAugmentResult {
  image: Float32Array;
  /** Warped planes (bilinear, soft edges); outside the source: background = 1, classes = 0. */
  oneHot: Float32Array;
  params: AugmentParams;
  outputToSource: number[];
}

/**
 * The same augmentation for a one-hot reference at working resolution (the trainer's form): image bilinear +
 * colour jitter, one-hot planes bilinear (soft masks for DiceCE).
 */
export function augmentOneHot(
  ref: OneHotReference, rng: UniformRng, preset: AugmentPresetName | AugmentPreset, opts: AugmentOptions = {},
): OneHotAugmentResult {
  const width = ref.width ?? ref.size;
  const height = ref.height ?? ref.size;
  if (width == null || height == null) throw new Error('augmentOneHot: give size or width and height');
  const K = ref.classesWithBackground;
  checkSizes(width, height, ref.image, 'augmentOneHot');
  if (ref.oneHot.length !== width * height * K) throw new Error(`augmentOneHot: oneHot length ${ref.oneHot.length} ≠ ${width}×${height}×${K}`);
  const params = sampleAugmentParams(preset, width, height, rng);
  const m = outputToSourceMatrix(params, width, height);
  const image = new Float32Array(ref.image.length);
  bilinearChannels(ref.image, width, height, ref.image.length / (width * height), m, opts.fillValue ?? 0, image);
  colourJitter(image, params, opts.clamp01 ?? true);
  // Outside the source: background plane 1, class planes 0 (sample plane 0 with outside 1, others with 0).
  const oneHot = new Float32Array(ref.oneHot.length);
  const plane = new Float32Array(width * height);
  const warped = new Float32Array(width * height);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < width * height; i++) plane[i] = ref.oneHot[i * K + k]!;
    bilinearChannels(plane, width, height, 1, m, k === 0 ? 1 : 0, warped);
    for (let i = 0; i < width * height; i++) oneHot[i * K + k] = warped[i]!;
  }
  return { image, oneHot, params, outputToSource: m };
}
