/**
 * Perturbations for the robustness experiments. Pure typed-array code (runs in a browser).
 *
 * 1. Test-time perturbations of Appendix D / Table 16 (paper §4.6, Table 6, Table 15), applied to each TEST image
 *    and, with the same geometry, to its ground-truth mask (the paper perturbs "the test images and corresponding
 *    masks"; random crop is excluded, as in the paper). Ranges from Table 16 where our copy of the paper kept them:
 *      rotation     (-20°, 20°)                  — torchvision RandomAffine degrees
 *      translation  (0.0, 0.1)                   — read as torchvision's translate=(a, b): |dx| ≤ a·W, |dy| ≤ b·H
 *      scaling      (0.8, 1.2)
 *      shearing     (-20°, 20°)                  — torchvision shear=(lo, hi): an x-shear angle
 *    The colour-jitter, Gaussian-noise and Gaussian-blur values did not survive in our copy of Table 16; the defaults
 *    below are OUR choice (torchvision-like): brightness and contrast factors in [0.8, 1.2], noise σ drawn in
 *    [0, 0.05] of the image's intensity range, blur σ in [0.1, 2.0] px. Every transform is applied to every test
 *    image with parameters drawn uniformly from its range; a transform set to null is off.
 *    Geometry is one affine map about the image centre (scale · rotation · shear, then translation); the image is
 *    sampled bilinearly, the mask nearest-neighbour, outside the image → 0 (background).
 *    Parameters are drawn from a generator seeded by (seed, image id), so a perturbed image does not depend on
 *    the order or the number of images.
 *
 * 2. Fig. 6 (§4.7) mask-prompt perturbation: the learned optical flow is multiplied by a scalar α ∈ [0, 1] before
 *    the reference mask is warped (α = 1: unchanged; α = 0: the reference mask copied). `scaleFlow` scales a flow;
 *    the pipeline applies α through WarpModel.labelForTest's displacement scale, which scales the initial
 *    alignment too, so that α = 0 still copies the reference mask (see core.ts `flowScale`).
 */
import type { FloatImage, LabelMap } from '../image/types.js';
import { mulberry32 } from '../image/random.js';
import { gaussianBlurPlane } from '../image/blur.js';

export type Range = readonly [number, number];

export interface TestPerturbationOptions {
  /** Rotation angle range in degrees (Table 16: (-20, 20)). */
  rotationDeg?: Range | null;
  /** Maximum translation as a fraction of width / height, torchvision style (Table 16: (0.0, 0.1)). */
  translateFraction?: Range | null;
  /** Isotropic scale range (Table 16: (0.8, 1.2)). */
  scale?: Range | null;
  /** x-shear angle range in degrees (Table 16: (-20, 20)). */
  shearDeg?: Range | null;
  /** Brightness and contrast factor ranges (our choice: [0.8, 1.2] each). */
  brightness?: Range | null;
  contrast?: Range | null;
  /** Gaussian noise σ range as a fraction of the image's intensity range (our choice: [0, 0.05]). */
  noiseStdFraction?: Range | null;
  /** Gaussian blur σ range in pixels (our choice: [0.1, 2.0]). */
  blurSigma?: Range | null;
  /** Seed (default 1). */
  seed?: number;
}

export const DEFAULT_TEST_PERTURBATION: Required<Omit<TestPerturbationOptions, 'seed'>> = {
  rotationDeg: [-20, 20],
  translateFraction: [0.0, 0.1],
  scale: [0.8, 1.2],
  shearDeg: [-20, 20],
  brightness: [0.8, 1.2],
  contrast: [0.8, 1.2],
  noiseStdFraction: [0, 0.05],
  blurSigma: [0.1, 2.0],
};

/** The parameters drawn for one image (recorded in the bench output). */
export interface PerturbationParams {
  rotationDeg: number;
  translateX: number;
  translateY: number;
  scale: number;
  shearDeg: number;
  brightness: number;
  contrast: number;
  noiseStd: number;
  blurSigma: number;
}

/** FNV-1a of a string, for per-image seeds. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Resolve options against the defaults (undefined → default, null → off). */
export function resolvePerturbation(opts: TestPerturbationOptions = {}): Required<Omit<TestPerturbationOptions, 'seed'>> & { seed: number } {
  const pick = <K extends keyof typeof DEFAULT_TEST_PERTURBATION>(k: K) => (opts[k] === undefined ? DEFAULT_TEST_PERTURBATION[k] : opts[k]!) as Range | null;
  return {
    rotationDeg: pick('rotationDeg'),
    translateFraction: pick('translateFraction'),
    scale: pick('scale'),
    shearDeg: pick('shearDeg'),
    brightness: pick('brightness'),
    contrast: pick('contrast'),
    noiseStdFraction: pick('noiseStdFraction'),
    blurSigma: pick('blurSigma'),
    seed: opts.seed ?? 1,
  } as Required<Omit<TestPerturbationOptions, 'seed'>> & { seed: number };
}

/** Draw the parameters for image `id` (deterministic in (seed, id)). `intensityRange` scales the noise σ. */
export function drawPerturbation(id: string, width: number, height: number, intensityRange: number, opts: TestPerturbationOptions = {}): PerturbationParams {
  const o = resolvePerturbation(opts);
  const rand = mulberry32(hashString(`${o.seed}:${id}`));
  const uni = (r: Range | null, off: number) => (r ? r[0] + (r[1] - r[0]) * rand() : (rand(), off));
  const sym = (max: number) => (2 * rand() - 1) * max;
  const rotationDeg = uni(o.rotationDeg, 0);
  const tx = o.translateFraction ? sym(o.translateFraction[0] * width) : (rand(), 0);
  const ty = o.translateFraction ? sym(o.translateFraction[1] * height) : (rand(), 0);
  return {
    rotationDeg,
    translateX: tx,
    translateY: ty,
    scale: uni(o.scale, 1),
    shearDeg: uni(o.shearDeg, 0),
    brightness: uni(o.brightness, 1),
    contrast: uni(o.contrast, 1),
    noiseStd: uni(o.noiseStdFraction, 0) * intensityRange,
    blurSigma: uni(o.blurSigma, 0),
  };
}

