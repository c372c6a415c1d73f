/**
 * The pictures of one report card (eval/run-report.ts), encoded with sharp: the image as grey at display size
 * (WebP by default: about 5 KB for a 512 px chest X-ray, half a JPEG of the same quality), and a transparent class
 * overlay at the same size (palette PNG: each class filled in its colour at `alpha`, outlined opaque; background
 * fully transparent), so the page can show or hide the overlay and draw the prompts as vector marks on top.
 * Grey display window as io/overlay.ts (percentile clip + min-max); the label map is sampled nearest-neighbour.
 */
import sharp from 'sharp';
import { normalizeIntensity, toGrey } from '../image/normalize.js';
import { resizeImage, resizeLabelNearest } from '../image/resize.js';
import type { FloatImage, LabelMap } from '../image/types.js';
import type { RunReportPicture } from '../eval/run-report.js';
import { classColor } from './overlay.js';

export interface ReportPictureOptions {
  /** Longest side of the display pictures in pixels (default 512; smaller images are not enlarged). */
  maxSize?: number;
  /** Encoding of the grey picture (default 'webp'). */
  format?: 'webp' | 'jpeg';
  /** Lossy quality 1..100 (default 75). */
  quality?: number;
  /** Fill opacity of the class colours (default 0.4). */
  alpha?: number;
  /**
   * Byte budget of the grey picture (default 24 KB): noisy scans (ultrasound, low-dose CT) compress far worse than
   * an X-ray (a 512 px WebP of a JSRT chest X-ray is about 5 KB, of a noisy phantom 47 KB), so when the first
   * encoding is over the budget the quality, then the size, is lowered (quality 50, then 384 and 256 px) until it
   * fits or the ladder ends. The page weight of a 1,000-image report stays bounded.
   */
  maxBytes?: number;
}

export interface ReportPictures {
  picture: RunReportPicture;
  overlay: RunReportPicture;
}

function bytesOf(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Display size of a width × height image whose longest side is limited to maxSize. */
export function displaySize(width: number, height: number, maxSize: number): { width: number; height: number } {
  const longest = Math.max(width, height);
  if (longest <= maxSize) return { width, height };
  const s = maxSize / longest;
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/** RGBA pixels of the class overlay (see the module comment). */
export function overlayRgba(label: LabelMap, alpha: number): Uint8Array {
  const { width, height, data } = label;
  const out = new Uint8Array(width * height * 4);
  const fill = Math.round(alpha * 255);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const cls = data[i]!;
      if (cls === 0) continue;
      const edge =
        x === 0 || y === 0 || x === width - 1 || y === height - 1 ||
        data[i - 1] !== cls || data[i + 1] !== cls || data[i - width] !== cls || data[i + width] !== cls;
      const c = classColor(cls);
      out[i * 4] = c[0];
      out[i * 4 + 1] = c[1];
      out[i * 4 + 2] = c[2];
      out[i * 4 + 3] = edge ? 255 : fill;
    }
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
  const format = opts.format ?? 'webp';
  const budget = opts.maxBytes ?? 24_000;
  const ladder = [
    { size: maxSize, quality },
    { size: maxSize, quality: Math.min(quality, 50) },
    { size: Math.min(maxSize, 384), quality: Math.min(quality, 50) },
    { size: Math.min(maxSize, 256), quality: Math.min(quality, 50) },
  ];
  const fullGrey = normalizeIntensity(toGrey(image));
  let encoded: Buffer | null = null;
  let width = 0;
  let height = 0;
  for (const step of ladder) {
    ({ width, height } = displaySize(image.width, image.height, step.size));
    const grey = width !== image.width || height !== image.height ? resizeImage(fullGrey, width, height, 'area') : fullGrey;
    const greyBytes = Uint8Array.from(grey.data, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
    const raw = sharp(greyBytes, { raw: { width, height, channels: 1 } });
    encoded = format === 'webp' ? await raw.webp({ quality: step.quality }).toBuffer() : await raw.jpeg({ quality: step.quality, mozjpeg: true }).toBuffer();
    if (encoded.byteLength <= budget) break;
  }
  const small = width !== label.width || height !== label.height ? resizeLabelNearest(label, width, height) : label;
  const png = await sharp(overlayRgba(small, opts.alpha ?? 0.4), { raw: { width, height, channels: 4 } })
    .png({ palette: true, compressionLevel: 9 })
    .toBuffer();
  return {
    picture: { mime: format === 'webp' ? 'image/webp' : 'image/jpeg', bytes: bytesOf(encoded!), width, height },
    overlay: { mime: 'image/png', bytes: bytesOf(png), width, height },
  };
}
