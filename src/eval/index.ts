/** Metrics and evaluation reports (pure, browser-safe). */
export * from './metrics.js';
export * from './points.js';
export * from './report.js';
