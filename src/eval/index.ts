/** Metrics and evaluation reports (pure, browser-safe). */
export * from './metrics.js';
export * from './points.js';
export * from './report.js';
export * from './quality-signals.js';
export * from './quality-tta.js';
export * from './quality-score.js';
export * from './quality-validation.js';
export * from './run-report.js';
