/**
 * Repeated-structure phantoms for the stress set (issue 20): what the spine and the teeth showed — similar objects
 * that differ only by their place in a row, each its own class, so that a registration shifted by one object still
 * matches the image well.
 *
 *  - 'stack' (lumbar-spine-like): a column of STACK_LEVELS similar blocks (bright rim, grey body, dark gaps) along a
 *    bent axis; the five central ones are classes 1–5, the others look the same and are unlabelled (the thoracic
 *    and sacral neighbours). Each image draws the curvature (axis bend ±15 % of the height), the aspect ratio
 *    (width 0.45–0.8 of the height: narrow AP crops) and the field of view (the column shifted along itself by up to
 *    ±0.6 of a level, and zoomed 0.85–1.15), so the labelled levels never sit at the same place.
 *  - 'teeth' (panoramic-like): two arches of TEETH_PER_ROW small similar ellipses (upper and lower), each its own
 *    class (2 × TEETH_PER_ROW classes), with the arch curvature, spacing and field of view drawn per image.
 * Grey values: body 140–170, rim 220, gaps and background 40, Gaussian noise σ 6; 8-bit scale. Deterministic per
 * (seed, patient). Pure: no file system.
 */
import { gaussianSource, mulberry32 } from '../../src/image/random.js';
import type { ClassNames, FloatImage, LabelMap } from '../../src/image/types.js';

export type RepeatedKind = 'stack' | 'teeth';
export const STACK_LEVELS = 9;
/** The labelled levels: the five central blocks of the column. */
export const STACK_LABELLED = 5;
export const TEETH_PER_ROW = 8;

export const STACK_CLASSES: ClassNames = new Map([[0, 'background'], ...Array.from({ length: STACK_LABELLED }, (_, k) => [k + 1, `L${k + 1}`] as [number, string])]);
export const TEETH_CLASSES: ClassNames = new Map([[0, 'background'], ...Array.from({ length: 2 * TEETH_PER_ROW }, (_, k) => [k + 1, `tooth_${k + 1}`] as [number, string])]);

export interface RepeatedPhantom {
  image: FloatImage;
  label: LabelMap;
}

/** One image of `kind` for (seed, patient), `height` px tall (stack: width from the drawn aspect; teeth: 2:1). */
export function generateRepeated(kind: RepeatedKind, seed: number, patient: number, height: number): RepeatedPhantom {
  const rand = mulberry32((seed * 7919 + patient * 104729 + (kind === 'stack' ? 1 : 2)) >>> 0);
  const uniform = (lo: number, hi: number): number => lo + (hi - lo) * rand();
  return kind === 'stack' ? stack(rand, uniform, height) : teeth(rand, uniform, height);
}

type Paint = (x: number, y: number) => { value: number; cls: number } | null;

function render(width: number, height: number, paint: Paint, noise: () => number): RepeatedPhantom {
  const data = new Float32Array(width * height);
  const labels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const hit = paint(x, y);
      data[y * width + x] = Math.min(255, Math.max(0, (hit ? hit.value : 40) + 6 * noise()));
      labels[y * width + x] = hit ? hit.cls : 0;
    }
  }
  return { image: { width, height, channels: 1, data }, label: { width, height, data: labels } };
}

function stack(rand: () => number, uniform: (lo: number, hi: number) => number, height: number): RepeatedPhantom {
  const width = Math.round(height * uniform(0.45, 0.8));
  const zoom = uniform(0.85, 1.15);
  const pitch = (height / (STACK_LABELLED + 1.2)) * zoom; // one level + its gap
  const offset = uniform(-0.6, 0.6) * pitch;
  const bend = uniform(-0.15, 0.15) * height;
  const halfWidth = Math.min(0.38 * width, 0.42 * pitch * uniform(1.1, 1.4));
  const bodies = Array.from({ length: STACK_LEVELS }, () => uniform(140, 170));
  const first = -(STACK_LEVELS - 1) / 2;
  const paint: Paint = (x, y) => {
    const v = (y - height / 2 - offset) / pitch; // position along the column in levels
    const level = Math.round(v);
    const k = level - first;
    if (k < 0 || k >= STACK_LEVELS) return null;
    const t = (y - height / 2) / height;
    const axis = width / 2 + bend * (4 * t * t - 1 / 3); // a parabola: the column's curvature
    const u = (x - axis) / halfWidth;
    const w = (v - level) / 0.36; // block half-height 0.36 of a level: gaps of 0.28
    const r = Math.max(Math.abs(u), Math.abs(w)) ** 4 + Math.min(Math.abs(u), Math.abs(w)) ** 4;
    if (r > 1) return null;
    const labelled = Math.abs(level) <= (STACK_LABELLED - 1) / 2;
    return { value: r > 0.55 ? 220 : bodies[k]!, cls: labelled ? level + (STACK_LABELLED + 1) / 2 : 0 };
  };
  return render(width, height, paint, gaussianSource(rand));
}

function teeth(rand: () => number, uniform: (lo: number, hi: number) => number, height: number): RepeatedPhantom {
  const width = 2 * height;
  const spread = uniform(0.7, 0.85) * width; // arch width
  const centreX = width / 2 + uniform(-0.05, 0.05) * width;
  const centreY = height / 2 + uniform(-0.06, 0.06) * height;
  const curve = uniform(0.08, 0.2) * height; // arch depth
  const spacing = spread / TEETH_PER_ROW;
  const toothW = spacing * 0.38;
  const toothH = uniform(0.16, 0.22) * height;
  const values = Array.from({ length: 2 * TEETH_PER_ROW }, () => uniform(170, 210));
  const paint: Paint = (x, y) => {
    const s = (x - centreX) / spread + 0.5; // 0..1 along the arch
    const slot = Math.floor(s * TEETH_PER_ROW);
    if (slot < 0 || slot >= TEETH_PER_ROW) return null;
    const sx = centreX + (slot + 0.5) * spacing - spread / 2;
    const a = (sx - centreX) / (spread / 2);
    const rise = curve * a * a;
    for (const row of [0, 1] as const) {
      // Both rows follow one smile-shaped arch (the ends higher), as on a panoramic image.
      const sy = (row === 0 ? centreY - 0.55 * toothH - 4 : centreY + 0.55 * toothH + 4) - rise;
      const e = ((x - sx) / toothW) ** 2 + ((y - sy) / (toothH / 2)) ** 2;
      if (e <= 1) {
        const index = row * TEETH_PER_ROW + slot;
        return { value: e > 0.6 ? 235 : values[index]!, cls: index + 1 };
      }
    }
    return null;
  };
  return render(width, height, paint, gaussianSource(rand));
}
