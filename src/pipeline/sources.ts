/**
 * Image sources: how the core loop gets its inputs without knowing where they live (browser-safe).
 *
 * A source names an image (`id`: the output file stem, unique in a run; `name`: what messages call it — a path
 * in Node, a file name in the browser) and loads it on demand, decoded, with a content id (sha256 of the file's
 * bytes, computed with Web Crypto at load time: the run's fingerprint uses it, so a changed file is a changed run).
 * The core loads an image when it needs it and drops it after, so memory stays flat in the number of images.
 *
 * Implementations: `bytesImageSource` / `bytesMaskSource` here (bytes from anywhere: a browser File, a fetch, a
 * test) decoded by given raster decoders; `fileImageSource` / `fileMaskSource` in sources-node.ts (Node: a path,
 * sharp).
 */
import type { ClassNames, LabelMap } from '../image/types.js';
import { labelMapFromImage, type ReadLabelMapOptions } from '../io/label-map.js';
import { decodeImageWith, type RasterDecoders, type ReadImageOptions, type ReadImageResult } from '../io/read-image.js';

/** A decoded image and the sha256 (hex) of the bytes it was decoded from. */
export interface LoadedImage extends ReadImageResult {
  contentId: string;
}

/** A label mask and the sha256 (hex) of its file's bytes. */
export interface LoadedMask {
  label: LabelMap;
  contentId: string;
}

export interface MaskLoadOptions {
  /** Class names: mask values outside them → MASK_VALUE_NOT_IN_CLASSES. */
  classes?: ClassNames;
}

export interface MaskSource {
  readonly name: string;
  load(opts?: MaskLoadOptions): Promise<LoadedMask>;
}

export interface ImageSource {
  /** Output file stem; unique within a run. */
  readonly id: string;
  /** For messages (MedpersamUserError `file`). */
  readonly name: string;
  load(): Promise<LoadedImage>;
  /** Ground-truth mask, when known (scores, point statistics and the report). */
  readonly groundTruth?: MaskSource;
}

/** The one annotated example. */
export interface ReferenceSource {
  image: ImageSource;
  mask: MaskSource;
}

/** sha256 of bytes as lower-case hex, with Web Crypto (Node 20+ and browsers). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** Bytes on demand (a browser File's arrayBuffer, a fetch, an in-memory buffer). */
export type ByteLoader = () => Promise<Uint8Array>;

/** An image source over bytes, decoded with the given raster decoders (browserRasterDecoders in a browser). */
export function bytesImageSource(
  id: string,
  name: string,
  bytes: ByteLoader,
  decoders: RasterDecoders,
  opts: ReadImageOptions & { groundTruth?: MaskSource } = {},
): ImageSource {
  return {
    id,
    name,
    groundTruth: opts.groundTruth,
    async load() {
      const data = await bytes();
      const decoded = await decodeImageWith(data, name, { slice: opts.slice, pixelLimit: opts.pixelLimit }, decoders);
      return { ...decoded, contentId: await sha256Hex(data) };
    },
  };
}

/** A mask source over bytes (label-map.ts rules: binary 0/255 → 0/1, colour tables, class checks). */
export function bytesMaskSource(
  name: string,
  bytes: ByteLoader,
  decoders: RasterDecoders,
  opts: Omit<ReadLabelMapOptions, 'classes'> & Pick<ReadImageOptions, 'pixelLimit'> = {},
): MaskSource {
  const { pixelLimit, ...labelOpts } = opts;
  return {
    name,
    async load(loadOpts: MaskLoadOptions = {}) {
      const data = await bytes();
      const { image } = await decodeImageWith(data, name, { slice: opts.slice, pixelLimit }, decoders);
      return { label: labelMapFromImage(image, name, { ...labelOpts, classes: loadOpts.classes }), contentId: await sha256Hex(data) };
    },
  };
}

/** A mask source over a label map already in memory (a mask drawn in the app); content id = sha256 of the pixels. */
export function labelMapSource(name: string, label: LabelMap): MaskSource {
  return {
    name,
    async load(loadOpts: MaskLoadOptions = {}) {
      const copy: LabelMap = { width: label.width, height: label.height, data: label.data.slice() };
      const asImage = { width: copy.width, height: copy.height, channels: 1 as const, data: Float32Array.from(copy.data) };
      const checked = labelMapFromImage(asImage, name, { classes: loadOpts.classes });
      const header = new TextEncoder().encode(`labelmap:${copy.width}x${copy.height}:`);
      const all = new Uint8Array(header.length + copy.data.length);
      all.set(header);
      all.set(copy.data, header.length);
      return { label: checked, contentId: await sha256Hex(all) };
    },
  };
}
