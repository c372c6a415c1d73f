/** Gaussian smoothing of one plane (pure; browser-safe). */

/** Normalised 1-D Gaussian kernel of standard deviation `sigma` (pixels), radius ⌈3σ⌉ (at least 1). */
export function gaussianKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    k[i + r] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/** Separable Gaussian blur of one width × height plane (row-major), edges clamped. Returns a new plane. */
export function gaussianBlurPlane(plane: Float32Array, width: number, height: number, sigma: number): Float32Array {
  if (plane.length !== width * height) throw new Error(`gaussianBlurPlane: plane of ${plane.length} values is not ${width}x${height}`);
  if (!(sigma > 0)) throw new Error(`gaussianBlurPlane: sigma must be > 0, got ${sigma}`);
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  const tmp = new Float32Array(plane.length);
  const out = new Float32Array(plane.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let i = -r; i <= r; i++) s += k[i + r]! * plane[row + Math.min(width - 1, Math.max(0, x + i))]!;
      tmp[row + x] = s;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let i = -r; i <= r; i++) s += k[i + r]! * tmp[Math.min(height - 1, Math.max(0, y + i)) * width + x]!;
      out[y * width + x] = s;
    }
  }
  return out;
}
