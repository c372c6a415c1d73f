/**
 * The one thing the parallel warp trainer needs from a worker technology: a message channel to a thread that runs
 * `serveWarpWorker` (worker-server.ts). Node's worker_threads (node-workers.ts) and a browser's Web Workers both
 * fit it in a few lines, so everything above this interface is shared.
 *
 * Messages are structured-cloneable objects; `transfer` lists ArrayBuffers whose ownership moves to the other side
 * (the sender must not use them afterwards).
 */
export interface WorkerChannel {
  post(message: unknown, transfer?: ArrayBuffer[]): void;
  /** Set the handler of messages from the other side (one handler; a later call replaces it). */
  onMessage(handler: (message: unknown) => void): void;
  /** Set the handler of a fatal failure of the other side (an uncaught error, an exit, a failed start). */
  onFailure(handler: (error: Error) => void): void;
  /** End the worker (from the main thread; resolves once it is gone). */
  close(): Promise<void>;
}
