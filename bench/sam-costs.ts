/**
 * SAM costs with a REAL model folder (e.g. the real-architecture files with random weights): encoder time and
 * memory, what releasing the encoder gives back, and decoder time per call for the settings that matter:
 * ONNX Runtime intra-op threads, K = 4 vs K = 1 decoder files, with / without the target-embedding patch, and
 * fetching every output vs only what the caller reads. One configuration per process (memory figures are per
 * process); a shell loop runs several. Usage:
 *   npx tsx bench/sam-costs.ts --model <dir> [--decoder-file decoder-k1.onnx] [--threads N] [--images DIR|--phantoms]
 *       [--encoder-threads N] [--encoder-arena] [--count 4] [--decodes 40] [--target-embedding] [--json out.json]
 * Prints one JSON line (and writes it to --json): times in ms, memory in MB (RSS sampled at stage ends, peak RSS).
 */
import { writeFileSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { generatePhantom } from '../src/image/phantom.js';
import type { BinaryMask, FloatImage, LabeledPoint } from '../src/image/types.js';
import { readImage } from '../src/io/image.js';
import { loadSamModel } from '../src/sam/model.js';
import { benchArgs } from './args.js';

const args = benchArgs();
const modelDir = args.value('model');
if (!modelDir) throw new Error('--model <dir> is required');
const decoderFile = args.value('decoder-file');
const threads = args.num('threads');
const count = args.num('count') ?? 4;
const decodes = args.num('decodes') ?? 40;
const imagesDir = args.value('images');
const targetEmbedding = args.flag('target-embedding');
const encoderMemoryArena = args.flag('encoder-arena');
const encoderThreads = args.num('encoder-threads');
const jsonOut = args.value('json');

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const rssMb = () => mb(process.memoryUsage().rss);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const warm = (xs: number[]) => (xs.length > 4 ? xs.slice(2) : xs);

async function images(): Promise<FloatImage[]> {
  if (imagesDir) {
    const names = (await readdir(imagesDir)).filter((n) => /\.(png|jpe?g|tiff?|bmp)$/i.test(n)).sort().slice(0, count);
    return Promise.all(names.map(async (n) => (await readImage(join(imagesDir, n))).image));
  }
  return Array.from({ length: count }, (_, i) => generatePhantom({ seed: 3, patient: i, width: 1024, height: 1024 }).image);
}

/** A folder with the model's encoder and the chosen decoder file (the loader wants exactly one of each). */
async function modelFolder(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  if (!decoderFile) return { dir: modelDir!, cleanup: async () => {} };
  const dir = await mkdtemp(join(tmpdir(), 'medpersam-costs-'));
  const names = await readdir(modelDir!);
  for (const n of names) {
    if (!n.endsWith('.onnx') && !n.endsWith('.bin') && !n.endsWith('.data')) continue;
    if (n.endsWith('.onnx') && n.includes('decoder')) continue;
    await symlink(join(modelDir!, n), join(dir, n));
  }
  await copyFile(decoderFile.includes('/') ? decoderFile : join(modelDir!, decoderFile), join(dir, 'decoder.onnx'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const load0 = loadavg()[0]!;
const rssStart = rssMb();
const imgs = await images();
const folder = await modelFolder();
const cacheDir = await mkdtemp(join(tmpdir(), 'medpersam-costs-cache-'));
const tLoad = performance.now();
const model = await loadSamModel(folder.dir, { threads, encoderThreads, encoderMemoryArena, cacheDir, memoryCacheEntries: 1, targetEmbedding });
const loadMs = performance.now() - tLoad;
const rssLoaded = rssMb();

// Encoder stage.
const encodeMs: number[] = [];
const embeddings = [];
for (const img of imgs) {
  const before = model.stats().encoderRunMs;
  const e = await model.encode(img);
  encodeMs.push(model.stats().encoderRunMs - before);
  embeddings.push(e);
}
const rssAfterEncode = rssMb();
const tRelease = performance.now();
await model.releaseEncoder();
const releaseMs = performance.now() - tRelease;
(globalThis as { gc?: () => void }).gc?.();
const rssAfterRelease = rssMb();

// Decoder stage: P+B+M prompts like the Med-PerSAM loop (5 positive points, 2 negative, a box, a mask prompt).
const decodeRunMs: number[] = [];
const decodeTotalMs: number[] = [];
const target = new Float32Array(256).map((_, i) => 0.05 * Math.sin(i));
for (let d = 0; d < decodes; d++) {
  const e = embeddings[d % embeddings.length]!;
  const w = e.originalWidth;
  const h = e.originalHeight;
  const mask: BinaryMask = { width: w, height: h, data: new Uint8Array(w * h) };
  const x0 = Math.round(w * 0.2), x1 = Math.round(w * 0.45), y0 = Math.round(h * 0.2), y1 = Math.round(h * 0.75);
  for (let y = y0; y <= y1; y++) mask.data.fill(1, y * w + x0, y * w + x1 + 1);
  const points: LabeledPoint[] = [0.3, 0.4, 0.5, 0.6, 0.7].map((f) => ({ x: Math.round((x0 + x1) / 2), y: Math.round(y0 + f * (y1 - y0)), label: 1 }));
  points.push({ x: Math.round(w * 0.8), y: Math.round(h * 0.5), label: 0 as const }, { x: 2, y: 2, label: 0 as const });
  const before = model.stats();
  const t0 = performance.now();
  await model.decode(
    e,
    { pointsOriginal: points, boxOriginal: { x0, y0, x1, y1 }, maskPrompt: { kind: 'binary', mask }, ...(targetEmbedding ? { targetEmbedding: target } : {}) },
    { multimask: d % 2 === 1 },
  );
  decodeTotalMs.push(performance.now() - t0);
  decodeRunMs.push(model.stats().decoderRunMs - before.decoderRunMs);
}
const rssEnd = rssMb();
await model.release();
await folder.cleanup();
await rm(cacheDir, { recursive: true, force: true });

const result = {
  model: modelDir,
  decoder: decoderFile ?? 'decoder in the folder',
  k: model.info.decoderOutputs,
  targetEmbedding: model.info.targetEmbedding,
  threads: threads ?? 'ort-default',
  encoderThreads: encoderThreads ?? threads ?? 'ort-default',
  encoderMemoryArena,
  images: imgs.length ? `${imgs.length} × ${imgs[0]!.width}x${imgs[0]!.height}` : '0',
  imagesFrom: imagesDir ? basename(imagesDir) : 'phantoms',
  loadMs: Math.round(loadMs),
  encoderRunMs: { first: Math.round(encodeMs[0]!), medianRest: encodeMs.length > 1 ? Math.round(median(encodeMs.slice(1))) : null },
  // The first two calls warm ONNX Runtime up; they are left out when there are more.
  decoderRunMs: { median: +median(warm(decodeRunMs)).toFixed(1), mean: +mean(warm(decodeRunMs)).toFixed(1) },
  decodeTotalMsMedian: +median(warm(decodeTotalMs)).toFixed(1),
  releaseEncoderMs: Math.round(releaseMs),
  rssMb: { start: rssStart, loaded: rssLoaded, afterEncode: rssAfterEncode, afterReleaseEncoder: rssAfterRelease, end: rssEnd, peak: mb(process.resourceUsage().maxRSS * 1024) },
  machine: { cpus: cpus().length, load1AtStart: +load0.toFixed(2), load1AtEnd: +loadavg()[0]!.toFixed(2) },
};
console.log(JSON.stringify(result));
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
