/**
 * A pure TIFF decoder (browser-safe) for the TIFFs met as scans and masks: the first image of the file,
 * strips or tiles, uncompressed / LZW / Deflate / PackBits, horizontal-difference predictor, 1..8- and 16-bit
 * unsigned integer (9..15-bit → UNSUPPORTED_FORMAT) and 32-bit float samples, grey (BlackIsZero, WhiteIsZero), RGB
 * (chunky or planar) and palette images.
 * Conventions as the Node reader (src/io/image.ts, sharp): grey → 1 channel, RGB → 3 (extra samples such as alpha
 * dropped), palette → RGB, or 1 channel when the palette is all grey (8-bit values); grey below 8 bits → the
 * stored values; WhiteIsZero is inverted to the BlackIsZero convention. BigTIFF, JPEG-in-TIFF, CMYK and YCbCr
 * files → UNSUPPORTED_FORMAT with the reason.
 */
import { unzlibSync } from 'fflate';
import { MedpersamUserError } from '../errors.js';
import type { FloatImage } from '../image/types.js';
import { checkPixelLimit, DEFAULT_PIXEL_LIMIT, type PixelLimit } from './pixel-limit.js';

export interface DecodedTiff {
  image: FloatImage;
  /** Bits per sample as stored (1..16, or 32 for float). */
  bitDepth: number;
}

const TAG = {
  width: 256,
  height: 257,
  bitsPerSample: 258,
  compression: 259,
  photometric: 262,
  stripOffsets: 273,
  samplesPerPixel: 277,
  rowsPerStrip: 278,
  stripByteCounts: 279,
  planar: 284,
  predictor: 317,
  colorMap: 320,
  tileWidth: 322,
  tileLength: 323,
  tileOffsets: 324,
  tileByteCounts: 325,
  sampleFormat: 339,
} as const;

const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8 };

function damaged(file: string, why: string, cause?: unknown): MedpersamUserError {
  return new MedpersamUserError('UNREADABLE_IMAGE', `cannot decode TIFF (the file is damaged or truncated: ${why})`, { file, cause });
}

function unsupported(file: string, why: string): MedpersamUserError {
  return new MedpersamUserError('UNSUPPORTED_FORMAT', `TIFF ${why} is not supported`, { file });
}

/** Read the first IFD's tags as number arrays. */
function readIfd(bytes: Uint8Array, file: string): { tags: Map<number, number[]>; little: boolean } {
  if (bytes.length < 8) throw damaged(file, 'header cut off');
  const little = bytes[0] === 0x49;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint16(2, little);
  if (magic === 43) throw unsupported(file, 'BigTIFF');
  if (magic !== 42) throw damaged(file, 'bad magic number');
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > bytes.length) throw damaged(file, 'first directory outside the file');
  const count = view.getUint16(ifd, little);
  if (ifd + 2 + count * 12 > bytes.length) throw damaged(file, 'directory cut off');
  const tags = new Map<number, number[]>();
  for (let e = 0; e < count; e++) {
    const at = ifd + 2 + e * 12;
    const tag = view.getUint16(at, little);
    const type = view.getUint16(at + 2, little);
    const n = view.getUint32(at + 4, little);
    const size = TYPE_SIZES[type];
    if (!size) continue;
    const total = size * n;
    const dataAt = total <= 4 ? at + 8 : view.getUint32(at + 8, little);
    if (dataAt + total > bytes.length) throw damaged(file, `tag ${tag} data outside the file`);
    const values: number[] = [];
    for (let i = 0; i < n; i++) {
      const p = dataAt + i * size;
      switch (type) {
        case 1: case 2: case 7: values.push(bytes[p]!); break;
        case 6: values.push(view.getInt8(p)); break;
        case 3: values.push(view.getUint16(p, little)); break;
        case 8: values.push(view.getInt16(p, little)); break;
        case 4: values.push(view.getUint32(p, little)); break;
        case 9: values.push(view.getInt32(p, little)); break;
        case 11: values.push(view.getFloat32(p, little)); break;
        case 12: values.push(view.getFloat64(p, little)); break;
        case 5: case 10: values.push(view.getUint32(p, little) / (view.getUint32(p + 4, little) || 1)); break;
        case 16: values.push(Number(view.getBigUint64(p, little))); break;
      }
    }
    tags.set(tag, values);
  }
  return { tags, little };
}

