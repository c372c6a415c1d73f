/**
 * Training shims for the tfjs wasm backend (docs/architecture.md "TensorFlow.js facts measured on the 2-core build machine").
 *
 * The wasm backend (tfjs 4.22) has no kernels for several gradients. `registerWasmShims()` registers them as
 * ordinary wasm kernels, so the standard tfjs ops (`tf.conv2d`, `tf.gather`, `tf.depthwiseConv2d`, tf.layers, ...)
 * become trainable unchanged — the network code needs no special wrappers:
 *
 * | kernel                               | why needed                     | implementation                           |
 * |--------------------------------------|--------------------------------|------------------------------------------|
 * | Conv2DBackpropFilter                 | conv2d / conv2dTranspose grads | one conv: x as [Ci,H,W,B] ⊛ dy as filter  |
 * | Conv2DBackpropInput (replaced)       | wasm's own is ~10x slower      | dy zero-dilated (stride>1) ⊛ flipped w    |
 * | UnsortedSegmentSum                   | tf.gather gradient             | JS loop over the heap arrays             |
 * | DepthwiseConv2dNativeBackpropFilter  | depthwiseConv2d grad           | one depthwise conv with dy as filter     |
 * | DepthwiseConv2dNativeBackpropInput   | depthwiseConv2d grad           | depthwise conv of dy with flipped w      |
 * | MaxPoolGrad (replaced)                | wasm's is wrong for C > 1      | JS loop (first maximum of each window)   |
 * | BatchMatMul (wrapped)                | transposeA/B ~5x slower        | explicit Transpose, then the original    |
 * | Identity (replaced)                  | copies every saved tensor      | shares the data (refcount), as on cpu    |
 * | SplitV, last axis (replaced)         | generic strided slices: slow   | one JS pass over the rows                 |
 *
 * Everything else the warp model needs already has a wasm forward kernel and a core gradient: AvgPool(Grad),
 * MaxPool, ResizeBilinear (its gradient kernel is replaced on cpu and wasm, see registerGradientFixes), Softmax, Erf/Tanh (GELU), LeakyRelu, Concat, Slice, PadV2, Cumsum, GatherV2.
 * `gatherND` and `image.transform` have no gradient on any backend: use `tf.gather` (see spatial.ts).
 *
 * The shim kernels call the wasm backend's own kernel functions directly (not tf ops), so they add nothing to
 * the gradient tape and free their intermediates themselves. Only NHWC ('channelsLast') data is supported.
 * Dilated forward convolutions (dilations > 1) are not supported by the conv shims (they throw).
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type TensorInfo = tf.TensorInfo;
type KernelFunc = tf.KernelFunc;
type Attrs = Record<string, unknown>;

const BACKEND = 'wasm';

/** Runs wasm kernels by name and disposes the intermediates it produced (not the inputs, not the kept output). */
class KernelRunner {
  private readonly temps: TensorInfo[] = [];
  constructor(
    private readonly backend: BackendWasm,
    private readonly overrides: ReadonlyMap<string, KernelFunc>,
  ) {}

