/**
 * Evaluate a folder of predicted label masks against a folder of ground-truth label masks
 * (`medpersam eval`). The paper's DICE / mIoU (§4.3): Dice and IoU per foreground class per image, averaged over
 * images per class, then averaged over classes (eval/report's buildSummary).
 *
 * Matching: by file stem (io's fileStem), tolerating the mask suffixes io's dataset discovery tolerates
 * (`_mask`, `-mask`, ...) on either side, and any image extension.
 * A ground-truth file with no prediction counts as an empty prediction (all background) and is listed in
 * `missing`; predictions with no ground truth are not scored and are listed in `unmatchedPredictions`.
 * Sizes must agree: a prediction of another size than its ground truth is a user error naming both files.
 */
import { basename } from 'node:path';
import type { ClassNames, FloatImage, LabelMap } from '../image/types.js';
import { classesPresent } from '../image/labels.js';
import { diceIoUPerClass, type ClassScore } from '../eval/metrics.js';
import { buildSummary, renderHtmlReport, toCsv, toJson, type EvaluationSummary } from '../eval/report.js';
import { writeFileAtomic } from '../io/atomic.js';
import { listImages, MASK_SUFFIXES } from '../io/dataset.js';
import { fileStem } from '../io/formats.js';
import { readImage } from '../io/image.js';
import { readClassNames, readLabelMap } from '../io/mask.js';
import { renderOverlay } from '../io/overlay.js';
import { MedpersamUserError } from '../errors.js';
import { noProgress, type ProgressCallback } from '../progress.js';
import { pathExists } from '../io/exists.js';

export interface EvaluateFoldersOptions {
  /**
   * Foreground classes to score, as class names (classes.json contents) or the path of a classes.json.
   * When given, mask values outside it are an error. Default: every class found in any ground-truth or
   * predicted mask, named "class <k>".
   */
  classes?: ClassNames | string;
  /** Masks read in parallel (default 4). */
  concurrency?: number;
  onProgress?: ProgressCallback;
}

export interface ImageEvaluation {
  /** Matching key: the ground-truth file stem without a mask suffix. */
  id: string;
  gtPath: string;
  /** null when the prediction is missing (scored as an empty mask). */
  predPath: string | null;
  missing: boolean;
  width: number;
  height: number;
  /** One entry per evaluated class, in `EvaluationResult.classes` order. */
  scores: ClassScore[];
}

export interface EvaluationResult {
  predDir: string;
  gtDir: string;
  /** Foreground classes scored, ascending. */
  classes: number[];
  classNames: ClassNames;
  /** One per ground-truth file, in file-name order (code points). */
  images: ImageEvaluation[];
  /** Per-image rows, per-class means and the overall means (eval/report). Same image order as `images`. */
  summary: EvaluationSummary;
  /** The headline figures: per-class means averaged over classes (= summary.meanDice / meanIoU). */
  meanDice: number;
  meanIoU: number;
  /** Ids of ground-truth files without a prediction (scored as empty masks). */
  missing: string[];
  /** Prediction files that match no ground truth (not scored). */
  unmatchedPredictions: string[];
}

/** Matching key of a mask file: its stem without a trailing mask suffix (`a_mask.png` → `a`). */
export function maskMatchKey(filePath: string): string {
  const stem = fileStem(basename(filePath));
  const lower = stem.toLowerCase();
  for (const suffix of MASK_SUFFIXES) {
    if (lower.endsWith(suffix) && stem.length > suffix.length) return stem.slice(0, stem.length - suffix.length);
  }
  return stem;
}

async function mapConcurrent<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

function indexByKey(paths: readonly string[], dir: string): Map<string, string> {
  const byKey = new Map<string, string>();
  for (const path of paths) {
    const key = maskMatchKey(path);
    const earlier = byKey.get(key);
    if (earlier !== undefined) {
      throw new MedpersamUserError(
        'AMBIGUOUS_MASKS',
        `two files match the id "${key}": ${basename(earlier)} and ${basename(path)}; keep one`,
        { file: dir },
      );
    }
    byKey.set(key, path);
  }
  return byKey;
}

/** listImages with the folder's role in the error message ("ground-truth folder not found"). */
async function listFolderImages(dir: string, role: string): Promise<string[]> {
  try {
    return await listImages(dir);
  } catch (err) {
    if (err instanceof MedpersamUserError && err.file === dir) {
      const problem = err.message.slice(`${dir}: `.length).replace(/^image folder/, role);
      throw new MedpersamUserError(err.code, problem, { file: dir, cause: err });
    }
    throw err;
  }
}

