/**
 * Entry point of a SAM decoder worker (a worker_thread started by decoder-workers.ts): one ONNX Runtime decoder
 * session of its own, serving runs posted by the pool. It keeps the last image embedding it was sent, so an image's
 * later decoder calls on this worker send only their prompts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createSession, float32Tensor } from './session.js';
import type { DecoderWorkerData, DecoderWorkerReply, DecoderWorkerRequest, PlainTensor } from './decoder-workers-protocol.js';

if (!parentPort) throw new Error('decoder-worker-entry must run in a worker_thread');
const port = parentPort;
const init = workerData as DecoderWorkerData;

let held: { embeddingId: number; tensors: Record<string, PlainTensor> } | null = null;

const post = (reply: DecoderWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

try {
  const { session } = await createSession(init.model, init.label, { threads: init.threads });
  port.on('message', async (req: DecoderWorkerRequest) => {
    try {
      if (req.embedding) held = { embeddingId: req.embeddingId, tensors: req.embedding };
      if (!held || held.embeddingId !== req.embeddingId) throw new Error(`decoder worker: embedding ${req.embeddingId} was not sent`);
      const all = { ...req.feeds, ...held.tensors };
      const feeds = Object.fromEntries(Object.entries(all).map(([name, t]) => [name, float32Tensor(t.data, t.dims)]));
      const out = await session.run(feeds);
      const outputs: Record<string, PlainTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, t] of Object.entries(out)) {
        const data = t.data as Float32Array;
        outputs[name] = { data, dims: t.dims.map(Number) };
        // Each output owns its buffer: hand it over without a copy.
        if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !transfer.includes(data.buffer as ArrayBuffer)) {
          transfer.push(data.buffer as ArrayBuffer);
        }
      }
      post({ type: 'result', id: req.id, outputs }, transfer);
    } catch (err) {
      post({ type: 'error', id: req.id, message: String((err as Error)?.message ?? err) });
    }
  });
  post({ type: 'ready' });
} catch (err) {
  post({ type: 'load-error', message: String((err as Error)?.message ?? err) });
}