  run(kernelName: string, inputs: Record<string, TensorInfo>, attrs: Attrs = {}): TensorInfo {
    const fn = this.overrides.get(kernelName) ?? tf.getKernel(kernelName, BACKEND)?.kernelFunc;
    if (fn == null) throw new Error(`wasm shim: kernel ${kernelName} is not registered for wasm`);
    const res = fn({ inputs, backend: this.backend, attrs } as unknown as Parameters<KernelFunc>[0]);
    const out = (Array.isArray(res) ? res[0] : res) as TensorInfo;
    this.temps.push(out);
    return out;
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /** Pad (amount ≥ 0) or crop (amount < 0) each axis at both ends. */
  padOrCrop(x: TensorInfo, amounts: Array<[number, number]>): TensorInfo {
    let out = x;
    if (amounts.some(([a, b]) => a > 0 || b > 0)) {
      out = this.run('PadV2', { x: out }, { paddings: amounts.map(([a, b]) => [Math.max(0, a), Math.max(0, b)]), constantValue: 0 });
    }
    if (amounts.some(([a, b]) => a < 0 || b < 0)) {
      const begin = amounts.map(([a]) => Math.max(0, -a));
      const size = out.shape.map((n, i) => n - begin[i]! - Math.max(0, -amounts[i]![1]));
      out = this.run('Slice', { x: out }, { begin, size });
    }
    return out;
  }

  /** Insert (s-1) zeros after every row / column: [B,h,w,C] → [B,h*sh,w*sw,C] (trailing zeros included). */
  dilateZeros(x: TensorInfo, sh: number, sw: number): TensorInfo {
    const [b, h, w, c] = x.shape as [number, number, number, number];
    let out = x;
    if (sh > 1) {
      const r = this.reshape(out, [b * h, 1, w * c]);
      const p = this.run('PadV2', { x: r }, { paddings: [[0, 0], [0, sh - 1], [0, 0]], constantValue: 0 });
      out = this.reshape(p, [b, h * sh, w, c]);
    }
    if (sw > 1) {
      const hh = out.shape[1]!;
      const r = this.reshape(out, [b * hh * w, 1, c]);
      const p = this.run('PadV2', { x: r }, { paddings: [[0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
      out = this.reshape(p, [b, hh, w * sw, c]);
    }
    return out;
  }

  /** Keep `out` (the kernel result) and free every other intermediate. */
  finish(out: TensorInfo): TensorInfo {
    for (const t of this.temps) {
      if (t !== out) this.backend.disposeData(t.dataId);
    }
    return out;
  }

  /** Free everything (error path). */
  abort(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
  }
}

function pair(v: unknown): [number, number] {
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return [a[0]!, a[1]!];
}

function checkNoDilation(attrs: Attrs, name: string): void {
  const d = attrs['dilations'];
  if (d != null) {
    const [dh, dw] = pair(d);
    if (dh !== 1 || dw !== 1) throw new Error(`wasm shim ${name}: dilations > 1 are not supported`);
  }
  const fmt = attrs['dataFormat'];
  if (fmt != null && fmt !== 'NHWC' && fmt !== 'channelsLast') throw new Error(`wasm shim ${name}: only NHWC is supported`);
}

function withRunner(
  args: { backend: unknown },
  overrides: ReadonlyMap<string, KernelFunc>,
  body: (r: KernelRunner) => TensorInfo,
): TensorInfo {
  const runner = new KernelRunner(args.backend as BackendWasm, overrides);
  try {
    return runner.finish(body(runner));
  } catch (e) {
    runner.abort();
    throw e;
  }
}

type PadAttr = Parameters<typeof tf.backend_util.computeConv2DInfo>[4];
type RoundAttr = Parameters<typeof tf.backend_util.computeConv2DInfo>[5];
type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/**
 * Filter gradients (regular and depthwise): x padded (or cropped) to exactly what a valid conv with dy as the
 * filter, dilated by the forward stride, reads: needH = (ho-1)·sh + kh rows, needW = (wo-1)·sw + kw columns.
 */
function padForFilterGradient(
  r: KernelRunner, x: TensorInfo, info: ConvInfo, kh: number, kw: number,
): { xp: TensorInfo; needH: number; needW: number } {
  const needH = (info.outHeight - 1) * info.strideHeight + kh;
  const needW = (info.outWidth - 1) * info.strideWidth + kw;
  const { top, left } = info.padInfo;
  const xp = r.padOrCrop(x, [[0, 0], [top, needH - info.inHeight - top], [left, needW - info.inWidth - left], [0, 0]]);
  return { xp, needH, needW };
}

/**
 * Input gradients (regular and depthwise): dy zero-dilated by the forward stride and padded by k-1-pad (cropped
 * where negative), so a stride-1 valid conv with the spatially flipped filter yields dX of size H x W.
 */
function dilateAndPadForInputGradient(
  r: KernelRunner, dy: TensorInfo, info: ConvInfo, kh: number, kw: number, inputShape: readonly number[],
): TensorInfo {
  const d = r.dilateZeros(dy, info.strideHeight, info.strideWidth);
  const H = inputShape[1]!;
  const W = inputShape[2]!;
  const topPad = kh - 1 - info.padInfo.top;
  const leftPad = kw - 1 - info.padInfo.left;
  return r.padOrCrop(d, [[0, 0], [topPad, H + kh - 1 - topPad - d.shape[1]!], [leftPad, W + kw - 1 - leftPad - d.shape[2]!], [0, 0]]);
}

/**
 * dW[i,j,ci,co] = Σ_{b,oy,ox} xpad[b, oy*sh+i, ox*sw+j, ci] · dy[b,oy,ox,co]
 * = a valid conv of xpad viewed as [Ci, Hp, Wp, B] with dy viewed as the filter [ho, wo, B, Co], dilated by the
 * forward stride; the result [Ci, kh, kw, Co] is transposed back to [kh, kw, Ci, Co].
 */
function conv2dBackpropFilter(r: KernelRunner, x: TensorInfo, dy: TensorInfo, attrs: Attrs): TensorInfo {
  checkNoDilation(attrs, 'Conv2DBackpropFilter');
  const filterShape = attrs['filterShape'] as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, pair(attrs['strides']), 1,
    attrs['pad'] as PadAttr, attrs['dimRoundingMode'] as RoundAttr, false, 'channelsLast');
  const [kh, kw] = filterShape;
  const { xp } = padForFilterGradient(r, x, info, kh, kw);
  const xT = r.transpose(xp, [3, 1, 2, 0]);
  const dyT = r.transpose(dy, [1, 2, 0, 3]);
  const g = r.run('Conv2D', { x: xT, filter: dyT }, {
    strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [info.strideHeight, info.strideWidth], dimRoundingMode: undefined,
  });
  return r.transpose(g, [1, 2, 0, 3]);
}

/**
 * dX[b,y,x,ci] = Σ dy[b,oy,ox,co] · w[y+pt-oy*sh, x+pl-ox*sw, ci, co]
 * = a valid conv of (dy zero-dilated by the stride, padded by k-1-pad) with the spatially flipped filter
 * transposed to [kh, kw, Co, Ci].
 */
function conv2dBackpropInput(r: KernelRunner, dy: TensorInfo, filter: TensorInfo, attrs: Attrs): TensorInfo {
  checkNoDilation(attrs, 'Conv2DBackpropInput');
  const inputShape = attrs['inputShape'] as [number, number, number, number];
  const [kh, kw] = filter.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], pair(attrs['strides']), 1,
    attrs['pad'] as PadAttr, attrs['dimRoundingMode'] as RoundAttr, false, 'channelsLast');
  const dp = dilateAndPadForInputGradient(r, dy, info, kh, kw, inputShape);
  const wf = r.run('Reverse', { x: filter }, { dims: [0, 1] });
  const wt = r.transpose(wf, [0, 1, 3, 2]);
  return r.run('Conv2D', { x: dp, filter: wt }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined });
}

/**
 * Depthwise filter gradient, filter [kh,kw,C,M], dy [B,ho,wo,C*M]:
 * dW[i,j,c,m] = Σ_{b,o} xpad[b, o*s+i, c] · dy[b, o, c*M+m]. Computed as one depthwise conv over a single image
 * whose channels are (b, c, m): input xpad tiled over m, filter = dy, then summed over b.
 */
function depthwiseBackpropFilter(r: KernelRunner, x: TensorInfo, dy: TensorInfo, attrs: Attrs): TensorInfo {
  checkNoDilation(attrs, 'DepthwiseConv2dNativeBackpropFilter');
  const filterShape = attrs['filterShape'] as [number, number, number, number];
  const [kh, kw, C, M] = filterShape;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, pair(attrs['strides']), 1,
    attrs['pad'] as PadAttr, attrs['dimRoundingMode'] as RoundAttr, true, 'channelsLast');
  const B = x.shape[0]!;
  const { xp, needH, needW } = padForFilterGradient(r, x, info, kh, kw);
  // [B,Hp,Wp,C] → [Hp,Wp,B,C] (→ tiled over M: [Hp,Wp,B,C,M]) → [1,Hp,Wp,B*C*M]
  let xc = r.transpose(xp, [1, 2, 0, 3]);
  if (M > 1) {
    const x5 = r.reshape(xc, [needH, needW, B, C, 1]);
    xc = r.run('Tile', { x: x5 }, { reps: [1, 1, 1, 1, M] });
  }
  const xin = r.reshape(xc, [1, needH, needW, B * C * M]);
  // dy [B,ho,wo,C*M] → [ho,wo,B,C*M] → filter [ho,wo,B*C*M,1]
  const dyT = r.transpose(dy, [1, 2, 0, 3]);
  const f = r.reshape(dyT, [info.outHeight, info.outWidth, B * C * M, 1]);
  const g = r.run('DepthwiseConv2dNative', { x: xin, filter: f }, {
    strides: [1, 1], pad: 'valid', dilations: [info.strideHeight, info.strideWidth], dimRoundingMode: undefined,
  });
  // g [1,kh,kw,B*C*M] → [kh,kw,B,C*M] → sum over B → [kh,kw,C*M] → [kh,kw,C,M]
  const g4 = r.reshape(g, [kh, kw, B, C * M]);
  const s = r.run('Sum', { x: g4 }, { axis: [2], keepDims: false });
  return r.reshape(s, [kh, kw, C, M]);
}