/** TIFF LZW (MSB-first codes, early change); returns the bytes decoded, at most `expected`. */
function lzwDecode(input: Uint8Array, expected: number, file: string): Uint8Array {
  const out = new Uint8Array(expected);
  let o = 0;
  const dict: Uint8Array[] = [];
  const reset = () => {
    dict.length = 0;
    for (let i = 0; i < 256; i++) dict.push(Uint8Array.of(i));
    dict.push(new Uint8Array(0), new Uint8Array(0)); // 256 clear, 257 end
  };
  reset();
  let width = 9;
  let bitPos = 0;
  let prev: Uint8Array | null = null;
  const total = input.length * 8;
  while (bitPos + width <= total && o < expected) {
    let code = 0;
    for (let i = 0; i < width; i++) {
      const b = bitPos + i;
      code = (code << 1) | ((input[b >> 3]! >> (7 - (b & 7))) & 1);
    }
    bitPos += width;
    if (code === 257) break;
    if (code === 256) {
      reset();
      width = 9;
      prev = null;
      continue;
    }
    let entry: Uint8Array;
    if (code < dict.length) entry = dict[code]!;
    else if (code === dict.length && prev) {
      entry = new Uint8Array(prev.length + 1);
      entry.set(prev);
      entry[prev.length] = prev[0]!;
    } else throw damaged(file, `invalid LZW code ${code}`);
    const n = Math.min(entry.length, expected - o);
    out.set(entry.subarray(0, n), o);
    o += n;
    // The table holds 4096 codes (12 bits); a stream that goes on without a clear code adds no more entries.
    if (prev && dict.length < 4096) {
      const next = new Uint8Array(prev.length + 1);
      next.set(prev);
      next[prev.length] = entry[0]!;
      dict.push(next);
    }
    prev = entry;
    if (dict.length + 1 >= 1 << width && width < 12) width++;
  }
  return out.subarray(0, o);
}

/** PackBits; returns the bytes decoded, at most `expected`. */
function packBitsDecode(input: Uint8Array, expected: number): Uint8Array {
  const out = new Uint8Array(expected);
  let i = 0;
  let o = 0;
  while (i < input.length && o < expected) {
    const n = (input[i++]! << 24) >> 24;
    if (n >= 0) {
      const len = Math.min(n + 1, expected - o, input.length - i);
      out.set(input.subarray(i, i + len), o);
      i += n + 1;
      o += len;
    } else if (n !== -128) {
      if (i >= input.length) break;
      const len = Math.min(1 - n, expected - o);
      out.fill(input[i++]!, o, o + len);
      o += len;
    }
  }
  return out.subarray(0, o);
}

/**
 * The most bytes one stored byte can decode to, per compression: none 1; PackBits 64 (a 2-byte run of 128);
 * LZW about 2730 (a 12-bit code naming a 4095-byte string; 3000 with margin); Deflate 1032 (a 258-byte match in
 * 2 bits). A strip or tile whose stored bytes cannot hold the bytes the header declares is damaged, and is refused
 * before anything is allocated for the image.
 */
const MAX_EXPANSION: Record<number, number> = { 1: 1, 32773: 64, 5: 3000, 8: 1032, 32946: 1032 };

/** What the first directory says about the pixels (validated: sizes positive, within the pixel limit). */
interface TiffLayout {
  width: number;
  height: number;
  spp: number;
  bits: number;
  compression: number;
  photometric: number;
  planar: number;
  predictor: number;
  format: number;
  tiled: boolean;
  /** Strip or tile size in pixels (a strip is the image's width wide). */
  blockW: number;
  blockH: number;
  across: number;
  down: number;
  planes: number;
  samplesInBlock: number;
  rowBytes: number;
  offsets: number[];
  counts: number[];
}

