/**
 * The worker side of the parallel warp trainer: answers the requests of protocol.ts over a WorkerChannel. It holds
 * its own tfjs engine (each worker_thread / Web Worker has its own wasm instance) and a replica of the warping
 * network, whose weights are replaced by the main thread's whenever they changed; and, apart from those, a replica
 * of the model's WarpPreprocessor that prepares test images (plain JavaScript, no tfjs). Pure (no Node API).
 */
import type { WorkerChannel } from './channel.js';
import type { GradientsResult, WorkerReply, WorkerRequest } from './protocol.js';
import { initTf } from '../backend.js';
import { WarpNetwork } from '../network.js';
import { ParamStore } from '../params.js';
import { SeededRng } from '../seeded-rng.js';
import type { WarpSettings } from '../presets.js';
import { WarpPreprocessor } from '../preprocess.js';
import { loadFlatWeights, predictFlows, shardGradients } from './engine.js';

interface WorkerState {
  settings: WarpSettings;
  network: WarpNetwork;
  reference: Float32Array;
  referenceOneHot: Float32Array;
  weightsVersion: number;
}

export function serveWarpWorker(channel: WorkerChannel): void {
  let state: WorkerState | null = null;
  let preprocessor: WarpPreprocessor | null = null;
  // Requests are handled one at a time, in order (init is asynchronous: later requests wait for it).
  let queue: Promise<void> = Promise.resolve();

  const ready = (): WorkerState => {
    if (!state) throw new Error('warp worker used before init');
    return state;
  };
  const syncWeights = (s: WorkerState, version: number, weights: Float32Array | undefined): void => {
    if (version === s.weightsVersion) return;
    if (!weights) throw new Error(`warp worker holds weights version ${s.weightsVersion}, asked for ${version} without weights`);
    loadFlatWeights(s.network, weights);
    s.weightsVersion = version;
  };

  const handle = async (req: WorkerRequest): Promise<{ result: unknown; transfer: ArrayBuffer[] }> => {
    switch (req.kind) {
      case 'init': {
        const backend = await initTf({ backend: req.backend as 'wasm' | 'cpu', ...(req.wasmPaths ? { wasmPaths: req.wasmPaths } : {}) });
        const network = new WarpNetwork(req.settings.network, new ParamStore(new SeededRng(req.settings.schedule.seed)));
        const names = network.params.names();
        if (names.join('\n') !== req.paramNames.join('\n')) {
          throw new Error(`warp worker network has parameters [${names.length}] that differ from the main thread's [${req.paramNames.length}]`);
        }
        state?.network.params.dispose();
        state = { settings: req.settings, network, reference: req.reference, referenceOneHot: req.referenceOneHot, weightsVersion: -1 };
        return { result: { backend }, transfer: [] };
      }
      case 'gradients': {
        const s = ready();
        syncWeights(s, req.weightsVersion, req.weights);
        const g = shardGradients(s.network, req.shard, s.reference, s.referenceOneHot, s.settings.loss);
        const result: GradientsResult = { flat: g.flat, missing: g.missing, breakdown: g.breakdown };
        return { result, transfer: [g.flat.buffer as ArrayBuffer] };
      }
      case 'flows': {
        const s = ready();
        syncWeights(s, req.weightsVersion, req.weights);
        const R = s.settings.network.resolution;
        const works = Array.from({ length: req.count }, (_, i) => req.works.subarray(i * R * R, (i + 1) * R * R));
        const flows = predictFlows(s.network, s.reference, works);
        const flat = new Float32Array(req.count * R * R * 2);
        flows.forEach((f, i) => flat.set(f, i * R * R * 2));
        return { result: flat, transfer: [flat.buffer as ArrayBuffer] };
      }
      case 'preprocessor': {
        preprocessor = new WarpPreprocessor(req.options, { image: req.reference, label: req.label }, req.resolution);
        return { result: null, transfer: [] };
      }
      case 'prepare': {
        if (!preprocessor) throw new Error('warp worker asked to prepare an image before it got the preprocessor');
        const prepared = preprocessor.prepare(req.image);
        return { result: prepared, transfer: [prepared.work.buffer as ArrayBuffer] };
      }
      case 'dispose': {
        state?.network.params.dispose();
        state = null;
        preprocessor = null;
        return { result: null, transfer: [] };
      }
    }
  };

  channel.onMessage((message) => {
    const req = message as WorkerRequest;
    queue = queue.then(async () => {
      let reply: WorkerReply;
      let transfer: ArrayBuffer[] = [];
      try {
        const out = await handle(req);
        reply = { id: req.id, ok: true, result: out.result };
        transfer = out.transfer;
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        reply = { id: req.id, ok: false, error: { message: e.message, stack: e.stack } };
      }
      channel.post(reply, transfer);
    });
  });
}
