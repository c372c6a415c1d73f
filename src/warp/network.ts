/**
 * The warping network (paper §4.3, App. B.3), a 2D NICE-Trans-like coarse-to-fine registration model.
 *
 *   fixed F = test image, moving M = reference image, both at the working resolution R×R (R divisible by 16).
 *   Shared encoder → features at levels l = 0..4 (sizes R, R/2, R/4, R/8, R/16; widths `encoderWidths`).
 *   Affine stage at level 4: A = I + ΔA (2×3, ΔA from a zero-initialised head, so A starts as the identity with the
 *   scaling terms A00 = A11 = 1), turned into a displacement field.
 *   4 deformable stages at levels 4, 3, 2, 1: each warps the moving features with the current flow, looks at
 *   [F_l, warp(M_l), up(decoder_{l+1})] and adds a residual displacement (head initialised ≈ 0) to the 2×-upsampled
 *   flow of the stage before. The level-1 flow is upsampled to R.
 *
 * Frames: the output `flowXyWarp` [B,R,R,2] is, for each pixel (x,y) of the fixed (test) working grid, the
 * displacement (dx, dy) in working pixels such that the moving (reference) working grid is sampled at
 * (x+dx, y+dy). Channel 0 = dx, 1 = dy. Pixel centres at integers (pixel-centre aligned resampling).
 *
 * Two architectures: 'conv' (two 3×3 conv + LeakyReLU per stage) and 'nice-trans' (the decoder stages at the
 * coarse levels use a conv embedding followed by a windowed multi-head self-attention transformer block, as the
 * Swin-style blocks of NICE-Trans; the finest stage stays convolutional).
 */
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from './params.js';
import { warpShared } from './fast-warp.js';

export type WarpArchitecture = 'nice-trans' | 'conv';

export interface WarpNetworkConfig {
  arch: WarpArchitecture;
  /** Working resolution R (square, divisible by 16). */
  resolution: number;
  /** Affine stage on/off (Table 11 ablation). */
  affine: boolean;
  /** Encoder widths at levels 0..4 (paper: initial encoder width 16). */
  encoderWidths: [number, number, number, number, number];
  /** Decoder width (paper: initial decoder width 32). */
  decoderWidth: number;
  /**
   * Width of the finest (level-1, R/2) decoder stage. It holds about half of the network's FLOPs at width 32; a
   * narrower finest stage is a CPU speed option (default: decoderWidth).
   */
  finestDecoderWidth?: number;
  /** 'nice-trans' only: levels whose stage uses a transformer block (default [4, 3, 2]). */
  attentionLevels: number[];
  /** 'nice-trans' only: attention window side (tokens per window = window²) and heads. */
  attentionWindow: number;
  attentionHeads: number;
}

export const DEFAULT_NETWORK_CONFIG: WarpNetworkConfig = {
  arch: 'conv',
  resolution: 128,
  affine: true,
  encoderWidths: [16, 32, 32, 64, 64],
  decoderWidth: 32,
  attentionLevels: [4, 3, 2],
  attentionWindow: 8,
  attentionHeads: 2,
};

export interface WarpForward {
  /** [B,R,R,2] displacement in working pixels, fixed(test) grid → moving(reference) grid. */
  flowXyWarp: tf.Tensor4D;
  /** [B,2,3] affine matrices in normalised coordinates ([-1,1], pixel centres), or null without the affine stage. */
  affine: tf.Tensor3D | null;
}

const LEAK = 0.2;
/** Deformable heads start at N(0, HEAD_STD): flow ≈ 0 at initialisation (identity warp). */
const HEAD_STD = 1e-5;
/**
 * Stability bounds (a training run at lr 2e-3 diverged without them: the flow exploded after ~125 steps):
 * ΔA = AFFINE_BOUND·tanh(raw) (scale 0.5–1.5, translation ±25 % of the image, shear/rotation ±~27°, wider than
 * Table 13's 'wide' augmentation), and each stage's residual displacement is RESIDUAL_BOUND·tanh(raw/RESIDUAL_BOUND)
 * pixels of its own level. Both are the identity with slope 1 at 0, so initialisation is unchanged.
 */
