/** Plain typed-array image operations (no tensors, browser-safe). */
export * from './types.js';
export * from './resize.js';
export * from './normalize.js';
export * from './morphology.js';
export * from './components.js';
export * from './labels.js';
export * from './phantom.js';
export * from './random.js';
export * from './affine.js';
export * from './colour.js';
export * from './padding.js';
export * from './blur.js';