/**
 * Depthwise input gradient: dX[b,y,x,c] = Σ_m Σ_o dy[b,o,c*M+m] · w[y+p-o*s, c, m]: a depthwise conv of the
 * dilated, padded dy with the flipped filter viewed as [kh,kw,C*M,1], then summed over m.
 */
function depthwiseBackpropInput(r: KernelRunner, dy: TensorInfo, filter: TensorInfo, attrs: Attrs): TensorInfo {
  checkNoDilation(attrs, 'DepthwiseConv2dNativeBackpropInput');
  const inputShape = attrs['inputShape'] as [number, number, number, number];
  const [kh, kw, C, M] = filter.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], pair(attrs['strides']), 1,
    attrs['pad'] as PadAttr, attrs['dimRoundingMode'] as RoundAttr, true, 'channelsLast');
  const [B, H, W] = inputShape;
  const dp = dilateAndPadForInputGradient(r, dy, info, kh, kw, inputShape);
  const wf = r.run('Reverse', { x: filter }, { dims: [0, 1] });
  const w1 = r.reshape(wf, [kh, kw, C * M, 1]);
  const g = r.run('DepthwiseConv2dNative', { x: dp, filter: w1 }, { strides: [1, 1], pad: 'valid', dilations: [1, 1], dimRoundingMode: undefined });
  if (M === 1) return g;
  const g5 = r.reshape(g, [B, H, W, C, M]);
  return r.run('Sum', { x: g5 }, { axis: [4], keepDims: false });
}

