/**
 * NIfTI-1 / NIfTI-2 single-file (.nii; .nii.gz is gunzipped by the caller) decoding with `nifti-reader-js`.
 *
 * A 2D image (dim[3] = 1) is read as is (a `slice` option is ignored for it). A 3D volume needs the `slice` option (0-based index along the third
 * axis, k); without it the read fails with 'SLICE_REQUIRED' naming the slice count — there is no silent default,
 * because the "middle slice" is rarely the one a user means. 4D+ files (dim[4..7] > 1) are not supported.
 *
 * Orientation: no reorientation is applied. Pixel (x, y) of the result is voxel (i = x, j = y, k = slice) of the
 * stored array, i.e. x runs along the first NIfTI axis and y along the second, exactly as stored; a label map
 * saved with the same convention (and every file this package writes) lines up with it.
 *
 * Intensities: scl_slope / scl_inter are applied when scl_slope is non-zero and finite (NIfTI-1 §"scl_slope").
 * Data types: uint8, int8, int16, uint16, int32, uint32, float32, float64, and RGB24 (→ 3 channels).
 */
import { readHeader, NIFTI1 } from 'nifti-reader-js';
import { MedpersamUserError } from '../errors.js';
import type { FloatImage } from '../image/types.js';
import { checkPixelLimit, DEFAULT_PIXEL_LIMIT, type PixelLimit } from './pixel-limit.js';

export interface DecodedNifti {
  image: FloatImage;
  /** Bits per voxel as stored (8, 16, 32, 64; 24 for RGB24). */
  bitDepth: number;
  /** Number of slices along the third axis (1 for 2D). */
  slices: number;
}

function unreadable(file: string, problem: string, cause?: unknown): MedpersamUserError {
  return new MedpersamUserError('UNREADABLE_IMAGE', `cannot read NIfTI: ${problem}`, { file, cause });
}

const TYPE_NAMES: Record<number, string> = {
  [NIFTI1.TYPE_BINARY]: 'binary',
  [NIFTI1.TYPE_COMPLEX64]: 'complex64',
  [NIFTI1.TYPE_INT64]: 'int64',
  [NIFTI1.TYPE_UINT64]: 'uint64',
  [NIFTI1.TYPE_FLOAT128]: 'float128',
  [NIFTI1.TYPE_COMPLEX128]: 'complex128',
  [NIFTI1.TYPE_COMPLEX256]: 'complex256',
};

