/**
 * When the region-of-interest (local) warp stage runs, and on which crops.
 *
 * The global warp sees every image on one R×R working grid (R = 128 in the `cpu` preset): an object 20 px across
 * in a 512 px image is 5 working pixels there, a 4 px thick ring is one. Such objects get a crop of the reference
 * (xyRefOriginal, roi-frames.ts) that a second warp model refines at a finer scale.
 *
 * Objects are the 8-connected components of each class of the reference label (the warped reference masks have the
 * same objects). Per object, in the reference's own pixels:
 *   extent    = longest side of its bounding box / the image's side along that axis;
 *   thickness = 2 · area / boundary pixels (≈ the width of a band or ring, the radius of a disc);
 *   elongation = longest side of its bounding box / thickness (a disc or a square: 2; a band: its length over its
 *                width, several times more);
 * thicknessFraction = thickness / max(W, H) (the structure's own thickness in the image, whatever the grid), and on
 * the global working grid thicknessWorkingPx = thickness · R / max(W, H) = thicknessFraction · R.
 * An object is `small` when extent ≤ smallExtent, `thin` when it is thin both in the image (thicknessFraction ≤
 * thinImageFraction) and on the grid in use (thicknessWorkingPx ≤ thinWorkingPx), with elongation ≥ minElongation
 * and extent ≤ thinMaxExtent (a long thin structure still gets a crop that is much smaller than the image).
 * thinWorkingPx = 8: a band no thicker than one window of the global similarity loss (7 px SSIM, 9 px NCC) has
 * both edges inside one window, so the global loss sees it as a line and its smooth flow cannot move it apart from
 * the anatomy around it; a band the grid in use already resolves (thicker than that, e.g. on a 256 px grid) needs no
 * crop. thinImageFraction = 8 / 128 = 0.0625: the same window on the default 128 px grid (the `cpu` preset), i.e. a
 * band is thin only if even the default grid sees it as a line. Without it, thinness would follow the grid alone:
 * on the tests' coarse 32 px grid a phantom lung (thickness 0.13–0.21 of the image, 4–7 grid px) counts as thin and
 * the stage runs on an organ the default grid resolves at 16–27 px. minElongation = 3 keeps compact shapes out (on
 * a coarse grid a whole organ can be a few working pixels thick; it is not a band). Measured at R = 128 (every 4th of
 * 247 JSRT masks): clavicles 3.6–7.0 working px thick (0.028–0.055 of the image), elongation 3.9–8.7, lungs and
 * heart 14.2–28.7 working px thick (≥ 0.11), extent ≥ 0.29: a cheap geometric pre-filter that keeps large organs
 * out of the stage and its cost.
 * With the reference image, each object's outline contrast is measured too (recorded, not a gate by default): at
 * every outline pixel, the difference between the mean grey value of the object's pixels and of the other pixels
 * within one global working pixel (a (2r+1)² window), averaged over the outline and divided by the image's 1st–99th
 * percentile range. Until issue 21 an object needed 0.15 to trigger; that threshold sat between two kinds of images
 * (JSRT's carved apex / angle / lung-border patches 0.039–0.066, the phantoms' targets 0.27–0.48); with the
 * earlier 3 px thin threshold it kept the stage off the clavicles (reference JPCLN001: 4.7 and 4.4 working px thick,
 * extent 0.22 / 0.20, outline contrast 0.032 / 0.031), where forcing the stage gained 12 points (issue 21). Now the geometry (small or thin) only says which objects
 * are candidates, and whether a candidate's crop model helps is decided from the run's own held-out images
 * (roi-evidence.ts, roi-stage.ts); minOutlineContrast (default 0) remains as an optional extra filter.
 * Mode 'auto' crops the small or thin objects (large ones, e.g. lungs and heart, never: the pre-filter that keeps
 * the stage and its cost away from them), 'force' every object, 'off' none.
 *
 * A crop is a rectangle around the object's box with a margin of max(marginFraction · the box's shorter side,
 * marginWorkingPx global working pixels) on every side (the margin must hold what the global warp leaves of the
 * object's displacement; a long thin band does not need a margin as long as itself), each side at least
 * minCropWorkingPx global working pixels, shifted (or clipped) into the image.
 * Two overlapping crops share one (their common bounding rectangle) when it has no more pixels than the two
 * together (nested or mostly overlapping objects, e.g. a cup inside a disc); otherwise both stay, each with its own
 * model, and roi-compose.ts blends them where they overlap (objects that move on their own keep their own crop).
 */
