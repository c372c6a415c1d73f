import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { localResolutionFor, measureObjects, planRegions } from '../../src/warp/roi-trigger.js';
import { readLabelMap } from '../../src/io/mask.js';
import { describeWithShared, sharedPath } from '../fixtures/shared-data.js';
import { contrastScene, labelOf } from './helpers.js';
import { carveBorderBand, carvePatch, APEX_RADIUS, BORDER_BAND_LENGTH, BORDER_BAND_PX, CP_ANGLE_RADIUS } from '../../bench/roi-data.js';
import { readImage } from '../../src/io/image.js';
import { generatePhantom } from '../../src/image/phantom.js';

/**
 * A 512 px label map: class 1 a disc of radius 8 at (400, 100); class 2 a large ellipse (200 × 160 px); class 3 a
 * thin arc (3 px wide, radius 130, 90°) around (150, 380).
 */
function scene() {
  return labelOf(512, 512, (x, y) => {
    if ((x - 400) ** 2 + (y - 100) ** 2 <= 64) return 1;
    if (((x - 200) / 100) ** 2 + ((y - 180) / 80) ** 2 <= 1) return 2;
    const d = Math.hypot(x - 150, y - 380);
    if (Math.abs(d - 130) <= 1.5 && x >= 150 && y <= 380) return 3;
    return 0;
  });
}

/** The crop geometry these tests were written for (margin 4, minimum 16 global working pixels). */
const GEOMETRY = { marginWorkingPx: 4, minCropWorkingPx: 16 };

