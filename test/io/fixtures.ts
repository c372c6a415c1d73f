/**
 * Tiny, independent encoders for test fixtures (PNG, TIFF, BMP, DICOM Part 10, NIfTI-1), so the readers are
 * checked against files whose every byte the test controls. Only what the tests need; not for library use.
 */
import { writeFile } from 'node:fs/promises';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';

export async function writeBytes(path: string, bytes: Uint8Array): Promise<string> {
  await writeFile(path, bytes);
  return path;
}

// ---------------------------------------------------------------- PNG
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = CRC_TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, 'ascii');
  b.set(data, 8);
  b.writeUInt32BE(crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
  return b;
}

/**
 * PNG with `channels` 1 (grey), 2 (grey+alpha), 3 (RGB), 4 (RGBA) at 8 or 16 bits; or a palette PNG when
 * `palette` (RGB triplets) is given, in which case `values` are palette indices.
 */
export function encodePng(
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
  depth: 1 | 2 | 4 | 8 | 16,
  values: ArrayLike<number>,
  palette?: number[][],
): Uint8Array {
  const colourType = palette ? 3 : { 1: 0, 2: 4, 3: 2, 4: 6 }[channels];
  const samples = palette ? 1 : channels;
  const rowBytes = Math.ceil((width * samples * depth) / 8);
  const raw = Buffer.alloc(height * (1 + rowBytes));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + rowBytes);
    for (let i = 0; i < width * samples; i++) {
      const v = values[y * width * samples + i]!;
      if (depth === 16) raw.writeUInt16BE(v, row + 1 + i * 2);
      else if (depth === 8) raw[row + 1 + i] = v;
      else raw[row + 1 + ((i * depth) >> 3)]! |= v << (8 - depth - ((i * depth) & 7)); // packed, MSB first
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = colourType;
  const chunks = [pngChunk('IHDR', ihdr)];
  if (palette) chunks.push(pngChunk('PLTE', Uint8Array.from(palette.flat())));
  chunks.push(pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', new Uint8Array(0)));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), ...chunks]);
}

/** A PNG whose IHDR declares `width`×`height` 8-bit grey, with one row's worth of image data (a size bomb). */
export function pngDeclaring(width: number, height: number): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  const signature = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
  const idat = deflateSync(new Uint8Array(1 + Math.min(width, 64)));
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', new Uint8Array(0))]);
}

// ---------------------------------------------------------------- TIFF
/** Uncompressed single-strip little-endian grey TIFF: 8/16-bit unsigned or 32-bit float. */
export function encodeTiff(width: number, height: number, kind: 'u8' | 'u16' | 'f32', values: ArrayLike<number>): Uint8Array {
  const bits = kind === 'u8' ? 8 : kind === 'u16' ? 16 : 32;
  const bytesPer = bits / 8;
  const data = Buffer.alloc(width * height * bytesPer);
  for (let i = 0; i < width * height; i++) {
    const at = i * bytesPer;
    if (kind === 'u8') data[at] = values[i]!;
    else if (kind === 'u16') data.writeUInt16LE(values[i]!, at);
    else data.writeFloatLE(values[i]!, at);
  }
  return tiffWithStrip(width, height, bits, kind === 'f32' ? 3 : 1, data);
}

/**
 * An 8-bit grey TIFF whose header declares `width`×`height` with one uncompressed strip of `stripBytes` bytes (a
 * size bomb when the strip is far shorter than the image: the header promises data the file does not hold).
 */
export function tiffDeclaring(width: number, height: number, stripBytes: number): Uint8Array {
  return tiffWithStrip(width, height, 8, 1, new Uint8Array(stripBytes).fill(7));
}