import { connectedComponents } from '../image/components.js';
import type { Box, FloatImage, LabelMap } from '../image/types.js';
import { percentiles, toGrey } from '../image/normalize.js';
import type { CropFrame } from './roi-frames.js';

export type RoiMode = 'auto' | 'force' | 'off';

export interface RoiTriggerOptions {
  /** 'auto' (default): small or thin objects are candidates; 'force': every object; 'off': none. */
  mode: RoiMode;
  /** An object whose extent (box side / image side) is at most this is small (default 0.2). */
  smallExtent: number;
  /** An object thinner than this many global working pixels is thin (default 8, see above) ... */
  thinWorkingPx: number;
  /** ... when its thickness is also at most this fraction of the image's longer side (default 8 / 128, see above) ... */
  thinImageFraction: number;
  /** ... when its extent is at most this (default 0.5) ... */
  thinMaxExtent: number;
  /** ... and its elongation (box side / thickness) at least this (default 3, see above). */
  minElongation: number;
  /** Components with fewer pixels than this fraction of their class are ignored as specks (default 0.02). */
  minObjectFraction: number;
  /** Crop margin around the object's box: max(marginFraction · shorter side, marginWorkingPx · W/R) (defaults 0.5, 6). */
  marginFraction: number;
  marginWorkingPx: number;
  /** Smallest crop side, in global working pixels (default 20: 80 px of a 512 px image at R = 128). */
  minCropWorkingPx: number;
  /**
   * Local working resolution: the crop's side divided by max(1, (image side / R) / minZoom), rounded up to a
   * multiple of 16 and kept in [32, maxLocalResolution]. minZoom (default 4) = how much finer than the global grid
   * the local grid must be at least; maxLocalResolution default 128.
   */
  minZoom: number;
  maxLocalResolution: number;
  /** Mode 'auto' crops an object only when its outline contrast (see above) is at least this (default 0: no filter). */
  minOutlineContrast: number;
}

export const DEFAULT_ROI_TRIGGER: RoiTriggerOptions = {
  mode: 'auto',
  smallExtent: 0.2,
  thinWorkingPx: 8,
  thinImageFraction: 8 / 128,
  thinMaxExtent: 0.5,
  minElongation: 3,
  minObjectFraction: 0.02,
  marginFraction: 0.5,
  marginWorkingPx: 6,
  minCropWorkingPx: 20,
  minZoom: 4,
  maxLocalResolution: 128,
  minOutlineContrast: 0,
};

/** One connected object of one class of the reference label. */
export interface RoiObject {
  cls: number;
  /** Inclusive bounding box, xyRefOriginal. */
  box: Box;
  pixels: number;
  extent: number;
  thicknessPx: number;
  /** thicknessPx / the image's longer side. */
  thicknessFraction: number;
  thicknessWorkingPx: number;
  /** Longest box side / thicknessPx. */
  elongation: number;
  small: boolean;
  thin: boolean;
  /** Outline contrast (see the file comment); null when no image was given. */
  outlineContrast: number | null;
  /** outlineContrast ≥ minOutlineContrast (true when not measured). */
  visible: boolean;
  /** Whether the object gets a crop under the mode in force. */
  triggered: boolean;
}

/** A crop of the local stage: its frame (xyRefOriginal), the objects in it and its local working resolution. */
export interface RoiCrop {
  frame: CropFrame;
  /** Classes of the triggered objects inside this crop, ascending. */
  classes: number[];
  /** Indices into RoiPlan.objects. */
  objects: number[];
  /** Bounding box of those objects (inclusive, xyRefOriginal). */
  objectBox: Box;
  resolution: number;
}

