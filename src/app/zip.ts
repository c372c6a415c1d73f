/**
 * The download: every mask of a run in the dataset layout (the same layout `medpersam eval` and `segment --gt`
 * read), with the run record and, when there is one, the review:
 *   masks/<id>.png        8-bit grey label maps (0 background, 1..K classes) at each image's size
 *   classes.json          {"0": "background", "1": "<name>", ...}
 *   run-record.json       settings, engines, timings (the run record of the core loop)
 *   report.html, quality.csv              the review of the run (pipeline/review.ts)
 *   scores.csv, scores.json               with ground truth
 * PNGs are stored (already compressed); text is deflated.
 */
import { strToU8, zipSync, type Zippable } from 'fflate';
import type { ClassNames } from '../image/types.js';
import type { ReportFiles } from '../pipeline/output-sink.js';

export interface RunDownload {
  masks: { id: string; png: Uint8Array }[];
  classes: ClassNames;
  record: unknown;
  report?: ReportFiles | null;
}

export function buildRunZip(run: RunDownload): Uint8Array {
  const files: Zippable = {};
  const masks: Zippable = {};
  for (const m of run.masks) masks[`${m.id}.png`] = [m.png, { level: 0 }];
  files['masks'] = masks;
  const classes: Record<string, string> = {};
  for (const [k, v] of [...run.classes].sort((a, b) => a[0] - b[0])) classes[String(k)] = v;
  files['classes.json'] = strToU8(`${JSON.stringify(classes, null, 2)}\n`);
  files['run-record.json'] = strToU8(`${JSON.stringify(run.record, null, 2)}\n`);
  if (run.report) {
    files['report.html'] = strToU8(run.report.html);
    files['quality.csv'] = strToU8(run.report.qualityCsv);
    if (run.report.csv !== undefined) files['scores.csv'] = strToU8(run.report.csv);
    if (run.report.json !== undefined) files['scores.json'] = strToU8(run.report.json);
  }
  return zipSync(files, { level: 6, mtime: new Date('2000-01-01T00:00:00Z') });
}
