/**
 * What the decoder's outputs cost: one decoder graph run with every output fetched, with `masks` + `iou_predictions`
 * only (what the Med-PerSAM loop reads), and with `low_res_masks` + `iou_predictions` only (no full-size masks: the
 * most any change to the full-size output path could save). Runs the variants interleaved on the same inputs (a
 * real image's embedding, points + box + mask prompt) and checks that `masks` is the same with and without
 * `low_res_masks` fetched.
 *
 * Usage:
 *   nice -n 19 npx tsx bench/decoder-outputs.ts --model <dir> --image <png> [--threads N] [--calls 10] [--rounds 5]
 * Prints one JSON line: per-call milliseconds per variant (wall and process CPU, median and minimum over rounds).
 */
import { loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';
import { readImage } from '../src/io/image.js';
import { samFrame } from '../src/sam/frames.js';
import { loadSamModel } from '../src/sam/model.js';
import { findSamModelFiles } from '../src/sam/model-files.js';
import { buildMaskInput, buildPointInputs } from '../src/sam/prompt-frames.js';
import { benchArgs } from './args.js';

const args = benchArgs();
const modelDir = args.value('model');
const imagePath = args.value('image');
if (!modelDir || !imagePath) throw new Error('--model <dir> and --image <png> are required');
const threads = args.num('threads');
const calls = args.num('calls') ?? 10;
const rounds = args.num('rounds') ?? 5;

// The embedding through the model (cached after the first run); the decoder as its own plain session.
const model = await loadSamModel(modelDir, { ...(threads ? { threads } : {}), targetEmbedding: false });
const image = (await readImage(imagePath)).image;
const emb = await model.encode(image);
await model.release();
const files = await findSamModelFiles(modelDir);
const session = await ort.InferenceSession.create(files.decoder.path, {
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  interOpNumThreads: 1,
  ...(threads ? { intraOpNumThreads: threads } : {}),
  extra: { session: { intra_op: { allow_spinning: '0' } } },
});

const { width, height } = image;
const frame = samFrame(width, height);
const mask = { width, height, data: new Uint8Array(width * height) };
for (let y = Math.round(height * 0.2); y < Math.round(height * 0.8); y++) mask.data.fill(1, y * width + Math.round(width * 0.15), y * width + Math.round(width * 0.45));
const pts = buildPointInputs(
  [
    { x: Math.round(width * 0.3), y: Math.round(height * 0.5), label: 1 },
    { x: Math.round(width * 0.7), y: Math.round(height * 0.5), label: 0 },
  ],
  { x0: Math.round(width * 0.15), y0: Math.round(height * 0.2), x1: Math.round(width * 0.45), y1: Math.round(height * 0.8) },
  frame,
);
const maskInput = buildMaskInput({ kind: 'binary', mask }, frame);
const feeds = () => ({
  image_embeddings: new ort.Tensor('float32', emb.data, [...emb.dims]),
  point_coords: new ort.Tensor('float32', pts.coordsSam1024, [1, pts.count, 2]),
  point_labels: new ort.Tensor('float32', pts.labels, [1, pts.count]),
  mask_input: new ort.Tensor('float32', maskInput, [1, 1, 256, 256]),
  has_mask_input: new ort.Tensor('float32', Float32Array.of(1), [1]),
  orig_im_size: new ort.Tensor('float32', Float32Array.of(height, width), [2]),
});

const variants: Record<string, string[] | undefined> = {
  all: undefined,
  'masks+iou': ['masks', 'iou_predictions'],
  'lowres+iou': ['low_res_masks', 'iou_predictions'],
};
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const wall: Record<string, number[]> = {};
const cpu: Record<string, number[]> = {};
const firstMasks: Record<string, Float32Array> = {};
for (let r = 0; r < rounds + 1; r++) {
  for (const [name, fetches] of Object.entries(variants)) {
    const t0 = performance.now();
    const c0 = cpuMs();
    for (let i = 0; i < calls; i++) {
      const out = fetches ? await session.run(feeds(), fetches) : await session.run(feeds());
      if (r === 0 && i === 0 && out['masks']) firstMasks[name] = (out['masks'].data as Float32Array).slice();
    }
    if (r === 0) continue; // warm-up round
    (wall[name] ??= []).push((performance.now() - t0) / calls);
    (cpu[name] ??= []).push((cpuMs() - c0) / calls);
  }
}
await session.release();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const r1 = (x: number) => Math.round(x * 10) / 10;
const summary = (xs: number[]) => ({ median: r1(median(xs)), min: r1(Math.min(...xs)) });
const same = (a?: Float32Array, b?: Float32Array) => !!a && !!b && Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)) === 0;
console.log(
  JSON.stringify({
    image: imagePath,
    size: `${width}x${height}`,
    threads: threads ?? 'default',
    calls,
    rounds,
    load1: loadavg()[0],
    wallMsPerCall: Object.fromEntries(Object.entries(wall).map(([k, v]) => [k, summary(v)])),
    cpuMsPerCall: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, summary(v)])),
    masksSameWithoutLowRes: same(firstMasks['all'], firstMasks['masks+iou']),
  }),
);
