/**
 * Decoder prompt inputs built from prompts in the original image frame (official decoder export inputs). Pure.
 * Callers always speak original pixel coordinates; the frame maths is frames.ts's.
 *
 *  - points:  xySam1024 = (x · resizedW / W, y · resizedH / H)   (frames.ts `xyOriginalToXySam1024`;
 *             pixel indices are passed as they are — the graph adds 0.5 itself)
 *  - box:     two extra points after the clicks: (x0,y0) label 2, (x1,y1) label 3, then NO padding point;
 *             without a box one padding point (0,0) label -1 is appended.
 *  - mask:    `mask_input` [1,1,256,256] in the padded 1024 frame: the mask at original size is resized with the
 *             same longest-side scale, padded bottom/right with the background logit, and area-averaged to 256²
 *             (done in one exact separable box-filter pass, image/resize `resampleAreaSeparable`: 256-cell u
 *             covers 1024-frame [4u, 4u+4)).
 *             Binary masks become logits ±maskPromptLogit (default ±20, the range of SAM's own confident
 *             low-res logits; the mask encoder's LayerNorm makes the exact magnitude matter little). A binary
 *             mask may come as a smaller mask's nearest enlargement ('binaryEnlarged'): same input, from its runs.
 *
 * Validation: points and box corners outside the image raise PROMPT_OUTSIDE_IMAGE (an error, not a clamp: a
 * prompt outside the image means a frame mix-up upstream, which clamping would hide). No points, no box and no
 * mask raise EMPTY_PROMPT.
 */
import { MedpersamUserError } from '../errors.js';
import { enlargedRowRuns, type EnlargedMask } from '../image/enlarged.js';
import { areaTaps, resampleAreaSeparable } from '../image/resize.js';
import type { Box, LabeledPoint } from '../image/types.js';
import { SAM_LONG_SIDE, SAM_LOW_RES, xyOriginalToXySam1024, type SamFrame, type XY } from './frames.js';
import type { SamMaskPrompt, SamPrompts } from './types.js';

export const DEFAULT_MASK_PROMPT_LOGIT = 20;

/** Decoder point inputs: `point_coords` [1,N,2] (sam1024 frame) and `point_labels` [1,N]. */
export interface SamPointInputs {
  coordsSam1024: Float32Array;
  labels: Float32Array;
  count: number;
}

export function buildPointInputs(pointsOriginal: readonly LabeledPoint[], boxOriginal: Box | undefined, frame: SamFrame): SamPointInputs {
  const count = pointsOriginal.length + (boxOriginal ? 2 : 1);
  const coordsSam1024 = new Float32Array(count * 2);
  const labels = new Float32Array(count);
  let n = 0;
  const put = (p: XY, label: number) => {
    const s = xyOriginalToXySam1024(p, frame);
    coordsSam1024[2 * n] = s.x;
    coordsSam1024[2 * n + 1] = s.y;
    labels[n++] = label;
  };
  for (const p of pointsOriginal) put(p, p.label);
  if (boxOriginal) {
    put({ x: boxOriginal.x0, y: boxOriginal.y0 }, 2);
    put({ x: boxOriginal.x1, y: boxOriginal.y1 }, 3);
  } else {
    // Padding point (0,0) label -1 (stays (0,0) in every frame).
    coordsSam1024[2 * n] = 0;
    coordsSam1024[2 * n + 1] = 0;
    labels[n++] = -1;
  }
  return { coordsSam1024, labels, count };
}

/**
 * SAM 2's point inputs (SAM2ImagePredictor's order): the box corners first (labels 2, 3), then the clicks; no padding
 * point, as the SAM 2 decoder graph always appends one itself. Coordinates in the squashed 1024 frame.
 */
