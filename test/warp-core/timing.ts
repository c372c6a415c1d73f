/**
 * Timing of the warp-core ops on the current machine (not a test): `npx tsx test/warp-core/timing.ts [backend]`.
 * Prints ms per call (median of repeats) for forward+backward of each op at 128 and 256 px.
 */
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/warp/backend.js';
import { warpBilinear, upsampleFlowPlanes, warpLabelArgmax, warpLabelNearest } from '../../src/warp/spatial.js';
import { createLabelMap } from '../../src/image/types.js';
import { randomValues } from './helpers.js';

type Losses = typeof import('../../src/warp/losses.js');

async function time(name: string, fn: () => void, reps = 5): Promise<void> {
  fn(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  process.stdout.write(`${name.padEnd(60)} ${ts[Math.floor(reps / 2)]!.toFixed(1)} ms\n`);
}

function grads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]): void {
  tf.tidy(() => {
    const g = tf.grads((...a: tf.Tensor[]) => tf.sum(f(...a)) as tf.Scalar)(xs);
    for (const t of g) t.dataSync();
  });
}

const backend = await initTf({ backend: (process.argv[2] as 'wasm' | 'cpu' | undefined) ?? 'wasm' });
process.stdout.write(`backend ${backend}\n`);
let losses: Losses | null = null;
try { losses = await import('../../src/warp/losses.js'); } catch { /* not yet */ }

for (const S of [128, 256]) {
  const B = 1;
  const x = tf.tensor4d(randomValues(B * S * S * 16, 1), [B, S, S, 16]);
  const w = tf.tensor4d(randomValues(9 * 16 * 16, 2).map((v) => v * 0.1), [3, 3, 16, 16]);
  await time(`conv2d 3x3 ${S}x${S}x16→16 B=${B} forward`, () => tf.tidy(() => { tf.conv2d(x, w, 1, 'same').dataSync(); }));
  await time(`conv2d 3x3 ${S}x${S}x16→16 B=${B} forward+backward`, () => grads((a, b) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'), [x, w]));
  await time(`conv2d 3x3 stride 2 ${S}x${S}x16→16 fwd+bwd`, () => grads((a, b) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), [x, w]));
  const img = tf.tensor4d(randomValues(B * S * S, 3).map((v) => 0.5 + 0.5 * v), [B, S, S, 1]);
  const img2 = tf.tensor4d(randomValues(B * S * S, 4).map((v) => 0.5 + 0.5 * v), [B, S, S, 1]);
  const flow = tf.tensor4d(randomValues(B * S * S * 2, 5).map((v) => 3 * v), [B, S, S, 2]);
  await time(`warpBilinear ${S}x${S}x1 forward`, () => tf.tidy(() => { warpBilinear(img, flow).dataSync(); }));
  await time(`warpBilinear ${S}x${S}x1 forward+backward (flow+source)`, () => grads((a, f) => warpBilinear(a as tf.Tensor4D, f as tf.Tensor4D), [img, flow]));
  const oh = tf.tensor4d(randomValues(B * S * S * 4, 6).map((v) => 0.5 + 0.5 * v), [B, S, S, 4]);
  await time(`warpBilinear ${S}x${S}x4 forward+backward (flow only)`, () => grads((f) => warpBilinear(oh, f as tf.Tensor4D), [flow]));
  if (losses != null) {
    const L = losses;
    await time(`ssimLoss w7 ${S}x${S} fwd+bwd`, () => grads((a) => L.ssimLoss(a as tf.Tensor4D, img2), [img]));
    await time(`nccLoss w9 ${S}x${S} fwd+bwd`, () => grads((a) => L.nccLoss(a as tf.Tensor4D, img2), [img]));
    await time(`flowGradL2 ${S}x${S} fwd+bwd`, () => grads((f) => L.flowGradL2(f as tf.Tensor4D), [flow]));
    const tgt = tf.oneHot(tf.tensor3d(Int32Array.from(randomValues(B * S * S, 7), (v) => Math.floor((v + 1) * 2)), [B, S, S], 'int32'), 4).toFloat() as tf.Tensor4D;
    await time(`diceCELoss K=4 ${S}x${S} fwd+bwd`, () => grads((p) => L.diceCELoss(tf.softmax(p) as tf.Tensor4D, tgt), [oh]));
  }
  tf.dispose([x, w, img, img2, flow, oh]);
}
for (const S of [1024]) {
  const lab = createLabelMap(S, S);
  for (let i = 0; i < S * S; i++) lab.data[i] = (i % S) > S / 3 ? ((i / S) > S / 2 ? 2 : 1) : 0;
  const fw = randomValues(128 * 128 * 2, 8).map((v) => 3 * v);
  let flowFull: Float32Array = new Float32Array(0);
  await time(`upsampleFlowPlanes 128→${S}`, () => { flowFull = upsampleFlowPlanes(fw, 128, 128, S, S); });
  await time(`warpLabelNearest ${S}x${S}`, () => { warpLabelNearest(lab, flowFull, S, S); });
  await time(`warpLabelArgmax ${S}x${S}`, () => { warpLabelArgmax(lab, flowFull, S, S); });
}
