import type { FloatImage, LabelMap } from '../../src/image/types.js';

/** A working-grid flow (R×R×2) of the affine field flow(x, y) = (a·x + b·y + c, d·x + e·y + f), working pixels. */
export function affineWorkingFlow(R: number, [a, b, c, d, e, f]: readonly number[]): Float32Array {
  const flow = new Float32Array(R * R * 2);
  for (let y = 0; y < R; y++) {
    for (let x = 0; x < R; x++) {
      flow[(y * R + x) * 2] = a! * x + b! * y + c!;
      flow[(y * R + x) * 2 + 1] = d! * x + e! * y + f!;
    }
  }
  return flow;
}

/** A smooth grey test image with distinct values everywhere (a plane plus sines). */
export function smoothImage(width: number, height: number, channels: 1 | 3 = 1): FloatImage {
  const data = new Float32Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = 0.7 * x + 0.3 * y + 10 * Math.sin(x / 7 + c) + c;
    }
  }
  return { width, height, channels, data };
}

/** A label map from a function of the pixel. */
export function labelOf(width: number, height: number, f: (x: number, y: number) => number): LabelMap {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = f(x, y);
  return { width, height, data };
}

/** Dice of class `cls` (the warp-model tests' helper). */
export { dice as diceOf } from '../warp-model/helpers.js';

/**
 * 128 px scene: a large dark square (class 2) and a small bright disc (class 1, radius 5) on a textured
 * background. The whole scene is shifted by (sx, sy); the disc moves by (dx, dy) more on its own.
 */
export function discAndSquareScene(sx: number, sy: number, dx: number, dy: number): { image: FloatImage; label: LabelMap } {
  const S = 128;
  const data = new Float32Array(S * S);
  const lab = new Uint8Array(S * S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const u = x - sx;
      const v = y - sy;
      let val = 120 + 15 * Math.sin(u * 0.21) * Math.cos(v * 0.17);
      let cls = 0;
      if (u >= 20 && u < 70 && v >= 50 && v < 100) {
        val = 50;
        cls = 2;
      }
      if ((u - 96 - dx) ** 2 + (v - 32 - dy) ** 2 <= 25) {
        val = 230;
        cls = 1;
      }
      lab[y * S + x] = cls;
      data[y * S + x] = val;
    }
  }
  return { image: { width: S, height: S, channels: 1, data }, label: { width: S, height: S, data: lab } };
}

/**
 * A 256 px image for the outline-contrast gate: background 50, a large square (class 2, x, y in 128..255) of 150,
 * so the image's 1st–99th percentile range is 100; a small disc (class 1, radius 10 at (60, 60)) of `discGrey`.
 */
export function contrastScene(discGrey: number): { image: FloatImage; label: LabelMap } {
  const label = labelOf(256, 256, (x, y) => ((x - 60) ** 2 + (y - 60) ** 2 <= 100 ? 1 : x >= 128 && y >= 128 ? 2 : 0));
  const data = new Float32Array(256 * 256);
  for (let i = 0; i < data.length; i++) data[i] = label.data[i] === 1 ? discGrey : label.data[i] === 2 ? 150 : 50;
  return { image: { width: 256, height: 256, channels: 1, data }, label };
}