function emptyLabel(width: number, height: number): LabelMap {
  return { width, height, data: new Uint8Array(width * height) };
}

async function readPrediction(predPath: string, gtPath: string, gt: LabelMap, readOpts: { classes?: ClassNames }): Promise<LabelMap> {
  const pred = await readLabelMap(predPath, readOpts);
  if (pred.width !== gt.width || pred.height !== gt.height) {
    throw new MedpersamUserError(
      'SIZE_MISMATCH',
      `prediction is ${pred.width}x${pred.height} but its ground truth ${gtPath} is ${gt.width}x${gt.height}`,
      { file: predPath },
    );
  }
  return pred;
}

/** Score every ground-truth mask in `gtDir` against the prediction of the same id in `predDir`. */
export async function evaluateFolders(predDir: string, gtDir: string, opts?: EvaluateFoldersOptions): Promise<EvaluationResult>;
export async function evaluateFolders(
  opts: EvaluateFoldersOptions & { predDir: string; gtDir: string },
): Promise<EvaluationResult>;
export async function evaluateFolders(
  a: string | (EvaluateFoldersOptions & { predDir: string; gtDir: string }),
  b?: string,
  c?: EvaluateFoldersOptions,
): Promise<EvaluationResult> {
  const { predDir, gtDir, opts } =
    typeof a === 'string' ? { predDir: a, gtDir: b!, opts: c ?? {} } : { predDir: a.predDir, gtDir: a.gtDir, opts: a };
  const onProgress = opts.onProgress ?? noProgress;

  const givenClasses: ClassNames | undefined =
    typeof opts.classes === 'string' ? await readClassNames(opts.classes) : opts.classes;
  const fixedClasses = givenClasses ? [...givenClasses.keys()].filter((k) => k !== 0).sort((x, y) => x - y) : null;

  const gtPaths = await listFolderImages(gtDir, 'ground-truth folder');
  if (gtPaths.length === 0) {
    throw new MedpersamUserError('EMPTY_FOLDER', 'no ground-truth masks found in this folder (expected image files such as .png)', {
      file: gtDir,
    });
  }
  const predPaths = await listFolderImages(predDir, 'prediction folder');
  const gtByKey = indexByKey(gtPaths, gtDir);
  const predByKey = indexByKey(predPaths, predDir);

  const readOpts = givenClasses ? { classes: givenClasses } : {};
  const total = gtByKey.size;
  let done = 0;
  onProgress({ stage: 'eval', done, total });

  type Scored = Omit<ImageEvaluation, 'scores'> & { scores: Map<number, ClassScore> };
  const scored = await mapConcurrent([...gtByKey.entries()], opts.concurrency ?? 4, async ([id, gtPath]): Promise<Scored> => {
    const predPath = predByKey.get(id) ?? null;
    const gt = await readLabelMap(gtPath, readOpts);
    const pred = predPath ? await readPrediction(predPath, gtPath, gt, readOpts) : emptyLabel(gt.width, gt.height);
    // Without a class list, score the classes present in either mask now; classes found only in other
    // images are filled in below as "both empty" (Dice = IoU = 1), which is what diceIoUPerClass gives them.
    const classesHere =
      fixedClasses ?? [...new Set([...classesPresent(gt), ...classesPresent(pred)])].sort((x, y) => x - y);
    const scores = new Map(diceIoUPerClass(pred, gt, classesHere).map((s) => [s.cls, s] as const));
    done++;
    onProgress({ stage: 'eval', done, total, message: id });
    return { id, gtPath, predPath, missing: predPath === null, width: gt.width, height: gt.height, scores };
  });

  const classes = fixedClasses ?? [...new Set(scored.flatMap((s) => [...s.scores.keys()]))].sort((x, y) => x - y);
  const classNames: ClassNames =
    givenClasses ?? new Map<number, string>([[0, 'background'], ...classes.map((k) => [k, `class ${k}`] as [number, string])]);
  const images: ImageEvaluation[] = scored.map((s) => ({
    ...s,
    scores: classes.map((cls) => s.scores.get(cls) ?? { cls, dice: 1, iou: 1, predPixels: 0, gtPixels: 0 }),
  }));
  const summary = buildSummary(images, { classes, classNames });
  return {
    predDir,
    gtDir,
    classes,
    classNames,
    images,
    summary,
    meanDice: summary.meanDice,
    meanIoU: summary.meanIoU,
    missing: summary.missing,
    unmatchedPredictions: [...predByKey.entries()].filter(([key]) => !gtByKey.has(key)).map(([, path]) => path),
  };
}

