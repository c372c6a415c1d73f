/**
 * Issue 25's table, row by row, on both paths (the Node reader through sharp, and the browser path's pure decoders
 * from bytes): a tiny file that declares a huge image, or an image whose data is not in the file, is a clear
 * MedpersamUserError naming the file in under 100 ms; nothing is decoded as zeros. Plus the one pixel limit itself.
 */
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { MedpersamUserError } from '../../src/errors.js';
import { decodeImage as decodeNode } from '../../src/io/image.js';
import { checkPixelLimit, MAX_IMAGE_PIXELS } from '../../src/io/pixel-limit.js';
import { decodeImage as decodeBrowser } from '../../src/io/raster-browser.js';
import type { ReadImageResult } from '../../src/io/read-image.js';
import { encodeBmp, encodeDicom, encodeNifti, encodePng, encodeTiff, pngDeclaring, seededInts, tiffDeclaring } from './fixtures.js';
import { mulberry32 } from '../../src/image/random.js';
import { mutate } from './mutations.js';

type Decode = (bytes: Uint8Array, file: string) => Promise<ReadImageResult>;
const PATHS: [string, Decode][] = [
  ['Node (sharp)', decodeNode],
  ['browser (pure decoders)', decodeBrowser],
];

/** The error a decode must end in, and how long it took. */
async function refused(decode: Decode, bytes: Uint8Array, file: string): Promise<{ err: MedpersamUserError; ms: number }> {
  const t0 = performance.now();
  const err = await decode(bytes, file).then(
    () => null,
    (e: unknown) => e,
  );
  const ms = performance.now() - t0;
  expect(err).toBeInstanceOf(MedpersamUserError);
  console.info(`${file}: ${(err as MedpersamUserError).code} in ${ms.toFixed(1)} ms`);
  return { err: err as MedpersamUserError, ms };
}

describe('the pixel limit', () => {
  it('is sharp\'s own default (libvips 0x3FFF²): sharp alone refuses one pixel more, not the limit itself', async () => {
    expect(MAX_IMAGE_PIXELS).toBe(16383 * 16383);
    const sharpError = (bytes: Uint8Array) =>
      sharp(bytes)
        .raw()
        .toBuffer()
        .then(() => '', (e: unknown) => (e as Error).message);
    expect(await sharpError(pngDeclaring(16383, 16384))).toMatch(/pixel limit/);
    expect(await sharpError(pngDeclaring(16383, 16383))).not.toMatch(/pixel limit/);
  });

  it('checkPixelLimit: at the limit passes, one pixel over → IMAGE_TOO_LARGE naming the file and both counts', () => {
    expect(() => checkPixelLimit(MAX_IMAGE_PIXELS, 1, 'TIFF', 'a.tif')).not.toThrow();
    let err: unknown;
    try {
      checkPixelLimit(MAX_IMAGE_PIXELS + 1, 1, 'TIFF', 'a.tif');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MedpersamUserError);
    expect((err as MedpersamUserError).code).toBe('IMAGE_TOO_LARGE');
    expect((err as MedpersamUserError).file).toBe('a.tif');
    expect((err as MedpersamUserError).message).toContain('268,402,690 pixels, more than 268,402,689');
    expect(() => checkPixelLimit(0, 5, 'PNG', 'b.png')).toThrow(/invalid size 0x5/);
  });
});

