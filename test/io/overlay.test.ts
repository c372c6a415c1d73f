import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { FloatImage, LabelMap } from '../../src/image/types.js';
import {
  BOX_COLOR,
  classColor,
  NEGATIVE_POINT_COLOR,
  POSITIVE_POINT_COLOR,
  renderOverlay,
  writeOverlayPng,
} from '../../src/io/overlay.js';
import { useTempDir } from '../fixtures/temp-dir.js';

const tmp = useTempDir({ prefix: 'medpersam-io-' });

async function decode(png: Uint8Array): Promise<{ width: number; height: number; px: (x: number, y: number) => number[] }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return {
    width: info.width,
    height: info.height,
    px: (x, y) => Array.from(data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)),
  };
}

/** 100x60 image, constant grey 1000 (16-bit scale) left half and 3000 right half; class 1 square, class 2 square. */
function scene(): { image: FloatImage; label: LabelMap } {
  const width = 100;
  const height = 60;
  const data = new Float32Array(width * height);
  const label = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data[y * width + x] = x < 50 ? 1000 : 3000;
      if (x >= 10 && x < 30 && y >= 10 && y < 30) label[y * width + x] = 1;
      if (x >= 60 && x < 90 && y >= 20 && y < 50) label[y * width + x] = 2;
    }
  }
  return { image: { width, height, channels: 1, data }, label: { width, height, data: label } };
}

describe('renderOverlay', () => {
  it('returns a PNG of the image size; classes filled at 45% and outlined; background grey', async () => {
    const { image, label } = scene();
    const { width, height, px } = await decode(await renderOverlay(image, label));
    expect([width, height]).toEqual([100, 60]);
    // Display window: 1000 → 0 (black), 3000 → 255 (white).
    expect(px(40, 5)).toEqual([0, 0, 0]);
    expect(px(95, 5)).toEqual([255, 255, 255]);
    const c1 = classColor(1);
    expect(px(20, 20)).toEqual(c1.map((c) => Math.round(0.45 * c)));
    const c2 = classColor(2);
    expect(px(75, 35)).toEqual(c2.map((c) => Math.round(0.55 * 255 + 0.45 * c)));
    expect(px(10, 20)).toEqual([...c1]); // outline pixel
    expect(px(89, 35)).toEqual([...c2]);
  });

  it('draws positive points green, negative points red, boxes yellow', async () => {
    const { image, label } = scene();
    const png = await renderOverlay(image, label, {
      points: [
        { x: 20, y: 20, label: 1 },
        { x: 40, y: 50, label: 0 },
      ],
      box: { x0: 60, y0: 20, x1: 89, y1: 49 },
    });
    const { px } = await decode(png);
    expect(px(20, 20)).toEqual([...POSITIVE_POINT_COLOR]);
    expect(px(40, 50)).toEqual([...NEGATIVE_POINT_COLOR]);
    expect(px(60, 35)).toEqual([...BOX_COLOR]);
    expect(px(89, 20)).toEqual([...BOX_COLOR]);
    expect(px(75, 49)).toEqual([...BOX_COLOR]);
  });

  it('downscales to maxSize for thumbnails, keeping class colours and marks', async () => {
    const { image, label } = scene();
    const png = await renderOverlay(image, label, { maxSize: 50, points: [{ x: 20, y: 20, label: 1 }] });
    const { width, height, px } = await decode(png);
    expect([width, height]).toEqual([50, 30]);
    expect(px(10, 10)).toEqual([...POSITIVE_POINT_COLOR]);
    const c2 = classColor(2);
    expect(px(37, 17)).toEqual(c2.map((c) => Math.round(0.55 * 255 + 0.45 * c)));
  });

  it('thumbnails at a non-integer factor are area averages (fractional overlaps), window from the percentiles', async () => {
    // 3x3, columns 0..1 = 0 and column 2 = 255; full window (0..100 percentiles) → display 0 / 255.
    const data = new Float32Array(9);
    for (let y = 0; y < 3; y++) data[y * 3 + 2] = 255;
    const image: FloatImage = { width: 3, height: 3, channels: 1, data };
    const label: LabelMap = { width: 3, height: 3, data: new Uint8Array(9) };
    const png = await renderOverlay(image, label, { maxSize: 2, lowPercentile: 0, highPercentile: 100 });
    const { width, height, px } = await decode(png);
    expect([width, height]).toEqual([2, 2]);
    // Output column 1 covers source [1.5, 3): half of column 1 (0) and all of column 2 (255) → 2/3 · 255 = 170.
    expect(px(0, 0)).toEqual([0, 0, 0]);
    expect(px(1, 1)).toEqual([170, 170, 170]);
  });

  it('a constant image has an empty display window and shows black', async () => {
    const image: FloatImage = { width: 4, height: 4, channels: 1, data: new Float32Array(16).fill(700) };
    const label: LabelMap = { width: 4, height: 4, data: new Uint8Array(16) };
    const { px } = await decode(await renderOverlay(image, label));
    expect(px(2, 2)).toEqual([0, 0, 0]);
  });

  it('RGB images are shown as grey; writeOverlayPng writes the same bytes', async () => {
    const width = 4;
    const height = 2;
    const data = new Float32Array(width * height * 3);
    for (let i = 0; i < width * height; i++) data.set(i < 4 ? [0, 0, 0] : [255, 255, 255], i * 3);
    const image: FloatImage = { width, height, channels: 3, data };
    const label: LabelMap = { width, height, data: new Uint8Array(width * height) };
    const png = await renderOverlay(image, label);
    const { px } = await decode(png);
    expect(px(0, 0)).toEqual([0, 0, 0]);
    expect(px(3, 1)).toEqual([255, 255, 255]);
    const path = join(tmp.dir, 'o', 'overlay.png');
    await writeOverlayPng(path, image, label);
    expect(Buffer.compare(await readFile(path), Buffer.from(png))).toBe(0);
  });

  it('a label of another size → SIZE_MISMATCH', async () => {
    const { image } = scene();
    await expect(renderOverlay(image, { width: 3, height: 3, data: new Uint8Array(9) })).rejects.toMatchObject({
      code: 'SIZE_MISMATCH',
    });
  });
});
