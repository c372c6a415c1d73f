/**
 * SAM encoder preprocessing (SAM's ResizeLongestSide + pixel mean/std + zero padding). Pure: runs in a browser.
 *
 * Intensity convention: `encode()` expects images on the 0..255 scale (what `readImage` gives for 8-bit files and
 * what the pipeline passes). Images normalised to [0,1] must be mapped first with `normalizedToSam255`.
 * 16-bit images should be normalised (image/normalize `normalizeIntensity`) and then mapped the same way.
 *
 * Frame (frames.ts `samFrame`): `scale = 1024 / max(W,H)`, each side `floor(side * scale + 0.5)` (segment-anything
 * ResizeLongestSide), then zero-padding at the bottom/right to 1024×1024 (after normalisation, as SAM does).
 * SAM 2 (`buildSam2EncoderInput`): squashed to 1024×1024, no padding, ImageNet mean/std on the 0..1 scale.
 */
import { resizeImage } from '../image/resize.js';
import type { FloatImage } from '../image/types.js';
import { SAM_LONG_SIDE, samFrame, type SamFrame } from './frames.js';
import { IMAGENET_MEAN, IMAGENET_STD } from './sam2-interface.js';

/** SAM pixel mean/std on the 0..255 scale (RGB). */
export const SAM_PIXEL_MEAN = [123.675, 116.28, 103.53] as const;
export const SAM_PIXEL_STD = [58.395, 57.12, 57.375] as const;

/** Map an image normalised to [0,1] onto SAM's 0..255 intensity scale (values outside are kept, not clipped). */
export function normalizedToSam255(image: FloatImage): FloatImage {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = image.data[i]! * 255;
  return { width: image.width, height: image.height, channels: image.channels, data };
}

/**
 * RGB (grey replicated to 3 channels), 0..255, resized to the frame's resizedWidth × resizedHeight
 * (bilinear when enlarging, area average when shrinking — close to the antialiased PIL resize SAM uses).
 */
export function resizeToSamFrame(image: FloatImage, squash = false): { image: FloatImage; frame: SamFrame } {
  const frame = samFrame(image.width, image.height, { squash });
  // SAM 2's squash may shrink one axis and enlarge the other: area only when both shrink (on an enlarged axis it
  // degenerates to nearest-like sampling).
  const shrinks = squash ? frame.resizedWidth < image.width && frame.resizedHeight < image.height : frame.scale < 1;
  const method = shrinks ? 'area' : 'bilinear';
  const sameSize = frame.resizedWidth === image.width && frame.resizedHeight === image.height;
  // Resize before replicating grey → RGB: a third of the work.
  const resized = sameSize ? image : resizeImage(image, frame.resizedWidth, frame.resizedHeight, method);
  if (resized.channels === 3) return { image: resized, frame };
  const n = resized.width * resized.height;
  const rgb = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = resized.data[i]!;
    rgb[3 * i] = v;
    rgb[3 * i + 1] = v;
    rgb[3 * i + 2] = v;
  }
  return { image: { width: resized.width, height: resized.height, channels: 3, data: rgb }, frame };
}

/** Plain-encoder input: [1,3,1024,1024] NCHW, (x - mean) / std, zero-padded bottom/right. */
export function buildPlainEncoderInput(image: FloatImage): { data: Float32Array; dims: [1, 3, 1024, 1024]; frame: SamFrame } {
  const { image: rgb, frame } = resizeToSamFrame(image);
  const S = SAM_LONG_SIDE;
  const data = new Float32Array(3 * S * S);
  const w = rgb.width;
  for (let c = 0; c < 3; c++) {
    const mean = SAM_PIXEL_MEAN[c]!;
    const inv = 1 / SAM_PIXEL_STD[c]!;
    const plane = c * S * S;
    for (let y = 0; y < rgb.height; y++) {
      const src = y * w * 3 + c;
      const dst = plane + y * S;
      for (let x = 0; x < w; x++) data[dst + x] = (rgb.data[src + 3 * x]! - mean) * inv;
    }
  }
  return { data, dims: [1, 3, S, S], frame };
}

/** `input_image`-encoder input: [resizedHeight, resizedWidth, 3] HWC, raw 0..255 (the graph normalises + pads). */
export function buildInputImageEncoderInput(image: FloatImage): { data: Float32Array; dims: [number, number, 3]; frame: SamFrame } {
  const { image: rgb, frame } = resizeToSamFrame(image);
  return { data: rgb.data, dims: [rgb.height, rgb.width, 3], frame };
}

/**
 * SAM 2 encoder input: [1,3,1024,1024] NCHW, the image squashed to 1024×1024 (frames.ts `squash`), then
 * (x/255 − mean) / std with ImageNet statistics (SAM2Transforms: ToTensor, Resize((1024,1024)), Normalize).
 */
export function buildSam2EncoderInput(image: FloatImage): { data: Float32Array; dims: [1, 3, 1024, 1024]; frame: SamFrame } {
  const { image: rgb, frame } = resizeToSamFrame(image, true);
  const plane = SAM_LONG_SIDE * SAM_LONG_SIDE;
  const data = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    // (x/255 − mean)/std = (x − 255·mean) · 1/(255·std), on the 0..255 scale encode() takes.
    const mean = 255 * IMAGENET_MEAN[c]!;
    const inv = 1 / (255 * IMAGENET_STD[c]!);
    for (let i = 0; i < plane; i++) data[c * plane + i] = (rgb.data[3 * i + c]! - mean) * inv;
  }
  return { data, dims: [1, 3, SAM_LONG_SIDE, SAM_LONG_SIDE], frame };
}
