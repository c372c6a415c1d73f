/**
 * Seeded mutation fuzzing of every decoder on both paths (issue 25): valid PNG, TIFF, JPEG, BMP, DICOM and NIfTI
 * files, each mutated a few hundred times (mutations.ts: bytes overwritten, size/offset fields set to extremes,
 * cut short, bytes inserted or removed), decoded by the Node reader (sharp for PNG/JPEG/TIFF) and by the browser
 * path's pure decoders. Every outcome must be a decoded image or a MedpersamUserError naming the file: no other
 * exception, no call over 2 s, and no typed array allocated beyond the pixel limit (checked with a small limit,
 * 2^16 pixels, and a spy on the typed-array constructors the decoders use).
 */
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { MedpersamUserError } from '../../src/errors.js';
import { sharpRasterDecoders } from '../../src/io/image.js';
import type { PixelLimit } from '../../src/io/pixel-limit.js';
import { browserRasterDecoders } from '../../src/io/raster-browser.js';
import { decodeImageWith, type RasterDecoders } from '../../src/io/read-image.js';
import { encodeBmp, encodeDicom, encodeDicomRleFrame, encodeNifti, encodePng, encodeTiff, seededInts, UID } from './fixtures.js';
import { mulberry32 } from '../../src/image/random.js';
import { mutate, withPngCrcsFixed } from './mutations.js';

const LIMIT: PixelLimit = { pixels: 1 << 16, reason: 'the fuzz test\'s limit' };
/** Largest typed array (elements) a decoder may ask for under LIMIT: 4 samples × 4 bytes per pixel, or a
 * gzip-inflated volume (8 bytes per voxel + header); anything larger was sized from a header without the check. */
const MAX_ELEMENTS = LIMIT.pixels * 16 + 544;
const MUTATIONS_PER_FORMAT = 300;
const PATHS: [string, RasterDecoders][] = [
  ['node', sharpRasterDecoders],
  ['browser', browserRasterDecoders],
];

// ---- a spy on the typed-array constructors: the largest length a decoder asked for. It is on only around the
// browser path's calls (sharp rejects typed arrays made through a proxy); the pure BMP, DICOM and NIfTI decoders,
// which the Node path shares, run under it there.
const SPIED = ['Uint8Array', 'Uint16Array', 'Float32Array', 'Float64Array', 'Int16Array', 'Int32Array', 'Uint32Array'] as const;
let largestRequest = 0;

async function withAllocationSpy<T>(fn: () => Promise<T>): Promise<T> {
  const g = globalThis as unknown as Record<string, unknown>;
  const originals = SPIED.map((name) => [name, g[name]] as const);
  for (const [name, original] of originals) {
    g[name] = new Proxy(original as new (...args: unknown[]) => object, {
      construct(target, args: unknown[]) {
        if (typeof args[0] === 'number') largestRequest = Math.max(largestRequest, args[0]);
        return Reflect.construct(target, args) as object;
      },
    });
  }
  try {
    return await fn();
  } finally {
    for (const [name, original] of originals) g[name] = original;
  }
}

const u8 = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

async function seedFiles(): Promise<Record<string, Uint8Array[]>> {
  const grey = Uint8Array.from(seededInts(40 * 24, 256, 3));
  const rgb = Uint8Array.from(seededInts(40 * 24 * 3, 256, 4));
  const raw = (data: Uint8Array, channels: 1 | 3) => sharp(data, { raw: { width: 40, height: 24, channels } });
  return {
    png: [
      encodePng(24, 16, 1, 16, seededInts(24 * 16, 65536, 1)),
      encodePng(20, 12, 1, 4, seededInts(240, 3, 2), [[0, 0, 0], [90, 20, 90], [255, 255, 255]]),
      u8(await raw(rgb, 3).png({ progressive: true }).toBuffer()),
    ],
    tiff: [
      encodeTiff(24, 16, 'u16', seededInts(24 * 16, 65536, 5)),
      u8(await raw(rgb, 3).tiff({ compression: 'lzw', tile: true, tileWidth: 16, tileHeight: 16 }).toBuffer()),
      u8(await raw(grey, 1).tiff({ compression: 'deflate', predictor: 'horizontal' }).toBuffer()),
      u8(await raw(grey, 1).tiff({ compression: 'packbits' }).toBuffer()),
    ],
    jpeg: [u8(await raw(rgb, 3).jpeg().toBuffer())],
    bmp: [encodeBmp(13, 7, 8, seededInts(91, 256, 6)), encodeBmp(9, 5, 24, seededInts(135, 256, 7), { topDown: true })],
    dicom: [
      encodeDicom({ rows: 12, columns: 10, bitsAllocated: 16, values: seededInts(120, 4096, 8) }),
      encodeDicom({ transferSyntax: UID.deflated, rows: 6, columns: 8, values: seededInts(48, 4096, 9) }),
      encodeDicom({ transferSyntax: UID.rle, rows: 4, columns: 6, bitsAllocated: 16, fragments: [encodeDicomRleFrame(seededInts(24, 4096, 10), 24, 1, 16)] }),
    ],
    nifti: [
      encodeNifti({ dims: [12, 9], datatype: 'int16', values: seededInts(108, 3000, 11) }),
      encodeNifti({ dims: [8, 6], datatype: 'float32', values: seededInts(48, 1000, 12), gzip: true }),
    ],
  };
}

