/**
 * DICOM pixel-data decoding on top of `dicom-parser`.
 *
 * Supported transfer syntaxes:
 *  - uncompressed: implicit VR little endian (1.2.840.10008.1.2), explicit VR little endian (…1.2.1),
 *    deflated explicit VR little endian (…1.2.1.99), explicit VR big endian (…1.2.2, retired but still met);
 *  - RLE Lossless (1.2.840.10008.1.2.5), decoded here (PackBits segments, DICOM PS3.5 Annex G);
 *  - JPEG Baseline 8-bit (1.2.840.10008.1.2.4.50), decoded by the environment's JPEG decoder (`jpegFrame` option:
 *    sharp / libjpeg in Node, see src/io/image.ts; the browser's decoder in the app).
 * Every other (compressed) syntax → MedpersamUserError 'UNSUPPORTED_TRANSFER_SYNTAX' naming the UID and its name.
 *
 * Pixel handling: Rows/Columns, BitsAllocated 8/16/32 (and Float/Double Float Pixel Data), BitsStored with sign
 * extension when PixelRepresentation = 1, SamplesPerPixel 1 or 3 (PlanarConfiguration 0 or 1), RGB and YBR_FULL
 * (converted to RGB). Grey images get RescaleSlope/RescaleIntercept applied (e.g. Hounsfield units).
 * MONOCHROME1 (bright = low value) is turned into the MONOCHROME2 convention by mirroring the values inside the
 * image's own range: v' = min + max − v (after rescale), so the value range is kept.
 * Multi-frame files need `slice` (0-based frame index), like 3D NIfTI; single-frame files ignore it.
 * Browser-safe: deflate through fflate, no Node APIs.
 */
import { Inflate } from 'fflate';
import dicomParserModule from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { MedpersamUserError } from '../errors.js';
import type { FloatImage } from '../image/types.js';
import { rawDicomIsExplicit, isDicomPart10 } from './formats.js';
import { checkPixelLimit, DEFAULT_PIXEL_LIMIT, maxInflatedBytes, type PixelLimit } from './pixel-limit.js';

const dicomParser = dicomParserModule as unknown as typeof import('dicom-parser');

export interface DecodedDicom {
  image: FloatImage;
  /** BitsStored (or 32/64 for float pixel data). */
  bitDepth: number;
  transferSyntaxUid: string;
  /** Number of frames in the file (1 for single-frame). */
  frames: number;
}

export const TS_IMPLICIT_LE = '1.2.840.10008.1.2';
export const TS_EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const TS_DEFLATED_LE = '1.2.840.10008.1.2.1.99';
export const TS_EXPLICIT_BE = '1.2.840.10008.1.2.2';
export const TS_RLE = '1.2.840.10008.1.2.5';
export const TS_JPEG_BASELINE = '1.2.840.10008.1.2.4.50';