export function buildSam2PointInputs(pointsOriginal: readonly LabeledPoint[], boxOriginal: Box | undefined, frame: SamFrame): SamPointInputs {
  const corners = boxOriginal
    ? [
        { x: boxOriginal.x0, y: boxOriginal.y0, label: 2 },
        { x: boxOriginal.x1, y: boxOriginal.y1, label: 3 },
      ]
    : [];
  const ordered: { x: number; y: number; label: number }[] = [...corners, ...pointsOriginal];
  const coordsSam1024 = new Float32Array(ordered.length * 2);
  const labels = new Float32Array(ordered.length);
  ordered.forEach((p, n) => {
    const s = xyOriginalToXySam1024(p, frame);
    coordsSam1024[2 * n] = s.x;
    coordsSam1024[2 * n + 1] = s.y;
    labels[n] = p.label;
  });
  return { coordsSam1024, labels, count: ordered.length };
}

/** Original-size plane (W·H) → padded-1024 frame at 256×256, uncovered parts = padValue. */
export function planeOriginalToSam256(plane: Float32Array | Uint8Array, frame: SamFrame, padValue: number): Float32Array {
  const { originalWidth: w, originalHeight: h } = frame;
  const cell = SAM_LONG_SIDE / SAM_LOW_RES; // 4 pixels of the 1024 frame per 256 cell
  // One 256 cell spans `cell / ratio` original pixels along each axis (ratio = resized / original).
  const wx = areaTaps(w, SAM_LOW_RES, cell / (frame.resizedWidth / w));
  const wy = areaTaps(h, SAM_LOW_RES, cell / (frame.resizedHeight / h));
  return resampleAreaSeparable(plane, w, h, 1, wx, wy, padValue);
}

/**
 * Adds foreground runs of a W×H binary mask (original frame) into the area-weighted foreground fraction of each
 * 256 cell (padding = background). A run [start, end) of row y adds its overlap with every cell it touches; rows
 * must come in order (y = 0..H-1) and each row's runs left to right, so that every cell sums the same terms in the
 * same order whoever found the runs.
 */
function fractionAccumulator(frame: SamFrame): { out: Float32Array; addRun: (y: number, start: number, end: number) => void } {
  const { originalWidth: w, originalHeight: h } = frame;
  const cell = SAM_LONG_SIDE / SAM_LOW_RES;
  const spanX = cell / (frame.resizedWidth / w); // original pixels per 256 cell along x
  const wy = areaTaps(h, SAM_LOW_RES, cell / (frame.resizedHeight / h));
  // Transpose the vertical taps: source row y → the cells it falls in (usually 1 or 2) with their weights,
  // so each foreground run is added straight into the output (no intermediate h×256 pass).
  const rowOffset = new Int32Array(h + 1);
  for (let k = 0; k < wy.idx.length; k++) rowOffset[wy.idx[k]! + 1]++;
  for (let y = 0; y < h; y++) rowOffset[y + 1] += rowOffset[y]!;
  const rowCell = new Int32Array(wy.idx.length);
  const rowWeight = new Float32Array(wy.idx.length);
  const fill = rowOffset.slice(0, h);
  for (let o = 0; o < SAM_LOW_RES; o++) {
    for (let k = wy.start[o]!; k < wy.start[o + 1]!; k++) {
      const at = fill[wy.idx[k]!]!++;
      rowCell[at] = o * SAM_LOW_RES;
      rowWeight[at] = wy.wt[k]!;
    }
  }
  const out = new Float32Array(SAM_LOW_RES * SAM_LOW_RES);
  const addRun = (y: number, start: number, end: number) => {
    const o1 = Math.min(SAM_LOW_RES - 1, Math.floor((end - 1e-9) / spanX));
    const r0 = rowOffset[y]!;
    const r1 = rowOffset[y + 1]!;
    for (let o = Math.floor(start / spanX); o <= o1; o++) {
      const overlap = (Math.min(end, (o + 1) * spanX) - Math.max(start, o * spanX)) / spanX;
      if (overlap > 0) for (let r = r0; r < r1; r++) out[rowCell[r]! + o] += rowWeight[r]! * overlap;
    }
  };
  return { out, addRun };
}

