/**
 * Separable resampling of float planes with explicit per-axis weights (pure; runs in a browser).
 *
 * Used by the SAM preprocessing (image → longest-side-1024 frame) and by the mask-prompt conversion
 * (original frame → padded 1024 frame → 256×256), where part of an output cell can fall in the zero-padding
 * beyond the image: those cells get `padValue` for the uncovered fraction.
 */

/** Per-output taps along one axis: taps of output o are [offset[o], offset[o+1]) in `index` / `weight`. */
export interface AxisWeights {
  offset: Int32Array;
  index: Int32Array;
  weight: Float32Array;
  /** Sum of the weights of each output (1 when fully inside the source, < 1 when partly in the padding). */
  coverage: Float32Array;
}

function pack(taps: Array<Array<[number, number]>>): AxisWeights {
  const n = taps.length;
  const offset = new Int32Array(n + 1);
  let total = 0;
  for (let o = 0; o < n; o++) {
    offset[o] = total;
    total += taps[o]!.length;
  }
  offset[n] = total;
  const index = new Int32Array(total);
  const weight = new Float32Array(total);
  const coverage = new Float32Array(n);
  for (let o = 0; o < n; o++) {
    let k = offset[o]!;
    let s = 0;
    for (const [i, w] of taps[o]!) {
      index[k] = i;
      weight[k++] = w;
      s += w;
    }
    coverage[o] = s;
  }
  return { offset, index, weight, coverage };
}

/**
 * Area (box-filter) weights: output o averages the source over [o * srcPerOut, (o + 1) * srcPerOut),
 * treating source pixel i as the constant on [i, i + 1). Source beyond `srcSize` is padding (not a tap):
 * the output's `coverage` is then < 1.
 */
export function areaWeights(srcSize: number, outSize: number, srcPerOut: number = srcSize / outSize): AxisWeights {
  const taps: Array<Array<[number, number]>> = [];
  for (let o = 0; o < outSize; o++) {
    const a = o * srcPerOut;
    const b = (o + 1) * srcPerOut;
    const t: Array<[number, number]> = [];
    for (let i = Math.max(0, Math.floor(a)); i < Math.min(srcSize, Math.ceil(b)); i++) {
      const overlap = Math.min(b, i + 1) - Math.max(a, i);
      if (overlap > 0) t.push([i, overlap / srcPerOut]);
    }
    taps.push(t);
  }
  return pack(taps);
}

/**
 * Resample an interleaved plane set (`channels` values per pixel) with separable weights.
 * out = Σ wy Σ wx src + padValue · (1 - coverageX · coverageY).
 */
export function resampleSeparable(
  src: Float32Array | Uint8Array,
  srcWidth: number,
  srcHeight: number,
  channels: number,
  wx: AxisWeights,
  wy: AxisWeights,
  padValue = 0,
): Float32Array {
  const outW = wx.coverage.length;
  const outH = wy.coverage.length;
  // Horizontal pass: every source row → outW columns.
  const tmp = new Float32Array(srcHeight * outW * channels);
  for (let y = 0; y < srcHeight; y++) {
    const row = y * srcWidth * channels;
    const trow = y * outW * channels;
    for (let o = 0; o < outW; o++) {
      const end = wx.offset[o + 1]!;
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let k = wx.offset[o]!; k < end; k++) s += wx.weight[k]! * src[row + wx.index[k]! * channels + c]!;
        tmp[trow + o * channels + c] = s;
      }
    }
  }
  const out = new Float32Array(outW * outH * channels);
  const rowLen = outW * channels;
  for (let o = 0; o < outH; o++) {
    const orow = o * rowLen;
    const end = wy.offset[o + 1]!;
    for (let k = wy.offset[o]!; k < end; k++) {
      const w = wy.weight[k]!;
      const trow = wy.index[k]! * rowLen;
      for (let i = 0; i < rowLen; i++) out[orow + i] += w * tmp[trow + i]!;
    }
    if (padValue !== 0) {
      const cy = wy.coverage[o]!;
      for (let x = 0; x < outW; x++) {
        const pad = 1 - wx.coverage[x]! * cy;
        if (pad > 1e-7) for (let c = 0; c < channels; c++) out[orow + x * channels + c] += padValue * pad;
      }
    }
  }
  return out;
}
