/**
 * medpersam library entry: the public API of every area.
 * image/, eval/ and prompts/ are pure and browser-safe; io/, sam/ (onnxruntime-node) and pipeline/ use Node.
 */
export * from './errors.js';
export * from './progress.js';
export * from './image/index.js';
export * from './eval/index.js';
export * from './io/index.js';
export * from './io/phantom-dataset.js';
export * from './prompts/index.js';
export * from './sam/index.js';
export * from './pipeline/evaluate.js';