interface Tally {
  decoded: number;
  userErrors: number;
  internal: string[];
  slowestMs: number;
  unnamed: string[];
}

async function fuzzOne(bytes: Uint8Array, file: string, decoders: RasterDecoders, tally: Tally): Promise<void> {
  const t0 = performance.now();
  try {
    const { image } = await decodeImageWith(bytes, file, { pixelLimit: LIMIT }, decoders);
    expect(image.width * image.height).toBeLessThanOrEqual(LIMIT.pixels);
    tally.decoded++;
  } catch (err) {
    if (err instanceof MedpersamUserError) {
      tally.userErrors++;
      if (!err.message.startsWith(file)) tally.unnamed.push(`${file}: ${err.message}`);
    } else tally.internal.push(`${file}: ${(err as Error)?.stack ?? String(err)}`);
  }
  tally.slowestMs = Math.max(tally.slowestMs, performance.now() - t0);
}

describe('mutation fuzz: every decoder, both paths', () => {
  let seeds: Record<string, Uint8Array[]>;
  beforeAll(async () => {
    seeds = await seedFiles();
  });

  it('the allocation spy sees the decoders\' allocations (a 24×16 PNG: its 384-sample image)', async () => {
    largestRequest = 0;
    await withAllocationSpy(() => decodeImageWith(seeds['png']![0]!, 'seed.png', { pixelLimit: LIMIT }, browserRasterDecoders));
    expect(largestRequest).toBeGreaterThanOrEqual(24 * 16);
    largestRequest = 0;
  });

  for (const format of ['png', 'tiff', 'jpeg', 'bmp', 'dicom', 'nifti']) {
    it(`${format}: ${MUTATIONS_PER_FORMAT} mutations → a decoded image or a MedpersamUserError naming the file, each call < 2 s, no allocation beyond the limit`, async () => {
      const files = seeds[format]!;
      const random = mulberry32(2500 + format.length * 7 + format.charCodeAt(0));
      const tallies = new Map(PATHS.map(([name]) => [name, { decoded: 0, userErrors: 0, internal: [], slowestMs: 0, unnamed: [] } as Tally]));
      largestRequest = 0;
      for (const file of files) {
        // Every seed decodes on both paths before it is mutated (JPEG needs a browser on the pure path).
        for (const [name, decoders] of PATHS) {
          if (!(format === 'jpeg' && name === 'browser')) await expect(decodeImageWith(file, 'seed', { pixelLimit: LIMIT }, decoders)).resolves.toBeDefined();
        }
      }
      for (let i = 0; i < MUTATIONS_PER_FORMAT; i++) {
        // Half the PNG mutations get their CRCs fixed, so they reach the decoder past the CRC check.
        const once = mutate(files[i % files.length]!, random);
        const mutated = format === 'png' && i % 2 === 1 ? withPngCrcsFixed(once) : once;
        for (const [name, decoders] of PATHS) {
          const run = () => fuzzOne(mutated, `${format}-m${i}`, decoders, tallies.get(name)!);
          await (name === 'browser' ? withAllocationSpy(run) : run());
        }
      }
      for (const [name, t] of tallies) {
        console.info(`${format} ${name}: ${t.decoded} decoded, ${t.userErrors} user errors, slowest ${t.slowestMs.toFixed(0)} ms`);
        expect(t.internal, `${name} path`).toEqual([]);
        expect(t.unnamed, `${name} path`).toEqual([]);
        expect(t.slowestMs).toBeLessThan(2000);
        expect(t.decoded + t.userErrors).toBe(MUTATIONS_PER_FORMAT);
      }
      expect(largestRequest).toBeLessThanOrEqual(MAX_ELEMENTS);
    });
  }
});
