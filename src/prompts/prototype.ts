/**
 * Class prototype (§3.2): the mean SAM encoder feature under the reference mask, as in PerSAM.
 *
 * The feature map is channel-major [C, h, w] (SAM: 256 x 64 x 64) over the padded 1024 x 1024 frame (frames.ts);
 * the image occupies the top-left resizedWidth x resizedHeight, so only the top-left cells hold image content.
 * The reference mask (any size covering the whole reference image) is brought to the grid by one of two rules:
 *  - 'center' (default, PerSAM's rule): a cell counts (weight 1) when the mask pixel under the cell's centre is
 *    foreground. PerSAM bilinearly resizes the padded 1024 mask to 64 x 64 and keeps cells > 0, which samples the
 *    mask at the cell centre (between sam1024 pixels 16g+7 and 16g+8); we take the mask pixel containing that point.
 *  - 'area': each cell weighs the fraction of its area covered by the mask (exact box overlap of every mask pixel
 *    with every cell); the prototype is the weighted mean.
 * If 'center' selects no cell (a mask smaller than a cell), 'area' is used instead (result.maskToGridUsed says so).
 */
import { MedpersamUserError } from '../errors.js';
import type { BinaryMask } from '../image/types.js';
import type { SamFrame } from '../sam/frames.js';

/** A channel-major feature map: data[c * gridHeight * gridWidth + gy * gridWidth + gx]. */
export interface FeatureMap {
  readonly channels: number;
  readonly gridWidth: number;
  readonly gridHeight: number;
  readonly data: Float32Array;
}

/** Wraps a SAM embedding ({ data, dims: [1, C, h, w] }) as a FeatureMap (no copy). */
export function featureMapFromEmbedding(embedding: { data: Float32Array; dims: readonly number[] }): FeatureMap {
  const dims = embedding.dims;
  if (dims.length !== 4 || dims[0] !== 1) {
    throw new RangeError(`featureMapFromEmbedding: expected dims [1, C, h, w], got [${dims.join(', ')}]`);
  }
  const [, channels, gridHeight, gridWidth] = dims as [number, number, number, number];
  if (embedding.data.length !== channels * gridHeight * gridWidth) {
    throw new RangeError(
      `featureMapFromEmbedding: data length ${embedding.data.length} != ${channels}*${gridHeight}*${gridWidth}`,
    );
  }
  return { channels, gridWidth, gridHeight, data: embedding.data };
}

export type MaskToGridRule = 'center' | 'area';

export function checkFeatureFrame(features: FeatureMap, frame: SamFrame, what: string): void {
  if (features.gridWidth !== frame.gridSize || features.gridHeight !== frame.gridSize) {
    throw new RangeError(
      `${what}: feature grid ${features.gridWidth}x${features.gridHeight} does not match the frame's ${frame.gridSize}x${frame.gridSize}`,
    );
  }
  if (features.data.length !== features.channels * features.gridWidth * features.gridHeight) {
    throw new RangeError(`${what}: feature data length ${features.data.length} does not match its shape`);
  }
}

/**
 * Per-cell weights (gridSize * gridSize, raster order) of a mask covering the whole image of `frame`.
 * 'center': 0/1 by the mask pixel under the cell centre; 'area': covered fraction of the cell in [0, 1].
 */
