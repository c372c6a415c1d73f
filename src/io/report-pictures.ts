/**
 * The pictures of one report card (eval/run-report.ts), browser-safe: the image as grey at display size, encoded by
 * an injected encoder (Node: WebP with sharp, report-pictures-node.ts, about 5 KB for a 512 px chest X-ray; a
 * browser: canvas; default: lossless PNG with png.ts), and a transparent class overlay at the same size as an
 * indexed PNG (each class filled in its colour at `alpha` and outlined opaque, the background fully transparent), so
 * the page can show or hide the overlay and draw the prompts as vector marks on top.
 * Grey display window as the overlays (percentile clip + min-max, here taken at display size); the label map is
 * sampled nearest-neighbour.
 */
import { normalizeIntensity, toGrey } from '../image/normalize.js';
import { resizeImage, resizeLabelNearest } from '../image/resize.js';
import type { FloatImage, LabelMap } from '../image/types.js';
import type { RunReportPicture } from '../eval/run-report.js';
import { classColor } from './overlay-render.js';
import { encodePng8, encodePngIndexed } from './png.js';

/** 8-bit grey pixels to encode, with the lossy quality asked for (1..100; a lossless encoder ignores it). */
export type GreyPictureEncoder = (pixels: { width: number; height: number; data: Uint8Array }, quality: number) => Promise<{ mime: string; bytes: Uint8Array }>;

/** Lossless PNG (png.ts): the default where no lossy encoder is at hand. */
export const pngGreyEncoder: GreyPictureEncoder = async (p) => ({ mime: 'image/png', bytes: encodePng8({ width: p.width, height: p.height, channels: 1, data: p.data }) });

export interface ReportPictureOptions {
  /** Longest side of the display pictures in pixels (default 512; smaller images are not enlarged). */
  maxSize?: number;
  /** Lossy quality 1..100 (default 75). */
  quality?: number;
  /** Fill opacity of the class colours (default 0.4). */
  alpha?: number;
  /**
   * Byte budget of the grey picture (default 24 KB): noisy scans (ultrasound, low-dose CT) compress far worse than
   * an X-ray (a 512 px WebP of a JSRT chest X-ray is about 5 KB, of a noisy phantom 47 KB), so when an encoding is
   * over the budget the quality, then the size, is lowered (quality 50, then 384 and 256 px) until it fits or the
   * ladder ends. The page weight of a 1,000-image report stays bounded.
   */
  maxBytes?: number;
  /** Encoder of the grey picture (default: lossless PNG). */
  encode?: GreyPictureEncoder;
}

export interface ReportPictures {
  picture: RunReportPicture;
  overlay: RunReportPicture;
}

/** Display size of a width × height image whose longest side is limited to maxSize. */
export function displaySize(width: number, height: number, maxSize: number): { width: number; height: number } {
  const longest = Math.max(width, height);
  if (longest <= maxSize) return { width, height };
  const s = maxSize / longest;
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/**
 * The class overlay as an indexed PNG: palette entry 0 transparent, 2k−1 the fill of the k-th class (in ascending
 * class order) at `alpha`, 2k its opaque outline (a class pixel with a 4-neighbour of another label or the border).
 */
export function overlayPng(label: LabelMap, alpha: number): Uint8Array {
  const { width, height, data } = label;
  const present = [...new Set(data)].filter((c) => c !== 0).sort((a, b) => a - b);
  if (present.length > 127) throw new RangeError(`overlayPng: ${present.length} classes do not fit one palette`);
  const slot = new Uint8Array(256);
  const palette: [number, number, number, number][] = [[0, 0, 0, 0]];
  const fill = Math.round(alpha * 255);
  present.forEach((cls, k) => {
    const c = classColor(cls);
    slot[cls] = 2 * k + 1;
    palette.push([c[0], c[1], c[2], fill], [c[0], c[1], c[2], 255]);
  });
  const indices = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const cls = data[i]!;
      if (cls === 0) continue;
      const edge =
        x === 0 || y === 0 || x === width - 1 || y === height - 1 ||
        data[i - 1] !== cls || data[i + 1] !== cls || data[i - width] !== cls || data[i + width] !== cls;
      indices[i] = slot[cls]! + (edge ? 1 : 0);
    }
  }
  return encodePngIndexed(width, height, indices, palette);
}

/** [0, 1] values to bytes (a plain loop: Uint8Array.from with a map function is 10× slower). */
function toBytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    out[i] = v >= 1 ? 255 : v > 0 ? Math.round(v * 255) : 0;
  }
  return out;
}

/** The card pictures of one image and its label map (same size). */
export async function reportPictures(image: FloatImage, label: LabelMap, opts: ReportPictureOptions = {}): Promise<ReportPictures> {
  if (label.width !== image.width || label.height !== image.height) {
    throw new RangeError(`reportPictures: label ${label.width}x${label.height} and image ${image.width}x${image.height} differ`);
  }
  const maxSize = opts.maxSize ?? 512;
  const quality = opts.quality ?? 75;
  const budget = opts.maxBytes ?? 24_000;
  const encode = opts.encode ?? pngGreyEncoder;
  const ladder = [
    { size: maxSize, quality },
    { size: maxSize, quality: Math.min(quality, 50) },
    { size: Math.min(maxSize, 384), quality: Math.min(quality, 50) },
    { size: Math.min(maxSize, 256), quality: Math.min(quality, 50) },
  ];
  // Grey at the largest display size first, then the display window on that (percentiles of 1/4 of the pixels of a
  // 1024 px image: the window differs from the full-size one by the noise the averaging removed).
  const grey = toGrey(image);
  const first = displaySize(image.width, image.height, maxSize);
  const displayGrey = normalizeIntensity(first.width !== image.width || first.height !== image.height ? resizeImage(grey, first.width, first.height, 'area') : grey);
  let encoded: { mime: string; bytes: Uint8Array } | null = null;
  let size = first;
  let last = '';
  for (const step of ladder) {
    size = displaySize(image.width, image.height, step.size);
    const key = `${size.width}x${size.height}@${step.quality}`;
    if (key === last) continue;
    last = key;
    const small = size.width !== first.width || size.height !== first.height ? resizeImage(displayGrey, size.width, size.height, 'area') : displayGrey;
    const data = toBytes(small.data);
    encoded = await encode({ width: size.width, height: size.height, data }, step.quality);
    if (encoded.bytes.byteLength <= budget) break;
  }
  const { width, height } = size;
  const small = width !== label.width || height !== label.height ? resizeLabelNearest(label, width, height) : label;
  return {
    picture: { mime: encoded!.mime, bytes: encoded!.bytes, width, height },
    overlay: { mime: 'image/png', bytes: overlayPng(small, opts.alpha ?? 0.4), width, height },
  };
}
