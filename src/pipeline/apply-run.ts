/**
 * A whole apply run over per-image records (issue 22): `segment --bundle` (every image of a folder in this process)
 * and the report of a run however it was spread (`queue report`): report.html and quality.csv from
 * OUT/records/*.json, with the quality score computed over the whole run (folder-relative, as in `segment`).
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { MedpersamUserError } from '../errors.js';
import { listImages } from '../io/dataset.js';
import { fileStem } from '../io/formats.js';
import { BundleApplier, IMAGE_RECORD_KIND, type ApplyOptions, type ImageRecord } from './apply.js';
import { FileOutputSink } from './output-sink-node.js';
import type { ReviewEntry } from './review.js';
import type { ProgressCallback } from '../progress.js';
import type { TfBackendChoice } from '../warp/backend.js';

/** An image to apply: output id (file stem), its path. */
export interface ApplyItem {
  id: string;
  path: string;
}

/** The images of a folder with their output ids; two images with one stem would write one mask (refused). */
export async function folderItems(imagesDir: string): Promise<ApplyItem[]> {
  const items = (await listImages(imagesDir)).map((path) => ({ id: fileStem(basename(path)), path }));
  if (items.length === 0) throw new MedpersamUserError('NO_TEST_IMAGES', 'no images to segment', { file: imagesDir });
  checkUniqueIds(items);
  return items;
}

export function checkUniqueIds(items: readonly ApplyItem[]): void {
  const seen = new Map<string, string>();
  for (const item of items) {
    const other = seen.get(item.id);
    if (other) throw new MedpersamUserError('DUPLICATE_IMAGE_NAME', `two images share the name "${item.id}" (${other}, ${item.path}); masks would collide`, { file: item.path });
    seen.set(item.id, item.path);
  }
}

/** Every record of an output folder (NaN signals were written as null by JSON). */
export async function readRecords(outDir: string): Promise<ImageRecord[]> {
  const dir = join(outDir, 'records');
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
  } catch (err) {
    throw new MedpersamUserError('FILE_NOT_FOUND', 'no per-image records in this output folder (records/)', { file: outDir, cause: err });
  }
  const out: ImageRecord[] = [];
  for (const name of names) {
    const record = JSON.parse(await readFile(join(dir, name), 'utf8'), (_k, v: unknown) => (v === null ? Number.NaN : v)) as ImageRecord;
    if (record.kind === IMAGE_RECORD_KIND) out.push(record);
  }
  return out;
}

function entryOf(record: ImageRecord): ReviewEntry {
  const r = record.review!;
  const pic = (p: typeof r.picture) => (p ? { mime: p.mime, width: p.width, height: p.height, bytes: new Uint8Array(Buffer.from(p.base64, 'base64')) } : undefined);
  return { ...r, picture: pic(r.picture), overlay: pic(r.overlay) };
}

/** report.html and quality.csv of an output folder from its records; returns the counts. */
export async function writeApplyReport(applier: BundleApplier, outDir: string): Promise<{ done: number; failed: ImageRecord[] }> {
  const records = await readRecords(outDir);
  const review = applier.newReview();
  const done = records.filter((r) => r.status === 'done' && r.review);
  for (const r of done) review.addEntry(entryOf(r));
  const failed = records.filter((r) => r.status === 'failed');
  const m = applier.bundle.manifest;
  const sam = m.sam;
  const finished = review.finish({
    title: sam ? 'medpersam apply (run bundle, Med-PerSAM final round)' : 'medpersam apply (run bundle, warping model alone)',
    details: [
      `bundle ${m.fingerprint.slice(0, 12)}: reference ${m.reference.name}, fitted on ${m.sample.size} of ${m.sample.folderImages} images`,
      ...failed.map((r) => `not segmented: ${r.file} (${r.error?.code ?? 'error'}: ${r.error?.message ?? ''})`),
    ],
    settings: [
      ['mode', sam ? 'Med-PerSAM, the final round per image, from a run bundle' : 'warp only (no SAM), from a run bundle'],
      ...(sam
        ? ([
            ['SAM', `${sam.model.kind} ${sam.model.ref}`],
            ['fitted rounds, refinements', `${sam.retrainRounds}, ${sam.loop.refinements}`],
            ['prompts, points', `${sam.loop.promptSet}, ${sam.loop.promptOptions.strategy ?? 'subregions'}`],
          ] as [string, string][])
        : []),
      ['warping model', `${m.settings.network.arch}, ${m.settings.network.resolution} px`],
      ['label warp', m.labelWarp],
      ['images', `${done.length} segmented, ${failed.length} failed`],
    ],
  });
  await new FileOutputSink(outDir).writeReport({ html: finished.html, qualityCsv: finished.qualityCsv });
  return { done: done.length, failed };
}

export interface ApplyFolderResult {
  outDir: string;
  written: string[];
  failed: { id: string; code: string; message: string }[];
  reportPath: string;
}

/** `segment --bundle`: every image of a folder through the bundle in this process, then the report. */
export async function applyBundleToFolder(
  bundleDir: string,
  imagesDir: string,
  outDirArg: string,
  opts: { backend?: TfBackendChoice; overlays?: boolean; samLoad?: ApplyOptions['samLoad']; onProgress?: ProgressCallback } = {},
): Promise<ApplyFolderResult> {
  const outDir = resolve(outDirArg);
  const applier = await BundleApplier.open(bundleDir, { ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.samLoad ? { samLoad: opts.samLoad } : {}), overlays: opts.overlays });
  try {
    const items = await folderItems(imagesDir);
    const written: string[] = [];
    const failed: ApplyFolderResult['failed'] = [];
    for (const [k, item] of items.entries()) {
      try {
        await applier.applyFile(item.id, item.path, outDir, basename(item.path));
        written.push(item.id);
      } catch (err) {
        if (!(err instanceof MedpersamUserError)) throw err;
        failed.push({ id: item.id, code: err.code, message: err.message });
      }
      opts.onProgress?.({ stage: 'warp-apply', done: k + 1, total: items.length, message: item.id });
    }
    await writeApplyReport(applier, outDir);
    return { outDir, written, failed, reportPath: join(outDir, 'report.html') };
  } finally {
    await applier.dispose();
  }
}
