/**
 * File-format detection from magic bytes (never from the file extension).
 */

/** The image formats `readImage` decodes. */
export type ImageFormat = 'png' | 'jpeg' | 'tiff' | 'bmp' | 'dicom' | 'nifti';

/** What the first bytes of a file say it is. `gzip` needs decompressing before it can be classified. */
export type DetectedFormat = ImageFormat | 'gzip';

/** Extensions of the files that dataset discovery and `listImages` pick up (lower case, `.nii.gz` as one). */
export const SUPPORTED_IMAGE_EXTENSIONS: readonly string[] = [
  '.png',
  '.jpg',
  '.jpeg',
  '.tif',
  '.tiff',
  '.bmp',
  '.dcm',
  '.dicom',
  '.nii',
  '.nii.gz',
];

/** Human-readable list of supported formats, for error messages. */
export const SUPPORTED_FORMATS_TEXT =
  'PNG (8/16-bit), JPEG, TIFF (8/16-bit, float), BMP (uncompressed), DICOM (uncompressed, JPEG baseline, RLE), NIfTI-1/2 (.nii, .nii.gz)';

function startsWith(bytes: Uint8Array, prefix: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[offset + i] !== prefix[i]) return false;
  return true;
}

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

/** True when the bytes start like a DICOM Part-10 file: 128-byte preamble then "DICM". */
export function isDicomPart10(bytes: Uint8Array): boolean {
  return startsWith(bytes, ascii('DICM'), 128);
}

/**
 * True when the bytes look like a raw DICOM data set without the Part-10 preamble (older files, some
 * scanners): the first element is little-endian group 0x0002 or 0x0008, its length fits the file, and the
 * element after it has an even group number that does not go backwards.
 */
export function isRawDicom(bytes: Uint8Array): boolean {
  if (bytes.length < 16) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const group = view.getUint16(0, true);
  if (group !== 0x0002 && group !== 0x0008) return false;
  let next: number;
  if (rawDicomIsExplicit(bytes)) {
    const vr = String.fromCharCode(bytes[4]!, bytes[5]!);
    const long = ['OB', 'OW', 'OF', 'OD', 'OL', 'OV', 'SQ', 'UT', 'UN', 'UC', 'UR', 'SV', 'UV'].includes(vr);
    next = long ? 12 + view.getUint32(8, true) : 8 + view.getUint16(6, true);
  } else {
    next = 8 + view.getUint32(4, true);
  }
  if (next + 4 > bytes.length) return false;
  const nextGroup = view.getUint16(next, true);
  return nextGroup >= group && nextGroup % 2 === 0 && nextGroup <= 0x7fe0;
}

/** Raw DICOM (no preamble) with explicit VR? Only meaningful when `isRawDicom` is true. */
export function rawDicomIsExplicit(bytes: Uint8Array): boolean {
  return bytes[4]! >= 65 && bytes[4]! <= 90 && bytes[5]! >= 65 && bytes[5]! <= 90;
}

/** NIfTI-1 single file ("n+1") or NIfTI-2 ("n+2") header, either byte order. */
export function isNifti(bytes: Uint8Array): boolean {
  if (bytes.length < 348) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = view.getInt32(0, true);
  const sizeBE = view.getInt32(0, false);
  if (size === 348 || sizeBE === 348) {
    return startsWith(bytes, ascii('n+1\0'), 344) || startsWith(bytes, ascii('ni1\0'), 344);
  }
  if (size === 540 || sizeBE === 540) {
    return startsWith(bytes, ascii('n+2\0'), 4) || startsWith(bytes, ascii('ni2\0'), 4);
  }
  return false;
}

/** Classify a file's bytes; null when no supported format matches. */
export function detectFormat(bytes: Uint8Array): DetectedFormat | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) return 'tiff';
  if (startsWith(bytes, ascii('BM')) && bytes.length >= 26) return 'bmp';
  if (isDicomPart10(bytes)) return 'dicom';
  if (isNifti(bytes)) return 'nifti';
  if (startsWith(bytes, [0x1f, 0x8b])) return 'gzip';
  if (isRawDicom(bytes)) return 'dicom';
  return null;
}

/** A short name for well-known formats we do not read, to make the error message useful. */
export function describeUnsupported(bytes: Uint8Array): string | null {
  if (startsWith(bytes, ascii('GIF8'))) return 'GIF';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'WebP';
  if (startsWith(bytes, [0x00, 0x00, 0x00]) && startsWith(bytes, ascii('ftyp'), 4)) return 'HEIF/AVIF';
  if (startsWith(bytes, ascii('%PDF'))) return 'PDF';
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return 'ZIP archive';
  if (startsWith(bytes, [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])) return 'NumPy .npy';
  if (startsWith(bytes, ascii('\x89HDF'))) return 'HDF5';
  return null;
}

/** Lower-case extension of a file name, treating `.nii.gz` as one extension; '' when none. */
export function imageExtension(name: string): string {
  const lower = name.toLowerCase();
  if (lower.endsWith('.nii.gz')) return '.nii.gz';
  const dot = lower.lastIndexOf('.');
  if (dot <= 0) return '';
  return lower.slice(dot);
}

/** File name without its (image) extension: `a.nii.gz` → `a`, `b.png` → `b`, `IM0001` → `IM0001`. */
export function fileStem(name: string): string {
  const ext = imageExtension(name);
  return ext ? name.slice(0, name.length - ext.length) : name;
}
