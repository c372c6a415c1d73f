/**
 * 2D affine maps between pixel frames, and resampling of images / label maps through them (pure, browser-safe).
 *
 * An `Affine2D` [a, b, c, d, e, f] maps a point of one frame to another: x' = a·x + b·y + c, y' = d·x + e·y + f.
 * Points are pixel centres at integer coordinates (the convention of resize.ts and src/warp). Names say which way a
 * map goes, e.g. `outToSrc` maps output pixels to source positions (backward mapping, what resampling needs).
 */
import type { FloatImage, LabelMap } from './types.js';
import { resizeImage } from './resize.js';

export type Affine2D = readonly [number, number, number, number, number, number];

export const IDENTITY_AFFINE: Affine2D = [1, 0, 0, 0, 1, 0];

/** (outer ∘ inner)(p) = outer(inner(p)). */
export function composeAffine(outer: Affine2D, inner: Affine2D): Affine2D {
  const [a, b, c, d, e, f] = outer;
  const [A, B, C, D, E, F] = inner;
  return [a * A + b * D, a * B + b * E, a * C + b * F + c, d * A + e * D, d * B + e * E, d * C + e * F + f];
}

export function invertAffine(m: Affine2D): Affine2D {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (!(Math.abs(det) > 1e-12) || !Number.isFinite(det)) throw new RangeError(`invertAffine: singular map [${m.join(', ')}]`);
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

export function applyAffine(m: Affine2D, x: number, y: number): { x: number; y: number } {
  return { x: m[0] * x + m[1] * y + m[2], y: m[3] * x + m[4] * y + m[5] };
}

/** Area scale of the map (|det|) square-rooted: output-frame pixels per input-frame pixel, on average. */
export function affineScale(m: Affine2D): number {
  return Math.sqrt(Math.abs(m[0] * m[4] - m[1] * m[3]));
}

/**
 * The pixel-centre aligned resize map of a fromW×fromH grid onto a toW×toH grid (the geometry of resizeImage):
 * x_to = (x_from + 0.5)·toW/fromW − 0.5, likewise y.
 */
export function resizeAffine(fromW: number, fromH: number, toW: number, toH: number): Affine2D {
  const sx = toW / fromW;
  const sy = toH / fromH;
  return [sx, 0, 0.5 * sx - 0.5, 0, sy, 0.5 * sy - 0.5];
}

/**
 * A similarity about two centres: p_to = centreTo + scale·Rot(rotation)·(p_from − centreFrom) + shift.
 * Rotation in radians; the frames have y pointing down, so a positive angle turns clockwise on screen.
 */
export function similarityAffine(
  centreFrom: { x: number; y: number },
  centreTo: { x: number; y: number },
  scale: number,
  rotation: number,
  shift: { x: number; y: number } = { x: 0, y: 0 },
): Affine2D {
  const c = Math.cos(rotation) * scale;
  const s = Math.sin(rotation) * scale;
  const tx = centreTo.x + shift.x - (c * centreFrom.x - s * centreFrom.y);
  const ty = centreTo.y + shift.y - (s * centreFrom.x + c * centreFrom.y);
  return [c, -s, tx, s, c, ty];
}

/** Centre of a W×H pixel grid (pixel centres at integers). */
export function gridCentre(width: number, height: number): { x: number; y: number } {
  return { x: (width - 1) / 2, y: (height - 1) / 2 };
}

export interface ResampleOptions {
  /**
   * Value of output pixels whose source position lies outside the source (more than half a pixel past its edge
   * pixels): a number (every channel), or 'border' (the nearest edge pixel). Default 0.
   */
  fill?: number | 'border';
  /**
   * Box-filter the source first when the map shrinks it by more than this factor (source pixels per output pixel),
   * so that downsampling does not alias. Default 1.25; Infinity turns it off.
   */
  antialiasAbove?: number;
}

export interface ResampleResult {
  image: FloatImage;
  /** 1 where the output pixel's source position lies inside the source, 0 where it was filled. */
  inside: Uint8Array;
}

/**
 * Bilinear resampling of an image (any channels) onto an outW×outH grid: output pixel p takes the source at
 * outToSrc(p). Sources shrunk by more than `antialiasAbove` are first box-filtered (resize 'area') to about the
 * output's pixel size, the map being composed with that resize so positions stay exact.
 */
export function resampleAffine(src: FloatImage, outW: number, outH: number, outToSrc: Affine2D, opts: ResampleOptions = {}): ResampleResult {
  const fill = opts.fill ?? 0;
  let img = src;
  let map = outToSrc;
  const shrink = affineScale(outToSrc);
  if (shrink > (opts.antialiasAbove ?? 1.25)) {
    const w = Math.max(1, Math.round(src.width / shrink));
    const h = Math.max(1, Math.round(src.height / shrink));
    img = resizeImage(src, w, h, 'area');
    map = composeAffine(resizeAffine(src.width, src.height, w, h), outToSrc);
  }
  const { width: W, height: H, channels: C, data } = img;
  const out = new Float32Array(outW * outH * C);
  const inside = new Uint8Array(outW * outH);
  const [a, b, c, d, e, f] = map;
  for (let y = 0, i = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++, i++) {
      let px = a * x + b * y + c;
      let py = d * x + e * y + f;
      const isInside = px >= -0.5 && py >= -0.5 && px <= W - 0.5 && py <= H - 0.5;
      if (!isInside && fill !== 'border') {
        for (let k = 0; k < C; k++) out[i * C + k] = fill;
        continue;
      }
      inside[i] = isInside ? 1 : 0;
      px = px < 0 ? 0 : px > W - 1 ? W - 1 : px;
      py = py < 0 ? 0 : py > H - 1 ? H - 1 : py;
      const x0 = Math.min(Math.floor(px), Math.max(W - 2, 0));
      const y0 = Math.min(Math.floor(py), Math.max(H - 2, 0));
      const x1 = Math.min(x0 + 1, W - 1);
      const y1 = Math.min(y0 + 1, H - 1);
      const fx = px - x0;
      const fy = py - y0;
      for (let k = 0; k < C; k++) {
        const v00 = data[(y0 * W + x0) * C + k]!;
        const v01 = data[(y0 * W + x1) * C + k]!;
        const v10 = data[(y1 * W + x0) * C + k]!;
        const v11 = data[(y1 * W + x1) * C + k]!;
        const top = v00 + (v01 - v00) * fx;
        const bottom = v10 + (v11 - v10) * fx;
        out[i * C + k] = top + (bottom - top) * fy;
      }
    }
  }
  return { image: { width: outW, height: outH, channels: C, data: out }, inside };
}

/**
 * Nearest-neighbour resampling of a label map onto an outW×outH grid (labels are never mixed): output pixel p takes
 * the label at round(outToSrc(p)); positions outside the source get `fill` (default 0, background).
 */
export function resampleLabelAffine(src: LabelMap, outW: number, outH: number, outToSrc: Affine2D, fill = 0): LabelMap {
  const { width: W, height: H, data } = src;
  const out = new Uint8Array(outW * outH);
  const [a, b, c, d, e, f] = outToSrc;
  for (let y = 0, i = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++, i++) {
      const sx = Math.round(a * x + b * y + c);
      const sy = Math.round(d * x + e * y + f);
      out[i] = sx >= 0 && sy >= 0 && sx < W && sy < H ? data[sy * W + sx]! : fill;
    }
  }
  return { width: outW, height: outH, data: out };
}
