/**
 * Seeded chest-like phantoms for tests and `medpersam demo` (pure: no file system, runs in a browser).
 *
 * A phantom is a grey image (intensities 0..255, float) plus its label map:
 *   0 background, 1 right lung (on the image's LEFT, radiological convention), 2 left lung (image right), 3 heart.
 * The anatomy is a bright body ellipse, two dark superellipse lungs and a mid-grey heart ellipse that overlaps the
 * medial lower parts of both lungs (the heart is painted last, so it wins where they overlap).
 *
 * Shape, position, size and intensities vary smoothly with the patient index (sines of the index with
 * seed-dependent phases), so neighbouring patients look alike and far-apart ones differ, as real scans do.
 * Everything is a deterministic function of (seed, patient, width, height, noise).
 */
import type { ClassNames, FloatImage, LabelMap } from './types.js';
import { gaussianSource, mulberry32 } from './random.js';

/** Class indices and names of a phantom label map (the JSRT-SCR convention). */
export const PHANTOM_CLASSES: ClassNames = new Map([
  [0, 'background'],
  [1, 'right_lung'],
  [2, 'left_lung'],
  [3, 'heart'],
]);

export interface PhantomOptions {
  /** Dataset seed: changes the whole family of patients. */
  seed: number;
  /** Patient index (any integer); neighbouring indices give similar anatomy. */
  patient: number;
  /** Image width in pixels (default 256). */
  width?: number;
  /** Image height in pixels (default = width). */
  height?: number;
  /** Standard deviation of the additive Gaussian noise, in grey levels (default 6). 0 = no noise. */
  noise?: number;
}

export interface Phantom {
  /** Grey image, channels 1, intensities clamped to [0, 255]. */
  image: FloatImage;
  /** Label map of the same size: 0 background, 1 right lung, 2 left lung, 3 heart. */
  label: LabelMap;
}

/**
 * One shape of the phantom, in normalised coordinates of the anatomy frame (before the patient's global
 * rotation/scale/shift): u = x / width, v = y / height, both in [0, 1].
 * Inside ⇔ |du'/rx|^p + |dv'/ry|^p <= 1, where (du', dv') is (u - cu, v - cv) rotated by -angle.
 */
export interface PhantomShape {
  cu: number;
  cv: number;
  rx: number;
  ry: number;
  /** Superellipse exponent (2 = ellipse). */
  power: number;
  /** Rotation in radians (image frame, y down: positive turns clockwise on screen). */
  angle: number;
  /** Mean intensity inside the shape (0..255). */
  intensity: number;
}

/** All parameters of one phantom: the shapes and the patient's global pose. */
export interface PhantomGeometry {
  body: PhantomShape;
  rightLung: PhantomShape;
  leftLung: PhantomShape;
  heart: PhantomShape;
  /** Intensity outside the body. */
  backgroundIntensity: number;
  /** Vertical intensity gradient: added intensity = gradient * (v - 0.5). */
  gradient: number;
  /** Global pose applied to the whole anatomy around the image centre. */
  rotation: number;
  scale: number;
  shiftU: number;
  shiftV: number;
}