export function maskToGridWeights(mask: BinaryMask, frame: SamFrame, rule: MaskToGridRule): Float32Array {
  const g = frame.gridSize;
  const cs = frame.cellSize;
  const { width: mw, height: mh, data } = mask;
  const weights = new Float32Array(g * g);
  // sam1024 length of one mask pixel, per axis.
  const pxW = frame.resizedWidth / mw;
  const pxH = frame.resizedHeight / mh;
  if (rule === 'center') {
    for (let gy = 0; gy < g; gy++) {
      const cy = (gy + 0.5) * cs;
      if (cy >= frame.resizedHeight) break;
      const my = Math.min(mh - 1, Math.floor(cy / pxH));
      for (let gx = 0; gx < g; gx++) {
        const cx = (gx + 0.5) * cs;
        if (cx >= frame.resizedWidth) break;
        const mx = Math.min(mw - 1, Math.floor(cx / pxW));
        weights[gy * g + gx] = data[my * mw + mx] !== 0 ? 1 : 0;
      }
    }
    return weights;
  }
  // 'area': overlap of pixel column x ([x*pxW, (x+1)*pxW)) with cell column gx ([gx*cs, (gx+1)*cs)), separably.
  const rowAcc = new Float64Array(g); // per cell column: covered sam1024 width in the current mask row
  const acc = new Float64Array(g * g);
  for (let y = 0; y < mh; y++) {
    rowAcc.fill(0);
    let any = false;
    const row = y * mw;
    for (let x = 0; x < mw; x++) {
      if (data[row + x] === 0) continue;
      any = true;
      const a = x * pxW;
      const b = (x + 1) * pxW;
      for (let gx = Math.floor(a / cs); gx < g && gx * cs < b; gx++) {
        const overlap = Math.min(b, (gx + 1) * cs) - Math.max(a, gx * cs);
        if (overlap > 0) rowAcc[gx]! += overlap;
      }
    }
    if (!any) continue;
    const a = y * pxH;
    const b = (y + 1) * pxH;
    for (let gy = Math.floor(a / cs); gy < g && gy * cs < b; gy++) {
      const overlap = Math.min(b, (gy + 1) * cs) - Math.max(a, gy * cs);
      if (overlap <= 0) continue;
      const base = gy * g;
      for (let gx = 0; gx < g; gx++) if (rowAcc[gx]! > 0) acc[base + gx]! += overlap * rowAcc[gx]!;
    }
  }
  const cellArea = cs * cs;
  for (let i = 0; i < weights.length; i++) weights[i] = Math.min(1, acc[i]! / cellArea);
  return weights;
}

export interface ClassPrototypeOptions {
  /** How the reference mask reaches the feature grid (default 'center', PerSAM's rule). */
  maskToGrid?: MaskToGridRule;
}

export interface ClassPrototype {
  /** Weighted mean feature under the mask [C]: PerSAM's `target_embedding` (not normalised). */
  prototype: Float32Array;
  /** prototype / ||prototype||: PerSAM's `target_feat`, used for the cosine similarity. */
  prototypeUnit: Float32Array;
  /** Rule actually used ('area' when 'center' found no cell). */
  maskToGridUsed: MaskToGridRule;
  /** Cells with non-zero weight, and the sum of the weights. */
  cellsUsed: number;
  weightSum: number;
}

/**
 * The class prototype of `referenceMask` on the reference image's features. `frame` = samFrame(reference original
 * size); the mask may be at any size covering that image. Throws MedpersamUserError EMPTY_REFERENCE_MASK when the
 * mask has no foreground.
 */
export function classPrototype(
  features: FeatureMap,
  frame: SamFrame,
  referenceMask: BinaryMask,
  opts: ClassPrototypeOptions = {},
): ClassPrototype {
  checkFeatureFrame(features, frame, 'classPrototype');
  let any = false;
  for (let i = 0; i < referenceMask.data.length; i++) {
    if (referenceMask.data[i] !== 0) {
      any = true;
      break;
    }
  }
  if (!any) {
    throw new MedpersamUserError('EMPTY_REFERENCE_MASK', 'the reference mask has no foreground pixel for this class');
  }
  let rule: MaskToGridRule = opts.maskToGrid ?? 'center';
  let weights = maskToGridWeights(referenceMask, frame, rule);
  let weightSum = 0;
  for (let i = 0; i < weights.length; i++) weightSum += weights[i]!;
  if (weightSum === 0 && rule === 'center') {
    rule = 'area';
    weights = maskToGridWeights(referenceMask, frame, rule);
    weightSum = 0;
    for (let i = 0; i < weights.length; i++) weightSum += weights[i]!;
  }
  const { channels, data } = features;
  const plane = features.gridWidth * features.gridHeight;
  const cells: number[] = [];
  for (let i = 0; i < plane; i++) if (weights[i]! > 0) cells.push(i);
  const prototype = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const base = c * plane;
    let s = 0;
    for (const i of cells) s += weights[i]! * data[base + i]!;
    prototype[c] = s / weightSum;
  }
  return { prototype, prototypeUnit: l2Normalize(prototype), maskToGridUsed: rule, cellsUsed: cells.length, weightSum };
}

/** v / ||v|| (a zero vector stays zero). */
export function l2Normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const n = Math.sqrt(s);
  const out = new Float32Array(v.length);
  if (n === 0) return out;
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / n;
  return out;
}
