/**
 * onnxruntime-web's wasm build (run in Node, one thread, as in a tab on a 2-core machine) on one ONNX file with
 * several session-option sets, in one process: whether a session opens, how long creating it takes, milliseconds per
 * run on a fixed random input, and the largest difference of every output from the first option set that opened.
 * Made for SAM 2 encoders (which graph optimisers the app may leave on, src/app/sam-web.ts), usable for any file whose
 * inputs have fixed shapes.
 *
 *   npx tsx bench/ort-web-options.ts --model <file.onnx> [--options all,off,disable:ReshapeFusion;ConstantFolding]
 *       [--runs 2] [--json out.json]
 * An option set is `all`, `basic`, `extended`, `off` (graph optimisation level) or `disable:A;B` (level all with the
 * named optimisers disabled). Prints one line per set and the load average before and after.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as ort from 'onnxruntime-web';
import { mulberry32 } from '../src/image/random.js';
import { benchArgs } from './args.js';

const args = benchArgs();
const modelFile = args.value('model');
if (!modelFile) throw new Error('--model <file.onnx> is required');
const optionSets = (args.value('options') ?? 'all,off,disable:ReshapeFusion;ConstantFolding').split(',');
const runs = args.num('runs') ?? 2;
const jsonOut = args.value('json');

ort.env.wasm.numThreads = 1;
const loadNow = () => loadavg().map((x) => +x.toFixed(2));

function sessionOptions(set: string): ort.InferenceSession.SessionOptions {
  const base: ort.InferenceSession.SessionOptions = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
  if (set.startsWith('disable:')) return { ...base, extra: { optimization: { disable_specified_optimizers: set.slice('disable:'.length) } } };
  const level = set === 'off' ? 'disabled' : set;
  if (!['all', 'basic', 'extended', 'disabled'].includes(level)) throw new Error(`unknown option set "${set}"`);
  return { ...base, graphOptimizationLevel: level as 'all' | 'basic' | 'extended' | 'disabled' };
}

/** A fixed uniform [0, 1) input per model input (float32 only, fixed dims). */
function feeds(session: ort.InferenceSession): Record<string, ort.Tensor> {
  const random = mulberry32(7);
  const out: Record<string, ort.Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor || meta.type !== 'float32' || meta.shape.some((d) => typeof d !== 'number')) {
      throw new Error(`input ${meta.name}: only float32 inputs with fixed dims are supported here`);
    }
    const dims = meta.shape as number[];
    out[meta.name] = new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, random), dims);
  }
  return out;
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

const bytes = readFileSync(modelFile);
const rows: Record<string, unknown>[] = [];
let reference: Record<string, Float32Array> | null = null;
const loadAtStart = loadNow();
for (const set of optionSets) {
  const loadBefore = loadNow();
  const t0 = performance.now();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, sessionOptions(set));
  } catch (err) {
    const row = { options: set, opened: false, createMs: Math.round(performance.now() - t0), error: String((err as Error).message).split('\n')[0]!.slice(0, 200) };
    rows.push(row);
    console.log(JSON.stringify(row));
    continue;
  }
  const createMs = Math.round(performance.now() - t0);
  const input = feeds(session);
  const runMs: number[] = [];
  let outputs: Record<string, Float32Array> = {};
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    const result = await session.run(input);
    runMs.push(Math.round(performance.now() - t));
    outputs = Object.fromEntries(session.outputNames.map((n) => [n, result[n]!.data as Float32Array]));
  }
  reference ??= outputs;
  const diffs = Object.fromEntries(session.outputNames.map((n) => [n, maxAbsDiff(outputs[n]!, reference![n]!)]));
  await session.release();
  const row = { options: set, opened: true, createMs, runMs, maxAbsDiffFromFirstOpened: diffs, loadBefore, loadAfter: loadNow() };
  rows.push(row);
  console.log(JSON.stringify(row));
}
const result = { model: modelFile, threads: 1, loadAtStart, loadAtEnd: loadNow(), rows };
console.log(`load average at start ${loadAtStart.join(' ')}, at end ${result.loadAtEnd.join(' ')}`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