/** out[s, ...inner] = Σ_{i: ids[i]=s} x[i, ...inner]; ids outside [0, numSegments) are dropped (as in TF). */
function unsortedSegmentSum(args: { inputs: unknown; backend: unknown; attrs?: unknown }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  const nIds = segmentIds.shape.reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(segmentIds.shape.length).reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  const o = backend.typedArrayFromHeap(out);
  o.fill(0);
  const xs = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  for (let i = 0; i < nIds; i++) {
    const s = ids[i]!;
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let k = 0; k < inner; k++) o[dst + k] += xs[src + k]!;
  }
  return out;
}

/**
 * Gradient of tf.image.resizeBilinear (images [B,h,w,C] → [B,H,W,C]), the exact adjoint of the cpu/wasm forward
 * kernels: output pixel (r,c) reads source row floor/ceil of r·scale (or (r+0.5)·scale-0.5 with
 * halfPixelCenters), clamped, with the same fractional weights; the gradient scatters dy back with those weights.
 */
function resizeBilinearGrad(backendName: string, args: { inputs: unknown; backend: unknown; attrs?: unknown }): TensorInfo {
  const backend = args.backend as tf.KernelBackend & {
    makeOutput?: (shape: number[], dtype: tf.DataType, offset?: number, values?: Float32Array) => TensorInfo;
    makeTensorInfo?: (shape: number[], dtype: tf.DataType, values?: Float32Array) => TensorInfo;
  };
  const { images, dy } = args.inputs as { images: TensorInfo; dy: TensorInfo };
  const { alignCorners, halfPixelCenters } = args.attrs as { alignCorners: boolean; halfPixelCenters?: boolean };
  const [batch, inH, inW, depth] = images.shape as [number, number, number, number];
  const [, outH, outW] = dy.shape as [number, number, number, number];
  const dyValues = backend.readSync(dy.dataId) as Float32Array;
  const dx = new Float32Array(batch * inH * inW * depth);
  const rowRatio = (alignCorners && outH > 1 ? inH - 1 : inH) / (alignCorners && outH > 1 ? outH - 1 : outH);
  const colRatio = (alignCorners && outW > 1 ? inW - 1 : inW) / (alignCorners && outW > 1 ? outW - 1 : outW);
  const colFloor = new Int32Array(outW);
  const colCeil = new Int32Array(outW);
  const colFrac = new Float64Array(outW);
  for (let c = 0; c < outW; c++) {
    const f = halfPixelCenters === true ? colRatio * (c + 0.5) - 0.5 : colRatio * c;
    colFloor[c] = Math.max(0, Math.floor(f));
    colCeil[c] = Math.min(inW - 1, Math.ceil(f));
    colFrac[c] = f - colFloor[c]!;
  }
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < outH; r++) {
      const f = halfPixelCenters === true ? rowRatio * (r + 0.5) - 0.5 : rowRatio * r;
      const r0 = Math.max(0, Math.floor(f));
      const r1 = Math.min(inH - 1, Math.ceil(f));
      const fr = f - r0;
      const top = (b * inH + r0) * inW;
      const bot = (b * inH + r1) * inW;
      for (let c = 0; c < outW; c++) {
        const fc = colFrac[c]!;
        const tl = (top + colFloor[c]!) * depth;
        const tr = (top + colCeil[c]!) * depth;
        const bl = (bot + colFloor[c]!) * depth;
        const br = (bot + colCeil[c]!) * depth;
        const wtl = (1 - fr) * (1 - fc);
        const wtr = (1 - fr) * fc;
        const wbl = fr * (1 - fc);
        const wbr = fr * fc;
        for (let d = 0; d < depth; d++) {
          const g = dyValues[o++]!;
          dx[tl + d] += g * wtl;
          dx[tr + d] += g * wtr;
          dx[bl + d] += g * wbl;
          dx[br + d] += g * wbr;
        }
      }
    }
  }
  if (backendName === 'wasm') return backend.makeOutput!(images.shape, 'float32', undefined, dx);
  return backend.makeTensorInfo!(images.shape, 'float32', dx);
}

