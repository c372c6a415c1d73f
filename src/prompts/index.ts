/** Med-PerSAM prompt generation (§3.2, App. C.1) and the PerSAM baseline. Pure typed-array code. */
export * from './types.js';
export * from './frames.js';
export * from './subregions.js';
export * from './select.js';
export * from './candidates.js';
export * from './bilateral.js';
export * from './prototype.js';
export * from './similarity.js';
export * from './generate.js';
export * from './persam.js';
export * from './prompt-set.js';
export * from './refine.js';
