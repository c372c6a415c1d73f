/**
 * PNG decoding and encoding in plain TypeScript (fflate for zlib): browser-safe, no canvas.
 *
 * Why not the browser's own decoder: canvas / createImageBitmap give 8 bits per channel, and medical PNGs are often
 * 16-bit grey. This decoder returns the stored samples unchanged, with the same conventions as the Node reader
 * (src/io/image.ts, sharp): grey files → 1 channel, colour → 3 (alpha dropped), palette files whose colours are all
 * grey → 1 channel, 1/2/4-bit grey → their stored values (0..1, 0..3, 0..15), 16-bit → 0..65535. Interlaced
 * (Adam7) files are supported; ancillary chunks (gAMA, iCCP, tRNS, text) are ignored, as the Node reader does.
 *
 * The encoder writes 8-bit grey (label maps) and 8-bit RGB (overlays) PNGs with per-row adaptive filtering.
 */
import { unzlibSync, zlibSync } from 'fflate';
import { MedpersamUserError } from '../errors.js';
import type { FloatImage } from '../image/types.js';
import { checkPixelLimit, DEFAULT_PIXEL_LIMIT, type PixelLimit } from './pixel-limit.js';

export interface DecodedPng {
  image: FloatImage;
  /** Bits per sample as stored (1, 2, 4, 8, 16); 8 for palette files. */
  bitDepth: number;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function damaged(file: string, why: string, cause?: unknown): MedpersamUserError {
  return new MedpersamUserError('UNREADABLE_IMAGE', `cannot decode PNG (the file is damaged or truncated: ${why})`, { file, cause });
}

/** Samples per pixel by colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA). */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ALLOWED_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undo the per-row filters of one (sub-)image in place; returns the raw rows (without filter bytes). */
function unfilter(data: Uint8Array, offset: number, rowBytes: number, rows: number, bpp: number, file: string): Uint8Array {
  const out = new Uint8Array(rowBytes * rows);
  for (let y = 0; y < rows; y++) {
    const type = data[offset + y * (rowBytes + 1)]!;
    const src = offset + y * (rowBytes + 1) + 1;
    const dst = y * rowBytes;
    const up = dst - rowBytes;
    for (let i = 0; i < rowBytes; i++) {
      const x = data[src + i]!;
      const a = i >= bpp ? out[dst + i - bpp]! : 0;
      const b = y > 0 ? out[up + i]! : 0;
      const c = y > 0 && i >= bpp ? out[up + i - bpp]! : 0;
      let v: number;
      switch (type) {
        case 0: v = x; break;
        case 1: v = x + a; break;
        case 2: v = x + b; break;
        case 3: v = x + ((a + b) >> 1); break;
        case 4: v = x + paeth(a, b, c); break;
        default: throw damaged(file, `unknown row filter ${type}`);
      }
      out[dst + i] = v & 0xff;
    }
  }
  return out;
}

/** Sample s of pixel x in a raw row (any bit depth), as stored. */
function sampleAt(row: Uint8Array, rowStart: number, index: number, depth: number): number {
  if (depth === 8) return row[rowStart + index]!;
  if (depth === 16) return (row[rowStart + index * 2]! << 8) | row[rowStart + index * 2 + 1]!;
  const bit = index * depth;
  const byte = row[rowStart + (bit >> 3)]!;
  return (byte >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
}

/** Bytes of the filtered image data the header declares: every pass's rows, each with its filter byte. */
function inflatedBytes(width: number, height: number, bitsPerPixel: number, interlace: number): number {
  let total = 0;
  for (const [x0, y0, dx, dy] of interlace === 1 ? ADAM7 : ([[0, 0, 1, 1]] as const)) {
    const pw = Math.ceil((width - x0) / dx);
    const ph = Math.ceil((height - y0) / dy);
    if (pw > 0 && ph > 0) total += ph * (Math.ceil((pw * bitsPerPixel) / 8) + 1);
  }
  return total;
}

/**
 * Decode PNG bytes (see the module comment for the conventions). Errors name `file`. A header declaring more
 * pixels than `limit` is refused before decoding; image data that inflates to fewer bytes than the header
 * declares is damaged (never read as zeros).
 */
export function decodePng(bytes: Uint8Array, file: string, limit: PixelLimit = DEFAULT_PIXEL_LIMIT): DecodedPng {
  for (let i = 0; i < 8; i++) if (bytes[i] !== SIGNATURE[i]) throw damaged(file, 'no PNG signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let width = 0;
  let height = 0;
  let depth = 0;
  let colourType = -1;
  let interlace = 0;
  let palette: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (pos < bytes.length) {
    if (pos + 12 > bytes.length) throw damaged(file, 'chunk header cut off');
    const length = view.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4]!, bytes[pos + 5]!, bytes[pos + 6]!, bytes[pos + 7]!);
    const dataStart = pos + 8;
    const dataEnd = dataStart + length;
    if (dataEnd + 4 > bytes.length) throw damaged(file, `${type} chunk cut off`);
    const critical = (bytes[pos + 4]! & 0x20) === 0;
    if (critical && crc32(bytes, pos + 4, dataEnd) !== view.getUint32(dataEnd)) throw damaged(file, `${type} chunk CRC mismatch`);
    if (type === 'IHDR') {
      if (length !== 13) throw damaged(file, `IHDR chunk of ${length} bytes (13 expected)`);
      width = view.getUint32(dataStart);
      height = view.getUint32(dataStart + 4);
      depth = bytes[dataStart + 8]!;
      colourType = bytes[dataStart + 9]!;
      interlace = bytes[dataStart + 12]!;
    } else if (type === 'PLTE') {
      palette = bytes.subarray(dataStart, dataEnd);
    } else if (type === 'IDAT') {
      idat.push(bytes.subarray(dataStart, dataEnd));
    } else if (type === 'IEND') {
      ended = true;
      break;
    }
    pos = dataEnd + 4;
  }
  if (colourType < 0) throw damaged(file, 'no IHDR chunk');
  if (!ended) throw damaged(file, 'no IEND chunk');
  if (!(colourType in SAMPLES) || !ALLOWED_DEPTHS[colourType]!.includes(depth)) {
    throw damaged(file, `invalid colour type ${colourType} with bit depth ${depth}`);
  }
  if (width === 0 || height === 0) throw damaged(file, `invalid size ${width}x${height}`);
  checkPixelLimit(width, height, 'PNG', file, limit);
  if (interlace > 1) throw damaged(file, `unknown interlace method ${interlace}`);
  if (colourType === 3 && !palette) throw damaged(file, 'palette image without a PLTE chunk');
  const samples = SAMPLES[colourType]!;
  const bitsPerPixel = samples * depth;
  const expected = inflatedBytes(width, height, bitsPerPixel, interlace);

  let total = 0;
  for (const c of idat) total += c.length;
  const compressed = new Uint8Array(total);
  let o = 0;
  for (const c of idat) {
    compressed.set(c, o);
    o += c.length;
  }
  // Deflate expands at most 1032:1 (a 258-byte match in 2 bits): fewer stored bytes cannot hold the image.
  if (total * 1032 < expected) throw damaged(file, `${total} bytes of image data cannot hold the ${expected} bytes a ${width}x${height} image needs`);
  let data: Uint8Array;
  try {
    data = unzlibSync(compressed, { out: new Uint8Array(expected) });
  } catch (err) {
    throw damaged(file, `image data does not inflate (${(err as Error).message})`, err);
  }
  if (data.length < expected) throw damaged(file, `image data inflates to ${data.length} bytes, the header declares ${expected}`);

  const bpp = Math.max(1, bitsPerPixel >> 3);
  // Raw samples of the full image, row-major, stored values.
  const raw = new Uint16Array(width * height * samples);
  const passes = interlace === 1 ? ADAM7 : ([[0, 0, 1, 1]] as const);
  let offset = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((width - x0) / dx);
    const ph = Math.ceil((height - y0) / dy);
    if (pw <= 0 || ph <= 0) continue;
    const rowBytes = Math.ceil((pw * bitsPerPixel) / 8);
    const rows = unfilter(data, offset, rowBytes, ph, bpp, file);
    offset += ph * (rowBytes + 1);
    for (let py = 0; py < ph; py++) {
      const y = y0 + py * dy;
      for (let px = 0; px < pw; px++) {
        const x = x0 + px * dx;
        for (let s = 0; s < samples; s++) raw[(y * width + x) * samples + s] = sampleAt(rows, py * rowBytes, px * samples + s, depth);
      }
    }
  }