/** Header, one strip (`data`, whatever its length), then the directory; StripByteCounts = data.length. */
function tiffWithStrip(width: number, height: number, bits: number, sampleFormat: number, data: Uint8Array): Uint8Array {
  const dataLen = data.length;
  const entries = 10;
  const ifdOffset = 8 + dataLen + (dataLen % 2);
  const buf = Buffer.alloc(ifdOffset + 2 + entries * 12 + 4);
  buf.write('II', 0, 'ascii');
  buf.writeUInt16LE(42, 2);
  buf.writeUInt32LE(ifdOffset, 4);
  buf.set(data, 8);
  let p = ifdOffset;
  buf.writeUInt16LE(entries, p);
  p += 2;
  const entry = (tag: number, type: 3 | 4, value: number) => {
    buf.writeUInt16LE(tag, p);
    buf.writeUInt16LE(type, p + 2);
    buf.writeUInt32LE(1, p + 4);
    if (type === 3) buf.writeUInt16LE(value, p + 8);
    else buf.writeUInt32LE(value, p + 8);
    p += 12;
  };
  entry(256, 4, width); // ImageWidth
  entry(257, 4, height); // ImageLength
  entry(258, 3, bits); // BitsPerSample
  entry(259, 3, 1); // Compression: none
  entry(262, 3, 1); // Photometric: BlackIsZero
  entry(273, 4, 8); // StripOffsets
  entry(277, 3, 1); // SamplesPerPixel
  entry(278, 4, height); // RowsPerStrip
  entry(279, 4, dataLen); // StripByteCounts
  entry(339, 3, sampleFormat); // SampleFormat
  buf.writeUInt32LE(0, p);
  return buf;
}

// ---------------------------------------------------------------- BMP
/**
 * BMP with BITMAPINFOHEADER. bits 8: `values` are palette indices into `palette` (RGB triplets);
 * bits 24/32: `values` are RGB triplets. `topDown` writes a negative height.
 */
export function encodeBmp(
  width: number,
  height: number,
  bits: 8 | 24 | 32,
  values: ArrayLike<number>,
  opts: { palette?: number[][]; topDown?: boolean } = {},
): Uint8Array {
  const palette = bits === 8 ? (opts.palette ?? Array.from({ length: 256 }, (_, i) => [i, i, i])) : [];
  const stride = Math.ceil((width * bits) / 32) * 4;
  const pixelOffset = 14 + 40 + palette.length * 4;
  const buf = Buffer.alloc(pixelOffset + stride * height);
  buf.write('BM', 0, 'ascii');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(pixelOffset, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(opts.topDown ? -height : height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(bits, 28);
  buf.writeUInt32LE(0, 30); // BI_RGB
  buf.writeUInt32LE(stride * height, 34);
  buf.writeUInt32LE(palette.length, 46);
  palette.forEach(([r, g, b], i) => {
    buf[54 + i * 4] = b!;
    buf[54 + i * 4 + 1] = g!;
    buf[54 + i * 4 + 2] = r!;
  });
  for (let y = 0; y < height; y++) {
    const fileRow = opts.topDown ? y : height - 1 - y;
    const row = pixelOffset + fileRow * stride;
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (bits === 8) buf[row + x] = values[i]!;
      else {
        const at = row + x * (bits / 8);
        buf[at] = values[i * 3 + 2]!;
        buf[at + 1] = values[i * 3 + 1]!;
        buf[at + 2] = values[i * 3]!;
        if (bits === 32) buf[at + 3] = 255;
      }
    }
  }
  return buf;
}

// ---------------------------------------------------------------- DICOM
export const UID = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  explicitBE: '1.2.840.10008.1.2.2',
  deflated: '1.2.840.10008.1.2.1.99',
  rle: '1.2.840.10008.1.2.5',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegLs: '1.2.840.10008.1.2.4.80',
  jpeg2000: '1.2.840.10008.1.2.4.90',
};

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'OD', 'OL', 'SQ', 'UT', 'UN', 'UC', 'UR']);

interface Element {
  group: number;
  element: number;
  vr: string;
  value: Uint8Array;
  /** Write an undefined length (encapsulated pixel data). */
  undefinedLength?: boolean;
}

function str(vr: string, text: string): Uint8Array {
  let s = text;
  if (s.length % 2 === 1) s += vr === 'UI' ? '\0' : ' ';
  return Buffer.from(s, 'latin1');
}