/** The evaluation as a report document (eval/report formats). */
export function renderEvaluationReport(result: EvaluationResult, format: 'json' | 'csv'): string {
  return format === 'json' ? toJson(result.summary) : toCsv(result.summary);
}

export interface WriteEvaluationReportsOptions {
  jsonPath?: string;
  csvPath?: string;
  htmlPath?: string;
  /** Images drawn under the HTML overlays, matched by stem; default: the ground truth as light-on-dark grey. */
  imagesDir?: string;
  /** Longest side of an HTML thumbnail in pixels (default 256). */
  thumbnailSize?: number;
  /** Replace existing report files (default false: refuse, naming the file). */
  overwrite?: boolean;
  onProgress?: ProgressCallback;
}


/** Overlay thumbnails of every prediction (empty for missing ones), keyed by image id. */
async function renderThumbnails(
  result: EvaluationResult,
  opts: WriteEvaluationReportsOptions,
): Promise<Map<string, Uint8Array>> {
  const onProgress = opts.onProgress ?? noProgress;
  const maxSize = opts.thumbnailSize ?? 256;
  const imagesByKey = opts.imagesDir ? indexByKey(await listImages(opts.imagesDir), opts.imagesDir) : new Map<string, string>();
  const readOpts = { classes: result.classNames };
  const thumbnails = new Map<string, Uint8Array>();
  let done = 0;
  onProgress({ stage: 'report', done, total: result.images.length });
  await mapConcurrent(result.images, 4, async (img) => {
    const pred = img.predPath ? await readLabelMap(img.predPath, readOpts) : emptyLabel(img.width, img.height);
    const imagePath = imagesByKey.get(img.id);
    let background: FloatImage;
    if (imagePath) {
      background = (await readImage(imagePath)).image;
      if (background.width !== pred.width || background.height !== pred.height) {
        throw new MedpersamUserError(
          'SIZE_MISMATCH',
          `image is ${background.width}x${background.height} but its prediction ${img.predPath ?? '(missing)'} is ${pred.width}x${pred.height}`,
          { file: imagePath },
        );
      }
    } else {
      // No image: draw the prediction over the ground truth, shown as light grey on dark grey.
      const gt = await readLabelMap(img.gtPath, readOpts);
      const data = new Float32Array(gt.width * gt.height);
      for (let i = 0; i < data.length; i++) data[i] = gt.data[i] ? 170 : 40;
      background = { width: gt.width, height: gt.height, channels: 1, data };
    }
    thumbnails.set(img.id, await renderOverlay(background, pred, { maxSize }));
    done++;
    onProgress({ stage: 'report', done, total: result.images.length, message: img.id });
  });
  return thumbnails;
}

/**
 * Write the requested reports (JSON, CSV, self-contained HTML with overlay thumbnails, worst first).
 * Every target is checked before anything is written, so a refused run leaves earlier outputs intact.
 * Returns the paths written.
 */
export async function writeEvaluationReports(result: EvaluationResult, opts: WriteEvaluationReportsOptions): Promise<string[]> {
  const targets = [opts.jsonPath, opts.csvPath, opts.htmlPath].filter((p): p is string => p !== undefined);
  if (!opts.overwrite) {
    for (const path of targets) {
      if (await pathExists(path)) {
        throw new MedpersamUserError('OUTPUT_EXISTS', 'report file already exists; choose another name or allow overwriting (--force)', {
          file: path,
        });
      }
    }
  }
  const written: string[] = [];
  if (opts.jsonPath) {
    await writeFileAtomic(opts.jsonPath, renderEvaluationReport(result, 'json'));
    written.push(opts.jsonPath);
  }
  if (opts.csvPath) {
    await writeFileAtomic(opts.csvPath, renderEvaluationReport(result, 'csv'));
    written.push(opts.csvPath);
  }
  if (opts.htmlPath) {
    const thumbnails = await renderThumbnails(result, opts);
    const html = renderHtmlReport(result.summary, {
      title: 'medpersam evaluation',
      thumbnails,
      details: [`predictions: ${result.predDir}`, `ground truth: ${result.gtDir}`],
    });
    await writeFileAtomic(opts.htmlPath, html);
    written.push(opts.htmlPath);
  }
  return written;
}
