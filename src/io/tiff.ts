/**
 * A pure TIFF decoder (browser-safe) for the TIFFs met as scans and masks: the first image of the file,
 * strips or tiles, uncompressed / LZW / Deflate / PackBits, horizontal-difference predictor, 1..16-bit unsigned
 * integer and 32-bit float samples, grey (BlackIsZero, WhiteIsZero), RGB (chunky or planar) and palette images.
 * Conventions as the Node reader (src/io/image.ts, sharp): grey → 1 channel, RGB → 3 (extra samples such as alpha
 * dropped), palette → RGB, or 1 channel when the palette is all grey (8-bit values); grey below 8 bits → the
 * stored values; WhiteIsZero is inverted to the BlackIsZero convention. BigTIFF, JPEG-in-TIFF, CMYK and YCbCr
 * files → UNSUPPORTED_FORMAT with the reason.
 */
import { unzlibSync } from 'fflate';
import { MedpersamUserError } from '../errors.js';
import type { FloatImage } from '../image/types.js';

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

/** TIFF LZW (MSB-first codes, early change). */
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
  while (bitPos + width <= total) {
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
    if (prev) {
      const next = new Uint8Array(prev.length + 1);
      next.set(prev);
      next[prev.length] = entry[0]!;
      dict.push(next);
    }
    prev = entry;
    if (dict.length + 1 >= 1 << width && width < 12) width++;
    if (o >= expected) break;
  }
  return out;
}

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
      const len = Math.min(1 - n, expected - o);
      out.fill(input[i++]!, o, o + len);
      o += len;
    }
  }
  return out;
}