/**
 * MaxPool gradient (wasm's own MaxPoolGrad routes the gradient to wrong pixels when C > 1): dy goes to the first
 * maximum of each window (row-major scan, as the cpu backend), padding never wins.
 */
function maxPoolGrad(args: { inputs: unknown; backend: unknown; attrs?: unknown }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const a = args.attrs as { filterSize: number | [number, number]; strides: number | [number, number]; pad: PadAttr; dimRoundingMode?: RoundAttr };
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad as never, a.dimRoundingMode);
  // Allocate first: a growing wasm heap detaches views taken before the allocation.
  const out = backend.makeOutput(input.shape, 'float32');
  const xs = backend.typedArrayFromHeap(input);
  const dys = backend.typedArrayFromHeap(dy);
  const dx = backend.typedArrayFromHeap(out);
  dx.fill(0);
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, strideHeight, strideWidth } = info;
  const fh = info.effectiveFilterHeight;
  const fw = info.effectiveFilterWidth;
  const { top, left } = info.padInfo;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - top;
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - left;
        for (let c = 0; c < C; c++) {
          let best = -Infinity;
          let bestIdx = -1;
          for (let ky = 0; ky < fh; ky++) {
            const y = y0 + ky;
            if (y < 0 || y >= inHeight) continue;
            for (let kx = 0; kx < fw; kx++) {
              const x = x0 + kx;
              if (x < 0 || x >= inWidth) continue;
              const idx = ((b * inHeight + y) * inWidth + x) * C + c;
              const v = xs[idx]!;
              if (v > best || bestIdx < 0) {
                best = v;
                bestIdx = idx;
              }
            }
          }
          if (bestIdx >= 0) dx[bestIdx] += dys[((b * outHeight + oy) * outWidth + ox) * C + c]!;
        }
      }
    }
  }
  return out;
}