const AFFINE_BOUND = 0.5;
const RESIDUAL_BOUND = 4;

export class WarpNetwork {
  readonly config: WarpNetworkConfig;
  readonly params: ParamStore;

  constructor(config: WarpNetworkConfig, params: ParamStore) {
    if (config.resolution % 16 !== 0 || config.resolution < 32) {
      throw new Error(`working resolution must be a multiple of 16 and at least 32, got ${config.resolution}`);
    }
    this.config = config;
    this.params = params;
    // Build every variable once (deterministic order → deterministic init and checkpoint layout).
    tf.tidy(() => {
      const f = tf.zeros([1, config.resolution, config.resolution, 1]) as tf.Tensor4D;
      this.forward(f, f);
    });
  }

  // ---- building blocks -------------------------------------------------------------------------------------

  private conv(x: tf.Tensor4D, name: string, outC: number, stride = 1, act = true): tf.Tensor4D {
    const inC = x.shape[3];
    const w = this.params.get(`${name}/w`, [3, 3, inC, outC], { kind: 'he', fanIn: 9 * inC });
    const b = this.params.get(`${name}/b`, [outC], { kind: 'zeros' });
    let y = tf.conv2d(x, w as tf.Tensor4D, stride, 'same').add(b) as tf.Tensor4D;
    if (act) y = tf.leakyRelu(y, LEAK);
    return y;
  }

  private dense(x: tf.Tensor2D, name: string, outC: number, init: 'he' | 'zeros' | 'small'): tf.Tensor2D {
    const inC = x.shape[1];
    const w = this.params.get(
      `${name}/w`,
      [inC, outC],
      init === 'he' ? { kind: 'he', fanIn: inC } : init === 'zeros' ? { kind: 'zeros' } : { kind: 'normal', std: 0.02 },
    );
    const b = this.params.get(`${name}/b`, [outC], { kind: 'zeros' });
    return tf.matMul(x, w as tf.Tensor2D).add(b) as tf.Tensor2D;
  }

  private layerNorm(x: tf.Tensor, name: string): tf.Tensor {
    const c = x.shape[x.shape.length - 1]!;
    const g = this.params.get(`${name}/g`, [c], { kind: 'ones' });
    const b = this.params.get(`${name}/b`, [c], { kind: 'zeros' });
    const { mean, variance } = tf.moments(x, -1, true);
    return x.sub(mean).mul(variance.add(1e-5).rsqrt()).mul(g).add(b);
  }

  /** Windowed multi-head self-attention + MLP (pre-norm residual), on [B,S,S,C]. */
  private transformer(x: tf.Tensor4D, name: string): tf.Tensor4D {
    const [B, S, , C] = x.shape;
    const w = Math.min(this.config.attentionWindow, S);
    const nW = (S / w) * (S / w);
    const heads = this.config.attentionHeads;
    const d = C / heads;
    // windows: [B, S/w, w, S/w, w, C] → [B*nW, w*w, C]
    const toWindows = (t: tf.Tensor): tf.Tensor2D =>
      t
        .reshape([B, S / w, w, S / w, w, C])
        .transpose([0, 1, 3, 2, 4, 5])
        .reshape([B * nW * w * w, C]) as tf.Tensor2D;
    const fromWindows = (t: tf.Tensor): tf.Tensor4D =>
      t
        .reshape([B, S / w, S / w, w, w, C])
        .transpose([0, 1, 3, 2, 4, 5])
        .reshape([B, S, S, C]) as tf.Tensor4D;
    const tokens = toWindows(this.layerNorm(x, `${name}/ln1`));
    const qkv = this.dense(tokens, `${name}/qkv`, 3 * C, 'small'); // [N, 3C]
    const splitHeads = (t: tf.Tensor): tf.Tensor3D =>
      t
        .reshape([B * nW, w * w, heads, d])
        .transpose([0, 2, 1, 3])
        .reshape([B * nW * heads, w * w, d]) as tf.Tensor3D;
    const [q, k, v] = tf.split(qkv, 3, 1);
    const qh = splitHeads(q!.mul(1 / Math.sqrt(d)));
    const kh = splitHeads(k!);
    const vh = splitHeads(v!);
    const attn = tf.softmax(tf.matMul(qh, kh, false, true)); // [B*nW*h, T, T]
    const out = tf
      .matMul(attn, vh)
      .reshape([B * nW, heads, w * w, d])
      .transpose([0, 2, 1, 3])
      .reshape([B * nW * w * w, C]) as tf.Tensor2D;
    const proj = this.dense(out, `${name}/proj`, C, 'small');
    const x1 = x.add(fromWindows(proj)) as tf.Tensor4D;
    const flat = this.layerNorm(x1, `${name}/ln2`).reshape([B * S * S, C]) as tf.Tensor2D;
    const hidden = tf.leakyRelu(this.dense(flat, `${name}/mlp1`, 2 * C, 'he'), LEAK) as tf.Tensor2D;
    const mlp = this.dense(hidden, `${name}/mlp2`, C, 'small');
    return x1.add(mlp.reshape([B, S, S, C])) as tf.Tensor4D;
  }

