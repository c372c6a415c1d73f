/**
 * Warp workers on Node's worker_threads (the browser twin would wrap Web Workers the same way). Node-only.
 *
 * Each worker runs node-worker-entry in its own thread with its own tfjs engine (started from the .ts sources or
 * the built .js: src/worker-entry-url.ts).
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { WorkerChannel } from './channel.js';
import { WarpWorkerPeer } from './worker-peer.js';
import { nodeWorkerEntryUrl } from '../../worker-entry-url.js';

/** Cores this process may use (Node's estimate); the default thread count of the warp stage. */
export function defaultWarpThreads(): number {
  return Math.max(1, availableParallelism());
}

/**
 * The worker keeps the process alive only while a request is outstanding (every request gets exactly one reply),
 * so a forgotten idle worker never stops Node from exiting, and an awaited reply always arrives.
 */
function nodeChannel(worker: Worker): WorkerChannel {
  let failure: ((e: Error) => void) | null = null;
  let closing = false;
  let outstanding = 0;
  worker.unref();
  worker.on('error', (err) => failure?.(err));
  worker.on('exit', (code) => {
    if (!closing) failure?.(new Error(`the worker thread exited (code ${code})`));
  });
  return {
    post: (message, transfer) => {
      if (outstanding++ === 0) worker.ref();
      worker.postMessage(message, transfer ?? []);
    },
    onMessage: (handler) => {
      worker.removeAllListeners('message');
      worker.on('message', (message) => {
        if (--outstanding === 0) worker.unref();
        handler(message);
      });
    },
    onFailure: (handler) => {
      failure = handler;
    },
    close: async () => {
      closing = true;
      await worker.terminate();
    },
  };
}

/** Start `count` warp workers (not yet initialised: WarpModel.useWorkers sends them the model). */
export function startNodeWarpWorkers(count: number): WarpWorkerPeer[] {
  const url = nodeWorkerEntryUrl(import.meta.url, 'node-worker-entry');
  return Array.from({ length: count }, (_, i) => {
    const worker = new Worker(url, { name: `medpersam-warp-${i + 1}` });
    return new WarpWorkerPeer(nodeChannel(worker), `warp worker ${i + 1}`);
  });
}