/**
 * Inverse affine map (output pixel → source pixel), about the centre c:
 *   forward  x' = c + T + S·R·Sh·(x − c)   (torchvision's RandomAffine composition: rotation, shear, scale)
 *   inverse  x  = c + (S·R·Sh)⁻¹ (x' − c − T)
 */
function inverseAffine(p: PerturbationParams, width: number, height: number): (x: number, y: number) => [number, number] {
  const a = (p.rotationDeg * Math.PI) / 180;
  const sh = Math.tan((p.shearDeg * Math.PI) / 180);
  // M = s · R(a) · [[1, sh], [0, 1]]
  const c = Math.cos(a);
  const s = Math.sin(a);
  const m00 = p.scale * c;
  const m01 = p.scale * (c * sh - s);
  const m10 = p.scale * s;
  const m11 = p.scale * (s * sh + c);
  const det = m00 * m11 - m01 * m10;
  const i00 = m11 / det;
  const i01 = -m01 / det;
  const i10 = -m10 / det;
  const i11 = m00 / det;
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  return (x, y) => {
    const dx = x - cx - p.translateX;
    const dy = y - cy - p.translateY;
    return [cx + i00 * dx + i01 * dy, cy + i10 * dx + i11 * dy];
  };
}

/** Standard normal draws (Box–Muller) from a uniform generator. */
function gaussian(rand: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const v = spare;
      spare = null;
      return v;
    }
    const u = Math.max(1e-12, rand());
    const v = rand();
    const m = Math.sqrt(-2 * Math.log(u));
    spare = m * Math.sin(2 * Math.PI * v);
    return m * Math.cos(2 * Math.PI * v);
  };
}

export interface PerturbedSample {
  image: FloatImage;
  /** The ground truth moved with the same geometry (when one was given). */
  mask?: LabelMap;
  params: PerturbationParams;
}

/**
 * Apply the Appendix D perturbations to one test image (and its mask). The intensity range used for the noise σ
 * and for clipping is [min, max] of the input image (the output stays inside it, e.g. 0..255 for 8-bit images).
 */
export function perturbTestSample(id: string, image: FloatImage, mask: LabelMap | undefined, opts: TestPerturbationOptions = {}): PerturbedSample {
  const { width, height, channels } = image;
  if (mask && (mask.width !== width || mask.height !== height)) {
    throw new RangeError(`perturbTestSample: mask ${mask.width}x${mask.height} differs from image ${width}x${height} (${id})`);
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < image.data.length; i++) {
    const v = image.data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) hi = lo + 1;
  const params = drawPerturbation(id, width, height, hi - lo, opts);
  const inv = inverseAffine(params, width, height);
  const n = width * height;
  const planes: Float32Array[] = [];
  const outMask = mask ? new Uint8Array(n) : undefined;
  for (let ch = 0; ch < channels; ch++) planes.push(new Float32Array(n));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sx, sy] = inv(x, y);
      const o = y * width + x;
      if (outMask) {
        const nx = Math.round(sx);
        const ny = Math.round(sy);
        outMask[o] = nx >= 0 && ny >= 0 && nx < width && ny < height ? mask!.data[ny * width + nx]! : 0;
      }
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let ch = 0; ch < channels; ch++) {
        let v = 0;
        for (let k = 0; k < 4; k++) {
          const xx = x0 + (k & 1);
          const yy = y0 + (k >> 1);
          if (xx < 0 || yy < 0 || xx >= width || yy >= height) continue; // outside → 0
          const w = (k & 1 ? fx : 1 - fx) * (k >> 1 ? fy : 1 - fy);
          v += w * image.data[(yy * width + xx) * channels + ch]!;
        }
        planes[ch]![o] = v;
      }
    }
  }
  const rand = gaussian(mulberry32(hashString(`noise:${opts.seed ?? 1}:${id}`)));
  const out = new Float32Array(n * channels);
  for (let ch = 0; ch < channels; ch++) {
    let p = planes[ch]!;
    // Colour jitter (torchvision order: brightness, then contrast around the mean).
    let mean = 0;
    for (let i = 0; i < n; i++) {
      p[i] = lo + (p[i]! - lo) * params.brightness;
      mean += p[i]!;
    }
    mean /= n;
    for (let i = 0; i < n; i++) p[i] = mean + (p[i]! - mean) * params.contrast;
    if (params.blurSigma > 0) p = gaussianBlurPlane(p, width, height, params.blurSigma);
    for (let i = 0; i < n; i++) {
      const v = p[i]! + (params.noiseStd > 0 ? params.noiseStd * rand() : 0);
      out[i * channels + ch] = Math.min(hi, Math.max(lo, v));
    }
  }
  return { image: { width, height, channels, data: out }, mask: outMask ? { width, height, data: outMask } : undefined, params };
}

/** Fig. 6 hook: the flow (any layout of displacements) multiplied by α (a new array). */
export function scaleFlow(flow: Float32Array, alpha: number): Float32Array {
  if (!Number.isFinite(alpha)) throw new RangeError(`scaleFlow: α must be finite, got ${alpha}`);
  const out = new Float32Array(flow.length);
  for (let i = 0; i < flow.length; i++) out[i] = flow[i]! * alpha;
  return out;
}
