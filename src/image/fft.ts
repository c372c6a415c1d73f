/**
 * Fast Fourier transforms (radix 2, double precision) and the 2-D cross-correlation of real planes built on them.
 *
 * Used where a sum over a template must be known for every shift at once (roi-match.ts): a direct search costs
 * template pixels × shifts, the transforms O(N log N) for an N-point padded plane. Frames: a plane is row-major,
 * x along a row; shifts wrap around the padded size, so callers pad by at least the largest shift.
 */

/** The smallest power of two ≥ n (n ≥ 1). */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** cos and sin of −2πk/n for k < n/2, per transform length (a row's transform runs once per row). */
const twiddleCache = new Map<number, { cos: Float64Array; sin: Float64Array }>();

function twiddles(n: number): { cos: Float64Array; sin: Float64Array } {
  let t = twiddleCache.get(n);
  if (!t) {
    const half = n >> 1;
    t = { cos: new Float64Array(half), sin: new Float64Array(half) };
    for (let k = 0; k < half; k++) {
      t.cos[k] = Math.cos((-2 * Math.PI * k) / n);
      t.sin[k] = Math.sin((-2 * Math.PI * k) / n);
    }
    twiddleCache.set(n, t);
  }
  return t;
}

/** In-place complex DFT of length re.length (a power of two): X[k] = Σ_j x[j]·e^{∓2πi jk/n}; `inverse` divides by n. */
export function fftInPlace(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (im.length !== n || (n & (n - 1)) !== 0) throw new Error(`fftInPlace: length ${n} must be a power of two (and match)`);
  // bit-reversal permutation
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const r = re[i]!;
      re[i] = re[j]!;
      re[j] = r;
      const m = im[i]!;
      im[i] = im[j]!;
      im[j] = m;
    }
  }
  const { cos, sin } = twiddles(n);
  const sign = inverse ? -1 : 1;
  for (let len = 2; len <= n; len *= 2) {
    const half = len / 2;
    const stride = n / len; // twiddle k of this length is entry k·stride of the length-n table
    for (let k = 0; k < half; k++) {
      const wr = cos[k * stride]!;
      const wi = sign * sin[k * stride]!;
      for (let start = k; start < n; start += len) {
        const b = start + half;
        const xr = re[b]! * wr - im[b]! * wi;
        const xi = re[b]! * wi + im[b]! * wr;
        re[b] = re[start]! - xr;
        im[b] = im[start]! - xi;
        re[start] = re[start]! + xr;
        im[start] = im[start]! + xi;
      }
    }
  }
  if (inverse) {
    for (let i = 0; i < n; i++) {
      re[i] = re[i]! / n;
      im[i] = im[i]! / n;
    }
  }
}

/** In-place 2-D DFT of a width × height complex plane (both powers of two): rows, then columns. */
export function fft2dInPlace(re: Float64Array, im: Float64Array, width: number, height: number, inverse = false): void {
  if (re.length !== width * height || im.length !== width * height) throw new Error(`fft2dInPlace: planes must be ${width}x${height}`);
  const rowRe = new Float64Array(width);
  const rowIm = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    rowRe.set(re.subarray(y * width, (y + 1) * width));
    rowIm.set(im.subarray(y * width, (y + 1) * width));
    fftInPlace(rowRe, rowIm, inverse);
    re.set(rowRe, y * width);
    im.set(rowIm, y * width);
  }
  const colRe = new Float64Array(height);
  const colIm = new Float64Array(height);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      colRe[y] = re[y * width + x]!;
      colIm[y] = im[y * width + x]!;
    }
    fftInPlace(colRe, colIm, inverse);
    for (let y = 0; y < height; y++) {
      re[y * width + x] = colRe[y]!;
      im[y * width + x] = colIm[y]!;
    }
  }
}

/** Spectra of two real planes from one complex transform of f + i·g (Hermitian symmetry splits them). */
function twoRealSpectra(f: Float64Array, g: Float64Array, width: number, height: number) {
  const re = Float64Array.from(f);
  const im = Float64Array.from(g);
  fft2dInPlace(re, im, width, height);
  const n = width * height;
  const fRe = new Float64Array(n);
  const fIm = new Float64Array(n);
  const gRe = new Float64Array(n);
  const gIm = new Float64Array(n);
  for (let ky = 0; ky < height; ky++) {
    for (let kx = 0; kx < width; kx++) {
      const k = ky * width + kx;
      const m = ((height - ky) % height) * width + ((width - kx) % width); // −k
      // F = (Z[k] + conj Z[−k]) / 2,  G = (Z[k] − conj Z[−k]) / 2i
      fRe[k] = 0.5 * (re[k]! + re[m]!);
      fIm[k] = 0.5 * (im[k]! - im[m]!);
      gRe[k] = 0.5 * (im[k]! + im[m]!);
      gIm[k] = -0.5 * (re[k]! - re[m]!);
    }
  }
  return [
    { re: fRe, im: fIm },
    { re: gRe, im: gIm },
  ] as const;
}

/** The 2-D spectrum of a real plane (width × height). */
export interface Spectrum {
  re: Float64Array;
  im: Float64Array;
}

/** Spectra of real width × height planes (powers of two), two planes per complex transform. */
export function realSpectra(planes: readonly Float64Array[], width: number, height: number): Spectrum[] {
  const n = width * height;
  for (const p of planes) if (p.length !== n) throw new Error(`realSpectra: planes must be ${width}x${height}`);
  const spectra: Spectrum[] = [];
  for (let i = 0; i < planes.length; i += 2) {
    const [a, b] = twoRealSpectra(planes[i]!, planes[i + 1] ?? new Float64Array(n), width, height);
    spectra.push(a);
    if (i + 1 < planes.length) spectra.push(b);
  }
  return spectra;
}

/**
 * Circular cross-correlations of real planes from their spectra, for each pair (f, g) of indices into `spectra`:
 * C(s) = Σ_p f(p)·g(p + s) at index (s_y mod height)·width + (s_x mod width). Pairs are inverted two at a time
 * (C₁ + i·C₂ is one inverse transform, both being real).
 */
export function correlationsOfSpectra(spectra: readonly Spectrum[], pairs: readonly (readonly [number, number])[], width: number, height: number): Float64Array[] {
  const n = width * height;
  const out: Float64Array[] = [];
  for (let q = 0; q < pairs.length; q += 2) {
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    for (let j = 0; j < 2 && q + j < pairs.length; j++) {
      const [fi, gi] = pairs[q + j]!;
      const F = spectra[fi]!;
      const G = spectra[gi]!;
      for (let k = 0; k < n; k++) {
        // conj(F)·G
        const pr = F.re[k]! * G.re[k]! + F.im[k]! * G.im[k]!;
        const pi = F.re[k]! * G.im[k]! - F.im[k]! * G.re[k]!;
        // the second pair rides on i: i·(pr + i·pi) = −pi + i·pr
        if (j === 0) {
          re[k] = pr;
          im[k] = pi;
        } else {
          re[k] = re[k]! - pi;
          im[k] = im[k]! + pr;
        }
      }
    }
    fft2dInPlace(re, im, width, height, true);
    out.push(re);
    if (q + 1 < pairs.length) out.push(im);
  }
  return out;
}

/** `correlationsOfSpectra` of the planes' spectra (each plane transformed once). */
export function crossCorrelations(
  planes: readonly Float64Array[],
  pairs: readonly (readonly [number, number])[],
  width: number,
  height: number,
): Float64Array[] {
  return correlationsOfSpectra(realSpectra(planes, width, height), pairs, width, height);
}