function us(value: number, littleEndian: boolean): Uint8Array {
  const b = Buffer.alloc(2);
  if (littleEndian) b.writeUInt16LE(value);
  else b.writeUInt16BE(value);
  return b;
}

function encodeElement(e: Element, explicit: boolean, littleEndian: boolean): Buffer {
  const u16 = (v: number) => us(v, littleEndian);
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    if (littleEndian) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    return b;
  };
  const length = e.undefinedLength ? 0xffffffff : e.value.length;
  const parts: Uint8Array[] = [u16(e.group), u16(e.element)];
  if (explicit) {
    parts.push(Buffer.from(e.vr, 'ascii'));
    if (LONG_VRS.has(e.vr)) parts.push(Buffer.alloc(2), u32(length));
    else parts.push(u16(length));
  } else {
    parts.push(u32(length));
  }
  parts.push(e.value);
  return Buffer.concat(parts);
}

export interface DicomSpec {
  transferSyntax?: string;
  rows: number;
  columns: number;
  bitsAllocated?: 8 | 16;
  bitsStored?: number;
  signed?: boolean;
  samplesPerPixel?: 1 | 3;
  planar?: boolean;
  photometric?: string;
  rescaleSlope?: string;
  rescaleIntercept?: string;
  frames?: number;
  /** Stored sample values (all frames, interleaved unless planar; already planar-ordered if planar). */
  values?: ArrayLike<number>;
  /** Encapsulated frames (for compressed syntaxes) instead of `values`. */
  fragments?: Uint8Array[];
  /** Leave out the 128-byte preamble and meta header (raw implicit VR little endian data set). */
  noPreamble?: boolean;
}

