/** Shared fixture for the segment / bench / demo CLI tests: a tiny phantom dataset and an independent Dice. */
import { join } from 'node:path';
import { readLabelMap } from '../../src/io/mask.js';
import { writePhantomDataset, type PhantomDatasetResult } from '../../src/io/phantom-dataset.js';

/** Flags that make the warp model tiny and fast (32 px working grid, 8 epochs = 8 optimiser steps on the 3 test images, wasm backend, fixed seed, one thread: no worker start-up per run; the worker-thread paths have their own tests). */
export const FAST_WARP = ['--res', '32', '--epochs', '8', '--backend', 'wasm', '--seed', '1', '--threads', '1'];

export const CLASSES = [1, 2, 3];

export async function phantomDataset(root: string, count = 4, size = 64): Promise<PhantomDatasetResult> {
  return writePhantomDataset(join(root, 'data'), { count, width: size, height: size, seed: 3 });
}

/** Dice of class `cls`, computed here independently of src/eval. */
export function dice(pred: Uint8Array, gt: Uint8Array, cls: number): number {
  let p = 0;
  let g = 0;
  let both = 0;
  for (let i = 0; i < gt.length; i++) {
    const a = pred[i] === cls;
    const b = gt[i] === cls;
    if (a) p++;
    if (b) g++;
    if (a && b) both++;
  }
  return p + g === 0 ? 1 : (2 * both) / (p + g);
}

/**
 * Mean over classes of the per-class mean Dice over images (the paper's DICE) of `predDir/<id>.png` against the
 * dataset's ground truth, and the sizes of the predicted masks.
 */
export async function scoreFolder(
  predDir: string,
  data: PhantomDatasetResult,
  ids: readonly string[],
): Promise<{ meanDice: number; sizes: [number, number][] }> {
  const perClass = CLASSES.map(() => 0);
  const sizes: [number, number][] = [];
  for (const id of ids) {
    const item = data.items.find((it) => it.id === id)!;
    const pred = await readLabelMap(join(predDir, `${id}.png`));
    const gt = await readLabelMap(item.maskPath);
    sizes.push([pred.width, pred.height]);
    CLASSES.forEach((cls, k) => (perClass[k]! += dice(pred.data, gt.data, cls) / ids.length));
  }
  return { meanDice: perClass.reduce((a, b) => a + b, 0) / CLASSES.length, sizes };
}

/** Mean Dice of the reference mask copied unchanged onto every test image (the floor a registration should beat). */
export async function referenceCopyDice(data: PhantomDatasetResult): Promise<number> {
  const ref = await readLabelMap(data.items[0]!.maskPath);
  const perClass = CLASSES.map(() => 0);
  const tests = data.items.slice(1);
  for (const t of tests) {
    const gt = await readLabelMap(t.maskPath);
    CLASSES.forEach((cls, k) => (perClass[k]! += dice(ref.data, gt.data, cls) / tests.length));
  }
  return perClass.reduce((a, b) => a + b, 0) / CLASSES.length;
}
