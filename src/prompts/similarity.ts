/**
 * Cosine similarity between the class prototype and every test feature (§3.2, as in PerSAM), on the feature grid,
 * then brought to a mask-prompt frame by bilinear interpolation with the padding cropped.
 *
 * PerSAM upsamples the 64x64 map x4, then to the padded 1024 frame, crops the image part and resizes it to the
 * original size (three bilinear steps). We sample the grid once per output pixel: the centre of output pixel x in a
 * W-wide mask frame sits at X = (x + 0.5) * resizedWidth / W in the sam1024 frame, i.e. at grid coordinate
 * X / cellSize - 0.5 (cell centres at integers), interpolated bilinearly with edge clamping. Same map up to the
 * small differences of chaining bilinear resizes.
 */
import type { SamFrame } from '../sam/frames.js';
import { checkFeatureFrame, type FeatureMap } from './prototype.js';

/**
 * Squared norm of every cell's feature vector (raster order), summed over the channels in order in float64: what
 * `cosineSimilarityGrid` divides by. One image's classes share it.
 */
export function featureSquaredNorms(features: FeatureMap): Float64Array {
  const { channels, data } = features;
  const plane = features.gridWidth * features.gridHeight;
  const norm2 = new Float64Array(plane);
  for (let c = 0; c < channels; c++) {
    const base = c * plane;
    for (let i = 0; i < plane; i++) {
      const f = data[base + i]!;
      norm2[i]! += f * f;
    }
  }
  return norm2;
}

/**
 * cos(prototype, feature[cell]) for every grid cell (raster order, gridWidth * gridHeight). A zero feature vector
 * (or a zero prototype) gives 0. `squaredNorms`: the features' `featureSquaredNorms`, when the caller has them.
 */
export function cosineSimilarityGrid(features: FeatureMap, prototype: Float32Array, squaredNorms?: Float64Array): Float32Array {
  const { channels, data } = features;
  if (prototype.length !== channels) {
    throw new RangeError(`cosineSimilarityGrid: prototype has ${prototype.length} channels, features ${channels}`);
  }
  const plane = features.gridWidth * features.gridHeight;
  if (squaredNorms && squaredNorms.length !== plane) {
    throw new RangeError(`cosineSimilarityGrid: ${squaredNorms.length} squared norms for ${plane} cells`);
  }
  const norm2 = squaredNorms ?? featureSquaredNorms(features);
  const dot = new Float64Array(plane);
  let pNorm2 = 0;
  for (let c = 0; c < channels; c++) {
    const p = prototype[c]!;
    pNorm2 += p * p;
    const base = c * plane;
    for (let i = 0; i < plane; i++) dot[i]! += p * data[base + i]!;
  }
  const pNorm = Math.sqrt(pNorm2);
  const out = new Float32Array(plane);
  for (let i = 0; i < plane; i++) {
    const d = pNorm * Math.sqrt(norm2[i]!);
    out[i] = d > 0 ? dot[i]! / d : 0;
  }
  return out;
}

/** Per output index along one axis: the two grid samples and the weight of the second. */
function axisTaps(outSize: number, resized: number, cellSize: number, gridSize: number) {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w1 = new Float32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const g = ((o + 0.5) * resized) / outSize / cellSize - 0.5;
    const gc = Math.min(gridSize - 1, Math.max(0, g));
    const lo = Math.floor(gc);
    const hi = Math.min(gridSize - 1, lo + 1);
    i0[o] = lo;
    i1[o] = hi;
    w1[o] = gc - lo;
  }
  return { i0, i1, w1 };
}

/**
 * A grid map (gridSize x gridSize over the padded frame) → a width x height map over the image (a mask-prompt frame
 * covering the whole original image), bilinear, padding cropped.
 */
export function gridMapToMaskFrame(gridMap: Float32Array, frame: SamFrame, width: number, height: number): Float32Array {
  const g = frame.gridSize;
  if (gridMap.length !== g * g) throw new RangeError(`gridMapToMaskFrame: map length ${gridMap.length} != ${g}*${g}`);
  const tx = axisTaps(width, frame.resizedWidth, frame.cellSize, g);
  const ty = axisTaps(height, frame.resizedHeight, frame.cellSize, g);
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const r0 = ty.i0[y]! * g;
    const r1 = ty.i1[y]! * g;
    const wy = ty.w1[y]!;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const a = tx.i0[x]!;
      const b = tx.i1[x]!;
      const wx = tx.w1[x]!;
      const top = gridMap[r0 + a]! + wx * (gridMap[r0 + b]! - gridMap[r0 + a]!);
      const bottom = gridMap[r1 + a]! + wx * (gridMap[r1 + b]! - gridMap[r1 + a]!);
      out[row + x] = top + wy * (bottom - top);
    }
  }
  return out;
}

export interface SimilarityMaps {
  /** Cosine similarity per grid cell (gridSize x gridSize, over the padded frame). */
  grid: Float32Array;
  /** The same, bilinearly resampled to width x height over the image (padding cropped). */
  map: Float32Array;
  width: number;
  height: number;
}

/**
 * Cosine similarity of the prototype to the TEST image's features (`frame` = samFrame(test original size)),
 * returned on the grid and in a width x height mask-prompt frame (default: the test image's original size).
 * `squaredNorms`: the features' `featureSquaredNorms` (shared by an image's classes), computed here when absent.
 */
export function cosineSimilarityMap(
  features: FeatureMap,
  prototype: Float32Array,
  frame: SamFrame,
  width: number = frame.originalWidth,
  height: number = frame.originalHeight,
  squaredNorms?: Float64Array,
): SimilarityMaps {
  checkFeatureFrame(features, frame, 'cosineSimilarityMap');
  const grid = cosineSimilarityGrid(features, prototype, squaredNorms);
  return { grid, map: gridMapToMaskFrame(grid, frame, width, height), width, height };
}
