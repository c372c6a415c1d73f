/**
 * Small-structure phantoms for the region-of-interest stage's stress set (issue 12). Pure and seeded.
 *
 * A 512 px grey image: a textured body with two large structures, small targets, a few unlabelled bright dots
 * (look-alikes), Gaussian noise and a smooth bias field. Classes:
 *   1 disc (bright, diameter `disc` px), 2 ring (outer diameter `ringOuter`, width `ringWidth`),
 *   3 band (a thin curved arc, width `bandWidth`, about 150 px long), 4 organ (a large dark ellipse, ~180 × 140 px).
 * Per patient (independent draws): a global pose (rotation ±6°, scale ±8 %, shift ±20 px), a smooth elastic
 * deformation (≈ 8 px), each target displaced against the anatomy by up to `jitter` px and resized by ±12 %,
 * contrast ±15 %, offset ±10 grey levels. The image is 2×2 supersampled (soft edges), the label read at pixel centres.
 */
import { gaussianSource, mulberry32 } from '../src/image/random.js';
import type { ClassNames, FloatImage, LabelMap } from '../src/image/types.js';

export interface SmallPhantomKind {
  name: string;
  disc: number;
  ringOuter: number;
  ringWidth: number;
  bandWidth: number;
  /** Largest displacement of a target against the anatomy, px (default 10). */
  jitter?: number;
}

/** The stress set's kinds: target sizes from 10 to 40 px in a 512 px image. */
export const SMALL_PHANTOM_KINDS: readonly SmallPhantomKind[] = [
  { name: 'tiny', disc: 12, ringOuter: 20, ringWidth: 3, bandWidth: 3 },
  { name: 'small', disc: 24, ringOuter: 30, ringWidth: 4, bandWidth: 4 },
  { name: 'medium', disc: 40, ringOuter: 40, ringWidth: 5, bandWidth: 5 },
];

export const SMALL_PHANTOM_CLASSES: ClassNames = new Map([
  [0, 'background'],
  [1, 'disc'],
  [2, 'ring'],
  [3, 'band'],
  [4, 'organ'],
]);

export const SMALL_PHANTOM_SIZE = 512;

