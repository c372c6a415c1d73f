/**
 * Entry point of a Node warp worker (a worker_thread started by node-workers.ts): serves protocol.ts requests on
 * the parent port.
 */
import { parentPort } from 'node:worker_threads';
import { serveWarpWorker } from './worker-server.js';

if (!parentPort) throw new Error('node-worker-entry must run in a worker_thread');
const port = parentPort;
serveWarpWorker({
  post: (message, transfer) => port.postMessage(message, transfer ?? []),
  onMessage: (handler) => {
    port.removeAllListeners('message');
    port.on('message', handler);
  },
  onFailure: () => {
    // The main thread sees this worker's failures (its 'error' / 'exit' events).
  },
  close: async () => {
    port.close();
  },
});
