/**
 * Loading the one annotated example (the reference image and its mask) with the checks the method needs:
 * both files the same size ('SIZE_MISMATCH') and at least one foreground pixel ('EMPTY_REFERENCE_MASK').
 */
import { MedpersamUserError } from '../errors.js';
import type { ClassNames, LabelMap } from '../image/types.js';
import { readImage, type ReadImageResult } from './image.js';
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
  if (label.width !== image.image.width || label.height !== image.image.height) {
    throw new MedpersamUserError(
      'SIZE_MISMATCH',
      `reference mask ${maskPath} is ${label.width}x${label.height} but reference image ${imagePath} is ` +
        `${image.image.width}x${image.image.height}; they must be the same size`,
      { file: maskPath },
    );
  }
  const present = new Uint8Array(256);
  for (const v of label.data) present[v] = 1;
  const classesPresent: number[] = [];
  for (let v = 1; v < 256; v++) if (present[v]) classesPresent.push(v);
  if (classesPresent.length === 0) {
    throw new MedpersamUserError(
      'EMPTY_REFERENCE_MASK',
      'the reference mask has no foreground pixels (all 0): the one annotated example must mark at least one class',
      { file: maskPath },
    );
  }
  return { image, label, classesPresent };
}
