/**
 * medpersam library entry for Node: the browser-safe API of index.ts plus the file system, sharp, ONNX Runtime
 * for Node (SAM models: loading, download, management) and the file-based adapters of the core loop
 * (`runMedPerSam`, `runWarpOnlySegmentation`, `evaluateFolders`, benchmarks).
 */
export * from './index.js';
export * from './io/index-node.js';
// Node's sharp-based decoder replaces the browser one under the same name.
export { decodeImage } from './io/image.js';
export * from './sam/index.js';
export * from './pipeline/index-node.js';
