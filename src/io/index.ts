/**
 * Reading and writing images and masks, browser-safe part: format detection, decoding from bytes (pure PNG, TIFF,
 * BMP, DICOM, NIfTI; the browser's JPEG decoder), label-map rules, classes.json, overlay pixels, PNG encoding.
 * The Node twin (files, sharp, datasets on disk) is index-node.ts.
 */
export {
  detectFormat,
  fileStem,
  imageExtension,
  SUPPORTED_IMAGE_EXTENSIONS,
  SUPPORTED_FORMATS_TEXT,
  type DetectedFormat,
  type ImageFormat,
} from './formats.js';
export { decodeImageWith, type JpegFrame, type RasterDecoders, type ReadImageOptions, type ReadImageResult } from './read-image.js';
export { browserRasterDecoders, decodeImage, readImageBlob } from './raster-browser.js';
export { decodePng, encodePng8, encodePngIndexed, type DecodedPng, type Png8Pixels } from './png.js';
export { displaySize, overlayPng, pngGreyEncoder, reportPictures, type GreyPictureEncoder, type ReportPictureOptions, type ReportPictures } from './report-pictures.js';
export { decodeTiff, type DecodedTiff } from './tiff.js';
export { decodeBmp, type DecodedBmp } from './bmp.js';
export { decodeDicom, TRANSFER_SYNTAX_NAMES, transferSyntaxName, type DecodedDicom, type DecodeDicomOptions } from './dicom.js';
export { decodeNifti, type DecodedNifti } from './nifti.js';
export {
  checkReferencePair,
  labelMapFromImage,
  normalizeColorKey,
  parseClassNames,
  type ReadLabelMapOptions,
} from './label-map.js';
export {
  BOX_COLOR,
  classColor,
  NEGATIVE_POINT_COLOR,
  OVERLAY_CLASS_COLORS,
  POSITIVE_POINT_COLOR,
  renderOverlayPixels,
  type OverlayOptions,
} from './overlay-render.js';
