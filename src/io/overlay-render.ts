/**
 * Colour overlays: the image as grey, each class filled with a fixed colour at 45% opacity and outlined at full
 * colour, positive prompt points as green discs, negative ones as red discs, boxes as yellow rectangles.
 * Grey display window = image/normalize (`toGrey`, then `normalizeIntensity`'s percentile clip + min-max).
 * Optional downscaling (`maxSize`) for report thumbnails: the image is area-averaged and the label map sampled
 * nearest-neighbour (image/resize), and the marks are scaled, so outlines stay one pixel wide and crisp.
 * Pure (browser-safe): renders RGB pixels; encoding to PNG is overlay.ts (Node, sharp) or png.ts `encodePng8`.
 */
import { MedpersamUserError } from '../errors.js';
import { normalizeIntensity, toGrey } from '../image/normalize.js';
import { resizeImage, resizeLabelNearest } from '../image/resize.js';
import type { Box, FloatImage, LabelMap, LabeledPoint } from '../image/types.js';

export interface OverlayOptions {
  /** Prompt points in the image's own (original) pixel frame. */
  points?: LabeledPoint[];
  /** Prompt box(es) in the original pixel frame, inclusive corners. */
  box?: Box | Box[];
  /** Longest side of the output in pixels; larger images are downscaled (default: no scaling). */
  maxSize?: number;
  /** Fill opacity of class colours (default 0.45). */
  alpha?: number;
  /** Display window percentiles for the grey image (default 0.5 and 99.5, as normalizeIntensity). */
  lowPercentile?: number;
  highPercentile?: number;
}

/** Class colours (RGB), class k uses entry (k − 1) mod length. Pure red/green are kept for prompt points. */
export const OVERLAY_CLASS_COLORS: readonly (readonly [number, number, number])[] = [
  [31, 119, 255], // 1 blue
  [255, 140, 0], // 2 orange
  [186, 85, 211], // 3 purple
  [0, 206, 209], // 4 turquoise
  [255, 105, 180], // 5 pink
  [205, 205, 40], // 6 olive
  [160, 100, 60], // 7 brown
  [100, 149, 237], // 8 cornflower
  [240, 230, 140], // 9 khaki
  [0, 128, 128], // 10 teal
];
export const POSITIVE_POINT_COLOR = [0, 255, 0] as const;
export const NEGATIVE_POINT_COLOR = [255, 0, 0] as const;
export const BOX_COLOR = [255, 255, 0] as const;

export function classColor(cls: number): readonly [number, number, number] {
  return OVERLAY_CLASS_COLORS[(cls - 1 + OVERLAY_CLASS_COLORS.length * 1000) % OVERLAY_CLASS_COLORS.length]!;
}

/** Grey display values in [0, 1]: luminance for RGB, then the percentile window (image/normalize). */
function displayGrey(image: FloatImage, lowPercentile: number, highPercentile: number): FloatImage {
  return normalizeIntensity(toGrey(image), { lowPercentile, highPercentile });
}

/** Render the overlay as 8-bit RGB pixels (row-major, interleaved) at the output size. */
export function renderOverlayPixels(
  image: FloatImage,
  label: LabelMap,
  opts: OverlayOptions = {},
): { width: number; height: number; rgb: Uint8Array } {
  if (label.width !== image.width || label.height !== image.height) {
    throw new MedpersamUserError(
      'SIZE_MISMATCH',
      `overlay: label map is ${label.width}x${label.height} but the image is ${image.width}x${image.height}`,
    );
  }
  const alpha = opts.alpha ?? 0.45;
  let grey = displayGrey(image, opts.lowPercentile ?? 0.5, opts.highPercentile ?? 99.5);
  let labelMap = label;
  let scale = 1;
  if (opts.maxSize !== undefined && Math.max(image.width, image.height) > opts.maxSize) {
    scale = opts.maxSize / Math.max(image.width, image.height);
    const outW = Math.max(1, Math.round(image.width * scale));
    const outH = Math.max(1, Math.round(image.height * scale));
    grey = resizeImage(grey, outW, outH, 'area');
    labelMap = resizeLabelNearest(label, outW, outH);
  }
  const { width, height } = grey;
  const labels = labelMap.data;

  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const g = grey.data[i]! * 255;
      const cls = labels[i]!;
      let r = g;
      let gg = g;
      let b = g;
      if (cls > 0) {
        const c = classColor(cls);
        // Outline: a foreground pixel with a 4-neighbour of another label (or at the image border).
        const edge =
          x === 0 || y === 0 || x === width - 1 || y === height - 1 ||
          labels[i - 1] !== cls || labels[i + 1] !== cls || labels[i - width] !== cls || labels[i + width] !== cls;
        const a = edge ? 1 : alpha;
        r = (1 - a) * g + a * c[0];
        gg = (1 - a) * g + a * c[1];
        b = (1 - a) * g + a * c[2];
      }
      rgb[i * 3] = Math.round(r);
      rgb[i * 3 + 1] = Math.round(gg);
      rgb[i * 3 + 2] = Math.round(b);
    }
  }

  const setPixel = (x: number, y: number, c: readonly [number, number, number] | readonly number[]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (y * width + x) * 3;
    rgb[i] = c[0]!;
    rgb[i + 1] = c[1]!;
    rgb[i + 2] = c[2]!;
  };

  const boxes = opts.box === undefined ? [] : Array.isArray(opts.box) ? opts.box : [opts.box];
  const thickness = Math.max(1, Math.round(Math.min(width, height) / 256));
  for (const box of boxes) {
    const x0 = Math.floor(box.x0 * scale);
    const y0 = Math.floor(box.y0 * scale);
    const x1 = Math.max(x0, Math.ceil((box.x1 + 1) * scale) - 1);
    const y1 = Math.max(y0, Math.ceil((box.y1 + 1) * scale) - 1);
    for (let t = 0; t < thickness; t++) {
      for (let x = x0; x <= x1; x++) {
        setPixel(x, y0 + t, BOX_COLOR);
        setPixel(x, y1 - t, BOX_COLOR);
      }
      for (let y = y0; y <= y1; y++) {
        setPixel(x0 + t, y, BOX_COLOR);
        setPixel(x1 - t, y, BOX_COLOR);
      }
    }
  }

  const radius = Math.max(2, Math.round(Math.min(width, height) / 100));
  for (const p of opts.points ?? []) {
    const cx = Math.floor((p.x + 0.5) * scale);
    const cy = Math.floor((p.y + 0.5) * scale);
    const colour = p.label === 1 ? POSITIVE_POINT_COLOR : NEGATIVE_POINT_COLOR;
    for (let dy = -radius - 1; dy <= radius + 1; dy++) {
      for (let dx = -radius - 1; dx <= radius + 1; dx++) {
        const d2 = dx * dx + dy * dy;
        if (d2 <= radius * radius) setPixel(cx + dx, cy + dy, colour);
        else if (d2 <= (radius + 1) * (radius + 1)) setPixel(cx + dx, cy + dy, [0, 0, 0]); // dark rim
      }
    }
  }
  return { width, height, rgb };
}

