/**
 * openWarpStage with worker threads: the test images are prepared on every thread and land in the model in reading
 * order, the same as on one thread; unreadable images are still skipped on request; a failed preparation names
 * its image.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePhantom } from '../../src/image/phantom.js';
import type { FloatImage } from '../../src/image/types.js';
import { MedpersamUserError } from '../../src/errors.js';
import { initTf } from '../../src/warp/backend.js';
import { startNodeWarpWorkers } from '../../src/warp/parallel/node-workers.js';
import { openWarpStage, type WarpStage } from '../../src/pipeline/warp-stage.js';
import type { ImageSource, LoadedImage } from '../../src/pipeline/sources.js';
import type { ProgressEvent } from '../../src/progress.js';
import { tinySettings } from '../warp-model/helpers.js';

beforeAll(async () => {
  await initTf({ backend: 'wasm' });
});

const SIZE = 96;
const phantom = (patient: number) => generatePhantom({ seed: 7, patient, width: SIZE, noise: 4 });
const reference = phantom(0);

const loaded = (image: FloatImage): LoadedImage => ({ image, format: 'png', bitDepth: 8, contentId: 'test' });
const source = (id: string, image: FloatImage): ImageSource => ({ id, name: `${id}.png`, load: async () => loaded(image) });
const unreadable = (id: string): ImageSource => ({
  id,
  name: `${id}.png`,
  load: async () => {
    throw new MedpersamUserError('UNREADABLE_IMAGE', 'not an image', { file: `${id}.png` });
  },
});

const TESTS: ImageSource[] = [source('a', phantom(1).image), unreadable('bad'), source('b', phantom(2).image), source('c', phantom(3).image), source('d', phantom(4).image)];

const stages: WarpStage[] = [];
afterAll(async () => {
  await Promise.all(stages.map((s) => s.close()));
});

async function open(threads: number, tests: readonly ImageSource[], progress: ProgressEvent[] = []): Promise<WarpStage> {
  const stage = await openWarpStage({
    settings: tinySettings({ network: { resolution: 32 } }),
    reference: { image: loaded(reference.image), label: reference.label },
    tests,
    threads,
    environment: { startWarpWorkers: startNodeWarpWorkers },
    skipUnreadable: true,
    progress: (e) => progress.push(e),
  });
  stages.push(stage);
  return stage;
}

describe('openWarpStage on two threads', () => {
  it('prepares the readable images on both threads, in reading order, the same as one thread; skips the unreadable one', async () => {
    const progress: ProgressEvent[] = [];
    const two = await open(2, TESTS, progress);
    const one = await open(1, TESTS);
    expect(two.threads).toBe(2);
    expect(two.readable.map((t) => t.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(two.unreadable.map((u) => u.id)).toEqual(['bad']);
    expect(two.model.testIds).toEqual(['a', 'b', 'c', 'd']);
    for (const id of two.model.testIds) {
      expect(Array.from(two.model.testWorkingImage(id))).toEqual(Array.from(one.model.testWorkingImage(id)));
      expect(two.model.testFrame(id)).toStrictEqual(one.model.testFrame(id));
    }
    expect(two.model.preprocessingReport()).toStrictEqual(one.model.preprocessingReport());
    expect(progress.filter((e) => e.stage === 'read').map((e) => [e.done, e.message])).toEqual([[1, 'a'], [3, 'b'], [4, 'c'], [5, 'd']]);
  });

  it('an image whose preparation fails ends the stage with an error naming it', async () => {
    const broken = source('broken', { width: SIZE, height: SIZE, channels: 1, data: new Float32Array(10) });
    await expect(open(2, [broken, source('a', phantom(1).image)])).rejects.toThrow(/preparing test image broken failed/);
  });
});