  private encode(img: tf.Tensor4D): tf.Tensor4D[] {
    const w = this.config.encoderWidths;
    const f0 = this.conv(img, 'enc0a', w[0]);
    const f1 = this.conv(this.conv(f0, 'enc1a', w[1], 2), 'enc1b', w[1]);
    const f2 = this.conv(this.conv(f1, 'enc2a', w[2], 2), 'enc2b', w[2]);
    const f3 = this.conv(this.conv(f2, 'enc3a', w[3], 2), 'enc3b', w[3]);
    const f4 = this.conv(this.conv(f3, 'enc4a', w[4], 2), 'enc4b', w[4]);
    return [f0, f1, f2, f3, f4];
  }

  private affineStage(fixed4: tf.Tensor4D, moving4: tf.Tensor4D): tf.Tensor3D {
    const B = fixed4.shape[0];
    if (moving4.shape[0] !== B) moving4 = tf.zeros([B, 1, 1, 1]).add(moving4) as tf.Tensor4D; // broadcast, not Tile
    // At a coarse input (half the working resolution) the level-4 maps are half as wide; the dense head expects
    // the working grid's R/16 cells, so each coarse cell feeds the 2×2 cells it covers (nearest upsampling).
    const S4 = this.config.resolution / 16;
    if (fixed4.shape[1] !== S4) {
      fixed4 = tf.image.resizeNearestNeighbor(fixed4, [S4, S4], false, true) as tf.Tensor4D;
      moving4 = tf.image.resizeNearestNeighbor(moving4, [S4, S4], false, true) as tf.Tensor4D;
    }
    const x = this.conv(this.conv(tf.concat([fixed4, moving4], 3), 'aff/c1', this.config.decoderWidth), 'aff/c2', 16, 2);
    const flat = x.reshape([B, -1]) as tf.Tensor2D;
    const h = tf.leakyRelu(this.dense(flat, 'aff/d1', 64, 'he'), LEAK) as tf.Tensor2D;
    const delta = tf.tanh(this.dense(h, 'aff/d2', 6, 'zeros')).mul(AFFINE_BOUND); // ΔA, zero at start
    const identity = tf.tensor2d([1, 0, 0, 0, 1, 0], [1, 6]);
    return delta.add(identity).reshape([B, 2, 3]) as tf.Tensor3D;
  }

  /** Stage block at one level: [B,S,S,Cin] → [B,S,S,D]. */
  private stageBlock(x: tf.Tensor4D, level: number): tf.Tensor4D {
    const D = level === 1 ? (this.config.finestDecoderWidth ?? this.config.decoderWidth) : this.config.decoderWidth;
    const h = this.conv(x, `dec${level}/c1`, D);
    if (this.config.arch === 'nice-trans' && this.config.attentionLevels.includes(level)) {
      return this.transformer(h, `dec${level}/tr`);
    }
    return this.conv(h, `dec${level}/c2`, D);
  }

