/**
 * The WorkerChannel over the Web message API (browser-safe): a `Worker` seen from the page, the worker's own
 * global scope seen from inside, or either end of a `MessageChannel`. A browser app runs the warp model on more
 * cores like this:
 *
 *   // worker script (bundled by the app):
 *   import { serveWarpWorker, webWorkerChannel } from 'medpersam';
 *   serveWarpWorker(webWorkerChannel(self));
 *   // page:
 *   const peers = [1, 2, 3].map((i) => new WarpWorkerPeer(webWorkerChannel(new Worker(url, { type: 'module' })), `warp worker ${i}`));
 *   // then CoreEnvironment.startWarpWorkers = (n) => peers.slice(0, n), or WarpModel.useWorkers(peers)
 */
import type { WorkerChannel } from './channel.js';

/** The part of Worker / DedicatedWorkerGlobalScope / MessagePort the channel uses. */
export interface WebMessageEndpoint {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
  /** MessagePort: deliver queued messages once a listener is attached. */
  start?(): void;
  /** Worker: end it. MessagePort: close it. */
  terminate?(): void;
  close?(): void;
}

export function webWorkerChannel(endpoint: WebMessageEndpoint): WorkerChannel {
  let onMessage: ((e: Event) => void) | null = null;
  let onError: ((e: Event) => void) | null = null;
  return {
    post: (message, transfer) => endpoint.postMessage(message, transfer ?? []),
    onMessage: (handler) => {
      if (onMessage) endpoint.removeEventListener('message', onMessage);
      onMessage = (e) => handler((e as MessageEvent).data);
      endpoint.addEventListener('message', onMessage);
      endpoint.start?.();
    },
    onFailure: (handler) => {
      if (onError) {
        endpoint.removeEventListener('error', onError);
        endpoint.removeEventListener('messageerror', onError);
      }
      onError = (e) => {
        const message = (e as ErrorEvent).message || (e.type === 'messageerror' ? 'a message could not be deserialised' : 'the worker failed');
        handler(new Error(message));
      };
      endpoint.addEventListener('error', onError);
      endpoint.addEventListener('messageerror', onError);
    },
    close: async () => {
      if (endpoint.terminate) endpoint.terminate();
      else endpoint.close?.();
    },
  };
}
