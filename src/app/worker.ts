/**
 * The app's engine worker: runs the same core loop as `medpersam segment` (src/pipeline/core.ts) off the page's
 * main thread, so large models never freeze the page. Inputs are the picked files (bytes decoded by the pure
 * decoders), state and outputs go to IndexedDB (browser-stores.ts), TF.js and onnxruntime-web are chosen by
 * engines.ts / sam-web.ts. Nothing is sent anywhere: the only fetches are the app's own wasm binaries.
 */
import * as tf from '@tensorflow/tfjs';
import { MedpersamUserError } from '../errors.js';
import { fileStem } from '../io/formats.js';
import { browserRasterDecoders } from '../io/raster-browser.js';
import { runCore, type CoreResult, type CoreRunInput, type LoadedSam } from '../pipeline/core.js';
import { bytesImageSource, bytesMaskSource, labelMapSource, type ImageSource, type MaskSource } from '../pipeline/sources.js';
import { IndexedDbOutputSink, IndexedDbRunStore } from './browser-stores.js';
import { initWarpEngine, wasmThreads, type WarpEngine } from './engines.js';
import { Idb } from './idb.js';
import type { FromWorker, RunConfig, RunInputs, ToWorker } from './protocol.js';
import { qualityScorer } from './quality-hook.js';
import { loadWebSam } from './sam-web.js';
import { currentTabImageBudget, readFileWithinBudget } from './tab-memory.js';

declare const __MEDPERSAM_VERSION__: string;

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

let controller: AbortController | null = null;

/** This tab's budget for one image: a larger file is refused before it is read, a larger header before decoding. */
const budget = currentTabImageBudget();
const bytesOfFile = (file: File) => () => readFileWithinBudget(file, budget);
const withinBudget = { pixelLimit: budget.pixelLimit };

function sameFile(a: File, b: File): boolean {
  return a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;
}

function referenceMaskSource(mask: RunInputs['referenceMask']): MaskSource {
  if (mask instanceof File) return bytesMaskSource(mask.name, bytesOfFile(mask), browserRasterDecoders, withinBudget);
  return labelMapSource(mask.name, { width: mask.width, height: mask.height, data: mask.data });
}

