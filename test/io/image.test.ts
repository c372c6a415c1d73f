import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readImage } from '../../src/io/image.js';
import { useTempDir } from '../fixtures/temp-dir.js';
import { expectUserError } from '../fixtures/user-error.js';
import { encodeBmp, encodePng, encodeTiff, seededInts, writeBytes } from './fixtures.js';

const tmp = useTempDir({ prefix: 'medpersam-io-' });

describe('readImage: PNG', () => {
  it('reads an 8-bit grey PNG as 1 channel with exact values', async () => {
    const values = seededInts(5 * 3, 256, 7);
    const path = await writeBytes(join(tmp.dir, 'g8.png'), encodePng(5, 3, 1, 8, values));
    const { image, format, bitDepth } = await readImage(path);
    expect(format).toBe('png');
    expect(bitDepth).toBe(8);
    expect([image.width, image.height, image.channels]).toEqual([5, 3, 1]);
    expect(Array.from(image.data)).toEqual(values);
  });

  it('reads a 16-bit grey PNG with values above 255 unchanged', async () => {
    const values = [0, 1, 255, 256, 1000, 4095, 40000, 65535];
    const path = await writeBytes(join(tmp.dir, 'g16.png'), encodePng(4, 2, 1, 16, values));
    const { image, bitDepth } = await readImage(path);
    expect(bitDepth).toBe(16);
    expect(image.channels).toBe(1);
    expect(Array.from(image.data)).toEqual(values);
  });

  it('reads 8-bit and 16-bit RGB PNGs as 3 channels, exact', async () => {
    const rgb8 = seededInts(3 * 2 * 3, 256, 3);
    const p8 = await writeBytes(join(tmp.dir, 'rgb8.png'), encodePng(3, 2, 3, 8, rgb8));
    const r8 = await readImage(p8);
    expect(r8.image.channels).toBe(3);
    expect(Array.from(r8.image.data)).toEqual(rgb8);

    const rgb16 = seededInts(3 * 2 * 3, 65536, 4);
    const p16 = await writeBytes(join(tmp.dir, 'rgb16.png'), encodePng(3, 2, 3, 16, rgb16));
    const r16 = await readImage(p16);
    expect(r16.bitDepth).toBe(16);
    expect(r16.image.channels).toBe(3);
    expect(Array.from(r16.image.data)).toEqual(rgb16);
  });

  it('drops the alpha channel of RGBA and grey+alpha PNGs', async () => {
    const rgba = [10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255, 1, 2, 3, 4];
    const r = await readImage(await writeBytes(join(tmp.dir, 'rgba.png'), encodePng(2, 2, 4, 8, rgba)));
    expect(r.image.channels).toBe(3);
    expect(Array.from(r.image.data)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 2, 3]);

    const ga = [5, 0, 100, 255, 200, 7];
    const g = await readImage(await writeBytes(join(tmp.dir, 'ga.png'), encodePng(3, 1, 2, 8, ga)));
    expect(g.image.channels).toBe(1);
    expect(Array.from(g.image.data)).toEqual([5, 100, 200]);
  });

  it('reads a grey palette PNG as 1 channel and a colour palette PNG as RGB', async () => {
    const greyPalette = [[0, 0, 0], [128, 128, 128], [255, 255, 255]];
    const grey = await readImage(await writeBytes(join(tmp.dir, 'palgrey.png'), encodePng(3, 1, 1, 8, [2, 0, 1], greyPalette)));
    expect(grey.image.channels).toBe(1);
    expect(Array.from(grey.image.data)).toEqual([255, 0, 128]);

    const colourPalette = [[0, 0, 0], [255, 0, 0], [0, 0, 255]];
    const colour = await readImage(await writeBytes(join(tmp.dir, 'palrgb.png'), encodePng(3, 1, 1, 8, [1, 2, 0], colourPalette)));
    expect(colour.image.channels).toBe(3);
    expect(Array.from(colour.image.data)).toEqual([255, 0, 0, 0, 0, 255, 0, 0, 0]);
  });

  it('detects the format from the bytes, not the extension', async () => {
    const path = await writeBytes(join(tmp.dir, 'really-a-png.jpg'), encodePng(2, 1, 1, 8, [3, 4]));
    const r = await readImage(path);
    expect(r.format).toBe('png');
    expect(Array.from(r.image.data)).toEqual([3, 4]);
  });
});