function mix(a: number, b: number): number {
  let h = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul(b | 0, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/** Texture of the body in the anatomy frame (same for every patient of a seed: landmarks). */
function texture(seed: number): (u: number, v: number) => number {
  const rng = mulberry32(mix(seed, 77));
  const waves = Array.from({ length: 6 }, () => ({
    fx: (0.01 + 0.03 * rng()) * (rng() < 0.5 ? -1 : 1),
    fy: 0.01 + 0.03 * rng(),
    phase: 2 * Math.PI * rng(),
    amp: 3 + 5 * rng(),
  }));
  return (u, v) => waves.reduce((s, w) => s + w.amp * Math.sin(w.fx * u + w.fy * v + w.phase), 0);
}

export function generateSmallPhantom(kind: SmallPhantomKind, seed: number, patient: number): { image: FloatImage; label: LabelMap } {
  const S = SMALL_PHANTOM_SIZE;
  const rng = mulberry32(mix(seed, patient + 1));
  const uni = (a: number, b: number) => a + (b - a) * rng();
  const tex = texture(seed);
  const jitter = kind.jitter ?? 10;
  // pose (image ← anatomy), about the image centre
  const rot = (uni(-6, 6) * Math.PI) / 180;
  const scale = uni(0.92, 1.08);
  const shift = [uni(-20, 20), uni(-20, 20)];
  // elastic deformation of the anatomy frame
  const el = Array.from({ length: 2 }, () => ({ fx: uni(0.006, 0.014), fy: uni(0.006, 0.014), p: uni(0, 6.3), a: uni(4, 8) }));
  // targets (anatomy frame, pixels of the 512 frame)
  const j = () => uni(-jitter, jitter);
  const sz = () => uni(0.88, 1.12);
  const disc = { cx: 340 + j(), cy: 365 + j(), r: (kind.disc / 2) * sz() };
  const ringScale = sz();
  const ring = { cx: 150 + j(), cy: 165 + j(), r1: (kind.ringOuter / 2) * ringScale, r0: (kind.ringOuter / 2) * ringScale - kind.ringWidth };
  const band = { cx: 300 + j(), cy: 250 + j(), R: 120 * uni(0.92, 1.08), a0: ((-150 + uni(-5, 5)) * Math.PI) / 180, span: (75 * Math.PI) / 180, w: kind.bandWidth };
  const dots = [
    [420, 280],
    [230, 420],
    [110, 300],
    [260, 140],
  ];
  const contrast = uni(0.85, 1.15);
  const offset = uni(-10, 10);
  const bias = { gx: uni(-0.05, 0.05), gy: uni(-0.05, 0.05) };
  const noiseRng = mulberry32(mix(seed, patient + 100_000));

  const c = Math.cos(rot);
  const s = Math.sin(rot);
  const toAnatomy = (x: number, y: number): [number, number] => {
    const px = x - S / 2 - shift[0]!;
    const py = y - S / 2 - shift[1]!;
    let u = (c * px + s * py) / scale + S / 2;
    let v = (-s * px + c * py) / scale + S / 2;
    const du = el[0]!.a * Math.sin(el[0]!.fx * u + el[0]!.fy * v + el[0]!.p);
    const dv = el[1]!.a * Math.sin(el[1]!.fx * u + el[1]!.fy * v + el[1]!.p);
    u += du;
    v += dv;
    return [u, v];
  };
  const inEllipse = (u: number, v: number, cx: number, cy: number, rx: number, ry: number) => ((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2 <= 1;
  const inBand = (u: number, v: number) => {
    const du = u - band.cx;
    const dv = v - band.cy;
    const d = Math.hypot(du, dv);
    if (Math.abs(d - band.R) > band.w / 2) return false;
    let a = Math.atan2(dv, du) - band.a0;
    while (a < 0) a += 2 * Math.PI;
    return a <= band.span;
  };
  /** [intensity before contrast, class] at an anatomy point. */
  const sample = (u: number, v: number): [number, number] => {
    if (!inEllipse(u, v, 256, 268, 225, 238)) return [20, 0];
    let val = 150 + tex(u, v);
    let cls = 0;
    if (inEllipse(u, v, 180, 330, 90, 70)) {
      val = 85 + 0.5 * tex(u, v);
      cls = 4;
    }
    if (inEllipse(u, v, 360, 200, 55, 80)) val = 105 + 0.5 * tex(u, v);
    for (const [dx, dy] of dots) if (inEllipse(u, v, dx!, dy!, 5, 5)) val = 215;
    const dd = Math.hypot(u - disc.cx, v - disc.cy);
    if (dd <= disc.r) {
      val = 225;
      cls = 1;
    }
    const dr = Math.hypot(u - ring.cx, v - ring.cy);
    if (dr <= ring.r1 && dr >= ring.r0) {
      val = 225;
      cls = 2;
    }
    if (inBand(u, v)) {
      val = 215;
      cls = 3;
    }
    return [val, cls];
  };

  const data = new Float32Array(S * S);
  const lab = new Uint8Array(S * S);
  const gauss = gaussianSource(noiseRng);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      let acc = 0;
      for (const [ox, oy] of [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]] as const) {
        const [u, v] = toAnatomy(x + ox, y + oy);
        acc += sample(u, v)[0];
      }
      const [u, v] = toAnatomy(x + 0.5, y + 0.5);
      const i = y * S + x;
      lab[i] = sample(u, v)[1];
      const b = 1 + bias.gx * (x / S - 0.5) * 2 + bias.gy * (y / S - 0.5) * 2;
      data[i] = Math.min(255, Math.max(0, (acc / 4) * contrast * b + offset + 7 * gauss()));
    }
  }
  return { image: { width: S, height: S, channels: 1, data }, label: { width: S, height: S, data: lab } };
}
