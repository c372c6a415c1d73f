/**
 * Fast differentiable bilinear warp for the network's hot path, as one custom op with a hand-written gradient
 * (typed-array loops), because on the wasm backend a gather-based warp spends most of a training step in GatherV2
 * and Tile kernels (measured: 0.8 s of a 2 s step for batch 8 at 128 px).
 *
 *   out[b, y, x, c] = bilinear sample of source[s(b)] at (x + flow[b,y,x,0], y + flow[b,y,x,1])
 *
 * `source` is [1,H,W,C] (shared by the whole batch: the reference, never tiled) or [B,H,W,C]. Positions are clamped
 * to the image (border replication); where a coordinate is clamped its flow gradient is 0. Gradients w.r.t. both
 * source and flow. Pure (no Node APIs); synchronous data reads, so best on CPU-side backends (wasm, cpu).
 */
import * as tf from '@tensorflow/tfjs';

interface Sample {
  i00: Int32Array;
  fx: Float32Array;
  fy: Float32Array;
  /** 1 when the x (y) coordinate was inside the image (flow gradient passes), else 0. */
  inX: Uint8Array;
  inY: Uint8Array;
}

function samplePositions(flow: Float32Array, B: number, H: number, W: number): Sample {
  const n = B * H * W;
  const i00 = new Int32Array(n);
  const fx = new Float32Array(n);
  const fy = new Float32Array(n);
  const inX = new Uint8Array(n);
  const inY = new Uint8Array(n);
  const maxX0 = Math.max(W - 2, 0);
  const maxY0 = Math.max(H - 2, 0);
  for (let b = 0, p = 0; b < B; b++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++, p++) {
        let px = x + flow[p * 2]!;
        let py = y + flow[p * 2 + 1]!;
        inX[p] = px >= 0 && px <= W - 1 ? 1 : 0;
        inY[p] = py >= 0 && py <= H - 1 ? 1 : 0;
        px = px < 0 ? 0 : px > W - 1 ? W - 1 : px;
        py = py < 0 ? 0 : py > H - 1 ? H - 1 : py;
        const x0 = Math.min(Math.floor(px), maxX0);
        const y0 = Math.min(Math.floor(py), maxY0);
        fx[p] = px - x0;
        fy[p] = py - y0;
        i00[p] = y0 * W + x0;
      }
    }
  }
  return { i00, fx, fy, inX, inY };
}

function forwardKernel(src: Float32Array, S: number, smp: Sample, B: number, H: number, W: number, C: number): Float32Array {
  const out = new Float32Array(B * H * W * C);
  const hw = H * W;
  const dx1 = W > 1 ? C : 0;
  const dy1 = H > 1 ? W * C : 0;
  for (let b = 0, p = 0; b < B; b++) {
    const base = (S === 1 ? 0 : b) * hw * C;
    for (let q = 0; q < hw; q++, p++) {
      const a = base + smp.i00[p]! * C;
      const fx = smp.fx[p]!;
      const fy = smp.fy[p]!;
      const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
      const o = p * C;
      for (let c = 0; c < C; c++) {
        out[o + c] = w00 * src[a + c]! + w01 * src[a + dx1 + c]! + w10 * src[a + dy1 + c]! + w11 * src[a + dy1 + dx1 + c]!;
      }
    }
  }
  return out;
}

function backwardKernel(
  src: Float32Array,
  S: number,
  smp: Sample,
  dy: Float32Array,
  B: number,
  H: number,
  W: number,
  C: number,
): { dSrc: Float32Array; dFlow: Float32Array } {
  const hw = H * W;
  const dSrc = new Float32Array(S * hw * C);
  const dFlow = new Float32Array(B * hw * 2);
  const dx1 = W > 1 ? C : 0;
  const dy1 = H > 1 ? W * C : 0;
  for (let b = 0, p = 0; b < B; b++) {
    const base = (S === 1 ? 0 : b) * hw * C;
    for (let q = 0; q < hw; q++, p++) {
      const a = base + smp.i00[p]! * C;
      const fx = smp.fx[p]!;
      const fy = smp.fy[p]!;
      const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
      const o = p * C;
      let gx = 0;
      let gy = 0;
      for (let c = 0; c < C; c++) {
        const g = dy[o + c]!;
        const v00 = src[a + c]!, v01 = src[a + dx1 + c]!, v10 = src[a + dy1 + c]!, v11 = src[a + dy1 + dx1 + c]!;
        dSrc[a + c] += w00 * g;
        dSrc[a + dx1 + c] += w01 * g;
        dSrc[a + dy1 + c] += w10 * g;
        dSrc[a + dy1 + dx1 + c] += w11 * g;
        gx += g * ((1 - fy) * (v01 - v00) + fy * (v11 - v10));
        gy += g * ((1 - fx) * (v10 - v00) + fx * (v11 - v01));
      }
      dFlow[p * 2] = smp.inX[p] ? gx : 0;
      dFlow[p * 2 + 1] = smp.inY[p] ? gy : 0;
    }
  }
  return { dSrc, dFlow };
}

/** Differentiable bilinear warp; `source` [1|B,H,W,C], `flow` [B,H,W,2] in pixels (channel 0 = dx). */
export function warpShared(source: tf.Tensor4D, flow: tf.Tensor4D): tf.Tensor4D {
  const [S, H, W, C] = source.shape;
  const [B, fh, fw, two] = flow.shape;
  if (fh !== H || fw !== W || two !== 2) throw new Error(`warpShared: flow ${flow.shape.join('x')} does not match source ${source.shape.join('x')}`);
  if (S !== 1 && S !== B) throw new Error(`warpShared: source batch ${S} must be 1 or ${B}`);
  const op = tf.customGrad(((src: tf.Tensor, fl: tf.Tensor, save: tf.GradSaveFunc) => {
    const srcData = src.dataSync() as Float32Array;
    const smp = samplePositions(fl.dataSync() as Float32Array, B, H, W);
    const value = tf.tensor4d(forwardKernel(srcData, S, smp, B, H, W, C), [B, H, W, C]);
    save([src]);
    return {
      value,
      gradFunc: (dy: tf.Tensor) => {
        const { dSrc, dFlow } = backwardKernel(srcData, S, smp, dy.dataSync() as Float32Array, B, H, W, C);
        return [tf.tensor4d(dSrc, [S, H, W, C]), tf.tensor4d(dFlow, [B, H, W, 2])];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(source, flow) as tf.Tensor4D;
}