describe('automatic trigger by object size', () => {
  it('measures extent and thickness; a small disc and a thin arc trigger, a large organ does not', () => {
    const objs = measureObjects(scene(), 128);
    expect(objs.map((o) => o.cls)).toEqual([1, 2, 3]);
    const [disc, organ, arc] = objs;
    expect(disc!.extent).toBeCloseTo(17 / 512, 6);
    expect(disc!.small).toBe(true);
    expect(disc!.thicknessPx).toBeGreaterThan(6); // ≈ the radius for a disc
    expect(disc!.thicknessPx).toBeLessThan(10);
    expect(organ!.small).toBe(false);
    expect(organ!.thin).toBe(false);
    expect(organ!.triggered).toBe(false);
    expect(arc!.extent).toBeGreaterThan(0.2); // not small ...
    expect(arc!.small).toBe(false);
    expect(arc!.thicknessPx).toBeGreaterThan(2);
    expect(arc!.thicknessPx).toBeLessThan(4.5);
    expect(arc!.thin).toBe(true); // ... but thin: < 8 working px at R = 128 (about 1 px)
    expect(objs.map((o) => o.triggered)).toEqual([true, false, true]);
  });

  it('the same objects on a finer global grid: the arc is no longer thin (the trigger is relative to R)', () => {
    const objs = measureObjects(scene(), 2048); // the 3 px arc is 12+ working px thick there
    expect(objs.find((o) => o.cls === 3)!.thin).toBe(false);
    expect(objs.find((o) => o.cls === 1)!.triggered).toBe(true); // still small by extent
  });

  it('a compact organ a few working pixels thick on a coarse grid is not thin: a band must be elongated', () => {
    // a 50 px square in a 128 px image at R = 32: thickness 2 · 2500 / 196 boundary px ≈ 25.5 px = 6.4 working px
    // (≤ 8), but its box side is only 2 × that thickness; a 48 × 8 px bar: 2 · 384 / 108 ≈ 7.1 px, elongation ≈ 6.8
    const label = labelOf(128, 128, (x, y) => (x >= 10 && x < 60 && y >= 40 && y < 90 ? 1 : x >= 70 && x < 118 && y >= 10 && y < 18 ? 2 : 0));
    const [square, bar] = measureObjects(label, 32);
    expect(square!.thicknessWorkingPx).toBeCloseTo((2 * 2500 * 32) / 196 / 128, 6);
    expect([square!.small, square!.thin, square!.triggered]).toEqual([false, false, false]);
    expect([bar!.small, bar!.thin]).toEqual([false, true]);
    // the square is 25.5 / 128 = 0.2 of the image thick: a shorter elongation bound alone does not make it thin ...
    expect(measureObjects(label, 32, { minElongation: 1.5 })[0]!.thin).toBe(false);
    // ... it is thin on the 32 px grid only, not in the image (the default 128 px grid resolves it: 25.5 px)
    expect(measureObjects(label, 32, { minElongation: 1.5, thinImageFraction: 0.25 })[0]!.thin).toBe(true);
  });

  it('thin is a property of the structure, not of the grid: a phantom lung on the 32 px grid is no band, a clavicle is', () => {
    // issue 21: the demo phantom's left lung (seed 1, patient 0, 256 px) is 34.4 px = 0.134 of the image thick, 4.3
    // px on the tests' 32 px grid (≤ 8), elongation 3.5, extent 0.47: thin by the grid alone
    const { label: phantom } = generatePhantom({ seed: 1, patient: 0, width: 256 });
    const lung = measureObjects(phantom, 32).find((o) => o.cls === 2)!;
    expect(lung.thicknessFraction).toBeCloseTo(0.134, 3);
    expect(lung.thicknessWorkingPx).toBeLessThanOrEqual(8);
    expect(lung.elongation).toBeGreaterThanOrEqual(3);
    expect(lung.extent).toBeLessThanOrEqual(0.5);
    expect([lung.thin, lung.triggered]).toEqual([false, false]); // 0.134 > 8 / 128
    expect(planRegions(phantom, 32).crops).toEqual([]);
    expect(measureObjects(phantom, 32, { thinImageFraction: 0.2 }).find((o) => o.cls === 2)!.thin).toBe(true);
    // a clavicle-like band in a 1024 px image: a 240 px arc (extent 0.23) 39 px thick across, measured 34.6 px
    // (2 · area / outline also counts its ends): 0.034 of the image, like JPCLN001's clavicles (4.4–4.7 px at 128)
    const clavicle = labelOf(1024, 1024, (x, y) => (x >= 300 && x < 540 && Math.abs(y - (300 + ((x - 420) / 120) ** 2 * 40)) < 20 ? 1 : 0));
    for (const grid of [32, 128]) {
      const [band] = measureObjects(clavicle, grid);
      expect(band!.thicknessFraction).toBeGreaterThan(0.03);
      expect(band!.thicknessFraction).toBeLessThan(0.04);
      expect([band!.small, band!.thin, band!.triggered]).toEqual([false, true, true]);
    }
    // a 256 px grid resolves the band (34.6 · 256 / 1024 ≈ 8.6 px > 8): no crop needed there
    expect(measureObjects(clavicle, 256)[0]!.thin).toBe(false);
  });

  it("mode 'off' plans no crop; 'force' crops every object", () => {
    expect(planRegions(scene(), 128, { mode: 'off' }).crops).toEqual([]);
    const forced = planRegions(scene(), 128, { mode: 'force' });
    expect(forced.objects.every((o) => o.triggered)).toBe(true);
    expect(forced.crops.flatMap((c) => c.classes).sort()).toEqual([1, 2, 3]);
  });

  it('a crop is a rectangle around the object with margin and minimum size, inside the image', () => {
    const plan = planRegions(scene(), 128, GEOMETRY);
    expect(plan.crops.length).toBe(2);
    const discCrop = plan.crops.find((c) => c.classes.includes(1))!;
    // disc box 392..408 (17 px); margin max(0.5·17, 4·4 px) = 16 → 49 px; minimum 16 working px · 4 = 64 px.
    expect(discCrop.frame.width).toBe(64);
    expect(discCrop.frame.height).toBe(64);
    expect(discCrop.frame.x0).toBe(Math.round(400.5 - 32));
    expect(discCrop.frame.y0).toBe(Math.round(100.5 - 32));
    expect(discCrop.resolution).toBe(64); // 4 ref px per global working px / minZoom 4 → 1 px per local px
    for (const c of plan.crops) {
      expect(c.frame.x0).toBeGreaterThanOrEqual(0);
      expect(c.frame.y0).toBeGreaterThanOrEqual(0);
      expect(c.frame.x0 + c.frame.width).toBeLessThanOrEqual(512);
      expect(c.frame.y0 + c.frame.height).toBeLessThanOrEqual(512);
    }
    const arcCrop = plan.crops.find((c) => c.classes.includes(3))!;
    const arc = plan.objects.find((o) => o.cls === 3)!;
    expect(arcCrop.frame.x0).toBeLessThanOrEqual(arc.box.x0);
    expect(arcCrop.frame.y0).toBeLessThanOrEqual(arc.box.y0);
    expect(arcCrop.frame.x0 + arcCrop.frame.width - 1).toBeGreaterThanOrEqual(arc.box.x1);
    expect(arcCrop.frame.y0 + arcCrop.frame.height - 1).toBeGreaterThanOrEqual(arc.box.y1);
    expect(arcCrop.resolution).toBe(128); // capped at maxLocalResolution
  });

  it('a crop near the image edge is shifted inside it', () => {
    const plan = planRegions(labelOf(256, 256, (x, y) => ((x - 3) ** 2 + (y - 250) ** 2 <= 9 ? 1 : 0)), 128, GEOMETRY);
    expect(plan.crops.length).toBe(1);
    expect(plan.crops[0]!.frame).toEqual({ x0: 0, y0: 256 - 32, width: 32, height: 32 });
  });

  it('nested objects of different classes share one crop; crops that only overlap partly stay apart', () => {
    const label = labelOf(512, 512, (x, y) => {
      const d = Math.hypot(x - 100, y - 100);
      if (d <= 6) return 2; // a cup ...
      if (d <= 14) return 1; // ... inside a disc (rim)
      if ((x - 400) ** 2 + (y - 380) ** 2 <= 36) return 3;
      if ((x - 440) ** 2 + (y - 420) ** 2 <= 36) return 4; // 40 px off in x and y: the 64 px crops overlap
      return 0;
    });
    const plan = planRegions(label, 128, GEOMETRY);
    expect(plan.crops.map((c) => c.classes)).toEqual([[1, 2], [3], [4]]);
    const shared = plan.crops[0]!;
    expect(shared.objectBox).toEqual({ x0: 86, y0: 86, x1: 114, y1: 114 });
    for (const o of plan.objects.filter((ob) => ob.cls <= 2)) {
      expect(shared.frame.x0).toBeLessThanOrEqual(o.box.x0);
      expect(shared.frame.x0 + shared.frame.width - 1).toBeGreaterThanOrEqual(o.box.x1);
      expect(shared.frame.y0).toBeLessThanOrEqual(o.box.y0);
      expect(shared.frame.y0 + shared.frame.height - 1).toBeGreaterThanOrEqual(o.box.y1);
    }
    // the two close crops overlap: sharing their bounding rectangle (104 × 104 px) would cost more than 2 × 64 × 64
    const [a, b] = [plan.crops[1]!.frame, plan.crops[2]!.frame];
    const overlap = a.x0 < b.x0 + b.width && b.x0 < a.x0 + a.width && a.y0 < b.y0 + b.height && b.y0 < a.y0 + a.height;
    expect(overlap).toBe(true);
    expect([a.width, b.width]).toEqual([64, 64]);
  });

  it('objects of one class are cropped separately; specks are ignored', () => {
    const label = labelOf(512, 512, (x, y) => {
      if ((x - 100) ** 2 + (y - 100) ** 2 <= 100) return 1;
      if ((x - 400) ** 2 + (y - 380) ** 2 <= 100) return 1;
      if (x === 300 && y === 300) return 1; // a one-pixel speck (< 2 % of the class)
      return 0;
    });
    const plan = planRegions(label, 128);
    expect(plan.objects.length).toBe(2);
    expect(plan.crops.length).toBe(2);
  });

  it('local resolution: at least minZoom times finer than the global grid, a multiple of 16 in [32, max]', () => {
    const ref = { width: 1024, height: 1024 };
    expect(localResolutionFor({ x0: 0, y0: 0, width: 128, height: 128 }, ref, 128)).toBe(64); // 8 px/global px → 2 px/local px
    expect(localResolutionFor({ x0: 0, y0: 0, width: 40, height: 40 }, ref, 128)).toBe(32);
    expect(localResolutionFor({ x0: 0, y0: 0, width: 600, height: 600 }, ref, 128)).toBe(128);
    expect(localResolutionFor({ x0: 0, y0: 0, width: 600, height: 600 }, ref, 128, { maxLocalResolution: 256 })).toBe(256);
  });
});

