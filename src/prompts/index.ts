/**
 * Med-PerSAM prompt generation (§3.2, App. C.1) and the PerSAM baseline. Pure typed-array code (browser-safe).
 *
 * Typical use, per foreground class:
 *   const refFrame = samFrame(refImage.width, refImage.height);
 *   const proto = classPrototype(featureMapFromEmbedding(refEmbedding), refFrame, refClassMask);   // once
 *   // per test image and round:
 *   const frame = samFrame(test.width, test.height);
 *   const sim = cosineSimilarityMap(featureMapFromEmbedding(testEmbedding), proto.prototypeUnit, frame,
 *                                   maskPrompt.width, maskPrompt.height);
 *   const prompts = generatePrompts(maskPrompt, sim.map, { strategy: 'subregions' });
 *   const samPrompts = toSamPrompts(prompts, 'P+B+M', test.width, test.height);   // → model.decode(...)
 *   // refinement: next maskPrompt = smoothMaskForNextPrompt(binaryFromLogits(...)).mask
 * Target embedding for PerSAM's target-semantic prompting: PerSAM's code feeds the UNnormalised mean
 * (proto.prototype); proto.prototypeUnit is the L2-normalised one it uses for the similarity.
 * Speed: everything runs in the mask-prompt frame; for large images a working-size mask (and a similarity map
 * of that size) is allowed, and toSamPrompts brings points/box/mask back to the original frame.
 */
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