/** Names of the transfer syntaxes met in practice (DICOM PS3.6 Annex A), for messages. */
export const TRANSFER_SYNTAX_NAMES: ReadonlyMap<string, string> = new Map([
  [TS_IMPLICIT_LE, 'Implicit VR Little Endian'],
  [TS_EXPLICIT_LE, 'Explicit VR Little Endian'],
  [TS_DEFLATED_LE, 'Deflated Explicit VR Little Endian'],
  [TS_EXPLICIT_BE, 'Explicit VR Big Endian'],
  [TS_RLE, 'RLE Lossless'],
  [TS_JPEG_BASELINE, 'JPEG Baseline (Process 1)'],
  ['1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 & 4)'],
  ['1.2.840.10008.1.2.4.57', 'JPEG Lossless, Non-Hierarchical (Process 14)'],
  ['1.2.840.10008.1.2.4.70', 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, SV1)'],
  ['1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless'],
  ['1.2.840.10008.1.2.4.81', 'JPEG-LS Near-Lossless'],
  ['1.2.840.10008.1.2.4.90', 'JPEG 2000 (Lossless Only)'],
  ['1.2.840.10008.1.2.4.91', 'JPEG 2000'],
  ['1.2.840.10008.1.2.4.92', 'JPEG 2000 Part 2 Multi-component (Lossless Only)'],
  ['1.2.840.10008.1.2.4.93', 'JPEG 2000 Part 2 Multi-component'],
  ['1.2.840.10008.1.2.4.201', 'High-Throughput JPEG 2000 (Lossless Only)'],
  ['1.2.840.10008.1.2.4.202', 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)'],
  ['1.2.840.10008.1.2.4.203', 'High-Throughput JPEG 2000'],
  ['1.2.840.10008.1.2.4.110', 'JPEG XL Lossless'],
  ['1.2.840.10008.1.2.4.111', 'JPEG XL JPEG Recompression'],
  ['1.2.840.10008.1.2.4.112', 'JPEG XL'],
  ['1.2.840.10008.1.2.4.100', 'MPEG2 Main Profile / Main Level'],
  ['1.2.840.10008.1.2.4.101', 'MPEG2 Main Profile / High Level'],
  ['1.2.840.10008.1.2.4.102', 'MPEG-4 AVC/H.264 High Profile / Level 4.1'],
  ['1.2.840.10008.1.2.4.103', 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1'],
  ['1.2.840.10008.1.2.4.104', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video'],
  ['1.2.840.10008.1.2.4.105', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video'],
  ['1.2.840.10008.1.2.4.106', 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2'],
  ['1.2.840.10008.1.2.4.107', 'HEVC/H.265 Main Profile / Level 5.1'],
  ['1.2.840.10008.1.2.4.108', 'HEVC/H.265 Main 10 Profile / Level 5.1'],
]);

const SUPPORTED_SYNTAXES = new Set([TS_IMPLICIT_LE, TS_EXPLICIT_LE, TS_DEFLATED_LE, TS_EXPLICIT_BE, TS_RLE, TS_JPEG_BASELINE]);

function unreadable(file: string, problem: string, cause?: unknown): MedpersamUserError {
  return new MedpersamUserError('UNREADABLE_IMAGE', `cannot read DICOM: ${problem}`, { file, cause });
}

/** dicom-parser throws Errors, strings or `{ exception, dataSet }`; get a message out of any of them. */
function parserMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'exception' in err) return parserMessage((err as { exception: unknown }).exception);
  return String(err);
}

/**
 * Raw deflate, stopped as soon as the output passes `maxBytes` (a deflated data set has no declared size: the
 * stream is inflated in chunks and counted, so a small file cannot make a huge allocation).
 */
function inflateBounded(input: Uint8Array, maxBytes: number, file: string): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const inflater = new Inflate((chunk) => {
    total += chunk.length;
    if (total > maxBytes) throw new MedpersamUserError('IMAGE_TOO_LARGE', `the deflated data set inflates to more than ${maxBytes} bytes`, { file });
    chunks.push(chunk);
  });
  const step = 1 << 16;
  for (let at = 0; at < input.length; at += step) inflater.push(input.subarray(at, at + step), at + step >= input.length);
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Parse the data set; raw files without the Part-10 preamble are read as implicit/explicit VR little endian. */
function parseDataSet(bytes: Uint8Array, file: string, limit: PixelLimit): DataSet {
  const options: { TransferSyntaxUID?: string; inflater: (arr: Uint8Array, position: number) => Uint8Array } = {
    // Deflated syntax: inflate everything after the meta header ourselves (fflate, raw deflate), bounded.
    inflater: (arr: Uint8Array, position: number) => {
      const inflated = inflateBounded(arr.subarray(position), maxInflatedBytes(limit), file);
      const full = new Uint8Array(position + inflated.length);
      full.set(arr.subarray(0, position), 0);
      full.set(inflated, position);
      return full;
    },
  };
  if (!isDicomPart10(bytes)) options.TransferSyntaxUID = rawDicomIsExplicit(bytes) ? TS_EXPLICIT_LE : TS_IMPLICIT_LE;
  try {
    return dicomParser.parseDicom(bytes, options as Parameters<typeof dicomParser.parseDicom>[1]);
  } catch (err) {
    // Our own errors (the bounded inflater's) come back as they are, or wrapped as { exception }.
    const own = err && typeof err === 'object' && 'exception' in err ? (err as { exception: unknown }).exception : err;
    if (own instanceof MedpersamUserError) throw own;
    throw unreadable(file, `the file is damaged or truncated (${parserMessage(err)})`, err);
  }
}

function transferSyntaxOf(dataSet: DataSet): string {
  const element = dataSet.elements['x00020010'] as (Element & { Value?: string }) | undefined;
  const uid = element?.Value ?? dataSet.string('x00020010');
  return (uid ?? TS_IMPLICIT_LE).replace(/\0/g, '').trim();
}

export function transferSyntaxName(uid: string): string {
  return TRANSFER_SYNTAX_NAMES.get(uid) ?? 'unknown transfer syntax';
}

export interface PixelLayout {
  rows: number;
  columns: number;
  samplesPerPixel: 1 | 3;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  planar: boolean;
  photometric: string;
  frames: number;
}

function readLayout(dataSet: DataSet, file: string, limit: PixelLimit): PixelLayout {
  const rows = dataSet.uint16('x00280010');
  const columns = dataSet.uint16('x00280011');
  if (!rows || !columns) throw unreadable(file, 'Rows (0028,0010) or Columns (0028,0011) is missing or zero');
  checkPixelLimit(columns, rows, 'DICOM', file, limit);
  const samples = dataSet.uint16('x00280002') ?? 1;
  if (samples !== 1 && samples !== 3) {
    throw new MedpersamUserError('UNSUPPORTED_FORMAT', `DICOM with SamplesPerPixel = ${samples} is not supported (only 1 or 3)`, { file });
  }
  const bitsAllocated = dataSet.uint16('x00280100') ?? 16;
  const bitsStored = dataSet.uint16('x00280101') ?? bitsAllocated;
  const signed = (dataSet.uint16('x00280103') ?? 0) === 1;
  const planar = (dataSet.uint16('x00280006') ?? 0) === 1;
  const photometric = (dataSet.string('x00280004') ?? (samples === 3 ? 'RGB' : 'MONOCHROME2')).trim().toUpperCase();
  const frames = Math.max(1, dataSet.intString('x00280008') ?? 1);
  return { rows, columns, samplesPerPixel: samples, bitsAllocated, bitsStored, signed, planar, photometric, frames };
}

/**
 * Integer samples → float, with BitsStored masking and sign extension.
 * `bytes` holds one frame; `littleEndian` its byte order. Result is interleaved (planar input is reordered).
 */
function samplesToFloat(bytes: Uint8Array, layout: PixelLayout, littleEndian: boolean, file: string): Float32Array {
  const { rows, columns, samplesPerPixel, bitsAllocated, bitsStored, signed, planar } = layout;
  const count = rows * columns * samplesPerPixel;
  const bytesPerSample = bitsAllocated / 8;
  if (![8, 16, 32].includes(bitsAllocated)) {
    throw new MedpersamUserError('UNSUPPORTED_FORMAT', `DICOM with BitsAllocated = ${bitsAllocated} is not supported (8, 16 or 32)`, { file });
  }
  if (bytes.length < count * bytesPerSample) {
    throw unreadable(file, `pixel data is truncated: ${bytes.length} bytes, expected ${count * bytesPerSample} for ${columns}x${rows}x${samplesPerPixel} at ${bitsAllocated} bits`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const storedMask = bitsStored >= 32 ? 0xffffffff : 2 ** bitsStored - 1;
  const signBit = 2 ** (bitsStored - 1);
  const out = new Float32Array(count);
  const pixels = rows * columns;
  for (let i = 0; i < count; i++) {
    let raw: number;
    if (bitsAllocated === 8) raw = bytes[i]!;
    else if (bitsAllocated === 16) raw = view.getUint16(i * 2, littleEndian);
    else raw = view.getUint32(i * 4, littleEndian);
    let value = bitsStored >= 32 ? raw : raw % (storedMask + 1); // drop bits above BitsStored (overlay bits)
    if (signed && value >= signBit) value -= 2 * signBit;
    // Planar configuration 1: RRR…GGG…BBB… → interleaved.
    const target = planar && samplesPerPixel === 3 ? (i % pixels) * 3 + Math.floor(i / pixels) : i;
    out[target] = value;
  }
  return out;
}

/** Float / Double Float Pixel Data (7FE0,0008 / 7FE0,0009). */
function floatsToFloat(bytes: Uint8Array, layout: PixelLayout, double: boolean, littleEndian: boolean, file: string): Float32Array {
  const count = layout.rows * layout.columns * layout.samplesPerPixel;
  const size = double ? 8 : 4;
  if (bytes.length < count * size) throw unreadable(file, `float pixel data is truncated: ${bytes.length} bytes, expected ${count * size}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = double ? view.getFloat64(i * 8, littleEndian) : view.getFloat32(i * 4, littleEndian);
  return out;
}

/** RLE Lossless (PS3.5 Annex G): a 64-byte header of segment offsets, each segment PackBits-coded. */
export function decodeDicomRle(frame: Uint8Array, layout: PixelLayout, file: string): Uint8Array {
  const bytesPerSample = layout.bitsAllocated / 8;
  const pixels = layout.rows * layout.columns;
  if (frame.length < 64) throw unreadable(file, 'RLE frame is shorter than its 64-byte header');
  const header = new DataView(frame.buffer, frame.byteOffset, 64);
  const segments = header.getUint32(0, true);
  const expected = layout.samplesPerPixel * bytesPerSample;
  if (segments !== expected) throw unreadable(file, `RLE frame has ${segments} segments, expected ${expected}`);
  // PackBits expands at most 64:1 (a 2-byte run of 128): fewer stored bytes cannot hold the frame.
  if (frame.length * 64 < pixels * expected) throw unreadable(file, `RLE frame of ${frame.length} bytes cannot hold ${layout.columns}x${layout.rows} pixels`);
  // Output: little-endian interleaved samples, ready for samplesToFloat with planar = false.
  const out = new Uint8Array(pixels * expected);
  for (let s = 0; s < segments; s++) {
    const start = header.getUint32(4 + s * 4, true);
    const end = s + 1 < segments ? header.getUint32(8 + s * 4, true) : frame.length;
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample); // segments go most significant byte first
    let pos = start;
    let pixel = 0;
    const put = (value: number) => {
      if (pixel < pixels) out[(pixel * layout.samplesPerPixel + sample) * bytesPerSample + byteInSample] = value;
      pixel++;
    };
    while (pos < end && pixel < pixels) {
      const n = (frame[pos]! << 24) >> 24; // signed byte
      pos++;
      if (n >= 0) {
        for (let k = 0; k <= n; k++) put(frame[pos + k]!);
        pos += n + 1;
      } else if (n > -128) {
        const value = frame[pos]!;
        pos++;
        for (let k = 0; k < 1 - n; k++) put(value);
      }
    }
    if (pixel < pixels) throw unreadable(file, `RLE segment ${s} decodes to ${pixel} pixels, expected ${pixels}`);
  }
  return out;
}

function encapsulatedFrame(dataSet: DataSet, element: Element, frameIndex: number, frames: number): Uint8Array {
  const fragments = element.fragments ?? [];
  if (frames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, element, 0, fragments.length);
  if (element.basicOffsetTable && element.basicOffsetTable.length > 0) {
    return dicomParser.readEncapsulatedImageFrame(dataSet, element, frameIndex);
  }
  if (fragments.length === frames) return dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, element, frameIndex, 1);
  const table = dicomParser.createJPEGBasicOffsetTable(dataSet, element);
  return dicomParser.readEncapsulatedImageFrame(dataSet, element, frameIndex, table);
}

/** Decodes an 8-bit JPEG Baseline frame as grey (1 sample) or RGB (`colour`). */
export type DicomJpegFrameDecoder = (jpeg: Uint8Array, colour: boolean) => Promise<{ width: number; height: number; data: Float32Array }>;

export interface DecodeDicomOptions {
  /** Frame of a multi-frame file (0-based); required for those, ignored for single-frame files. */
  slice?: number;
  /** JPEG decoder for JPEG Baseline files; without one such files → UNSUPPORTED_TRANSFER_SYNTAX. */
  jpegFrame?: DicomJpegFrameDecoder;
  /** The most pixels accepted (Rows × Columns, checked before decoding); default `DEFAULT_PIXEL_LIMIT`. */
  pixelLimit?: PixelLimit;
}

async function decodeJpegFrame(jpeg: Uint8Array, layout: PixelLayout, file: string, decode: DicomJpegFrameDecoder): Promise<Float32Array> {
  try {
    const frame = await decode(jpeg, layout.samplesPerPixel === 3);
    if (frame.width !== layout.columns || frame.height !== layout.rows) {
      throw unreadable(file, `JPEG frame is ${frame.width}x${frame.height} but the header says ${layout.columns}x${layout.rows}`);
    }
    return frame.data;
  } catch (err) {
    if (err instanceof MedpersamUserError) throw err;
    throw unreadable(file, `the JPEG Baseline pixel data cannot be decoded (${(err as Error).message})`, err);
  }
}

/** YBR_FULL → RGB (PS3.3 C.7.6.3.1.2). */
function ybrFullToRgb(data: Float32Array, maxValue: number): void {
  const half = (maxValue + 1) / 2;
  for (let i = 0; i < data.length; i += 3) {
    const y = data[i]!;
    const cb = data[i + 1]! - half;
    const cr = data[i + 2]! - half;
    data[i] = Math.min(maxValue, Math.max(0, Math.round(y + 1.402 * cr)));
    data[i + 1] = Math.min(maxValue, Math.max(0, Math.round(y - 0.344136 * cb - 0.714136 * cr)));
    data[i + 2] = Math.min(maxValue, Math.max(0, Math.round(y + 1.772 * cb)));
  }
}

export async function decodeDicom(bytes: Uint8Array, file: string, opts: DecodeDicomOptions = {}): Promise<DecodedDicom> {
  const limit = opts.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  const dataSet = parseDataSet(bytes, file, limit);
  const transferSyntaxUid = transferSyntaxOf(dataSet);
  if (!SUPPORTED_SYNTAXES.has(transferSyntaxUid) || (transferSyntaxUid === TS_JPEG_BASELINE && !opts.jpegFrame)) {
    throw new MedpersamUserError(
      'UNSUPPORTED_TRANSFER_SYNTAX',
      `DICOM transfer syntax ${transferSyntaxUid} (${transferSyntaxName(transferSyntaxUid)}) is not supported: no decoder ` +
        'for it is installed. Supported: uncompressed (implicit/explicit VR little endian, explicit big endian, deflated), ' +
        'RLE Lossless, JPEG Baseline. Convert the file to an uncompressed syntax first ' +
        '(e.g. `gdcmconv --raw in.dcm out.dcm` or `dcmdjpeg`/`dcmdjpls` from DCMTK).',
      { file },
    );
  }

  const layout = readLayout(dataSet, file, limit);
  let frameIndex = 0;
  if (layout.frames > 1) {
    if (opts.slice === undefined) {
      throw new MedpersamUserError(
        'SLICE_REQUIRED',
        `multi-frame DICOM with ${layout.frames} frames: choose one with the slice option (0..${layout.frames - 1})`,
        { file },
      );
    }
    frameIndex = opts.slice;
  }
  if (layout.frames > 1 && opts.slice !== undefined && (!Number.isInteger(opts.slice) || opts.slice < 0 || opts.slice >= layout.frames)) {
    throw new MedpersamUserError(
      'SLICE_OUT_OF_RANGE',
      `slice ${opts.slice} is out of range: the file has ${layout.frames} frame(s) (0..${layout.frames - 1})`,
      { file },
    );
  }

  const littleEndian = transferSyntaxUid !== TS_EXPLICIT_BE;
  const intElement = dataSet.elements['x7fe00010'];
  const floatElement = dataSet.elements['x7fe00008'];
  const doubleElement = dataSet.elements['x7fe00009'];
  const pixelsPerFrame = layout.rows * layout.columns * layout.samplesPerPixel;
  let values: Float32Array;
  let bitDepth = layout.bitsStored;

  if (intElement) {
    if (transferSyntaxUid === TS_RLE || transferSyntaxUid === TS_JPEG_BASELINE) {
      if (!intElement.encapsulatedPixelData) throw unreadable(file, 'compressed transfer syntax but the pixel data is not encapsulated');
      let frame: Uint8Array;
      try {
        frame = encapsulatedFrame(dataSet, intElement, frameIndex, layout.frames);
      } catch (err) {
        throw unreadable(file, `cannot extract frame ${frameIndex} from the encapsulated pixel data (${parserMessage(err)})`, err);
      }
      if (transferSyntaxUid === TS_RLE) {
        values = samplesToFloat(decodeDicomRle(frame, layout, file), { ...layout, planar: false }, true, file);
      } else {
        values = await decodeJpegFrame(frame, layout, file, opts.jpegFrame!);
        bitDepth = 8;
      }
    } else {
      const frameBytes = (pixelsPerFrame * layout.bitsAllocated) / 8;
      const start = intElement.dataOffset + frameIndex * frameBytes;
      const available = Math.max(0, Math.min(dataSet.byteArray.length, intElement.dataOffset + intElement.length) - start);
      values = samplesToFloat(dataSet.byteArray.subarray(start, start + Math.min(frameBytes, available)), layout, littleEndian, file);
    }
  } else if (floatElement || doubleElement) {
    const element = (floatElement ?? doubleElement)!;
    const size = floatElement ? 4 : 8;
    const start = element.dataOffset + frameIndex * pixelsPerFrame * size;
    const end = Math.min(dataSet.byteArray.length, element.dataOffset + element.length);
    values = floatsToFloat(dataSet.byteArray.subarray(start, end), layout, !floatElement, littleEndian, file);
    bitDepth = size * 8;
  } else {
    throw unreadable(file, 'the file has no Pixel Data element (7FE0,0010): it holds no image');
  }

  let channels: 1 | 3 = 1;
  if (layout.samplesPerPixel === 3) {
    channels = 3;
    if (layout.photometric === 'YBR_FULL' && transferSyntaxUid !== TS_JPEG_BASELINE) {
      ybrFullToRgb(values, 2 ** layout.bitsStored - 1);
    } else if (layout.photometric !== 'RGB' && !layout.photometric.startsWith('YBR')) {
      throw new MedpersamUserError('UNSUPPORTED_FORMAT', `DICOM photometric interpretation ${layout.photometric} with 3 samples is not supported`, { file });
    }
  } else {
    if (layout.photometric === 'PALETTE COLOR') {
      throw new MedpersamUserError('UNSUPPORTED_FORMAT', 'DICOM PALETTE COLOR images are not supported', { file });
    }
    // Modality LUT: output = stored * RescaleSlope + RescaleIntercept (PS3.3 C.11.1.1.2).
    const slope = dataSet.floatString('x00281053') ?? 1;
    const intercept = dataSet.floatString('x00281052') ?? 0;
    if ((slope !== 1 || intercept !== 0) && Number.isFinite(slope) && Number.isFinite(intercept)) {
      for (let i = 0; i < values.length; i++) values[i] = values[i]! * slope + intercept;
    }
    if (layout.photometric === 'MONOCHROME1') {
      let min = Infinity;
      let max = -Infinity;
      for (const v of values) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      for (let i = 0; i < values.length; i++) values[i] = min + max - values[i]!;
    }
  }

  return {
    image: { width: layout.columns, height: layout.rows, channels, data: values },
    bitDepth,
    transferSyntaxUid,
    frames: layout.frames,
  };
}
