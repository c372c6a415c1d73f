import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { displaySize, overlayPng, reportPictures } from '../../src/io/report-pictures.js';
import { sharpWebpGreyEncoder } from '../../src/io/report-pictures-node.js';
import { classColor } from '../../src/io/overlay-render.js';
import { encodePngIndexed } from '../../src/io/png.js';
import { generatePhantom } from '../../src/image/phantom.js';

async function rgba(png: Uint8Array) {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

describe('overlayPng (indexed PNG with transparency)', () => {
  it('background transparent, class interior in its colour at the fill alpha, outline opaque', async () => {
    // 6×6: class 2 fills rows 1..4, columns 1..4 (its 2×2 centre is interior).
    const data = new Uint8Array(36);
    for (let y = 1; y <= 4; y++) for (let x = 1; x <= 4; x++) data[y * 6 + x] = 2;
    const img = await rgba(overlayPng({ width: 6, height: 6, data }, 0.4));
    expect([img.width, img.height, img.channels]).toEqual([6, 6, 4]);
    const px = (x: number, y: number) => Array.from(img.data.subarray((y * 6 + x) * 4, (y * 6 + x) * 4 + 4));
    const c = classColor(2);
    expect(px(0, 0)[3]).toBe(0);
    expect(px(2, 2)).toEqual([c[0], c[1], c[2], 102]);
    expect(px(1, 1)).toEqual([c[0], c[1], c[2], 255]);
  });

  it('encodePngIndexed rejects a wrong size or palette', () => {
    expect(() => encodePngIndexed(2, 2, new Uint8Array(3), [[0, 0, 0, 0]])).toThrow(/indices/);
    expect(() => encodePngIndexed(1, 1, new Uint8Array(1), [])).toThrow(/palette/);
  });
});

describe('reportPictures', () => {
  it('display size keeps the aspect ratio and never enlarges', () => {
    expect(displaySize(1024, 512, 512)).toEqual({ width: 512, height: 256 });
    expect(displaySize(300, 200, 512)).toEqual({ width: 300, height: 200 });
  });

  it('WebP grey picture and overlay of the same display size; the default encoder is lossless PNG', async () => {
    const ph = generatePhantom({ seed: 2, patient: 1, width: 600, height: 400, noise: 2 });
    const webp = await reportPictures(ph.image, ph.label, { encode: sharpWebpGreyEncoder });
    expect(webp.picture).toMatchObject({ mime: 'image/webp', width: 512, height: 341 });
    expect(webp.overlay).toMatchObject({ mime: 'image/png', width: 512, height: 341 });
    expect((await sharp(webp.picture.bytes).metadata()).width).toBe(512);
    expect(webp.picture.bytes.length).toBeLessThan(24_000);
    const png = await reportPictures(ph.image, ph.label, { maxSize: 128, maxBytes: 1e9 });
    expect(png.picture).toMatchObject({ mime: 'image/png', width: 128, height: 85 });
  });

  it('over the byte budget, quality then size come down (to 256 px at the end of the ladder)', async () => {
    const noisy = generatePhantom({ seed: 2, patient: 3, width: 600, noise: 40 });
    const p = await reportPictures(noisy.image, noisy.label, { encode: sharpWebpGreyEncoder, maxBytes: 1000 });
    expect(p.picture.width).toBe(256);
    expect(p.overlay.width).toBe(256);
  });
});