describe('outline contrast (recorded; a gate only when minOutlineContrast is set)', () => {
  it('measures |mean inside − mean outside| at the outline over the percentile range; a faint object is still a candidate', () => {
    const visible = contrastScene(100);
    const [disc, square] = measureObjects(visible.label, 128, {}, visible.image);
    // every outline window of the disc holds disc pixels (100) and background pixels (50): (100 − 50) / 100
    expect(disc!.outlineContrast).toBeCloseTo(0.5, 6);
    expect(disc!.visible).toBe(true);
    expect(disc!.triggered).toBe(true);
    // the square's outline against the background: (150 − 50) / 100 (the image border is no outline contrast)
    expect(square!.outlineContrast).toBeCloseTo(1, 6);
    expect(square!.triggered).toBe(false); // large
    const faint = contrastScene(60); // (60 − 50) / 100 = 0.1
    const [faintDisc] = measureObjects(faint.label, 128, {}, faint.image);
    expect(faintDisc!.outlineContrast).toBeCloseTo(0.1, 6);
    expect(faintDisc!.small).toBe(true);
    // by default the geometry alone makes it a candidate (the run's evidence decides, roi-evidence.ts)
    expect([faintDisc!.visible, faintDisc!.triggered]).toEqual([true, true]);
    expect(planRegions(faint.label, 128, {}, faint.image).crops.length).toBe(1);
    // the old gate is an option: 0.1 < 0.15 keeps it out, 0.05 lets it in; 'force' crops it anyway
    const gated = { minOutlineContrast: 0.15 };
    expect(measureObjects(faint.label, 128, gated, faint.image)[0]).toMatchObject({ visible: false, triggered: false });
    expect(planRegions(faint.label, 128, gated, faint.image).crops).toEqual([]);
    expect(measureObjects(faint.label, 128, { minOutlineContrast: 0.05 }, faint.image)[0]!.triggered).toBe(true);
    expect(measureObjects(faint.label, 128, { ...gated, mode: 'force' }, faint.image)[0]!.triggered).toBe(true);
    const unmeasured = measureObjects(faint.label, 128)[0]!;
    expect([unmeasured.outlineContrast, unmeasured.visible, unmeasured.triggered]).toEqual([null, true, true]);
    // an invisible disc (same grey as its surroundings) measures 0
    const invisible = contrastScene(50);
    expect(measureObjects(invisible.label, 128, {}, invisible.image)[0]!.outlineContrast).toBe(0);
    expect(() => measureObjects(invisible.label, 128, {}, { ...invisible.image, width: 128 })).toThrow(/differ in size/);
  });

  it('colour images are measured on their grey projection', () => {
    const { image, label } = contrastScene(100);
    const rgb = new Float32Array(image.data.length * 3);
    image.data.forEach((v, i) => rgb.fill(v, 3 * i, 3 * i + 3));
    const [disc] = measureObjects(label, 128, {}, { ...image, channels: 3, data: rgb });
    expect(disc!.outlineContrast).toBeCloseTo(0.5, 4);
  });
});