function readLayout(tags: Map<number, number[]>, file: string, limit: PixelLimit): TiffLayout {
  const one = (tag: number, def?: number): number => {
    const v = tags.get(tag)?.[0] ?? def;
    if (v === undefined) throw damaged(file, `required tag ${tag} missing`);
    return v;
  };
  const width = one(TAG.width);
  const height = one(TAG.height);
  if (width === 0 || height === 0) throw damaged(file, `invalid size ${width}x${height}`);
  checkPixelLimit(width, height, 'TIFF', file, limit);
  const spp = one(TAG.samplesPerPixel, 1);
  if (!Number.isInteger(spp) || spp < 1 || spp > 16) throw damaged(file, `${spp} samples per pixel`);
  const bitsList = tags.get(TAG.bitsPerSample) ?? [1];
  const bits = bitsList[0]!;
  if (bitsList.some((b) => b !== bits)) throw unsupported(file, 'with different bit depths per sample');
  const compression = one(TAG.compression, 1);
  const photometric = one(TAG.photometric, spp >= 3 ? 2 : 1);
  const planar = one(TAG.planar, 1);
  const predictor = one(TAG.predictor, 1);
  const format = one(TAG.sampleFormat, 1);
  if (photometric === 5) throw unsupported(file, 'CMYK');
  if (photometric === 6) throw unsupported(file, 'YCbCr');
  if (![0, 1, 2, 3].includes(photometric)) throw unsupported(file, `photometric interpretation ${photometric}`);
  if (![1, 5, 8, 32946, 32773].includes(compression)) throw unsupported(file, `compression ${compression === 7 ? '7 (JPEG)' : compression}`);
  if (format === 3 && bits !== 32) throw unsupported(file, `${bits}-bit float samples`);
  if (format === 2) throw unsupported(file, 'with signed integer samples');
  if (format !== 1 && format !== 3) throw unsupported(file, `sample format ${format}`);
  if (format === 1 && (!Number.isInteger(bits) || bits < 1 || bits > 16)) throw unsupported(file, `${bits}-bit integer samples`);
  if (format === 1 && bits > 8 && bits !== 16) throw unsupported(file, `${bits}-bit integer samples`);
  if (predictor === 3) throw unsupported(file, 'floating-point predictor');
  if (predictor === 2 && bits !== 8 && bits !== 16) throw unsupported(file, `predictor with ${bits}-bit samples`);
  if (photometric === 2 && spp < 3) throw damaged(file, `RGB with ${spp} samples per pixel`);
  if (photometric === 3 && format !== 1) throw unsupported(file, 'palette with float samples');

  const tiled = tags.has(TAG.tileOffsets);
  const blockW = tiled ? one(TAG.tileWidth) : width;
  const blockH = tiled ? one(TAG.tileLength) : Math.min(one(TAG.rowsPerStrip, height), height);
  if (!Number.isInteger(blockW) || !Number.isInteger(blockH) || blockW < 1 || blockH < 1) throw damaged(file, `invalid ${tiled ? 'tile' : 'strip'} size ${blockW}x${blockH}`);
  // A tile may overhang the image; it is allocated whole, so it too is within the pixel limit.
  if (tiled) checkPixelLimit(blockW, blockH, 'TIFF tile', file, limit);
  const offsets = tags.get(tiled ? TAG.tileOffsets : TAG.stripOffsets);
  const counts = tags.get(tiled ? TAG.tileByteCounts : TAG.stripByteCounts);
  if (!offsets || !counts) throw damaged(file, 'no strip or tile offsets');
  const planes = planar === 2 ? spp : 1;
  const samplesInBlock = planar === 2 ? 1 : spp;
  return {
    width, height, spp, bits, compression, photometric, planar, predictor, format, tiled, blockW, blockH,
    across: Math.ceil(width / blockW),
    down: Math.ceil(height / blockH),
    planes,
    samplesInBlock,
    rowBytes: Math.ceil((blockW * samplesInBlock * bits) / 8),
    offsets,
    counts,
  };
}