/** Decode one slice; a header whose slice has more pixels than `opts.pixelLimit` is refused before decoding. */
export function decodeNifti(bytes: Uint8Array, file: string, opts: { slice?: number; pixelLimit?: PixelLimit } = {}): DecodedNifti {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let header: ReturnType<typeof readHeader>;
  try {
    header = readHeader(buffer);
  } catch (err) {
    throw unreadable(file, `the header is damaged (${(err as Error).message})`, err);
  }
  if (!header) throw unreadable(file, 'not a NIfTI header');
  if (('isHDR' in header && header.isHDR) || header.magic.startsWith('ni')) {
    throw new MedpersamUserError(
      'UNSUPPORTED_FORMAT',
      'NIfTI header/image pairs (.hdr + .img) are not supported; convert to a single .nii or .nii.gz file',
      { file },
    );
  }

  const dims = header.dims;
  const ndim = dims[0] ?? 0;
  if (ndim < 2 || ndim > 7) throw unreadable(file, `invalid number of dimensions dim[0] = ${ndim}`);
  const width = dims[1] ?? 0;
  const height = dims[2] ?? 0;
  const slices = ndim >= 3 ? Math.max(1, dims[3] ?? 1) : 1;
  if (width < 1 || height < 1) throw unreadable(file, `invalid image size ${width}x${height}`);
  checkPixelLimit(width, height, 'NIfTI', file, opts.pixelLimit ?? DEFAULT_PIXEL_LIMIT);
  for (let d = 4; d <= ndim; d++) {
    if ((dims[d] ?? 1) > 1) {
      throw new MedpersamUserError(
        'UNSUPPORTED_FORMAT',
        `NIfTI with ${ndim} dimensions (dim[${d}] = ${dims[d]}) is not supported: only 2D images and 3D volumes`,
        { file },
      );
    }
  }

  let k = 0;
  if (slices > 1) {
    if (opts.slice === undefined) {
      throw new MedpersamUserError(
        'SLICE_REQUIRED',
        `3D NIfTI volume ${width}x${height}x${slices}: choose a slice with the slice option (0..${slices - 1})`,
        { file },
      );
    }
  }
  // The option is ignored for 2D files (as for PNG etc.), so one `slice` can be passed to a mixed set.
  if (opts.slice !== undefined && slices > 1) {
    if (!Number.isInteger(opts.slice) || opts.slice < 0 || opts.slice >= slices) {
      throw new MedpersamUserError(
        'SLICE_OUT_OF_RANGE',
        `slice ${opts.slice} is out of range: the volume has ${slices} slice(s) (0..${slices - 1})`,
        { file },
      );
    }
    k = opts.slice;
  }

  const type = header.datatypeCode;
  const bitsPerVoxel = header.numBitsPerVoxel;
  const channels: 1 | 3 = type === NIFTI1.TYPE_RGB24 ? 3 : 1;
  const bytesPerVoxel = type === NIFTI1.TYPE_RGB24 ? 3 : bitsPerVoxel / 8;
  const supported = [
    NIFTI1.TYPE_UINT8,
    NIFTI1.TYPE_INT8,
    NIFTI1.TYPE_INT16,
    NIFTI1.TYPE_UINT16,
    NIFTI1.TYPE_INT32,
    NIFTI1.TYPE_UINT32,
    NIFTI1.TYPE_FLOAT32,
    NIFTI1.TYPE_FLOAT64,
    NIFTI1.TYPE_RGB24,
  ];
  if (!supported.includes(type)) {
    throw new MedpersamUserError(
      'UNSUPPORTED_FORMAT',
      `NIfTI data type ${TYPE_NAMES[type] ?? type} is not supported (uint8, int8, int16, uint16, int32, uint32, float32, float64, RGB24)`,
      { file },
    );
  }

  const pixels = width * height;
  const sliceBytes = pixels * bytesPerVoxel;
  const voxOffset = Math.round(header.vox_offset);
  if (!Number.isFinite(voxOffset) || voxOffset < 0) throw unreadable(file, `invalid vox_offset ${header.vox_offset}`);
  const start = voxOffset + k * sliceBytes;
  if (start + sliceBytes > bytes.length) {
    throw unreadable(
      file,
      `the file is truncated: slice ${k} needs bytes ${start}..${start + sliceBytes}, the file has ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, sliceBytes);
  const le = header.littleEndian;
  const data = new Float32Array(pixels * channels);
  for (let i = 0; i < pixels; i++) {
    switch (type) {
      case NIFTI1.TYPE_UINT8:
        data[i] = view.getUint8(i);
        break;
      case NIFTI1.TYPE_INT8:
        data[i] = view.getInt8(i);
        break;
      case NIFTI1.TYPE_INT16:
        data[i] = view.getInt16(i * 2, le);
        break;
      case NIFTI1.TYPE_UINT16:
        data[i] = view.getUint16(i * 2, le);
        break;
      case NIFTI1.TYPE_INT32:
        data[i] = view.getInt32(i * 4, le);
        break;
      case NIFTI1.TYPE_UINT32:
        data[i] = view.getUint32(i * 4, le);
        break;
      case NIFTI1.TYPE_FLOAT32:
        data[i] = view.getFloat32(i * 4, le);
        break;
      case NIFTI1.TYPE_FLOAT64:
        data[i] = view.getFloat64(i * 8, le);
        break;
      case NIFTI1.TYPE_RGB24:
        data[i * 3] = view.getUint8(i * 3);
        data[i * 3 + 1] = view.getUint8(i * 3 + 1);
        data[i * 3 + 2] = view.getUint8(i * 3 + 2);
        break;
    }
  }

  // Intensity scaling: value = stored * scl_slope + scl_inter (ignored when scl_slope is 0, per the standard).
  const slope = header.scl_slope;
  const inter = Number.isFinite(header.scl_inter) ? header.scl_inter : 0;
  if (channels === 1 && Number.isFinite(slope) && slope !== 0 && (slope !== 1 || inter !== 0)) {
    for (let i = 0; i < data.length; i++) data[i] = data[i]! * slope + inter;
  }

  return { image: { width, height, channels, data }, bitDepth: bitsPerVoxel, slices };
}
