/**
 * Image sources over files (Node-only twin of sources.ts): bytes read from a path, decoded with sharp's raster
 * decoders (src/io/image.ts), content id = sha256 of the file. Errors name the path as given.
 */
import { readFileBytes, sharpRasterDecoders, type ReadImageOptions } from '../io/image.js';
import type { ReadLabelMapOptions } from '../io/label-map.js';
import { bytesImageSource, bytesMaskSource, type ImageSource, type MaskSource } from './sources.js';

export function fileImageSource(id: string, path: string, opts: ReadImageOptions & { groundTruth?: MaskSource } = {}): ImageSource {
  return bytesImageSource(id, path, () => readFileBytes(path, 'image file'), sharpRasterDecoders, opts);
}

export function fileMaskSource(path: string, opts: Omit<ReadLabelMapOptions, 'classes'> = {}): MaskSource {
  return bytesMaskSource(path, () => readFileBytes(path, 'mask file'), sharpRasterDecoders, opts);
}
