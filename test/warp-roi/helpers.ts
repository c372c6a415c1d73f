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

export function diceOf(a: LabelMap, b: LabelMap, cls: number): number {
  let inter = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.data.length; i++) {
    const pa = a.data[i] === cls;
    const pb = b.data[i] === cls;
    if (pa) na++;
    if (pb) nb++;
    if (pa && pb) inter++;
  }
  return na + nb === 0 ? 1 : (2 * inter) / (na + nb);
}