  const pixels = width * height;
  if (colourType === 3) {
    const pal = palette!;
    const entries = Math.floor(pal.length / 3);
    let grey = true;
    for (let i = 0; i < entries && grey; i++) grey = pal[i * 3] === pal[i * 3 + 1] && pal[i * 3] === pal[i * 3 + 2];
    const out = new Float32Array(pixels * (grey ? 1 : 3));
    for (let i = 0; i < pixels; i++) {
      const k = raw[i]!;
      if (k >= entries) throw damaged(file, `palette index ${k} outside the ${entries}-entry palette`);
      if (grey) out[i] = pal[k * 3]!;
      else {
        out[i * 3] = pal[k * 3]!;
        out[i * 3 + 1] = pal[k * 3 + 1]!;
        out[i * 3 + 2] = pal[k * 3 + 2]!;
      }
    }
    return { image: { width, height, channels: grey ? 1 : 3, data: out }, bitDepth: 8 };
  }
  const channels: 1 | 3 = colourType === 0 || colourType === 4 ? 1 : 3;
  const out = new Float32Array(pixels * channels);
  for (let i = 0; i < pixels; i++) for (let c = 0; c < channels; c++) out[i * channels + c] = raw[i * samples + c]!;
  return { image: { width, height, channels, data: out }, bitDepth: depth };
}