/** A DICOM Part-10 file: preamble, "DICM", meta group (explicit VR LE), then the image data set. */
export function encodeDicom(spec: DicomSpec): Uint8Array {
  const ts = spec.transferSyntax ?? UID.explicitLE;
  const explicit = ts !== UID.implicitLE;
  const le = ts !== UID.explicitBE;
  const bitsAllocated = spec.bitsAllocated ?? 16;
  const samples = spec.samplesPerPixel ?? 1;
  const elements: Element[] = [
    { group: 0x0008, element: 0x0060, vr: 'CS', value: str('CS', 'OT') }, // Modality
    { group: 0x0028, element: 0x0002, vr: 'US', value: us(samples, le) },
    { group: 0x0028, element: 0x0004, vr: 'CS', value: str('CS', spec.photometric ?? (samples === 3 ? 'RGB' : 'MONOCHROME2')) },
  ];
  if (samples === 3) elements.push({ group: 0x0028, element: 0x0006, vr: 'US', value: us(spec.planar ? 1 : 0, le) });
  if (spec.frames !== undefined) elements.push({ group: 0x0028, element: 0x0008, vr: 'IS', value: str('IS', String(spec.frames)) });
  elements.push(
    { group: 0x0028, element: 0x0010, vr: 'US', value: us(spec.rows, le) },
    { group: 0x0028, element: 0x0011, vr: 'US', value: us(spec.columns, le) },
    { group: 0x0028, element: 0x0100, vr: 'US', value: us(bitsAllocated, le) },
    { group: 0x0028, element: 0x0101, vr: 'US', value: us(spec.bitsStored ?? bitsAllocated, le) },
    { group: 0x0028, element: 0x0102, vr: 'US', value: us((spec.bitsStored ?? bitsAllocated) - 1, le) },
    { group: 0x0028, element: 0x0103, vr: 'US', value: us(spec.signed ? 1 : 0, le) },
  );
  if (spec.rescaleIntercept !== undefined) elements.push({ group: 0x0028, element: 0x1052, vr: 'DS', value: str('DS', spec.rescaleIntercept) });
  if (spec.rescaleSlope !== undefined) elements.push({ group: 0x0028, element: 0x1053, vr: 'DS', value: str('DS', spec.rescaleSlope) });

  if (spec.fragments) {
    const item = (data: Uint8Array) => {
      const padded = data.length % 2 ? Buffer.concat([data, Buffer.alloc(1)]) : Buffer.from(data);
      const head = Buffer.alloc(8);
      head.writeUInt16LE(0xfffe, 0);
      head.writeUInt16LE(0xe000, 2);
      head.writeUInt32LE(padded.length, 4);
      return Buffer.concat([head, padded]);
    };
    const delimiter = Buffer.alloc(8);
    delimiter.writeUInt16LE(0xfffe, 0);
    delimiter.writeUInt16LE(0xe0dd, 2);
    const value = Buffer.concat([item(new Uint8Array(0)), ...spec.fragments.map(item), delimiter]);
    elements.push({ group: 0x7fe0, element: 0x0010, vr: 'OB', value, undefinedLength: true });
  } else {
    const values = spec.values ?? [];
    const bytesPer = bitsAllocated / 8;
    const pixel = Buffer.alloc(values.length * bytesPer + ((values.length * bytesPer) % 2));
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (bitsAllocated === 8) pixel[i] = v & 0xff;
      else if (le) pixel.writeUInt16LE(v & 0xffff, i * 2);
      else pixel.writeUInt16BE(v & 0xffff, i * 2);
    }
    elements.push({ group: 0x7fe0, element: 0x0010, vr: bitsAllocated === 8 ? 'OB' : 'OW', value: pixel });
  }
  const plainBody = Buffer.concat(elements.map((e) => encodeElement(e, explicit, le)));
  if (spec.noPreamble) return plainBody;
  const body = ts === UID.deflated ? deflateRawSync(plainBody) : plainBody;

  const metaElements: Element[] = [
    { group: 0x0002, element: 0x0001, vr: 'OB', value: Uint8Array.from([0, 1]) },
    { group: 0x0002, element: 0x0002, vr: 'UI', value: str('UI', '1.2.840.10008.5.1.4.1.1.7') },
    { group: 0x0002, element: 0x0003, vr: 'UI', value: str('UI', '1.2.3.4.5.6.7') },
    { group: 0x0002, element: 0x0010, vr: 'UI', value: str('UI', ts) },
  ];
  const metaBody = Buffer.concat(metaElements.map((e) => encodeElement(e, true, true)));
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBody.length);
  const meta = Buffer.concat([encodeElement({ group: 0x0002, element: 0x0000, vr: 'UL', value: groupLength }, true, true), metaBody]);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'ascii'), meta, body]);
}

/** DICOM RLE Lossless frame (PS3.5 Annex G) for 8/16-bit samples, MSB segment first; PackBits runs. */
export function encodeDicomRleFrame(values: ArrayLike<number>, pixels: number, samples: 1 | 3, bitsAllocated: 8 | 16): Uint8Array {
  const bytesPer = bitsAllocated / 8;
  const segments: Uint8Array[] = [];
  for (let s = 0; s < samples; s++) {
    for (let b = bytesPer - 1; b >= 0; b--) {
      const plane = new Uint8Array(pixels);
      for (let p = 0; p < pixels; p++) plane[p] = (values[p * samples + s]! >> (8 * b)) & 0xff;
      segments.push(packBits(plane));
    }
  }
  const header = Buffer.alloc(64);
  header.writeUInt32LE(segments.length, 0);
  let offset = 64;
  segments.forEach((seg, i) => {
    header.writeUInt32LE(offset, 4 + i * 4);
    offset += seg.length;
  });
  return Buffer.concat([header, ...segments]);
}

function packBits(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < data.length) {
    let run = 1;
    while (i + run < data.length && data[i + run] === data[i] && run < 128) run++;
    if (run >= 3) {
      out.push(257 - run, data[i]!); // replicate run: -(run-1) as a signed byte
      i += run;
    } else {
      const start = i;
      while (i < data.length && i - start < 128) {
        if (i + 2 < data.length && data[i] === data[i + 1] && data[i] === data[i + 2]) break;
        i++;
      }
      out.push(i - start - 1, ...data.subarray(start, i));
    }
  }
  if (out.length % 2) out.push(0x80); // pad to even with a no-op
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------- NIfTI-1
export interface NiftiSpec {
  dims: number[]; // [nx, ny] or [nx, ny, nz]
  datatype: 'uint8' | 'int16' | 'uint16' | 'int32' | 'float32' | 'float64';
  values: ArrayLike<number>;
  sclSlope?: number;
  sclInter?: number;
  bigEndian?: boolean;
  gzip?: boolean;
}