  private flowHead(x: tf.Tensor4D, level: number): tf.Tensor4D {
    const C = x.shape[3];
    const w = this.params.get(`dec${level}/flow/w`, [3, 3, C, 2], { kind: 'normal', std: HEAD_STD });
    const b = this.params.get(`dec${level}/flow/b`, [2], { kind: 'zeros' });
    return tf.conv2d(x, w as tf.Tensor4D, 1, 'same').add(b) as tf.Tensor4D;
  }

  // ---- forward ---------------------------------------------------------------------------------------------

  /**
   * fixed [B,S,S,1] (test images), moving [1,S,S,1] (the reference, shared by the whole batch) or [B,S,S,1].
   * Intensities normalised to [0,1]. S is the working resolution R, or R/2 for the coarse steps of a
   * coarse-to-fine schedule (schedule.ts; the flow is then in pixels of the S×S grid).
   */
  forward(fixed: tf.Tensor4D, moving: tf.Tensor4D): WarpForward {
    const B = fixed.shape[0];
    const R = fixed.shape[1];
    const full = this.config.resolution;
    if (fixed.shape[2] !== R || (R !== full && (R * 2 !== full || R % 16 !== 0))) {
      throw new Error(`fixed must be ${full}x${full}${full % 32 === 0 ? ` or ${full / 2}x${full / 2}` : ''}, got ${fixed.shape[1]}x${fixed.shape[2]}`);
    }
    if (moving.shape[1] !== R || moving.shape[2] !== R) throw new Error(`moving must be ${R}x${R} like fixed`);
    const fixedFeats = this.encode(fixed);
    // The moving (reference) features stay batch 1: the warp samples them for every flow without tiling.
    const movingFeats = this.encode(moving);

    const S4 = R / 16;
    let affine: tf.Tensor3D | null = null;
    let flow: tf.Tensor4D;
    if (this.config.affine) {
      affine = this.affineStage(fixedFeats[4]!, movingFeats[4]!);
      flow = affineToFlow(affine, S4);
    } else {
      flow = tf.zeros([B, S4, S4, 2]) as tf.Tensor4D;
    }
    let dec: tf.Tensor4D | null = null;
    for (const level of [4, 3, 2, 1]) {
      const S = R >> level;
      if (level !== 4) {
        flow = upsampleFlow2x(flow);
        dec = tf.image.resizeBilinear(dec!, [S, S], false, true) as tf.Tensor4D;
      }
      const warpedMoving = warpShared(movingFeats[level]!, flow);
      const parts = [fixedFeats[level]!, warpedMoving];
      if (dec) parts.push(dec);
      dec = this.stageBlock(tf.concat(parts, 3) as tf.Tensor4D, level);
      const residual = tf.tanh(this.flowHead(dec, level).div(RESIDUAL_BOUND)).mul(RESIDUAL_BOUND);
      flow = flow.add(residual) as tf.Tensor4D;
    }
    return { flowXyWarp: upsampleFlow2x(flow), affine };
  }
}

/** 2× bilinear upsampling of a displacement field (pixel units, so values double). */
export function upsampleFlow2x(flow: tf.Tensor4D): tf.Tensor4D {
  const [, H, W] = flow.shape;
  return tf.image.resizeBilinear(flow, [H * 2, W * 2], false, true).mul(2) as tf.Tensor4D;
}

/**
 * Affine matrices [B,2,3] (normalised coordinates, pixel centres: u = (x+0.5)/S·2−1; maps fixed → moving) to a
 * displacement field [B,S,S,2] in pixels of an S×S grid.
 */
export function affineToFlow(affine: tf.Tensor3D, S: number): tf.Tensor4D {
  const B = affine.shape[0];
  const grid = new Float32Array(S * S * 3);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const i = (y * S + x) * 3;
      grid[i] = ((x + 0.5) / S) * 2 - 1;
      grid[i + 1] = ((y + 0.5) / S) * 2 - 1;
      grid[i + 2] = 1;
    }
  }
  const g = tf.tensor3d(grid, [1, S * S, 3]);
  const q = tf.matMul(tf.tile(g, [B, 1, 1]), affine.transpose([0, 2, 1])); // [B, S², 2]
  const p = g.slice([0, 0, 0], [1, S * S, 2]);
  return q.sub(p).mul(S / 2).reshape([B, S, S, 2]) as tf.Tensor4D;
}