export interface RoiPlan {
  mode: RoiMode;
  /** Global working resolution the plan was made for. */
  globalResolution: number;
  reference: { width: number; height: number };
  objects: RoiObject[];
  crops: RoiCrop[];
}

/** Boundary pixels of a component: pixels with a 4-neighbour outside it (or outside the image). */
function boundaryCount(labels: Int32Array, id: number, box: Box, width: number, height: number): number {
  let n = 0;
  for (let y = box.y0; y <= box.y1; y++) {
    for (let x = box.x0; x <= box.x1; x++) {
      const i = y * width + x;
      if (labels[i] !== id) continue;
      if (
        x === 0 || y === 0 || x === width - 1 || y === height - 1 ||
        labels[i - 1] !== id || labels[i + 1] !== id || labels[i - width] !== id || labels[i + width] !== id
      ) {
        n++;
      }
    }
  }
  return n;
}

/**
 * Mean outline contrast of component `id` (see the file comment), in grey levels: at each outline pixel the
 * |mean inside − mean outside| of the (2r+1)² window around it, from integral images over the component's box
 * grown by r.
 */
function outlineContrastOf(grey: Float32Array, labels: Int32Array, id: number, box: Box, width: number, height: number, r: number): number {
  const x0 = Math.max(0, box.x0 - r);
  const y0 = Math.max(0, box.y0 - r);
  const x1 = Math.min(width - 1, box.x1 + r);
  const y1 = Math.min(height - 1, box.y1 + r);
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  // integral images (w+1)×(h+1) of: inside count, inside sum, all sum
  const nIn = new Float64Array((w + 1) * (h + 1));
  const sIn = new Float64Array((w + 1) * (h + 1));
  const sAll = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y0 + y) * width + (x0 + x);
      const v = grey[i]!;
      const inside = labels[i] === id ? 1 : 0;
      const k = (y + 1) * (w + 1) + (x + 1);
      const up = k - (w + 1);
      nIn[k] = inside + nIn[k - 1]! + nIn[up]! - nIn[up - 1]!;
      sIn[k] = inside * v + sIn[k - 1]! + sIn[up]! - sIn[up - 1]!;
      sAll[k] = v + sAll[k - 1]! + sAll[up]! - sAll[up - 1]!;
    }
  }
  const rect = (t: Float64Array, ax: number, ay: number, bx: number, by: number) =>
    t[(by + 1) * (w + 1) + bx + 1]! - t[ay * (w + 1) + bx + 1]! - t[(by + 1) * (w + 1) + ax]! + t[ay * (w + 1) + ax]!;
  let sum = 0;
  let n = 0;
  for (let y = box.y0; y <= box.y1; y++) {
    for (let x = box.x0; x <= box.x1; x++) {
      const i = y * width + x;
      if (labels[i] !== id) continue;
      const outline = x === 0 || y === 0 || x === width - 1 || y === height - 1 || labels[i - 1] !== id || labels[i + 1] !== id || labels[i - width] !== id || labels[i + width] !== id;
      if (!outline) continue;
      const ax = Math.max(x0, x - r) - x0;
      const ay = Math.max(y0, y - r) - y0;
      const bx = Math.min(x1, x + r) - x0;
      const by = Math.min(y1, y + r) - y0;
      const count = (bx - ax + 1) * (by - ay + 1);
      const cin = rect(nIn, ax, ay, bx, by);
      if (cin <= 0 || cin >= count) continue;
      const inSum = rect(sIn, ax, ay, bx, by);
      const outMean = (rect(sAll, ax, ay, bx, by) - inSum) / (count - cin);
      sum += Math.abs(inSum / cin - outMean);
      n++;
    }
  }
  return n > 0 ? sum / n : 0;
}

/**
 * The connected objects of every class of `label`, measured (see the file comment); specks left out. `image`
 * (the reference image, same size) adds each object's outline contrast; without it every object counts as visible.
 */
