/**
 * Small conversions between label maps (0 = background, 1..K = classes) and binary masks.
 * Pure typed-array code, no tensors, browser-safe.
 */
import type { BinaryMask, LabelMap } from './types.js';

/** Throws a RangeError when `data.length !== width * height` (a programming error, not user input). */
export function assertPlaneSize(what: string, m: { width: number; height: number; data: ArrayLike<number> }): void {
  if (!Number.isInteger(m.width) || !Number.isInteger(m.height) || m.width < 0 || m.height < 0) {
    throw new RangeError(`${what}: invalid size ${m.width}x${m.height}`);
  }
  if (m.data.length !== m.width * m.height) {
    throw new RangeError(`${what}: data length ${m.data.length} does not match ${m.width}x${m.height}`);
  }
}

/** Mask of the pixels whose label equals `cls` (1 there, 0 elsewhere). */
export function binaryOfClass(label: LabelMap, cls: number): BinaryMask {
  return binaryOfClassCounted(label, cls).mask;
}

/** `binaryOfClass` and its number of foreground pixels, in one pass. */
export function binaryOfClassCounted(label: LabelMap, cls: number): { mask: BinaryMask; pixels: number } {
  assertPlaneSize('binaryOfClass', label);
  const src = label.data;
  const out = new Uint8Array(src.length);
  let pixels = 0;
  for (let i = 0; i < src.length; i++) {
    if (src[i] === cls) {
      out[i] = 1;
      pixels++;
    }
  }
  return { mask: { width: label.width, height: label.height, data: out }, pixels };
}

/** Foreground classes that occur in the label map, ascending, without 0. */
export function classesPresent(label: LabelMap): number[] {
  assertPlaneSize('classesPresent', label);
  const seen = new Uint8Array(256);
  const src = label.data;
  for (let i = 0; i < src.length; i++) seen[src[i]!] = 1;
  const out: number[] = [];
  for (let c = 1; c < 256; c++) if (seen[c]) out.push(c);
  return out;
}

/** Number of non-zero pixels of a mask (or label map). */
export function countForeground(mask: BinaryMask): number {
  const src = mask.data;
  let n = 0;
  for (let i = 0; i < src.length; i++) if (src[i] !== 0) n++;
  return n;
}
