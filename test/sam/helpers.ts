import type { FloatImage } from '../../src/image/types.js';

export function constantImage(width: number, height: number, value: number, channels: 1 | 3 = 1): FloatImage {
  return { width, height, channels, data: new Float32Array(width * height * channels).fill(value) };
}

/** A deterministic grey test image 0..255 (smooth gradient + a bright square). */
export function patternImage(width: number, height: number, seed = 0): FloatImage {
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 60 + (120 * x) / width + 40 * Math.sin((y + seed * 7) / 23);
      if (x > width / 3 && x < width / 2 && y > height / 4 && y < height / 2) v += 50;
      data[y * width + x] = v;
    }
  }
  return { width, height, channels: 1, data };
}