async function run(config: RunConfig, inputs: RunInputs, engineChoice: RunConfig['engine'], signal: AbortSignal): Promise<{ result: CoreResult; engine: WarpEngine }> {
  const engine = await initWarpEngine(engineChoice, config.tfjsWasmBase);
  let ortVersion: string | undefined;
  let samLoader: (() => Promise<LoadedSam>) | undefined;
  let samLabel: string | undefined;
  const db = await Idb.open();
  if (config.mode === 'sam') {
    if (!inputs.sam) throw new MedpersamUserError('NO_SAM_MODEL', 'choose the SAM encoder and decoder files (or URLs) first');
    const ort = await import('onnxruntime-web');
    ort.env.wasm.wasmPaths = config.ortWasmBase;
    ort.env.wasm.numThreads = wasmThreads();
    ort.env.logLevel = 'error';
    ortVersion = `onnxruntime-web ${ort.env.versions.web ?? ''}`.trim();
    const providers: ('webgpu' | 'wasm')[] = config.samProvider === 'auto' ? ['webgpu', 'wasm'] : [config.samProvider];
    samLoader = async () => {
      const sam = await loadWebSam(ort, inputs.sam!, { providers, targetEmbedding: config.targetEmbedding ?? true, db });
      samLabel = `onnxruntime-web ${sam.model.info.executionProvider}${sam.model.info.executionProvider === 'wasm' ? ` (${wasmThreads()} thread${wasmThreads() > 1 ? 's' : ''})` : ''}`;
      post({ type: 'engines', warp: engine, sam: samLabel, threads: wasmThreads(), isolated: self.crossOriginIsolated === true });
      return sam;
    };
  }
  post({ type: 'engines', warp: engine, threads: wasmThreads(), isolated: self.crossOriginIsolated === true });

  const tests: ImageSource[] = inputs.images
    .filter((f) => !sameFile(f, inputs.reference))
    .map((f) => bytesImageSource(fileStem(f.name), f.name, bytesOfFile(f), browserRasterDecoders, withinBudget));
  const input: CoreRunInput = {
    classes: new Map(config.classes),
    warp: config.warp,
    ...(config.retrainRounds !== undefined ? { retrainRounds: config.retrainRounds } : {}),
    ...(config.refinements !== undefined ? { refinements: config.refinements } : {}),
    ...(config.targetEmbedding !== undefined ? { targetEmbedding: config.targetEmbedding } : {}),
    reference: {
      image: bytesImageSource(fileStem(inputs.reference.name), inputs.reference.name, bytesOfFile(inputs.reference), browserRasterDecoders, withinBudget),
      mask: referenceMaskSource(inputs.referenceMask),
    },
    tests,
    // As `segment --skip-unreadable`: the readable images are segmented, the others listed with their reasons.
    skipUnreadable: true,
    sam: samLoader,
    store: new IndexedDbRunStore(db, config.run),
    sink: new IndexedDbOutputSink(db, config.run, (id, e) => post({ type: 'overlay', id, png: e.png, width: e.width, height: e.height })),
    signal,
    onImage: qualityScorer
      ? async (event) => {
          const badge = await qualityScorer!(event);
          if (badge) post({ type: 'quality', id: event.id, badge });
        }
      : undefined,
    environment: {
      initWarpBackend: async () => engine.backend,
      runtimeInfo: async () => ({
        toolVersion: __MEDPERSAM_VERSION__,
        userAgent: navigator.userAgent,
        platform: 'browser',
        arch: (navigator as { platform?: string }).platform ?? 'unknown',
        cpus: navigator.hardwareConcurrency || 1,
        tfjs: tf.version.tfjs,
        onnxruntime: ortVersion,
      }),
    },
  };
  try {
    return { result: await runCore(input, (event) => post({ type: 'progress', event })), engine };
  } finally {
    db.close();
  }
}

function isAbort(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted && (!(err instanceof MedpersamUserError) || err.code === 'ABORTED');
}

async function start(config: RunConfig, inputs: RunInputs): Promise<void> {
  controller = new AbortController();
  const signal = controller.signal;
  const t0 = performance.now();
  let choice = config.engine;
  for (;;) {
    try {
      const { result } = await run(config, inputs, choice, signal);
      const unreadable = result.warp.unreadable.map((u) => ({ file: u.file, code: u.code, message: u.message }));
      const summary =
        result.mode === 'warp-only'
          ? { mode: result.mode, images: result.written.length + result.skipped.length, written: result.written.length, reused: result.skipped.length, resumed: result.skipped.length > 0, record: result.record, unreadable }
          : {
              mode: result.mode,
              images: result.images.length,
              written: result.record.counters.imagesProcessed,
              reused: result.record.counters.imageRoundsReused,
              resumed: result.record.resumed,
              record: result.record,
              unreadable,
            };
      post({ type: 'done', summary: { ...summary, seconds: (performance.now() - t0) / 1000 } });
      return;
    } catch (err) {
      if (isAbort(err, signal)) {
        post({ type: 'stopped', message: 'stopped; press Run with the same inputs to resume where it stopped' });
        return;
      }
      if (err instanceof MedpersamUserError) {
        post({ type: 'error', code: err.code, message: err.message, file: err.file, internal: false });
        return;
      }
      // A GPU engine that breaks mid-run: continue on wasm (the stored state resumes).
      if (tf.getBackend() !== 'wasm' && choice !== 'wasm') {
        post({ type: 'progress', event: { stage: 'engine', done: 0, total: 0, message: `${tf.getBackend()} failed (${(err as Error).message}); continuing on wasm` } });
        choice = 'wasm';
        continue;
      }
      post({ type: 'error', message: (err as Error)?.stack ?? String(err), internal: true });
      return;
    }
  }
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === 'start') void start(m.config, m.inputs);
  else if (m.type === 'stop') controller?.abort();
};
