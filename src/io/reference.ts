/**
 * Loading the one annotated example (the reference image and its mask) with the checks the method needs:
 * both files the same size ('SIZE_MISMATCH') and at least one foreground pixel ('EMPTY_REFERENCE_MASK'); the checks
 * are label-map.ts `checkReferencePair` (shared with the browser). Node-only (reads files).
 */
import type { ClassNames, LabelMap } from '../image/types.js';
import { readImage, type ReadImageResult } from './image.js';
import { checkReferencePair } from './label-map.js';
import { readLabelMap } from './mask.js';

export interface ReferencePair {
  image: ReadImageResult;
  label: LabelMap;
  /** Foreground classes present in the mask, sorted. */
  classesPresent: number[];
}

export interface ReadReferencePairOptions {
  /** Colour table for an RGB colour mask (see readLabelMap). */
  colorTable?: ReadonlyMap<string, number>;
  /** Slice of a 3D NIfTI / frame of a multi-frame DICOM, used for both files. */
  slice?: number;
}

export async function readReferencePair(
  imagePath: string,
  maskPath: string,
  classes?: ClassNames,
  opts: ReadReferencePairOptions = {},
): Promise<ReferencePair> {
  const image = await readImage(imagePath, { slice: opts.slice });
  const label = await readLabelMap(maskPath, { classes, colorTable: opts.colorTable, slice: opts.slice });
  const classesPresent = checkReferencePair(image.image, label, { image: imagePath, mask: maskPath });
  return { image, label, classesPresent };
}
