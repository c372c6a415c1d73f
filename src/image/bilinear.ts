/**
 * Bilinear sampling of an interleaved multi-channel plane at a continuous position (pixel centres at integers),
 * clamped to the plane's edge. Pure; shared by the affine resampler (affine.ts) and the region-of-interest stage's
 * grid resampler and its flow reads (warp/roi-frames.ts, roi-compose.ts).
 */

/**
 * Write the C channels of `data` (W×H×C interleaved) at (px, py), clamped into [0, W−1]×[0, H−1], to
 * out[outOffset … outOffset + C − 1].
 */
export function sampleBilinearClamped(
  data: ArrayLike<number>,
  W: number,
  H: number,
  C: number,
  px: number,
  py: number,
  out: Float32Array | Float64Array,
  outOffset: number,
): void {
  const x = px < 0 ? 0 : px > W - 1 ? W - 1 : px;
  const y = py < 0 ? 0 : py > H - 1 ? H - 1 : py;
  const x0 = Math.min(Math.floor(x), Math.max(W - 2, 0));
  const y0 = Math.min(Math.floor(y), Math.max(H - 2, 0));
  const x1 = Math.min(x0 + 1, W - 1);
  const y1 = Math.min(y0 + 1, H - 1);
  const fx = x - x0;
  const fy = y - y0;
  for (let k = 0; k < C; k++) {
    const v00 = data[(y0 * W + x0) * C + k]!;
    const v01 = data[(y0 * W + x1) * C + k]!;
    const v10 = data[(y1 * W + x0) * C + k]!;
    const v11 = data[(y1 * W + x1) * C + k]!;
    const top = v00 + (v01 - v00) * fx;
    const bottom = v10 + (v11 - v10) * fx;
    out[outOffset + k] = top + (bottom - top) * fy;
  }
}