describe('readImage: JPEG, TIFF, BMP', () => {
  it('reads a grey JPEG as 1 channel within JPEG tolerance', async () => {
    const w = 32;
    const h = 16;
    const values = Array.from({ length: w * h }, (_, i) => 40 + (i % w) * 5); // smooth ramp
    const jpeg = await sharp(Uint8Array.from(values), { raw: { width: w, height: h, channels: 1 } })
      .toColourspace('b-w')
      .jpeg({ quality: 95 })
      .toBuffer();
    const r = await readImage(await writeBytes(join(tmp.dir, 'ramp.jpg'), jpeg));
    expect(r.format).toBe('jpeg');
    expect([r.image.width, r.image.height, r.image.channels]).toEqual([w, h, 1]);
    const meanAbs = values.reduce((s, v, i) => s + Math.abs(v - r.image.data[i]!), 0) / values.length;
    expect(meanAbs).toBeLessThan(2); // quality 95 on a smooth ramp
  });

  it('reads a colour JPEG as 3 channels', async () => {
    const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 40, b: 90 } } })
      .jpeg({ quality: 95 })
      .toBuffer();
    const r = await readImage(await writeBytes(join(tmp.dir, 'red.jpeg'), jpeg));
    expect(r.image.channels).toBe(3);
    expect(Math.abs(r.image.data[0]! - 200)).toBeLessThanOrEqual(3);
    expect(Math.abs(r.image.data[1]! - 40)).toBeLessThanOrEqual(3);
    expect(Math.abs(r.image.data[2]! - 90)).toBeLessThanOrEqual(3);
  });

  it('reads 16-bit and float TIFFs exactly', async () => {
    const u16 = [0, 1, 1000, 40000, 65535, 7];
    const t16 = await readImage(await writeBytes(join(tmp.dir, 'u16.tif'), encodeTiff(3, 2, 'u16', u16)));
    expect(t16.format).toBe('tiff');
    expect(t16.bitDepth).toBe(16);
    expect(t16.image.channels).toBe(1);
    expect(Array.from(t16.image.data)).toEqual(u16);

    const f32 = [-1.5, 0, 0.25, 100, 1e6, 3];
    const tf = await readImage(await writeBytes(join(tmp.dir, 'f32.tiff'), encodeTiff(3, 2, 'f32', f32)));
    expect(tf.bitDepth).toBe(32);
    expect(Array.from(tf.image.data)).toEqual(f32);

    const u8 = [9, 8, 7, 6];
    const t8 = await readImage(await writeBytes(join(tmp.dir, 'u8.tif'), encodeTiff(2, 2, 'u8', u8)));
    expect(Array.from(t8.image.data)).toEqual(u8);
  });

  it('reads 8-bit grey-palette BMP (bottom-up, padded rows) as 1 channel', async () => {
    const values = seededInts(5 * 3, 256, 11); // width 5: rows padded to 8 bytes
    const r = await readImage(await writeBytes(join(tmp.dir, 'g8.bmp'), encodeBmp(5, 3, 8, values)));
    expect(r.format).toBe('bmp');
    expect([r.image.width, r.image.height, r.image.channels]).toEqual([5, 3, 1]);
    expect(Array.from(r.image.data)).toEqual(values);
  });

  it('reads an 8-bit colour-palette BMP as RGB', async () => {
    const palette = [[0, 0, 0], [255, 0, 0], [0, 255, 0]];
    const r = await readImage(await writeBytes(join(tmp.dir, 'pal.bmp'), encodeBmp(3, 1, 8, [2, 1, 0], { palette })));
    expect(r.image.channels).toBe(3);
    expect(Array.from(r.image.data)).toEqual([0, 255, 0, 255, 0, 0, 0, 0, 0]);
  });

  it('reads 24-bit BMP bottom-up and top-down, and 32-bit BMP, exactly', async () => {
    const rgb = seededInts(3 * 3 * 2, 256, 13);
    for (const [name, bits, topDown] of [
      ['b24.bmp', 24, false],
      ['t24.bmp', 24, true],
      ['b32.bmp', 32, false],
    ] as const) {
      const r = await readImage(await writeBytes(join(tmp.dir, name), encodeBmp(3, 2, bits, rgb, { topDown })));
      expect([r.image.width, r.image.height, r.image.channels]).toEqual([3, 2, 3]);
      expect(Array.from(r.image.data)).toEqual(rgb);
    }
  });
});

describe('readImage: bad input', () => {
  it('missing file → FILE_NOT_FOUND naming the file', async () => {
    const path = join(tmp.dir, 'nope.png');
    const err = await expectUserError(readImage(path), 'FILE_NOT_FOUND', path);
    expect(err.file).toBe(path);
  });

  it('a folder → UNREADABLE_IMAGE', async () => {
    const sub = join(tmp.dir, 'a-folder.png');
    await mkdir(sub, { recursive: true });
    await expectUserError(readImage(sub), 'UNREADABLE_IMAGE', sub);
  });

  it('empty file → UNREADABLE_IMAGE', async () => {
    const path = await writeBytes(join(tmp.dir, 'empty.png'), new Uint8Array(0));
    await expectUserError(readImage(path), 'UNREADABLE_IMAGE', path, 'empty');
  });

  it('truncated PNG, BMP and JPEG → UNREADABLE_IMAGE naming the file', async () => {
    const png = encodePng(16, 16, 1, 8, seededInts(256, 256, 5));
    const p = await writeBytes(join(tmp.dir, 'trunc.png'), png.subarray(0, png.length - 30));
    await expectUserError(readImage(p), 'UNREADABLE_IMAGE', p);

    const bmp = encodeBmp(8, 8, 24, seededInts(192, 256, 6));
    const b = await writeBytes(join(tmp.dir, 'trunc.bmp'), bmp.subarray(0, bmp.length - 10));
    await expectUserError(readImage(b), 'UNREADABLE_IMAGE', b, 'truncated');

    // Cut inside the entropy-coded scan (libjpeg only warns there; the reader must still refuse it).
    const noise = Uint8Array.from(seededInts(128 * 128, 256, 8));
    const jpeg = await sharp(noise, { raw: { width: 128, height: 128, channels: 1 } }).toColourspace('b-w').jpeg().toBuffer();
    const j = await writeBytes(join(tmp.dir, 'trunc.jpg'), jpeg.subarray(0, Math.floor(jpeg.length * 0.7)));
    await expectUserError(readImage(j), 'UNREADABLE_IMAGE', j);
  });

  it('unknown or unsupported formats → UNSUPPORTED_FORMAT', async () => {
    const text = await writeBytes(join(tmp.dir, 'notes.png'), Buffer.from('this is not an image at all, just text\n'));
    await expectUserError(readImage(text), 'UNSUPPORTED_FORMAT', text, 'supported');
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).gif().toBuffer();
    const g = await writeBytes(join(tmp.dir, 'anim.gif'), gif);
    await expectUserError(readImage(g), 'UNSUPPORTED_FORMAT', 'GIF');
  });
});