/**
 * Area-weighted foreground fraction of each 256 cell (padding = background) for a binary mask at original size.
 * Same result as `planeOriginalToSam256(mask, frame, 0)`, computed from the runs of foreground pixels of each row
 * (a byte scan instead of multiply-adds over every pixel: this runs once per decoder call).
 */
export function binaryFractionSam256(mask: Uint8Array, frame: SamFrame): Float32Array {
  const { originalWidth: w, originalHeight: h } = frame;
  const { out, addRun } = fractionAccumulator(frame);
  // 4 bytes at a time where possible (all-background / all-foreground words), byte by byte elsewhere.
  const words = mask.byteOffset % 4 === 0 ? new Uint32Array(mask.buffer, mask.byteOffset, mask.length >>> 2) : null;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    const end = row + w;
    let runStart = -1;
    let i = row;
    while (i < end) {
      if (words !== null && (i & 3) === 0 && i + 4 <= end) {
        const word = words[i >>> 2]!;
        if (word === 0) {
          if (runStart >= 0) {
            addRun(y, runStart, i - row);
            runStart = -1;
          }
          i += 4;
          continue;
        }
        if (word === 0x01010101) {
          if (runStart < 0) runStart = i - row;
          i += 4;
          continue;
        }
      }
      if (mask[i] !== 0) {
        if (runStart < 0) runStart = i - row;
      } else if (runStart >= 0) {
        addRun(y, runStart, i - row);
        runStart = -1;
      }
      i++;
    }
    if (runStart >= 0) addRun(y, runStart, w);
  }
  return out;
}

/**
 * `binaryFractionSam256` of an enlarged mask (image/enlarged.ts) at the original size, from the small mask's row
 * runs (the same runs in the same order, so the same sums): no W×H mask built or scanned.
 */
export function binaryFractionSam256Enlarged(mask: EnlargedMask, frame: SamFrame): Float32Array {
  const { out, addRun } = fractionAccumulator(frame);
  const rows = enlargedRowRuns(mask);
  for (let y = 0; y < rows.length; y++) {
    const runs = rows[y]!;
    for (let k = 0; k < runs.length; k += 2) addRun(y, runs[k]!, runs[k + 1]!);
  }
  return out;
}

/** Build `mask_input` (65536 floats) from a mask prompt. */
export function buildMaskInput(prompt: SamMaskPrompt, frame: SamFrame, maskPromptLogit = DEFAULT_MASK_PROMPT_LOGIT): Float32Array {
  const n = frame.originalWidth * frame.originalHeight;
  if (prompt.kind === 'logits256') {
    if (prompt.logits.length !== SAM_LOW_RES * SAM_LOW_RES) {
      throw new MedpersamUserError('MASK_PROMPT_SIZE_MISMATCH', `logits256 mask prompt has ${prompt.logits.length} values, expected 256×256 = 65536`);
    }
    return prompt.logits;
  }
  if (prompt.kind === 'logitsOriginal') {
    if (prompt.logits.length !== n) {
      throw new MedpersamUserError(
        'MASK_PROMPT_SIZE_MISMATCH',
        `logitsOriginal mask prompt has ${prompt.logits.length} values, expected ${frame.originalWidth}×${frame.originalHeight} = ${n}`,
      );
    }
    return planeOriginalToSam256(prompt.logits, frame, -maskPromptLogit);
  }
  if (prompt.kind === 'binaryEnlarged') {
    const e = prompt.mask;
    if (e.width !== frame.originalWidth || e.height !== frame.originalHeight) {
      throw new MedpersamUserError(
        'MASK_PROMPT_SIZE_MISMATCH',
        `mask prompt is enlarged to ${e.width}×${e.height} but the image is ${frame.originalWidth}×${frame.originalHeight}`,
      );
    }
    const fraction = binaryFractionSam256Enlarged(e, frame);
    for (let i = 0; i < fraction.length; i++) fraction[i] = maskPromptLogit * (2 * fraction[i]! - 1);
    return fraction;
  }
  const m = prompt.mask;
  if (m.width !== frame.originalWidth || m.height !== frame.originalHeight || m.data.length !== n) {
    throw new MedpersamUserError(
      'MASK_PROMPT_SIZE_MISMATCH',
      `mask prompt is ${m.width}×${m.height} but the image is ${frame.originalWidth}×${frame.originalHeight}; give the mask at the image's original size`,
    );
  }
  // Area-weighted foreground fraction p per cell (padding counts as background), then the mean of ±L
  // over the cell = L·(2p - 1): same result as resampling the ±L plane, without building it.
  const fraction = binaryFractionSam256(m.data, frame);
  for (let i = 0; i < fraction.length; i++) fraction[i] = maskPromptLogit * (2 * fraction[i]! - 1);
  return fraction;
}

