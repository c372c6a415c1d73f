/**
 * Candidate regions (Eqs. 5–7):
 *   R_pos = Erosion(M, k_e)                         (Eq. 5)  positives from a region of high certainty
 *   M_dil = Dilation(M, k_d)                        (Eq. 6)
 *   R_neg = M_dil \ Erosion(M, k_e)   (default)     (Eq. 7)  "the difference area of the eroded and dilated masks":
 *                                                            a band straddling the boundary, "hard negatives"
 *       or  M_dil \ M                 (option 'dilate-minus-mask')
 *
 * Kernel radii: absolute when given, else relative to the object: max(1, round(fraction * rho)) with
 * rho = 2 * area / boundaryPixels (≈ the inscribed radius of a compact shape: R for a disk of radius R, s/2 for an
 * s x s square; the same for N copies of one shape, so several components do not inflate it; thin shapes get a
 * small rho). Boundary pixels: foreground pixels with a 4-neighbour that is background or outside the image.
 *
 * Morphology runs on the mask's bounding box grown by the dilation radius + 1 (exact, see crop.ts).
 *
 * Fallbacks:
 *  - erosion empties the mask → halve the radius until the erosion is non-empty ('erosion-shrunk');
 *    at radius 0, R_pos = M itself ('erosion-empty-used-mask').
 *  - R_neg empty (e.g. the mask fills the image) → the background outside M ('band-empty-used-background');
 *    if that is empty too there are no negatives ('no-negative-region').
 */
import { boundingBox } from '../image/components.js';
import { countForeground } from '../image/labels.js';
import { dilate, erode, type KernelShape } from '../image/morphology.js';
import type { BinaryMask } from '../image/types.js';
import { cropMask, expandBox, pasteMask } from './crop.js';
import type { CandidateRegionOptions, NegativeBand } from './types.js';

export const DEFAULT_EROSION_FRACTION = 0.2;
export const DEFAULT_DILATION_FRACTION = 0.1;

export interface CandidateRegions {
  positiveRegion: BinaryMask;
  negativeRegion: BinaryMask;
  positivePixels: number;
  negativePixels: number;
  maskPixels: number;
  characteristicRadius: number;
  erosionRadiusRequested: number;
  erosionRadiusUsed: number;
  dilationRadiusUsed: number;
  kernelShape: KernelShape;
  negativeBand: NegativeBand;
  fallbacks: string[];
}

/** Foreground pixel count: image/labels `countForeground`, under the name existing callers (pipeline) use. */
export const countOn: (mask: BinaryMask) => number = countForeground;

/** rho = 2 * area / boundaryPixels (0 for an empty mask). */
export function characteristicRadius(mask: BinaryMask): number {
  const { width: w, height: h, data } = mask;
  let area = 0;
  let boundary = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (data[i] === 0) continue;
      area++;
      if (x === 0 || x === w - 1 || y === 0 || y === h - 1 || data[i - 1] === 0 || data[i + 1] === 0 || data[i - w] === 0 || data[i + w] === 0) {
        boundary++;
      }
    }
  }
  return boundary === 0 ? 0 : (2 * area) / boundary;
}

function checkRadius(name: string, r: number | undefined): void {
  if (r !== undefined && !(Number.isInteger(r) && r >= 0)) {
    throw new RangeError(`candidate regions: ${name} must be an integer >= 0, got ${r}`);
  }
}

/** Eqs. 5–7 with the fallbacks above. */
export function candidateRegions(mask: BinaryMask, opts: CandidateRegionOptions = {}): CandidateRegions {
  checkRadius('erosionRadius', opts.erosionRadius);
  checkRadius('dilationRadius', opts.dilationRadius);
  const shape: KernelShape = opts.kernelShape ?? 'disk';
  const band: NegativeBand = opts.negativeBand ?? 'dilate-minus-erode';
  const { width, height } = mask;
  const n = width * height;
  const maskPixels = countForeground(mask);
  const rho = characteristicRadius(mask);
  const relative = (fraction: number) => Math.max(1, Math.round(fraction * rho));
  const erosionRadiusRequested = opts.erosionRadius ?? relative(opts.erosionFraction ?? DEFAULT_EROSION_FRACTION);
  const dilationRadius = opts.dilationRadius ?? relative(opts.dilationFraction ?? DEFAULT_DILATION_FRACTION);
  const fallbacks: string[] = [];

  // Work on the bounding box + (dilation radius + 1): identical results, far fewer pixels.
  const bbox = boundingBox(mask) ?? { x0: 0, y0: 0, x1: width - 1, y1: height - 1 };
  const cropBox = expandBox(bbox, dilationRadius + 1, width, height);
  const cropped = cropMask(mask, cropBox);

  // Eq. 5, shrinking the kernel until the erosion keeps something.
  let erosionRadiusUsed = erosionRadiusRequested;
  let positiveCrop = erode(cropped, { shape, radius: erosionRadiusUsed });
  let positivePixels = countForeground(positiveCrop);
  if (positivePixels === 0 && maskPixels > 0) {
    while (positivePixels === 0 && erosionRadiusUsed > 0) {
      erosionRadiusUsed = Math.floor(erosionRadiusUsed / 2);
      positiveCrop = erode(cropped, { shape, radius: erosionRadiusUsed });
      positivePixels = countForeground(positiveCrop);
    }
    fallbacks.push(erosionRadiusUsed > 0 ? 'erosion-shrunk' : 'erosion-empty-used-mask');
  }

  // Eqs. 6–7.
  const dilatedCrop = dilate(cropped, { shape, radius: dilationRadius });
  const inner = band === 'dilate-minus-erode' ? positiveCrop.data : cropped.data;
  const bandCrop = new Uint8Array(dilatedCrop.data.length);
  let negativePixels = 0;
  for (let i = 0; i < bandCrop.length; i++) {
    if (dilatedCrop.data[i] !== 0 && inner[i] === 0) {
      bandCrop[i] = 1;
      negativePixels++;
    }
  }
  const positiveRegion = pasteMask(positiveCrop, cropBox, width, height);
  const negData = pasteMask({ width: cropped.width, height: cropped.height, data: bandCrop }, cropBox, width, height).data;
  if (negativePixels === 0 && maskPixels > 0) {
    for (let i = 0; i < n; i++) {
      if (mask.data[i] === 0) {
        negData[i] = 1;
        negativePixels++;
      }
    }
    fallbacks.push(negativePixels > 0 ? 'band-empty-used-background' : 'no-negative-region');
  }
  return {
    positiveRegion,
    negativeRegion: { width, height, data: negData },
    positivePixels,
    negativePixels,
    maskPixels,
    characteristicRadius: rho,
    erosionRadiusRequested,
    erosionRadiusUsed,
    dilationRadiusUsed: dilationRadius,
    kernelShape: shape,
    negativeBand: band,
    fallbacks,
  };
}