// ---------------------------------------------------------------------------------------------------- encoding

/** 8-bit pixels to encode: 1 channel (grey / label map) or 3 (RGB), row-major, interleaved. */
export interface Png8Pixels {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/** Filter one row with the filter whose output has the smallest sum of absolute values (the usual heuristic). */
function filterRow(cur: Uint8Array, prev: Uint8Array | null, bpp: number, out: Uint8Array, at: number): void {
  const n = cur.length;
  let bestType = 0;
  let bestSum = Infinity;
  const trial = new Uint8Array(n);
  const best = new Uint8Array(n);
  for (let type = 0; type <= 4; type++) {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const a = i >= bpp ? cur[i - bpp]! : 0;
      const b = prev ? prev[i]! : 0;
      const c = prev && i >= bpp ? prev[i - bpp]! : 0;
      const pred = type === 0 ? 0 : type === 1 ? a : type === 2 ? b : type === 3 ? (a + b) >> 1 : paeth(a, b, c);
      const v = (cur[i]! - pred) & 0xff;
      trial[i] = v;
      sum += v < 128 ? v : 256 - v;
    }
    if (sum < bestSum) {
      bestSum = sum;
      bestType = type;
      best.set(trial);
    }
  }
  out[at] = bestType;
  out.set(best, at + 1);
}

/**
 * Encode an 8-bit palette image (colour type 3) with per-entry transparency (tRNS): `indices` index `palette`,
 * whose entries are [r, g, b, alpha] (at most 256). Few colours in long runs (an overlay of a label map) make a
 * small file.
 */
export function encodePngIndexed(width: number, height: number, indices: Uint8Array, palette: readonly (readonly [number, number, number, number])[]): Uint8Array {
  if (indices.length !== width * height) throw new Error(`encodePngIndexed: ${indices.length} indices do not match ${width}x${height}`);
  if (palette.length < 1 || palette.length > 256) throw new Error(`encodePngIndexed: palette needs 1..256 entries, got ${palette.length}`);
  // Filter type 0 on every row: the PNG specification's advice for palette images (indices are not magnitudes).
  const filtered = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) filtered.set(indices.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = 3;
  const plte = Uint8Array.from(palette.flatMap((c) => [c[0], c[1], c[2]]));
  const trns = Uint8Array.from(palette.map((c) => c[3]));
  const parts = [
    Uint8Array.from(SIGNATURE),
    chunk('IHDR', ihdr),
    chunk('PLTE', plte),
    chunk('tRNS', trns),
    chunk('IDAT', zlibSync(filtered, { level: 6 })),
    chunk('IEND', new Uint8Array(0)),
  ];
  return concatBytes(parts);
}

/** The parts of a PNG file (signature, chunks) back to back. */
function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Encode 8-bit grey or RGB pixels as a PNG file's bytes. */
export function encodePng8(pixels: Png8Pixels): Uint8Array {
  const { width, height, channels, data } = pixels;
  if (data.length !== width * height * channels) {
    throw new Error(`encodePng8: ${data.length} bytes do not match ${width}x${height}x${channels}`);
  }
  const rowBytes = width * channels;
  const filtered = new Uint8Array(height * (rowBytes + 1));
  for (let y = 0; y < height; y++) {
    const cur = data.subarray(y * rowBytes, (y + 1) * rowBytes);
    const prev = y > 0 ? data.subarray((y - 1) * rowBytes, y * rowBytes) : null;
    filterRow(cur, prev, channels, filtered, y * (rowBytes + 1));
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : 2;
  const parts = [Uint8Array.from(SIGNATURE), chunk('IHDR', ihdr), chunk('IDAT', zlibSync(filtered, { level: 6 })), chunk('IEND', new Uint8Array(0))];
  return concatBytes(parts);
}