describeWithShared('trigger on JSRT lungs and heart', ['data/jsrt-scr/masks'], () => {
  it('no object of any JSRT mask triggers at R = 128 or 256 (every 32nd mask of 247)', async () => {
    const dir = sharedPath('data/jsrt-scr/masks');
    const names = readdirSync(dir).filter((n) => n.endsWith('.png')).sort().filter((_, i) => i % 32 === 0);
    expect(names[0]).toBe('JPCLN001.png');
    for (const name of names) {
      const label = await readLabelMap(join(dir, name));
      const plan = planRegions(label, 128);
      expect(plan.crops, name).toEqual([]);
      for (const o of plan.objects) {
        // not by a narrow margin: every organ is well above the small-extent threshold (0.2; the smallest extent
        // over all 247 masks is 0.28) and far from thin (≥ 14 working pixels where the threshold is 8)
        expect(o.extent, `${name} class ${o.cls}`).toBeGreaterThan(0.25);
        expect(o.thicknessWorkingPx, `${name} class ${o.cls}`).toBeGreaterThan(12);
      }
    }
  }, 180_000);

  it("JSRT's small low-contrast targets (issue 12's heart apex and costophrenic angle) are small candidates with a faint outline", async () => {
    const label = await readLabelMap(sharedPath('data/jsrt-scr/masks/JPCLN001.png'));
    const { image } = await readImage(sharedPath('data/jsrt-scr/images/JPCLN001.png'));
    carvePatch(label, 3, 4, APEX_RADIUS, (x, y) => x + y);
    carvePatch(label, 1, 5, CP_ANGLE_RADIUS, (x, y) => y - x);
    const plan = planRegions(label, 128, {}, image);
    const byClass = new Map(plan.objects.map((o) => [o.cls, o]));
    for (const cls of [4, 5]) {
      expect(byClass.get(cls)!.small).toBe(true);
      // measured 0.046 (apex) and 0.066 (angle); the organs 0.049–0.082
      expect(byClass.get(cls)!.outlineContrast!).toBeLessThan(0.1);
      expect(byClass.get(cls)!.triggered).toBe(true);
    }
    // candidates by geometry (the run's held-out evidence decides); the lungs and heart are not
    expect(plan.crops.map((c) => c.classes).sort()).toEqual([[4], [5]]);
    expect(plan.objects.filter((o) => o.cls <= 3).every((o) => !o.triggered)).toBe(true);
    expect(planRegions(label, 128, { minOutlineContrast: 0.15 }, image).crops).toEqual([]);
  });

  it("JSRT's lung-border bands (one edge a lung border) are thin and small, and not visible either", async () => {
    const label = await readLabelMap(sharedPath('data/jsrt-scr/masks/JPCLN001.png'));
    const { image } = await readImage(sharedPath('data/jsrt-scr/images/JPCLN001.png'));
    carveBorderBand(label, 1, 4, 'bottom', BORDER_BAND_PX, BORDER_BAND_LENGTH);
    carveBorderBand(label, 2, 5, 'right', BORDER_BAND_PX, BORDER_BAND_LENGTH);
    const plan = planRegions(label, 128, {}, image);
    const byClass = new Map(plan.objects.map((o) => [o.cls, o]));
    for (const cls of [4, 5]) {
      expect(byClass.get(cls)!.small && byClass.get(cls)!.thin).toBe(true);
      // measured 0.059 (right diaphragm band) and 0.039 (left lateral band): one edge inside the lung, the other
      // a border the radiograph shows as a soft gradient
      expect(byClass.get(cls)!.outlineContrast!).toBeLessThan(0.1);
      expect(byClass.get(cls)!.triggered).toBe(true);
    }
    expect(plan.objects.filter((o) => o.cls <= 3).every((o) => !o.triggered)).toBe(true);
  });
});