let registered = false;
let gradientFixesRegistered = false;

/**
 * Fixes for tfjs-core gradients that are wrong on every backend (registered globally, idempotent; called by
 * `initTf` for all backends):
 * - ResizeBilinearGrad (cpu and wasm kernels replaced by one JS loop): the cpu kernel returns a [B,W,H,C]
 *   shape for non-square images, and neither honours `halfPixelCenters`.
 * - Greater, Less, LessEqual, Equal, NotEqual, LogicalAnd/Or/Not: no gradient registered in tfjs (so a mask
 *   computed from a taped tensor breaks tf.grad); registered as zero.
 * - Cumsum along a non-last axis: tfjs 4.22 transposes the (already correct) reverse cumsum, giving a wrongly
 *   shaped gradient. The gradient of cumsum(x, axis, exclusive, reverse) is cumsum(dy, axis, exclusive, !reverse).
 */
export function registerGradientFixes(): void {
  if (gradientFixesRegistered) return;
  gradientFixesRegistered = true;
  for (const backendName of ['cpu', 'wasm']) {
    if (tf.getKernel('ResizeBilinearGrad', backendName) != null) tf.unregisterKernel('ResizeBilinearGrad', backendName);
    tf.registerKernel({ kernelName: 'ResizeBilinearGrad', backendName, kernelFunc: ((args: { inputs: unknown; backend: unknown; attrs?: unknown }) => resizeBilinearGrad(backendName, args)) as unknown as KernelFunc });
  }
  // Comparisons and logical ops: piecewise constant, gradient 0 (tfjs registers none, so e.g.
  // tf.where(tf.greater(x, 0), a, b) with x on the tape throws "gradient function not found for Greater").
  for (const kernelName of ['Greater', 'Less', 'LessEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr']) {
    tf.registerGradient({
      kernelName,
      inputsToSave: ['a', 'b'],
      gradFunc: (_dy, saved) => ({
        a: () => tf.zeros(saved[0]!.shape, 'float32'),
        b: () => tf.zeros(saved[1]!.shape, 'float32'),
      }),
    });
  }
  tf.registerGradient({
    kernelName: 'LogicalNot',
    inputsToSave: ['x'],
    gradFunc: (_dy, saved) => ({ x: () => tf.zeros(saved[0]!.shape, 'float32') }),
  });
  tf.registerGradient({
    kernelName: 'Cumsum',
    inputsToSave: ['x'],
    gradFunc: (dy, _saved, attrs) => {
      const { axis, exclusive, reverse } = attrs as unknown as { axis: number; exclusive: boolean; reverse: boolean };
      return { x: () => tf.cumsum(dy as tf.Tensor, axis, exclusive, !reverse) };
    },
  });
}

/** Names of the kernels this module registers or replaces on the wasm backend (for reports and tests). */
export const WASM_SHIM_KERNELS = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'UnsortedSegmentSum',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'BatchMatMul',
  'MaxPoolGrad',
] as const;

/**
 * SplitV along the last axis (the gradient of every channel concat in the network, e.g. [5,64,64,96] → 3 × 32):
 * one pass over the rows in JavaScript. wasm's version slices each output with a generic strided copy, measured at
 * about 10 % of a training step. Other axes and dtypes go to the original kernel.
 */
function splitLastAxis(original: KernelFunc): KernelFunc {
  return ((args: { inputs: unknown; backend: unknown; attrs?: unknown }) => {
    const backend = args.backend as BackendWasm;
    const x = (args.inputs as { x: TensorInfo }).x;
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number | number[] };
    const rank = x.shape.length;
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    if (ax !== rank - 1 || x.dtype !== 'float32' || rank < 2) return original(args as Parameters<KernelFunc>[0]);
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
    const C = x.shape[rank - 1]!;
    const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    // Allocate every output first: a growing wasm heap detaches views taken before an allocation.
    const outs = sizes.map((n) => backend.makeOutput([...x.shape.slice(0, -1), n], 'float32'));
    const src = backend.typedArrayFromHeap(x);
    const dsts = outs.map((o) => backend.typedArrayFromHeap(o));
    for (let r = 0, p = 0; r < rows; r++) {
      for (let k = 0; k < sizes.length; k++) {
        const n = sizes[k]!;
        const dst = dsts[k]!;
        const q = r * n;
        for (let c = 0; c < n; c++) dst[q + c] = src[p + c]!;
        p += n;
      }
    }
    if (rows * C !== src.length) throw new Error('SplitV shim: shape and data disagree');
    return outs;
  }) as unknown as KernelFunc;
}

