/**
 * Point selection on a similarity map (Eq. 10): the most similar pixel of each positive subregion, the least similar
 * of each negative subregion; and the top-k variants used by the ablations (Table 7).
 * Ties go to the lowest raster index, so the output is deterministic. NaN never wins (if a whole set is NaN, its
 * first pixel is taken).
 */

/** Raster index of the highest similarity among `indices` (ascending), or -1 when empty. */
export function argMaxIn(similarity: Float32Array, indices: ArrayLike<number>): number {
  if (indices.length === 0) return -1;
  let best = indices[0]!;
  let bestValue = -Infinity;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    const v = similarity[i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/** Raster index of the lowest similarity among `indices` (ascending), or -1 when empty. */
export function argMinIn(similarity: Float32Array, indices: ArrayLike<number>): number {
  if (indices.length === 0) return -1;
  let best = indices[0]!;
  let bestValue = Infinity;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    const v = similarity[i]!;
    if (v < bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/**
 * The k raster indices with the highest ('max') or lowest ('min') similarity, best first; ties by lowest index.
 * `indices` (ascending) restricts the search; when omitted every pixel of `similarity` is a candidate.
 * O(N * k), meant for small k (prompt counts).
 */
export function topKIndices(
  similarity: Float32Array,
  k: number,
  order: 'max' | 'min',
  indices?: ArrayLike<number>,
): number[] {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`topKIndices: k must be an integer >= 0, got ${k}`);
  const n = indices ? indices.length : similarity.length;
  const sign = order === 'max' ? 1 : -1;
  const keptIdx: number[] = [];
  const keptVal: number[] = [];
  if (k === 0) return keptIdx;
  for (let t = 0; t < n; t++) {
    const i = indices ? indices[t]! : t;
    const raw = similarity[i]!;
    // NaN ranks below every number (for both orders).
    const v = Number.isNaN(raw) ? -Infinity : sign * raw;
    if (keptIdx.length === k && !(v > keptVal[k - 1]!)) continue;
    // Insert after every kept value >= v (strict >: an equal later index ranks after the earlier one).
    let pos = keptIdx.length;
    while (pos > 0 && keptVal[pos - 1]! < v) pos--;
    keptIdx.splice(pos, 0, i);
    keptVal.splice(pos, 0, v);
    if (keptIdx.length > k) {
      keptIdx.pop();
      keptVal.pop();
    }
  }
  return keptIdx;
}