describeWithShared('trigger on the JSRT clavicles', ['data/jsrt-scr-clavicles/masks/JPCLN001.png', 'data/jsrt-scr/images/JPCLN001.png'], () => {
  it('both clavicles of the reference are thin candidates, each with its own crop along the band', async () => {
    const label = await readLabelMap(sharedPath('data/jsrt-scr-clavicles/masks/JPCLN001.png'));
    const { image } = await readImage(sharedPath('data/jsrt-scr/images/JPCLN001.png'));
    const plan = planRegions(label, 128, {}, image);
    expect(plan.objects.map((o) => o.cls)).toEqual([1, 2]);
    for (const o of plan.objects) {
      // a band about 4.5 working px thick (37 px of 1024) spanning a fifth of the image: thin, not small
      expect(o.thin, `class ${o.cls}`).toBe(true);
      expect(o.small, `class ${o.cls}`).toBe(false);
      expect(o.triggered).toBe(true);
    }
    expect(plan.crops.map((c) => c.classes).sort()).toEqual([[1], [2]]);
  });
});

describe('border bands of the stress set (bench/roi-data.ts)', () => {
  it("'bottom' takes the lowest pixels of each column within the window; 'right' the rightmost of each row", () => {
    // class 1: a 20 × 10 rectangle at x 10..29, y 5..14, with a notch (x 20, y 12..14 background)
    const make = () => labelOf(40, 20, (x, y) => (x >= 10 && x <= 29 && y >= 5 && y <= 14 && !(x === 20 && y >= 12) ? 1 : 0));
    const bottom = make();
    carveBorderBand(bottom, 1, 2, 'bottom', 3, 6);
    // the window: 6 columns centred on the box's centre column round(19.5) = 20 → columns 17..22
    for (let x = 0; x < 40; x++) {
      for (let y = 0; y < 20; y++) {
        const inRect = x >= 10 && x <= 29 && y >= 5 && y <= 14 && !(x === 20 && y >= 12);
        const lowest = x === 20 ? 11 : 14;
        const want = !inRect ? 0 : x >= 17 && x <= 22 && y > lowest - 3 && y <= lowest ? 2 : 1;
        expect(bottom.data[y * 40 + x], `(${x}, ${y})`).toBe(want);
      }
    }
    const right = make();
    carveBorderBand(right, 1, 2, 'right', 2, 4);
    // rows 8..11 (centre round(9.5) = 10, window of 4 from 8): their two rightmost pixels, x 28..29
    const carved = [...right.data.keys()].filter((i) => right.data[i] === 2).map((i) => [i % 40, Math.floor(i / 40)]);
    expect(carved).toEqual([8, 9, 10, 11].flatMap((y) => [[28, y], [29, y]]));
  });

  it('leaves the label unchanged when the class is absent', () => {
    const label = labelOf(8, 8, () => 3);
    carveBorderBand(label, 1, 2, 'bottom', 3, 6);
    expect([...new Set(label.data)]).toEqual([3]);
  });
});
