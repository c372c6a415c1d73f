/** File-system side of medpersam: reading images and masks, dataset discovery, writing labels and overlays. */
export { writeFileAtomic } from './atomic.js';
export {
  detectFormat,
  fileStem,
  imageExtension,
  SUPPORTED_IMAGE_EXTENSIONS,
  type DetectedFormat,
  type ImageFormat,
} from './formats.js';
export { decodeImage, readFileBytes, readImage, type ReadImageOptions, type ReadImageResult } from './image.js';
export { decodeBmp, type DecodedBmp } from './bmp.js';
export { decodeDicom, TRANSFER_SYNTAX_NAMES, transferSyntaxName, type DecodedDicom } from './dicom.js';
export { decodeNifti, type DecodedNifti } from './nifti.js';
export {
  encodeLabelPng,
  normalizeColorKey,
  parseClassNames,
  readClassNames,
  readLabelMap,
  writeClassNames,
  writeLabelPng,
  type ReadLabelMapOptions,
} from './mask.js';
export {
  compareCodePoints,
  discoverDataset,
  listImages,
  MASK_SUFFIXES,
  type Dataset,
  type DatasetItem,
  type DiscoverDatasetOptions,
} from './dataset.js';
export {
  BOX_COLOR,
  classColor,
  NEGATIVE_POINT_COLOR,
  OVERLAY_CLASS_COLORS,
  POSITIVE_POINT_COLOR,
  renderOverlay,
  renderOverlayPixels,
  writeOverlayPng,
  type OverlayOptions,
} from './overlay.js';
export { readReferencePair, type ReadReferencePairOptions, type ReferencePair } from './reference.js';
