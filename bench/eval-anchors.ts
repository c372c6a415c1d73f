/**
 * The "Done when" check of the evaluation (README.md "Reference figures"), on the shared JSRT set:
 *  1. ground truth against itself → mean Dice 1.0;
 *  2. the reference mask (first id alphabetically, JPCLN001) copied unchanged as every prediction of the other
 *     246 images → mean Dice 77.4% (right lung 79.8, left lung 77.6, heart 74.8).
 * Builds the two folders as symlinks under the OS temp dir, runs evaluateFolders, prints the figures and times.
 *
 *   npx tsx bench/eval-anchors.ts [DATASET_DIR]    (default ../shared/data/jsrt-scr)
 */
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { listImages } from '../src/io/dataset.js';
import { evaluateFolders, type EvaluationResult } from '../src/pipeline/evaluate.js';

const dataset = resolve(process.argv[2] ?? '../shared/data/jsrt-scr');
const masksDir = join(dataset, 'masks');
const classesPath = join(dataset, 'classes.json');

function line(name: string, result: EvaluationResult, seconds: number): string {
  const perClass = result.summary.classes.map((c) => `${c.name} ${(c.dice * 100).toFixed(1)}`).join(' / ');
  return `${name}: ${result.summary.count} images, mean Dice ${(result.meanDice * 100).toFixed(2)}% (${perClass}), mean IoU ${(result.meanIoU * 100).toFixed(2)}%, ${seconds.toFixed(1)} s`;
}

const work = await mkdtemp(join(tmpdir(), 'medpersam-anchors-'));
try {
  let t = performance.now();
  const self = await evaluateFolders(masksDir, masksDir, { classes: classesPath });
  console.log(line('ground truth vs itself', self, (performance.now() - t) / 1000));

  const masks = await listImages(masksDir);
  const reference = masks[0]!;
  const gtDir = join(work, 'gt');
  const predDir = join(work, 'pred');
  await mkdir(gtDir);
  await mkdir(predDir);
  for (const mask of masks.slice(1)) {
    await symlink(mask, join(gtDir, basename(mask)));
    await symlink(reference, join(predDir, basename(mask)));
  }
  t = performance.now();
  const copied = await evaluateFolders(predDir, gtDir, { classes: classesPath });
  console.log(line(`reference ${basename(reference)} copied unchanged`, copied, (performance.now() - t) / 1000));
  console.log('README reference figures: reference mask copied unchanged = 79.8 / 77.6 / 74.8, mean 77.4');
} finally {
  await rm(work, { recursive: true, force: true });
}
