/**
 * Warp workers on Node's worker_threads (the browser twin would wrap Web Workers the same way). Node-only.
 *
 * Each worker runs node-worker-entry in its own thread with its own tfjs engine. From the TypeScript sources
 * (tsx, vitest) the worker first registers tsx's loader, from a built package it loads the .js entry directly.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { WorkerChannel } from './channel.js';
import { WarpWorkerPeer } from './worker-peer.js';

/** Cores this process may use (Node's estimate); the default thread count of the warp stage. */
export function defaultWarpThreads(): number {
  return Math.max(1, availableParallelism());
}

function entryUrl(): { url: URL } {
  const own = import.meta.url;
  if (own.endsWith('.js')) return { url: new URL('./node-worker-entry.js', own) };
  // Running from sources: a tiny ESM bootstrap registers tsx, then imports the TypeScript entry.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./node-worker-entry.ts', own).href;
  const code = `const { register } = await import(${JSON.stringify(tsxApi)}); register(); await import(${JSON.stringify(entry)});`;
  return { url: new URL(`data:text/javascript,${encodeURIComponent(code)}`) };
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
  const { url } = entryUrl();
  return Array.from({ length: count }, (_, i) => {
    const worker = new Worker(url, { name: `medpersam-warp-${i + 1}` });
    return new WarpWorkerPeer(nodeChannel(worker), `warp worker ${i + 1}`);
  });
}
