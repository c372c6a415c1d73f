import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/progress.js';
import { encodeAhead } from '../../src/sam/encode-ahead.js';
import { loadSamModel, type SamModel } from '../../src/sam/model.js';
import { writeTestSamModel } from '../fixtures/sam-models.js';
import { makeTempDir } from '../fixtures/temp-dir.js';
import { patternImage } from './helpers.js';

let root: string;
let cleanup: () => Promise<void>;
const models: SamModel[] = [];
beforeAll(async () => {
  ({ dir: root, cleanup } = await makeTempDir('medpersam-ahead-'));
  await writeTestSamModel(join(root, 'model'));
});
afterAll(async () => {
  for (const m of models) await m.release();
  await cleanup();
});
async function load(name: string): Promise<SamModel> {
  const m = await loadSamModel(join(root, 'model'), { cacheDir: join(root, `${name}-cache`), memoryCacheEntries: 1, threads: 1, encoderThreads: 1 });
  models.push(m);
  return m;
}
const items = (seeds: number[]) => seeds.map((s) => ({ id: `img${s}`, load: async () => patternImage(96, 80, s) }));

describe('encodeAhead', () => {
  it('encodes every image once, then releases the encoder; later encodes are cache hits', async () => {
    const m = await load('all');
    const events: ProgressEvent[] = [];
    const job = encodeAhead(m, items([1, 2, 3, 1]), { onProgress: (e) => events.push(e) });
    const r = await job.done;
    expect(r).toMatchObject({ encoded: 4, alreadyCached: 1, failed: [], cancelled: false, encoderReleased: true });
    expect(r.encoderRunMs).toBeGreaterThan(0);
    expect(m.encoderLoaded).toBe(false);
    expect(events.map((e) => [e.stage, e.done, e.total])).toEqual([1, 2, 3, 4].map((d) => ['sam-encode-ahead', d, 4]));
    const before = m.stats();
    for (const s of [3, 2, 1]) await m.encode(patternImage(96, 80, s));
    const after = m.stats();
    expect(after.encoderRuns - before.encoderRuns).toBe(0);
    expect(after.encoderReloads).toBe(0);
    expect(after.diskCacheHits + after.memoryCacheHits - before.diskCacheHits - before.memoryCacheHits).toBe(3);
    // Each item's embedding key and size: the embedding comes back by key, without the image.
    expect(r.embeddings.map((e) => [e.index, e.id, e.width, e.height])).toEqual([[0, 'img1', 96, 80], [1, 'img2', 96, 80], [2, 'img3', 96, 80], [3, 'img1', 96, 80]]);
    const byKey = await m.cachedEmbedding(r.embeddings[1]!.key, 96, 80);
    expect(byKey).toEqual(await m.encode(patternImage(96, 80, 2)));
    expect(await m.cachedEmbedding('not-this-model:abc', 96, 80)).toBeNull();
  });

  it('records an image that fails and goes on; the encoder stays loaded for the caller to hit the error itself', async () => {
    const m = await load('fail');
    const bad = { id: 'broken', load: async () => Promise.reject(new Error('cannot read broken.png')) };
    const r = await encodeAhead(m, [...items([4]), bad, ...items([5])]).done;
    expect(r.encoded).toBe(2);
    expect(r.failed.map((f) => f.id)).toEqual(['broken']);
    expect(r.embeddings.map((e) => e.index)).toEqual([0, 2]);
    expect(String(r.failed[0]!.error)).toContain('broken.png');
    expect(r.encoderReleased).toBe(false);
    expect(m.encoderLoaded).toBe(true);
  });

  it('cancel stops after the current image (and keeps the encoder)', async () => {
    const m = await load('cancel');
    const job = encodeAhead(m, items([6, 7, 8, 9]), {
      onProgress: (e) => {
        if (e.done === 2) job.cancel();
      },
    });
    const r = await job.done;
    expect(r).toMatchObject({ encoded: 2, cancelled: true, encoderReleased: false });
    expect(m.stats().encoderRuns).toBe(2);
    const aborted = new AbortController();
    aborted.abort();
    expect(await encodeAhead(m, items([10]), { signal: aborted.signal }).done).toMatchObject({ encoded: 0, cancelled: true });
  });
});