const NIFTI_TYPES = {
  uint8: { code: 2, bits: 8 },
  int16: { code: 4, bits: 16 },
  int32: { code: 8, bits: 32 },
  float32: { code: 16, bits: 32 },
  float64: { code: 64, bits: 64 },
  uint16: { code: 512, bits: 16 },
} as const;

/** Single-file NIfTI-1 (.nii): 348-byte header, 4-byte extension flag, data at offset 352. */
export function encodeNifti(spec: NiftiSpec): Uint8Array {
  const { code, bits } = NIFTI_TYPES[spec.datatype];
  const le = !spec.bigEndian;
  const bytesPer = bits / 8;
  const buf = Buffer.alloc(352 + spec.values.length * bytesPer);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  view.setInt32(0, 348, le);
  const dims = [spec.dims.length, ...spec.dims];
  for (let i = 0; i < 8; i++) view.setInt16(40 + i * 2, dims[i] ?? 1, le);
  view.setInt16(70, code, le);
  view.setInt16(72, bits, le);
  for (let i = 0; i < 8; i++) view.setFloat32(76 + i * 4, 1, le);
  view.setFloat32(108, 352, le);
  view.setFloat32(112, spec.sclSlope ?? 0, le);
  view.setFloat32(116, spec.sclInter ?? 0, le);
  buf.write('n+1\0', 344, 'latin1');
  for (let i = 0; i < spec.values.length; i++) {
    const v = spec.values[i]!;
    const at = 352 + i * bytesPer;
    switch (spec.datatype) {
      case 'uint8':
        view.setUint8(at, v);
        break;
      case 'int16':
        view.setInt16(at, v, le);
        break;
      case 'uint16':
        view.setUint16(at, v, le);
        break;
      case 'int32':
        view.setInt32(at, v, le);
        break;
      case 'float32':
        view.setFloat32(at, v, le);
        break;
      case 'float64':
        view.setFloat64(at, v, le);
        break;
    }
  }
  return spec.gzip ? gzipSync(buf) : buf;
}

/** Deterministic pseudo-random integers in [0, max) (LCG), for fixture pixel values. */
export function seededInts(count: number, max: number, seed = 1): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(Math.floor((s / 2 ** 32) * max));
  }
  return out;
}

/** Single-file NIfTI-2 (.nii): 540-byte header, 4-byte extension flag, data at offset 544; float32 or int16. */
export function encodeNifti2(dims: number[], datatype: 'int16' | 'float32', values: ArrayLike<number>, sclSlope = 0, sclInter = 0): Uint8Array {
  const bits = datatype === 'int16' ? 16 : 32;
  const buf = Buffer.alloc(544 + (values.length * bits) / 8);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  view.setInt32(0, 540, true);
  buf.write('n+2\0\r\n\x1a\n', 4, 'latin1');
  view.setInt16(12, datatype === 'int16' ? 4 : 16, true);
  view.setInt16(14, bits, true);
  const all = [dims.length, ...dims];
  for (let i = 0; i < 8; i++) view.setBigInt64(16 + i * 8, BigInt(all[i] ?? 1), true);
  for (let i = 0; i < 8; i++) view.setFloat64(104 + i * 8, 1, true);
  view.setBigInt64(168, 544n, true);
  view.setFloat64(176, sclSlope, true);
  view.setFloat64(184, sclInter, true);
  for (let i = 0; i < values.length; i++) {
    if (datatype === 'int16') view.setInt16(544 + i * 2, values[i]!, true);
    else view.setFloat32(544 + i * 4, values[i]!, true);
  }
  return buf;
}