/** Rows of block row `by` that hold image data: a tile is always whole, the last strip may be shorter. */
function rowsStored(layout: TiffLayout, by: number): number {
  return layout.tiled ? layout.blockH : Math.min(layout.blockH, layout.height - by * layout.blockH);
}

/**
 * Every strip/tile the image needs exists, lies inside the file, and has enough stored bytes to decode to the
 * bytes the header declares (uncompressed: exactly those; compressed: within the format's largest expansion).
 * Checked before the image is allocated: data that is not there is never read as zeros.
 */
function checkBlocks(bytes: Uint8Array, layout: TiffLayout, file: string): void {
  const { across, down, planes, offsets, counts, rowBytes, compression } = layout;
  const blocks = across * down * planes;
  if (offsets.length < blocks || counts.length < blocks) {
    throw damaged(file, `the header declares ${blocks} strips/tiles, the file lists ${Math.min(offsets.length, counts.length)}`);
  }
  for (let index = 0; index < blocks; index++) {
    const off = offsets[index]!;
    const cnt = counts[index]!;
    if (off + cnt > bytes.length) throw damaged(file, `strip/tile ${index} (bytes ${off}..${off + cnt}) is outside the ${bytes.length}-byte file`);
    const rows = rowsStored(layout, Math.floor((index % (across * down)) / across));
    const needed = rowBytes * rows;
    if (cnt * MAX_EXPANSION[compression]! < needed) {
      throw damaged(file, `strip/tile ${index} has ${cnt} stored bytes, too few for the ${needed} bytes its ${layout.blockW}x${rows} pixels need`);
    }
  }
}

/** Decompress one strip/tile to exactly `needed` bytes, or fail naming it; `writable`: never a view of the file. */
function decompressBlock(raw: Uint8Array, needed: number, compression: number, index: number, file: string, writable: boolean): Uint8Array {
  let block: Uint8Array;
  try {
    if (compression === 1) block = raw.subarray(0, needed);
    else if (compression === 5) block = lzwDecode(raw, needed, file);
    else if (compression === 32773) block = packBitsDecode(raw, needed);
    else block = unzlibSync(raw, { out: new Uint8Array(needed) });
  } catch (err) {
    if (err instanceof MedpersamUserError) throw err;
    throw damaged(file, `strip/tile ${index} does not decompress (${(err as Error).message})`, err);
  }
  if (block.length < needed) throw damaged(file, `strip/tile ${index} decodes to ${block.length} bytes, the header declares ${needed}`);
  // An uncompressed block is a view of the file: copied when the caller writes into it (the predictor).
  return compression === 1 && writable ? block.slice() : block;
}

/** Undo horizontal differencing per row, per sample (8 and 16 bits; others are refused by readLayout). */
function undoPredictor(block: Uint8Array, layout: TiffLayout, rows: number, little: boolean): void {
  const { rowBytes, blockW, samplesInBlock: step, bits } = layout;
  if (bits === 8) {
    for (let y = 0; y < rows; y++) for (let i = step; i < blockW * step; i++) {
      const p = y * rowBytes + i;
      block[p] = (block[p]! + block[p - step]!) & 0xff;
    }
    return;
  }
  const dv = new DataView(block.buffer, block.byteOffset, block.byteLength);
  for (let y = 0; y < rows; y++) for (let i = step; i < blockW * step; i++) {
    const p = y * rowBytes + i * 2;
    dv.setUint16(p, (dv.getUint16(p, little) + dv.getUint16(p - step * 2, little)) & 0xffff, little);
  }
}

/** Sample `k` of row `y` of a decoded block, as stored. */
function sampleOf(block: Uint8Array, dv: DataView, at: number, k: number, bits: number, little: boolean): number {
  if (bits === 8) return block[at + k]!;
  if (bits === 16) return dv.getUint16(at + k * 2, little);
  if (bits === 32) return dv.getFloat32(at + k * 4, little);
  const bit = k * bits;
  return (block[at + (bit >> 3)]! >> (8 - bits - (bit & 7))) & ((1 << bits) - 1);
}