function outside(x: number, y: number, w: number, h: number): boolean {
  return !(Number.isFinite(x) && Number.isFinite(y)) || x < 0 || y < 0 || x > w - 1 || y > h - 1;
}

/** Reject empty prompt sets and prompts outside the image (see the module comment). */
export function validatePrompts(prompts: SamPrompts, width: number, height: number): void {
  const points = prompts.pointsOriginal ?? [];
  if (points.length === 0 && !prompts.boxOriginal && !prompts.maskPrompt) {
    throw new MedpersamUserError('EMPTY_PROMPT', 'no prompt given: SAM needs at least one point, a box or a mask prompt');
  }
  for (const p of points) {
    if (outside(p.x, p.y, width, height)) {
      throw new MedpersamUserError(
        'PROMPT_OUTSIDE_IMAGE',
        `point (${p.x}, ${p.y}) lies outside the ${width}×${height} image (valid: 0..${width - 1}, 0..${height - 1}, original pixel coordinates)`,
      );
    }
    if (p.label !== 0 && p.label !== 1) {
      throw new MedpersamUserError('INVALID_PROMPT', `point (${p.x}, ${p.y}) has label ${String(p.label)}; use 1 (positive) or 0 (negative)`);
    }
  }
  const b = prompts.boxOriginal;
  if (b) {
    if (outside(b.x0, b.y0, width, height) || outside(b.x1, b.y1, width, height)) {
      throw new MedpersamUserError(
        'PROMPT_OUTSIDE_IMAGE',
        `box (${b.x0}, ${b.y0})–(${b.x1}, ${b.y1}) reaches outside the ${width}×${height} image (original pixel coordinates)`,
      );
    }
    if (b.x1 < b.x0 || b.y1 < b.y0) {
      throw new MedpersamUserError('INVALID_PROMPT', `box (${b.x0}, ${b.y0})–(${b.x1}, ${b.y1}) has its corners swapped (need x0 ≤ x1, y0 ≤ y1)`);
    }
  }
}

/**
 * Which decoder outputs to return. K = 4 exports: index 0 is the single-mask token, 1..3 the multimask outputs.
 * K = 1 exports (`--return-single-mask`): only index 0, whatever `multimask` says.
 */
export function selectDecoderOutputs(k: number, multimask: boolean): number[] {
  if (k >= 4 && multimask) return [1, 2, 3];
  return [0];
}

/**
 * SAM 2 exports (K = 3, the multimask tokens only; no single-mask output): all three with `multimask`, else the one
 * with the highest predicted IoU (the first on ties) — what SAM 2's demos and samexporter's inference keep.
 */
export function selectSam2DecoderOutputs(iouScores: ArrayLike<number>, k: number, multimask: boolean): number[] {
  if (multimask) return Array.from({ length: k }, (_, i) => i);
  let best = 0;
  for (let i = 1; i < k; i++) if (iouScores[i]! > iouScores[best]!) best = i;
  return [best];
}