/** Mix two integers into one 32-bit seed (so (seed, patient) pairs get independent noise streams). */
function mixSeed(a: number, b: number): number {
  let h = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul(b | 0, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The geometry of patient `patient` in family `seed`. Each parameter is base + amplitude * sin(f * patient + phase),
 * with a per-parameter frequency f in [0.15, 0.45] rad per patient and a phase drawn from the seed: smooth in the
 * patient index, different per seed.
 */
export function phantomGeometry(seed: number, patient: number): PhantomGeometry {
  const rng = mulberry32(mixSeed(seed, 0x5eed));
  // Draw (frequency, phase) pairs lazily, in a fixed order, so each parameter below has its own pair.
  const vary = (base: number, amplitude: number): number => {
    const frequency = 0.15 + 0.3 * rng();
    const phase = 2 * Math.PI * rng();
    return base + amplitude * Math.sin(frequency * patient + phase);
  };

  const rotation = vary(0, (4 * Math.PI) / 180); // ±4°
  const scale = vary(1, 0.1); // 0.9 .. 1.1
  const shiftU = vary(0, 0.03);
  const shiftV = vary(0, 0.03);

  const body: PhantomShape = {
    cu: 0.5,
    cv: vary(0.53, 0.01),
    rx: vary(0.42, 0.02),
    ry: vary(0.45, 0.015),
    power: 2.2,
    angle: 0,
    intensity: vary(175, 12),
  };
  const lungIntensity = vary(62, 10);
  const lungTop = vary(0.44, 0.015);
  const rightLung: PhantomShape = {
    cu: vary(0.315, 0.012),
    cv: lungTop + vary(0, 0.008),
    rx: vary(0.135, 0.012),
    ry: vary(0.27, 0.02),
    power: vary(2.6, 0.3),
    angle: vary(0.06, 0.04),
    intensity: lungIntensity + vary(0, 4),
  };
  const leftLung: PhantomShape = {
    cu: vary(0.685, 0.012),
    cv: lungTop + vary(0, 0.008),
    rx: vary(0.125, 0.012),
    ry: vary(0.265, 0.02),
    power: vary(2.6, 0.3),
    angle: vary(-0.06, 0.04),
    intensity: lungIntensity + vary(0, 4),
  };
  const heart: PhantomShape = {
    cu: vary(0.54, 0.015),
    cv: vary(0.62, 0.015),
    rx: vary(0.15, 0.015),
    ry: vary(0.12, 0.012),
    power: 2,
    angle: vary(-0.35, 0.1),
    intensity: vary(140, 10),
  };
  return {
    body,
    rightLung,
    leftLung,
    heart,
    backgroundIntensity: vary(18, 6),
    gradient: vary(0, 25),
    rotation,
    scale,
    shiftU,
    shiftV,
  };
}

/** Whether the anatomy-frame point (u, v) lies inside `shape`. */
export function insideShape(shape: PhantomShape, u: number, v: number): boolean {
  const du = u - shape.cu;
  const dv = v - shape.cv;
  const c = Math.cos(shape.angle);
  const s = Math.sin(shape.angle);
  const a = (c * du + s * dv) / shape.rx;
  const b = (-s * du + c * dv) / shape.ry;
  return Math.abs(a) ** shape.power + Math.abs(b) ** shape.power <= 1;
}

/**
 * Map an image pixel centre (x, y) to the anatomy frame (u, v): the inverse of the patient's pose
 * (rotate by `rotation`, scale by `scale`, shift by (shiftU, shiftV), all about the image centre).
 */
export function pixelToAnatomy(
  geometry: PhantomGeometry,
  x: number,
  y: number,
  width: number,
  height: number,
): { u: number; v: number } {
  const pu = (x + 0.5) / width - 0.5 - geometry.shiftU;
  const pv = (y + 0.5) / height - 0.5 - geometry.shiftV;
  const c = Math.cos(geometry.rotation);
  const s = Math.sin(geometry.rotation);
  // inverse rotation, then inverse scale
  const u = (c * pu + s * pv) / geometry.scale;
  const v = (-s * pu + c * pv) / geometry.scale;
  return { u: u + 0.5, v: v + 0.5 };
}

/** Generate one phantom. Deterministic for equal options. */
export function generatePhantom(opts: PhantomOptions): Phantom {
  const width = opts.width ?? 256;
  const height = opts.height ?? width;
  const noiseSigma = opts.noise ?? 6;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 8 || height < 8) {
    throw new RangeError(`phantom size must be integers >= 8, got ${width}x${height}`);
  }
  const geometry = phantomGeometry(opts.seed, opts.patient);
  const noiseRng = mulberry32(mixSeed(opts.seed, opts.patient + 0x1000));

  const data = new Float32Array(width * height);
  const labels = new Uint8Array(width * height);
  // Painting order: background, body, lungs, heart (last: it covers the medial lower lungs).
  const painted: Array<[PhantomShape, number]> = [
    [geometry.rightLung, 1],
    [geometry.leftLung, 2],
    [geometry.heart, 3],
  ];
  const gaussian = gaussianSource(noiseRng);

  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const { u, v } = pixelToAnatomy(geometry, x, y, width, height);
      let intensity = geometry.backgroundIntensity;
      let cls = 0;
      if (insideShape(geometry.body, u, v)) {
        intensity = geometry.body.intensity + geometry.gradient * (v - 0.5);
        for (const [shape, shapeClass] of painted) {
          if (insideShape(shape, u, v)) {
            intensity = shape.intensity + 0.5 * geometry.gradient * (v - 0.5);
            cls = shapeClass;
          }
        }
      }
      if (noiseSigma > 0) intensity += noiseSigma * gaussian();
      const i = y * width + x;
      data[i] = Math.min(255, Math.max(0, intensity));
      labels[i] = cls;
    }
  }
  return {
    image: { width, height, channels: 1, data },
    label: { width, height, data: labels },
  };
}
