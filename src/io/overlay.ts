/**
 * Colour overlays as PNG files (Node: sharp encodes them). The drawing itself is overlay-render.ts (pure,
 * browser-safe): the image as grey, classes filled and outlined, prompt points and boxes.
 */
import sharp from 'sharp';
import type { FloatImage, LabelMap } from '../image/types.js';
import { writeFileAtomic } from './atomic.js';
import { renderOverlayPixels, type OverlayOptions } from './overlay-render.js';

export {
  BOX_COLOR,
  classColor,
  NEGATIVE_POINT_COLOR,
  OVERLAY_CLASS_COLORS,
  POSITIVE_POINT_COLOR,
  renderOverlayPixels,
  type OverlayOptions,
} from './overlay-render.js';

/** Encode 8-bit RGB pixels as PNG bytes with sharp. */
export async function sharpRgbPng(pixels: { width: number; height: number; rgb: Uint8Array }): Promise<Uint8Array> {
  const { width, height, rgb } = pixels;
  const png = await sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** Render the overlay and encode it as PNG bytes. */
export async function renderOverlay(image: FloatImage, label: LabelMap, opts: OverlayOptions = {}): Promise<Uint8Array> {
  return sharpRgbPng(renderOverlayPixels(image, label, opts));
}

/** Render the overlay and write it as a PNG file (atomic). */
export async function writeOverlayPng(path: string, image: FloatImage, label: LabelMap, opts: OverlayOptions = {}): Promise<void> {
  await writeFileAtomic(path, await renderOverlay(image, label, opts));
}