export function measureObjects(label: LabelMap, globalResolution: number, opts: Partial<RoiTriggerOptions> = {}, image?: FloatImage): RoiObject[] {
  const o = { ...DEFAULT_ROI_TRIGGER, ...opts };
  const { width: W, height: H } = label;
  if (image && (image.width !== W || image.height !== H)) throw new Error(`reference image ${image.width}x${image.height} and label ${W}x${H} differ in size`);
  const toWorking = globalResolution / Math.max(W, H);
  const grey = image ? (image.channels === 1 ? image : toGrey(image)).data : null;
  const [p1, p99] = grey ? percentiles(grey, [1, 99]) : [0, 0];
  const range = p99! - p1!;
  const windowRadius = Math.max(2, Math.round(1 / toWorking));
  const present = new Uint8Array(256);
  for (let i = 0; i < label.data.length; i++) present[label.data[i]!] = 1;
  const objects: RoiObject[] = [];
  for (let cls = 1; cls < 256; cls++) {
    if (!present[cls]) continue;
    const mask = { width: W, height: H, data: new Uint8Array(W * H) };
    for (let i = 0; i < mask.data.length; i++) mask.data[i] = label.data[i] === cls ? 1 : 0;
    const { labels, count, sizes } = connectedComponents(mask, 8);
    const total = sizes.reduce((a, b) => a + b, 0);
    const boxes: Box[] = Array.from({ length: count }, () => ({ x0: W, y0: H, x1: -1, y1: -1 }));
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const id = labels[y * W + x]!;
        if (id === 0) continue;
        const b = boxes[id - 1]!;
        if (x < b.x0) b.x0 = x;
        if (x > b.x1) b.x1 = x;
        if (y < b.y0) b.y0 = y;
        if (y > b.y1) b.y1 = y;
      }
    }
    for (let k = 0; k < count; k++) {
      const pixels = sizes[k]!;
      if (pixels < o.minObjectFraction * total) continue;
      const box = boxes[k]!;
      const extent = Math.max((box.x1 - box.x0 + 1) / W, (box.y1 - box.y0 + 1) / H);
      const thicknessPx = (2 * pixels) / Math.max(1, boundaryCount(labels, k + 1, box, W, H));
      const thicknessFraction = thicknessPx / Math.max(W, H);
      const thicknessWorkingPx = thicknessPx * toWorking;
      const small = extent <= o.smallExtent;
      const elongation = Math.max(box.x1 - box.x0 + 1, box.y1 - box.y0 + 1) / Math.max(thicknessPx, 1e-9);
      const thinInImage = thicknessFraction <= o.thinImageFraction;
      const thinOnGrid = thicknessWorkingPx <= o.thinWorkingPx;
      const thin = thinInImage && thinOnGrid && elongation >= o.minElongation && extent <= o.thinMaxExtent;
      const outlineContrast = grey ? (range > 0 ? outlineContrastOf(grey, labels, k + 1, box, W, H, windowRadius) / range : 0) : null;
      const visible = outlineContrast === null || outlineContrast >= o.minOutlineContrast;
      const triggered = o.mode === 'force' || (o.mode === 'auto' && (small || thin) && visible);
      objects.push({ cls, box, pixels, extent, thicknessPx, thicknessFraction, thicknessWorkingPx, elongation, small, thin, outlineContrast, visible, triggered });
    }
  }
  return objects;
}

/** A width × height rectangle centred on `box`, shifted into the image (clipped where the image is smaller). */
function rectAround(box: Box, width: number, height: number, W: number, H: number): CropFrame {
  const fit = (centre: number, size: number, limit: number): [number, number] => {
    const s = Math.round(size);
    if (s >= limit) return [0, limit];
    return [Math.min(Math.max(Math.round(centre - s / 2), 0), limit - s), s];
  };
  const [x0, w] = fit((box.x0 + box.x1 + 1) / 2, width, W);
  const [y0, h] = fit((box.y0 + box.y1 + 1) / 2, height, H);
  return { x0, y0, width: w, height: h };
}

function overlaps(a: CropFrame, b: CropFrame): boolean {
  return a.x0 < b.x0 + b.width && b.x0 < a.x0 + a.width && a.y0 < b.y0 + b.height && b.y0 < a.y0 + a.height;
}

