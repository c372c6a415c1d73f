/**
 * SAM runtime benchmark with the generated test models (no real weights needed). Usage:
 *   npx tsx bench/sam.ts [--images N] [--size S] [--decoder discs|echo-mask|fill-box] [--encoder plain|input_image]
 *                        [--threads T] [--decodes-per-image D]
 * Over N phantom images (src/image/phantom.ts) it measures: encoder latency (total encode() vs session.run),
 * cached re-encode latency (disk), decoder latency with P+B+M prompts (session.run vs total decode(): the share
 * of our own code around ONNX Runtime; target < 10%), and peak RSS. Prints a table and writes
 * bench/results/sam-<encoder>-<decoder>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { generatePhantom } from '../src/image/phantom.js';
import type { BinaryMask, Box, LabeledPoint } from '../src/image/types.js';
import { loadSamModel } from '../src/sam/model.js';
import { writeTestSamModel, type TestDecoderBehaviour } from '../test/fixtures/sam-models.js';

const args = process.argv.slice(2);
const value = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const nImages = Number(value('images') ?? 12);
const size = Number(value('size') ?? 1024);
const decodesPerImage = Number(value('decodes-per-image') ?? 4);
const decoder = (value('decoder') ?? 'discs') as TestDecoderBehaviour;
const encoder = (value('encoder') ?? 'plain') as 'plain' | 'input_image';
const threads = value('threads') ? Number(value('threads')) : undefined;

function promptsFor(mask: BinaryMask): { points: LabeledPoint[]; box: Box } {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  const inside: Array<[number, number]> = [];
  for (let y = 0; y < mask.height; y++)
    for (let x = 0; x < mask.width; x++)
      if (mask.data[y * mask.width + x]) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
        inside.push([x, y]);
      }
  const points: LabeledPoint[] = [];
  for (let i = 1; i <= 5; i++) {
    const p = inside[Math.floor((i * inside.length) / 6)]!;
    points.push({ x: p[0], y: p[1], label: 1 });
  }
  points.push({ x: 2, y: 2, label: 0 }, { x: mask.width - 3, y: mask.height - 3, label: 0 });
  return { points, box: { x0, y0, x1, y1 } };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
};

const root = await mkdtemp(join(tmpdir(), 'medpersam-sam-bench-'));
try {
  const modelDir = join(root, 'model');
  await writeTestSamModel(modelDir, { decoder, k: 4, encoder });
  const cacheDir = join(root, 'cache');
  const model = await loadSamModel(modelDir, { cacheDir, threads });
  const encodeMs: number[] = [];
  const encodeRunMs: number[] = [];
  const reencodeMs: number[] = [];
  const decodeMs: number[] = [];
  const decodeRunMs: number[] = [];
  const decodeOverheadMs: number[] = [];
  for (let i = 0; i < nImages; i++) {
    // Vary the aspect ratio a little so the frame conversions are exercised.
    const height = i % 3 === 0 ? size : Math.round(size * (0.75 + 0.05 * (i % 3)));
    const { image, label } = generatePhantom({ seed: 7, patient: i, width: size, height });
    const mask: BinaryMask = { width: label.width, height: label.height, data: label.data.map((v) => (v === 1 ? 1 : 0)) };
    const { points, box } = promptsFor(mask);

    let before = model.stats();
    let t0 = performance.now();
    const emb = await model.encode(image);
    encodeMs.push(performance.now() - t0);
    encodeRunMs.push(model.stats().encoderRunMs - before.encoderRunMs);

    t0 = performance.now();
    await model.encode(image); // memory hit
    reencodeMs.push(performance.now() - t0);

    for (let d = 0; d < decodesPerImage; d++) {
      before = model.stats();
      t0 = performance.now();
      await model.decode(emb, { pointsOriginal: points, boxOriginal: box, maskPrompt: { kind: 'binary', mask } }, { multimask: d > 0 });
      decodeMs.push(performance.now() - t0);
      const after = model.stats();
      decodeRunMs.push(after.decoderRunMs - before.decoderRunMs);
      decodeOverheadMs.push(after.decodeTotalMs - before.decodeTotalMs - (after.decoderRunMs - before.decoderRunMs));
    }
  }
  const s = model.stats();
  const overheadShare = (s.decodeTotalMs - s.decoderRunMs) / s.decoderRunMs;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const result = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    settings: { nImages, size, decodesPerImage, decoder, encoder, threads: threads ?? 'ort-default' },
    encoder: { totalMs: stats(encodeMs), sessionRunMs: stats(encodeRunMs), memoryHitMs: stats(reencodeMs) },
    decoder: {
      totalMs: stats(decodeMs),
      sessionRunMs: stats(decodeRunMs),
      overheadShareOfRun: overheadShare,
      overheadMsPerCall: stats(decodeOverheadMs),
      calls: s.decodeCalls,
    },
    peakRssMb,
    counters: s,
  };
  const f = (x: number) => x.toFixed(2).padStart(8);
  const lines = [
    `SAM runtime bench (generated models: ${encoder} encoder, ${decoder} decoder K=4), ${nImages} phantoms ~${size}px, ${cpus().length} CPUs`,
    `                          mean   median      max   (ms)`,
    `encode() total       ${f(result.encoder.totalMs.mean)} ${f(result.encoder.totalMs.median)} ${f(result.encoder.totalMs.max)}`,
    `  encoder session.run${f(result.encoder.sessionRunMs.mean)} ${f(result.encoder.sessionRunMs.median)} ${f(result.encoder.sessionRunMs.max)}`,
    `encode() cached      ${f(result.encoder.memoryHitMs.mean)} ${f(result.encoder.memoryHitMs.median)} ${f(result.encoder.memoryHitMs.max)}`,
    `decode() total       ${f(result.decoder.totalMs.mean)} ${f(result.decoder.totalMs.median)} ${f(result.decoder.totalMs.max)}`,
    `  decoder session.run${f(result.decoder.sessionRunMs.mean)} ${f(result.decoder.sessionRunMs.median)} ${f(result.decoder.sessionRunMs.max)}`,
    `  decode() outside ORT${f(result.decoder.overheadMsPerCall.mean)} ${f(result.decoder.overheadMsPerCall.median)} ${f(result.decoder.overheadMsPerCall.max)}`,
    `decode overhead outside ONNX Runtime: ${((s.decodeTotalMs - s.decoderRunMs) / s.decodeCalls).toFixed(2)} ms per call = ${(100 * overheadShare).toFixed(1)}% of session.run time (target < 10%)`,
    `peak RSS: ${peakRssMb.toFixed(0)} MB`,
  ];
  console.log(lines.join('\n'));
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/sam-${encoder}-${decoder}.json`, JSON.stringify(result, null, 2));
  await model.release();
} finally {
  await rm(root, { recursive: true, force: true });
}
