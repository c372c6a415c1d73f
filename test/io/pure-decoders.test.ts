/**
 * The browser-safe decoders (png.ts, tiff.ts through read-image.ts with the browser raster decoders) against the
 * Node reader (sharp) on the same bytes: identical images, channels and bit depths. And the pure PNG encoder
 * round-trips through sharp.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/io/image.js';
import { decodeImageWith } from '../../src/io/read-image.js';
import { browserRasterDecoders } from '../../src/io/raster-browser.js';
import { decodePng, encodePng8 } from '../../src/io/png.js';
import { expectUserError } from '../fixtures/user-error.js';
import { encodeBmp, encodeDicom, encodeNifti, encodePng, encodeTiff, seededInts } from './fixtures.js';

const pure = (bytes: Uint8Array, name = 'x') => decodeImageWith(bytes, name, {}, browserRasterDecoders);

async function expectSame(bytes: Uint8Array): Promise<void> {
  const a = await decodeImage(bytes, 'node');
  const b = await pure(bytes, 'pure');
  expect(b.format).toBe(a.format);
  expect(b.bitDepth).toBe(a.bitDepth);
  expect([b.image.width, b.image.height, b.image.channels]).toEqual([a.image.width, a.image.height, a.image.channels]);
  expect(Buffer.from(b.image.data.buffer).equals(Buffer.from(a.image.data.buffer))).toBe(true);
}

const u8 = (buf: Buffer) => new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);

describe('pure PNG decoder = sharp', () => {
  it('grey 1/2/4/8/16-bit, grey+alpha, RGB 8/16, RGBA, grey and colour palettes', async () => {
    const w = 13;
    const h = 7;
    for (const depth of [1, 2, 4, 8, 16] as const) await expectSame(encodePng(w, h, 1, depth, seededInts(w * h, 2 ** depth, depth)));
    await expectSame(encodePng(w, h, 2, 8, seededInts(w * h * 2, 256, 1)));
    await expectSame(encodePng(w, h, 2, 16, seededInts(w * h * 2, 65536, 2)));
    await expectSame(encodePng(w, h, 3, 8, seededInts(w * h * 3, 256, 3)));
    await expectSame(encodePng(w, h, 3, 16, seededInts(w * h * 3, 65536, 4)));
    await expectSame(encodePng(w, h, 4, 8, seededInts(w * h * 4, 256, 5)));
    await expectSame(encodePng(w, h, 1, 4, seededInts(w * h, 3, 6), [[0, 0, 0], [90, 90, 90], [255, 255, 255]]));
    await expectSame(encodePng(w, h, 1, 8, seededInts(w * h, 3, 7), [[0, 0, 0], [255, 0, 0], [0, 0, 255]]));
  });

  it('interlaced (Adam7) and filtered files written by libpng', async () => {
    const w = 37;
    const h = 23;
    const grey = Uint8Array.from(seededInts(w * h, 256, 11));
    const rgb = Uint8Array.from(seededInts(w * h * 3, 256, 12));
    await expectSame(u8(await sharp(grey, { raw: { width: w, height: h, channels: 1 } }).png({ progressive: true }).toBuffer()));
    await expectSame(u8(await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png({ progressive: true }).toBuffer()));
    await expectSame(u8(await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png({ adaptiveFiltering: true }).toBuffer()));
    const g16 = new Uint16Array(seededInts(w * h, 65536, 13));
    await expectSame(u8(await sharp(Buffer.from(g16.buffer), { raw: { width: w, height: h, channels: 1, premultiplied: false } }).toColourspace('grey16').png({ progressive: true }).toBuffer()));
  });

  it('a damaged or cut PNG → UNREADABLE_IMAGE naming the file', async () => {
    const good = encodePng(8, 8, 1, 8, seededInts(64, 256, 1));
    expect((await expectUserError(pure(good.subarray(0, good.length - 20), 'cut.png'), 'UNREADABLE_IMAGE', 'damaged')).file).toBe('cut.png');
    const bad = Uint8Array.from(good);
    bad[40] = bad[40]! ^ 0xff; // inside IDAT: CRC mismatch
    await expectUserError(pure(bad, 'crc.png'), 'UNREADABLE_IMAGE');
  });
});

describe('pure TIFF decoder = sharp', () => {
  it('uncompressed 8/16-bit and float grey (fixture encoder)', async () => {
    await expectSame(encodeTiff(5, 4, 'u8', seededInts(20, 256, 1)));
    await expectSame(encodeTiff(5, 4, 'u16', seededInts(20, 65536, 2)));
    await expectSame(encodeTiff(3, 2, 'f32', [0.5, -1.25, 3e4, 0, 1, 2]));
  });

  it('LZW, Deflate and PackBits; strips and tiles; grey and RGB (written by libtiff)', async () => {
    const w = 40;
    const h = 33;
    const grey = Uint8Array.from(seededInts(w * h, 256, 21).map((v, i) => (i % 7 < 3 ? 100 : v)));
    const rgb = Uint8Array.from(seededInts(w * h * 3, 256, 22));
    for (const compression of ['none', 'lzw', 'deflate', 'packbits'] as const) {
      for (const tile of [false, true]) {
        const opts = { compression, tile, tileWidth: 16, tileHeight: 16, predictor: 'none' as const };
        await expectSame(u8(await sharp(grey, { raw: { width: w, height: h, channels: 1 } }).tiff(opts).toBuffer()));
        await expectSame(u8(await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).tiff(opts).toBuffer()));
      }
    }
    await expectSame(u8(await sharp(grey, { raw: { width: w, height: h, channels: 1 } }).tiff({ compression: 'lzw', predictor: 'horizontal' }).toBuffer()));
    await expectSame(u8(await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).tiff({ compression: 'deflate', predictor: 'horizontal' }).toBuffer()));
  });
});

describe('BMP, DICOM, NIfTI decode the same through both entry points', () => {
  it('identical results', async () => {
    await expectSame(encodeBmp(5, 3, 24, seededInts(45, 256, 3)));
    await expectSame(encodeDicom({ rows: 3, columns: 4, bitsAllocated: 16, values: seededInts(12, 4000, 4) }));
    await expectSame(encodeNifti({ dims: [3, 2], datatype: 'uint8', values: [1, 2, 3, 4, 5, 6], gzip: true }));
  });
});

describe('pure PNG encoder', () => {
  it('grey and RGB round-trip exactly through the Node reader (sharp) and the pure decoder', async () => {
    const w = 31;
    const h = 9;
    const grey = Uint8Array.from(seededInts(w * h, 256, 31));
    const rgb = Uint8Array.from(seededInts(w * h * 3, 256, 32));
    for (const [channels, data] of [[1, grey], [3, rgb]] as const) {
      const png = encodePng8({ width: w, height: h, channels, data });
      const viaSharp = await decodeImage(png, 'x'); // the Node reader (sharp, identity colour space)
      expect(viaSharp.image.channels).toBe(channels);
      expect(Array.from(viaSharp.image.data)).toEqual(Array.from(data));
      const back = decodePng(png, 'x');
      expect(Array.from(back.image.data)).toEqual(Array.from(data));
    }
  });
});