/**
 * The strip/tile checks alone, for another TIFF decoder (sharp, which reads a short uncompressed strip without
 * complaint): a file whose header this decoder cannot follow is left to that decoder; a header declaring more
 * pixels than `limit`, or strips/tiles that cannot hold what it declares, is refused here.
 */
export function checkTiffBlocks(bytes: Uint8Array, file: string, limit: PixelLimit = DEFAULT_PIXEL_LIMIT): void {
  let layout: TiffLayout;
  try {
    layout = readLayout(readIfd(bytes, file).tags, file, limit);
  } catch (err) {
    if (err instanceof MedpersamUserError && err.code === 'IMAGE_TOO_LARGE') throw err;
    return;
  }
  checkBlocks(bytes, layout, file);
}

/** Decode the first image of a TIFF file; a header declaring more pixels than `limit` is refused before decoding. */
export function decodeTiff(bytes: Uint8Array, file: string, limit: PixelLimit = DEFAULT_PIXEL_LIMIT): DecodedTiff {
  const { tags, little } = readIfd(bytes, file);
  const layout = readLayout(tags, file, limit);
  checkBlocks(bytes, layout, file);
  const { width, height, bits, compression, photometric, planar, predictor, format, blockW, blockH, across, down, planes, samplesInBlock, rowBytes } = layout;
  // Only the samples the result uses are kept: sample 0 (grey, palette) or 0..2 (RGB); extra samples are dropped.
  const kept = photometric === 2 ? 3 : 1;
  const samples = new Float32Array(width * height * kept);
  for (let plane = 0; plane < planes && (planar !== 2 || plane < kept); plane++) {
    for (let by = 0; by < down; by++) {
      const rows = rowsStored(layout, by);
      for (let bx = 0; bx < across; bx++) {
        const index = plane * across * down + by * across + bx;
        const off = layout.offsets[index]!;
        const block = decompressBlock(bytes.subarray(off, off + layout.counts[index]!), rowBytes * rows, compression, index, file, predictor === 2);
        if (predictor === 2) undoPredictor(block, layout, rows, little);
        const dv = new DataView(block.buffer, block.byteOffset, block.byteLength);
        const rowsInImage = Math.min(blockH, height - by * blockH);
        const cols = Math.min(blockW, width - bx * blockW);
        for (let y = 0; y < rowsInImage; y++) {
          const gy = by * blockH + y;
          for (let x = 0; x < cols; x++) {
            const gx = bx * blockW + x;
            for (let s = 0; s < samplesInBlock; s++) {
              const c = planar === 2 ? plane : s;
              if (c >= kept) continue;
              samples[(gy * width + gx) * kept + c] = sampleOf(block, dv, y * rowBytes, x * samplesInBlock + s, bits, little);
            }
          }
        }
      }
    }
  }
  const pixels = width * height;
  if (photometric === 3) {
    const map = tags.get(TAG.colorMap);
    const entries = 1 << bits;
    if (!map || map.length < entries * 3) throw damaged(file, 'palette image without a complete colour map');
    let grey = true;
    const rgb8 = (i: number, c: number) => Math.round(map[c * entries + i]! / 257);
    for (let i = 0; i < entries && grey; i++) grey = rgb8(i, 0) === rgb8(i, 1) && rgb8(i, 0) === rgb8(i, 2);
    const out = new Float32Array(pixels * (grey ? 1 : 3));
    for (let p = 0; p < pixels; p++) {
      const k = samples[p]!;
      if (grey) out[p] = rgb8(k, 0);
      else for (let c = 0; c < 3; c++) out[p * 3 + c] = rgb8(k, c);
    }
    return { image: { width, height, channels: grey ? 1 : 3, data: out }, bitDepth: 8 };
  }
  const channels: 1 | 3 = photometric === 2 ? 3 : 1;
  if (photometric === 0 && format !== 3) {
    const max = 2 ** bits - 1; // WhiteIsZero → the BlackIsZero convention
    for (let i = 0; i < samples.length; i++) samples[i] = max - samples[i]!;
  }
  return { image: { width, height, channels, data: samples }, bitDepth: format === 3 ? 32 : bits };
}