/** Decode the first image of a TIFF file. */
export function decodeTiff(bytes: Uint8Array, file: string): DecodedTiff {
  const { tags, little } = readIfd(bytes, file);
  const one = (tag: number, def?: number): number => {
    const v = tags.get(tag)?.[0] ?? def;
    if (v === undefined) throw damaged(file, `required tag ${tag} missing`);
    return v;
  };
  const width = one(TAG.width);
  const height = one(TAG.height);
  const spp = one(TAG.samplesPerPixel, 1);
  const bitsList = tags.get(TAG.bitsPerSample) ?? [1];
  const bits = bitsList[0]!;
  if (bitsList.some((b) => b !== bits)) throw unsupported(file, 'with different bit depths per sample');
  const compression = one(TAG.compression, 1);
  const photometric = one(TAG.photometric, spp >= 3 ? 2 : 1);
  const planar = one(TAG.planar, 1);
  const predictor = one(TAG.predictor, 1);
  const format = one(TAG.sampleFormat, 1);
  if (width === 0 || height === 0) throw damaged(file, `invalid size ${width}x${height}`);
  if (photometric === 5) throw unsupported(file, 'CMYK');
  if (photometric === 6) throw unsupported(file, 'YCbCr');
  if (![0, 1, 2, 3].includes(photometric)) throw unsupported(file, `photometric interpretation ${photometric}`);
  if (![1, 5, 8, 32946, 32773].includes(compression)) throw unsupported(file, `compression ${compression === 7 ? '7 (JPEG)' : compression}`);
  if (format === 3 && bits !== 32) throw unsupported(file, `${bits}-bit float samples`);
  if (format === 2) throw unsupported(file, 'with signed integer samples');
  if (format === 1 && bits > 16) throw unsupported(file, `${bits}-bit integer samples`);
  if (predictor === 3) throw unsupported(file, 'floating-point predictor');

  const tiled = tags.has(TAG.tileOffsets);
  const blockW = tiled ? one(TAG.tileWidth) : width;
  const blockH = tiled ? one(TAG.tileLength) : Math.min(one(TAG.rowsPerStrip, height), height);
  const offsets = tags.get(tiled ? TAG.tileOffsets : TAG.stripOffsets);
  const counts = tags.get(tiled ? TAG.tileByteCounts : TAG.stripByteCounts);
  if (!offsets || !counts) throw damaged(file, 'no strip or tile offsets');
  const across = Math.ceil(width / blockW);
  const down = Math.ceil(height / blockH);
  const planes = planar === 2 ? spp : 1;
  const samplesInBlock = planar === 2 ? 1 : spp;
  const rowBytes = Math.ceil((blockW * samplesInBlock * bits) / 8);
  const blockBytes = rowBytes * blockH;

  const samples = new Float32Array(width * height * spp);
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let plane = 0; plane < planes; plane++) {
    for (let by = 0; by < down; by++) {
      for (let bx = 0; bx < across; bx++) {
        const index = plane * across * down + by * across + bx;
        const off = offsets[index];
        const cnt = counts[index];
        if (off === undefined || cnt === undefined) throw damaged(file, `strip/tile ${index} missing`);
        if (off + cnt > bytes.length) throw damaged(file, `strip/tile ${index} outside the file`);
        const raw = bytes.subarray(off, off + cnt);
        let block: Uint8Array;
        try {
          if (compression === 1) block = raw;
          else if (compression === 5) block = lzwDecode(raw, blockBytes, file);
          else if (compression === 32773) block = packBitsDecode(raw, blockBytes);
          else block = unzlibSync(raw);
        } catch (err) {
          if (err instanceof MedpersamUserError) throw err;
          throw damaged(file, `strip/tile ${index} does not decompress (${(err as Error).message})`, err);
        }
        if (block.length < blockBytes && !(by === down - 1 && !tiled)) throw damaged(file, `strip/tile ${index} is short`);
        if (predictor === 2) {
          // Horizontal differencing per row, per sample (8 and 16 bits).
          const step = samplesInBlock;
          if (bits === 8) {
            for (let y = 0; y < blockH; y++) for (let i = step; i < blockW * step; i++) {
              const p = y * rowBytes + i;
              if (p < block.length) block[p] = (block[p]! + block[p - step]!) & 0xff;
            }
          } else if (bits === 16) {
            const dv = view(block);
            for (let y = 0; y < blockH; y++) for (let i = step; i < blockW * step; i++) {
              const p = y * rowBytes + i * 2;
              if (p + 2 <= block.length) dv.setUint16(p, (dv.getUint16(p, little) + dv.getUint16(p - step * 2, little)) & 0xffff, little);
            }
          } else throw unsupported(file, `predictor with ${bits}-bit samples`);
        }
        const dv = view(block);
        const rows = Math.min(blockH, height - by * blockH);
        const cols = Math.min(blockW, width - bx * blockW);
        for (let y = 0; y < rows; y++) {
          for (let x = 0; x < cols; x++) {
            for (let s = 0; s < samplesInBlock; s++) {
              const k = x * samplesInBlock + s;
              let v: number;
              if (bits === 8) v = block[y * rowBytes + k] ?? 0;
              else if (bits === 16) v = y * rowBytes + k * 2 + 2 <= block.length ? dv.getUint16(y * rowBytes + k * 2, little) : 0;
              else if (bits === 32) v = y * rowBytes + k * 4 + 4 <= block.length ? dv.getFloat32(y * rowBytes + k * 4, little) : 0;
              else {
                const bit = k * bits;
                const byte = block[y * rowBytes + (bit >> 3)] ?? 0;
                v = (byte >> (8 - bits - (bit & 7))) & ((1 << bits) - 1);
              }
              const gx = bx * blockW + x;
              const gy = by * blockH + y;
              samples[(gy * width + gx) * spp + (planar === 2 ? plane : s)] = v;
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
      const k = samples[p * spp]!;
      if (grey) out[p] = rgb8(k, 0);
      else for (let c = 0; c < 3; c++) out[p * 3 + c] = rgb8(k, c);
    }
    return { image: { width, height, channels: grey ? 1 : 3, data: out }, bitDepth: 8 };
  }
  const channels: 1 | 3 = photometric === 2 ? 3 : 1;
  if (channels === 3 && spp < 3) throw damaged(file, `RGB with ${spp} samples per pixel`);
  const out = new Float32Array(pixels * channels);
  const max = format === 3 ? 0 : 2 ** bits - 1;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++) {
      const v = samples[p * spp + c]!;
      out[p * channels + c] = photometric === 0 && format !== 3 ? max - v : v;
    }
  }
  return { image: { width, height, channels, data: out }, bitDepth: format === 3 ? 32 : bits };
}