/** Local working resolution of a crop (see RoiTriggerOptions.minZoom). */
export function localResolutionFor(frame: CropFrame, reference: { width: number; height: number }, globalResolution: number, opts: Partial<RoiTriggerOptions> = {}): number {
  const o = { ...DEFAULT_ROI_TRIGGER, ...opts };
  const refPxPerGlobal = Math.max(reference.width, reference.height) / globalResolution;
  const refPxPerLocal = Math.max(1, refPxPerGlobal / o.minZoom);
  const r = Math.ceil(Math.max(frame.width, frame.height) / refPxPerLocal / 16) * 16;
  return Math.min(Math.max(r, 32), Math.max(32, o.maxLocalResolution));
}

/** The local stage's plan for a reference label: measured objects and the (merged) crops of the triggered ones. */
export function planRegions(label: LabelMap, globalResolution: number, opts: Partial<RoiTriggerOptions> = {}, image?: FloatImage): RoiPlan {
  const o = { ...DEFAULT_ROI_TRIGGER, ...opts };
  const { width: W, height: H } = label;
  const objects = measureObjects(label, globalResolution, o, image);
  const refPxPerGlobal = Math.max(W, H) / globalResolution;
  let groups: { frame: CropFrame; objects: number[] }[] = [];
  objects.forEach((ob, i) => {
    if (!ob.triggered) return;
    const bw = ob.box.x1 - ob.box.x0 + 1;
    const bh = ob.box.y1 - ob.box.y0 + 1;
    const margin = Math.max(o.marginFraction * Math.min(bw, bh), o.marginWorkingPx * refPxPerGlobal);
    const minSide = o.minCropWorkingPx * refPxPerGlobal;
    groups.push({ frame: rectAround(ob.box, Math.max(bw + 2 * margin, minSide), Math.max(bh + 2 * margin, minSide), W, H), objects: [i] });
  });
  // Overlapping crops share their bounding rectangle when it is no larger than the two together; repeat until stable.
  for (let merged = true; merged; ) {
    merged = false;
    outer: for (let a = 0; a < groups.length; a++) {
      for (let b = a + 1; b < groups.length; b++) {
        if (!overlaps(groups[a]!.frame, groups[b]!.frame)) continue;
        const fa = groups[a]!.frame;
        const fb = groups[b]!.frame;
        const box: Box = {
          x0: Math.min(fa.x0, fb.x0),
          y0: Math.min(fa.y0, fb.y0),
          x1: Math.max(fa.x0 + fa.width, fb.x0 + fb.width) - 1,
          y1: Math.max(fa.y0 + fa.height, fb.y0 + fb.height) - 1,
        };
        const frame = rectAround(box, box.x1 - box.x0 + 1, box.y1 - box.y0 + 1, W, H);
        if (frame.width * frame.height > fa.width * fa.height + fb.width * fb.height) continue;
        const union = { frame, objects: [...groups[a]!.objects, ...groups[b]!.objects].sort((x, y) => x - y) };
        groups = groups.filter((_, k) => k !== a && k !== b);
        groups.push(union);
        merged = true;
        break outer;
      }
    }
  }
  groups.sort((a, b) => a.frame.y0 - b.frame.y0 || a.frame.x0 - b.frame.x0);
  const crops: RoiCrop[] = groups.map((g) => ({
    frame: g.frame,
    objects: g.objects,
    objectBox: g.objects.map((i) => objects[i]!.box).reduce((a, b) => ({
      x0: Math.min(a.x0, b.x0),
      y0: Math.min(a.y0, b.y0),
      x1: Math.max(a.x1, b.x1),
      y1: Math.max(a.y1, b.y1),
    })),
    classes: [...new Set(g.objects.map((i) => objects[i]!.cls))].sort((x, y) => x - y),
    resolution: localResolutionFor(g.frame, { width: W, height: H }, globalResolution, o),
  }));
  return { mode: o.mode, globalResolution, reference: { width: W, height: H }, objects, crops };
}
