/** Reading and writing images and masks, Node part: files, sharp, dataset discovery. The pure part is index.ts. */
export { writeFileAtomic } from './atomic.js';
export { decodeImage, readFileBytes, readImage, sharpRasterDecoders } from './image.js';
export { encodeLabelPng, readClassNames, readLabelMap, writeClassNames, writeLabelPng } from './mask.js';
export {
  compareCodePoints,
  discoverDataset,
  listImages,
  MASK_SUFFIXES,
  type Dataset,
  type DatasetItem,
  type DiscoverDatasetOptions,
} from './dataset.js';
export { renderOverlay, sharpRgbPng, writeOverlayPng } from './overlay.js';
export { sharpWebpGreyEncoder } from './report-pictures-node.js';
export { readReferencePair, type ReadReferencePairOptions, type ReferencePair } from './reference.js';
export * from './phantom-dataset.js';
