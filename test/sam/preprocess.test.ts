import { describe, expect, it } from 'vitest';
import {
  buildInputImageEncoderInput,
  buildPlainEncoderInput,
  normalizedToSam255,
  resizeToSamFrame,
  SAM_PIXEL_MEAN,
  SAM_PIXEL_STD,
} from '../../src/sam/preprocess.js';
import { constantImage } from './helpers.js';

describe('SAM preprocessing', () => {
  it('plain input: grey → 3 channels, mean/std normalised, zero-padded bottom/right', () => {
    const { data, dims, frame } = buildPlainEncoderInput(constantImage(800, 600, 100));
    expect(dims).toEqual([1, 3, 1024, 1024]);
    expect([frame.resizedWidth, frame.resizedHeight]).toEqual([1024, 768]);
    for (let c = 0; c < 3; c++) {
      const v = (100 - SAM_PIXEL_MEAN[c]!) / SAM_PIXEL_STD[c]!;
      const plane = c * 1024 * 1024;
      expect(data[plane + 0]).toBeCloseTo(v, 5);
      expect(data[plane + 767 * 1024 + 1023]).toBeCloseTo(v, 5);
      expect(data[plane + 768 * 1024]).toBe(0);
      expect(data[plane + 1023 * 1024 + 1023]).toBe(0);
    }
  });

  it('plain input pads on the right for portrait images', () => {
    const { data } = buildPlainEncoderInput(constantImage(300, 400, 200));
    // resized 768 x 1024: column 767 image, 768 padding
    const v = (200 - SAM_PIXEL_MEAN[0]) / SAM_PIXEL_STD[0];
    expect(data[500 * 1024 + 767]).toBeCloseTo(v, 5);
    expect(data[500 * 1024 + 768]).toBe(0);
  });

  it('RGB channels stay separate', () => {
    const img = constantImage(64, 64, 0, 3);
    for (let i = 0; i < 64 * 64; i++) {
      img.data[3 * i] = 10;
      img.data[3 * i + 1] = 20;
      img.data[3 * i + 2] = 30;
    }
    const { data } = buildPlainEncoderInput(img);
    for (let c = 0; c < 3; c++) expect(data[c * 1024 * 1024 + 5000]).toBeCloseTo(((c + 1) * 10 - SAM_PIXEL_MEAN[c]!) / SAM_PIXEL_STD[c]!, 4);
  });

  it('input_image input: [newH,newW,3] raw 0..255', () => {
    const r = buildInputImageEncoderInput(constantImage(800, 600, 42));
    expect(r.dims).toEqual([768, 1024, 3]);
    expect(r.data.length).toBe(768 * 1024 * 3);
    expect(r.data[0]).toBeCloseTo(42, 5);
    expect(r.data[r.data.length - 1]).toBeCloseTo(42, 5);
  });

  it('shrinks large images by area average (a 2x2 checker becomes flat grey)', () => {
    const img = constantImage(2048, 2048, 0);
    for (let y = 0; y < 2048; y++) for (let x = 0; x < 2048; x++) img.data[y * 2048 + x] = (x + y) % 2 ? 200 : 0;
    const r = resizeToSamFrame(img);
    expect(r.image.width).toBe(1024);
    expect(r.image.data[3 * (500 * 1024 + 500)]).toBeCloseTo(100, 4);
  });

  it('normalizedToSam255 maps [0,1] to [0,255]', () => {
    const r = normalizedToSam255(constantImage(2, 2, 0.5));
    expect(Array.from(r.data)).toEqual([127.5, 127.5, 127.5, 127.5]);
  });
});
