/**
 * medpersam library entry: the public API of every area.
 * (Node-only parts — io, pipeline folders — are marked in their module docs; image/ and eval/ run in browsers.)
 */
export * from './errors.js';
export * from './progress.js';
export * from './image/index.js';
export * from './eval/index.js';
export * from './io/index.js';
export * from './io/phantom-dataset.js';
export * from './pipeline/evaluate.js';