describe.each(PATHS)('issue 25 rows on the %s path', (_name, decode) => {
  // The times are the decoders' own: each path decodes a valid TIFF and PNG first (module and sharp start-up).
  beforeAll(async () => {
    await decode(encodeTiff(4, 4, 'u8', seededInts(16, 256, 1)), 'warm.tif');
    await decode(encodePng(4, 4, 1, 8, seededInts(16, 256, 2)), 'warm.png');
  });

  it('a 142-byte TIFF declaring 40000×40000 with one 8-byte strip → IMAGE_TOO_LARGE in < 100 ms', async () => {
    const bytes = tiffDeclaring(40000, 40000, 8);
    expect(bytes.length).toBe(142);
    const { err, ms } = await refused(decode, bytes, 'bomb-40k.tif');
    expect(err.code).toBe('IMAGE_TOO_LARGE');
    expect(err.file).toBe('bomb-40k.tif');
    expect(err.message).toContain('40000x40000');
    expect(ms).toBeLessThan(100);
  });

  it('the same declaring 20000×20000 (over the limit) and 12000×12000 (under it: the strip is missing) → clear errors in < 100 ms', async () => {
    const over = await refused(decode, tiffDeclaring(20000, 20000, 8), 'bomb-20k.tif');
    expect(over.err.code).toBe('IMAGE_TOO_LARGE');
    expect(over.ms).toBeLessThan(100);
    const under = await refused(decode, tiffDeclaring(12000, 12000, 8), 'bomb-12k.tif');
    expect(under.err.code).toBe('UNREADABLE_IMAGE');
    expect(under.err.file).toBe('bomb-12k.tif');
    expect(under.ms).toBeLessThan(100);
  });

  it('a strip one byte short of its image → UNREADABLE_IMAGE, never a row of zeros', async () => {
    const good = encodeTiff(16, 8, 'u8', seededInts(128, 256, 3));
    await expect(decode(good, 'ok.tif')).resolves.toBeDefined();
    const short = tiffDeclaring(16, 8, 16 * 8 - 1);
    const { err } = await refused(decode, short, 'short.tif');
    expect(err.code).toBe('UNREADABLE_IMAGE');
    expect(err.file).toBe('short.tif');
  });

  it('300 seeded mutations of a valid 16-bit TIFF: each a decoded image or a MedpersamUserError (no internal error)', async () => {
    const valid = encodeTiff(24, 16, 'u16', seededInts(24 * 16, 65536, 9));
    const random = mulberry32(25);
    const internal: string[] = [];
    for (let i = 0; i < 300; i++) {
      const err = await decode(mutate(valid, random), `m${i}.tif`).then(
        () => null,
        (e: unknown) => e,
      );
      if (err !== null && !(err instanceof MedpersamUserError)) internal.push(`m${i}: ${String(err)}`);
    }
    expect(internal).toEqual([]);
  });

  it('a PNG declaring 60000×60000 → IMAGE_TOO_LARGE in < 100 ms', async () => {
    const { err, ms } = await refused(decode, pngDeclaring(60000, 60000), 'bomb.png');
    expect(err.code).toBe('IMAGE_TOO_LARGE');
    expect(err.file).toBe('bomb.png');
    expect(ms).toBeLessThan(100);
  });

  it('every other format: a header over the limit → IMAGE_TOO_LARGE in < 100 ms (BMP 40000², DICOM 65535², NIfTI 32767²)', async () => {
    const bmp = encodeBmp(2, 2, 24, seededInts(12, 256, 1));
    const bmpView = new DataView(bmp.buffer, bmp.byteOffset, bmp.byteLength);
    bmpView.setInt32(18, 40000, true);
    bmpView.setInt32(22, 40000, true);
    const nifti = encodeNifti({ dims: [2, 2], datatype: 'uint8', values: [1, 2, 3, 4] });
    const niftiView = new DataView(nifti.buffer, nifti.byteOffset, nifti.byteLength);
    niftiView.setInt16(42, 32767, true);
    niftiView.setInt16(44, 32767, true);
    const files: [string, Uint8Array][] = [
      ['big.bmp', bmp],
      ['big.dcm', encodeDicom({ rows: 65535, columns: 65535, bitsAllocated: 8, values: [1, 2] })],
      ['big.nii', nifti],
    ];
    for (const [file, bytes] of files) {
      const { err, ms } = await refused(decode, bytes, file);
      expect(err.code).toBe('IMAGE_TOO_LARGE');
      expect(err.file).toBe(file);
      expect(ms).toBeLessThan(100);
    }
  });

  it('image data shorter than the header declares, every format → UNREADABLE_IMAGE naming the file (never zeros)', async () => {
    const cut = (bytes: Uint8Array, n: number) => bytes.subarray(0, bytes.length - n);
    const files: [string, Uint8Array][] = [
      ['short-idat.png', pngDeclaring(80, 8)], // IDAT inflates to one row of the eight declared
      ['short.bmp', cut(encodeBmp(8, 4, 24, seededInts(96, 256, 2)), 5)],
      ['short.dcm', encodeDicom({ rows: 8, columns: 8, bitsAllocated: 16, values: seededInts(60, 4096, 3) })], // 60 of 64 pixels
      ['short.nii', cut(encodeNifti({ dims: [8, 8], datatype: 'int16', values: seededInts(64, 3000, 4) }), 3)],
    ];
    for (const [file, bytes] of files) {
      const { err } = await refused(decode, bytes, file);
      expect(err.code).toBe('UNREADABLE_IMAGE');
      expect(err.file).toBe(file);
    }
  });
});