function replaceKernel(kernelName: string, kernelFunc: KernelFunc): void {
  if (tf.getKernel(kernelName, BACKEND) != null) tf.unregisterKernel(kernelName, BACKEND);
  tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc });
}

/**
 * Register the shims on the wasm backend. Idempotent; called by `initTf` when wasm is selected. Safe to call
 * before the wasm backend is initialised (kernels are looked up at run time).
 */
export function registerWasmShims(): void {
  if (registered) return;
  registered = true;
  const originalBatchMatMul = tf.getKernel('BatchMatMul', BACKEND)?.kernelFunc;
  const originals = new Map<string, KernelFunc>();
  if (originalBatchMatMul != null) originals.set('BatchMatMul', originalBatchMatMul);

  const k = (f: (r: KernelRunner, inputs: Record<string, TensorInfo>, attrs: Attrs) => TensorInfo): KernelFunc =>
    ((args: { inputs: unknown; backend: unknown; attrs?: unknown }) =>
      withRunner(args, originals, (r) => f(r, args.inputs as Record<string, TensorInfo>, (args.attrs ?? {}) as Attrs))) as unknown as KernelFunc;

  replaceKernel('Conv2DBackpropFilter', k((r, i, a) => conv2dBackpropFilter(r, i['x']!, i['dy']!, a)));
  replaceKernel('Conv2DBackpropInput', k((r, i, a) => conv2dBackpropInput(r, i['dy']!, i['filter']!, a)));
  replaceKernel('DepthwiseConv2dNativeBackpropFilter', k((r, i, a) => depthwiseBackpropFilter(r, i['x']!, i['dy']!, a)));
  replaceKernel('DepthwiseConv2dNativeBackpropInput', k((r, i, a) => depthwiseBackpropInput(r, i['dy']!, i['filter']!, a)));
  replaceKernel('UnsortedSegmentSum', unsortedSegmentSum as unknown as KernelFunc);
  replaceKernel('MaxPoolGrad', maxPoolGrad as unknown as KernelFunc);
  const originalSplitV = tf.getKernel('SplitV', BACKEND)?.kernelFunc;
  if (originalSplitV != null) replaceKernel('SplitV', splitLastAxis(originalSplitV));
  const originalIdentity = tf.getKernel('Identity', BACKEND)?.kernelFunc;
  if (originalIdentity != null) {
    // tfjs saves every tensor a backward pass needs through Identity (~500 calls per warp training step); wasm's
    // copies the data, the cpu backend's shares it (refcount). Tensors are immutable, so sharing is safe.
    replaceKernel('Identity', ((args: { inputs: unknown; backend: unknown }) => {
      const x = (args.inputs as { x: TensorInfo }).x;
      if (x.dtype === 'string') return originalIdentity(args as Parameters<KernelFunc>[0]);
      (args.backend as BackendWasm).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    }) as unknown as KernelFunc);
  }
  if (originalBatchMatMul != null) {
    // transposeA/transposeB are much slower inside wasm's matmul than an explicit Transpose first.
    replaceKernel('BatchMatMul', k((r, i, a) => {
      let ta = i['a']!;
      let tb = i['b']!;
      const perm = (t: TensorInfo): number[] => {
        const p = t.shape.map((_, j) => j);
        const n = p.length;
        [p[n - 2], p[n - 1]] = [p[n - 1]!, p[n - 2]!];
        return p;
      };
      if (a['transposeA'] === true) ta = r.transpose(ta, perm(ta));
      if (a['transposeB'] === true) tb = r.transpose(tb, perm(tb));
      return r.run('BatchMatMul', { a: ta, b: tb }, { ...a, transposeA: false, transposeB: false });
    }));
  }
}
