/**
 * The core loop through its browser seams (byte sources decoded by the pure decoders, MemoryRunStore,
 * MemoryOutputSink) gives exactly the masks of the Node adapters (file sources with sharp, FileRunStore,
 * FileOutputSink) on the same inputs and seed, warp-only and with a generated SAM model; and the memory store
 * resumes an interrupted run and refuses other settings, as the file store does.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCore, type CoreRunInput, type CoreSamResult, type LoadedSam } from '../../src/pipeline/core.js';
import { runMedPerSam, samModelRecord } from '../../src/pipeline/medpersam.js';
import { runWarpOnlySegmentation } from '../../src/pipeline/warp-segment.js';
import { MemoryRunStore } from '../../src/pipeline/run-store.js';
import { MemoryOutputSink } from '../../src/pipeline/output-sink.js';
import { bytesImageSource, bytesMaskSource, type ImageSource } from '../../src/pipeline/sources.js';
import { browserRasterDecoders } from '../../src/io/raster-browser.js';
import { decodePng } from '../../src/io/png.js';
import { readLabelMap } from '../../src/io/mask.js';
import { loadSamModel } from '../../src/sam/model.js';
import type { SamModelLike } from '../../src/pipeline/segment-image.js';
import { initTf } from '../../src/warp/backend.js';
import { MedpersamUserError } from '../../src/errors.js';
import { makeFixture, TINY_WARP, type Fixture } from './helpers.js';

let f: Fixture;
let echoDir: string;

beforeAll(async () => {
  f = await makeFixture({ count: 4, size: 64 });
  echoDir = await f.sam({ decoder: 'echo-mask', k: 4 });
}, 60_000);

afterAll(async () => {
  await f?.cleanup();
});

const bytesOf = (path: string) => async () => new Uint8Array(await readFile(path));

/** The fixture as a browser would hold it: bytes, pure decoders. */
function browserInputs(): Pick<CoreRunInput, 'reference' | 'tests'> {
  const [ref, ...tests] = f.data.items;
  const sources: ImageSource[] = tests.map((t) =>
    bytesImageSource(t.id, `${t.id}.png`, bytesOf(t.imagePath), browserRasterDecoders, {
      groundTruth: bytesMaskSource(`${t.id}_mask.png`, bytesOf(t.maskPath), browserRasterDecoders),
    }),
  );
  return {
    reference: {
      image: bytesImageSource(ref!.id, `${ref!.id}.png`, bytesOf(ref!.imagePath), browserRasterDecoders),
      mask: bytesMaskSource(`${ref!.id}_mask.png`, bytesOf(ref!.maskPath), browserRasterDecoders),
    },
    tests: sources,
  };
}

const environment = {
  initWarpBackend: () => initTf({ backend: 'wasm' }),
  runtimeInfo: async () => ({ toolVersion: 'test', platform: 'test', arch: 'test', cpus: 1 }),
};

async function loadEcho(): Promise<LoadedSam> {
  const model = await loadSamModel(echoDir, { cacheDir: false, threads: 1, targetEmbedding: true });
  return { model, record: await samModelRecord(model.info, 'echo'), release: () => model.release() };
}

async function expectSameMasks(sink: MemoryOutputSink, masksDir: string): Promise<void> {
  const ids = f.data.items.slice(1).map((t) => t.id);
  expect([...sink.masks.keys()].sort()).toEqual(ids);
  let foreground = 0;
  for (const id of ids) {
    const file = await readLabelMap(join(masksDir, `${id}.png`));
    const mem = sink.masks.get(id)!;
    expect([mem.width, mem.height]).toEqual([file.width, file.height]);
    expect(Buffer.from(mem.data).equals(Buffer.from(file.data))).toBe(true);
    // the PNG a download would hold decodes to the same labels
    expect(Buffer.from(Uint8Array.from(decodePng(sink.maskPng(id)!, id).image.data)).equals(Buffer.from(file.data))).toBe(true);
    foreground += mem.data.filter((v) => v > 0).length;
  }
  expect(foreground).toBeGreaterThan(0);
}

describe('core loop through the browser seams = the Node adapters', () => {
  it('warp-only: same masks; overlays and the run record in the sink', async () => {
    const node = await runWarpOnlySegmentation({
      refImagePath: f.data.items[0]!.imagePath,
      refMaskPath: f.data.items[0]!.maskPath,
      imagesDir: f.data.imagesDir,
      outDir: f.out('warp-node'),
      overrides: TINY_WARP,
      backend: 'wasm',
    });
    const sink = new MemoryOutputSink();
    const res = await runCore({ ...browserInputs(), warp: { overrides: TINY_WARP }, store: new MemoryRunStore(), sink, environment });
    expect(res.mode).toBe('warp-only');
    await expectSameMasks(sink, join(node.outDir, 'masks'));
    expect(sink.overlays.size).toBe(3);
    expect((sink.record as { status: string }).status).toBe('complete');
  }, 120_000);

  it('Med-PerSAM (one retraining, one refinement): same masks, scores from the ground-truth sources', async () => {
    const node = await runMedPerSam({
      referenceImage: f.data.items[0]!.imagePath,
      referenceMask: f.data.items[0]!.maskPath,
      images: f.data.items.slice(1).map((t) => ({ id: t.id, imagePath: t.imagePath, gtMaskPath: t.maskPath })),
      outDir: f.out('sam-node'),
      sam: echoDir,
      samLoad: { cacheDir: false, threads: 1 },
      warp: { overrides: TINY_WARP, backend: 'wasm' },
      retrainRounds: 1,
      refinements: 1,
    });
    const sink = new MemoryOutputSink();
    const res = (await runCore({
      ...browserInputs(),
      warp: { overrides: TINY_WARP },
      retrainRounds: 1,
      refinements: 1,
      sam: loadEcho,
      store: new MemoryRunStore(),
      sink,
      environment,
    })) as CoreSamResult;
    await expectSameMasks(sink, node.masksDir);
    expect(res.summary!.meanDice).toBe(node.summary!.meanDice);
    expect(res.record.settings).toEqual(node.record.settings); // same fingerprint: content ids, not paths
    expect(sink.report!.html.startsWith('<!DOCTYPE html>')).toBe(true);
  }, 180_000);

  it('the memory store resumes an interrupted run with identical masks and refuses other settings', async () => {
    const store = new MemoryRunStore('run A');
    const straight = new MemoryOutputSink();
    const base = { ...browserInputs(), warp: { overrides: TINY_WARP }, retrainRounds: 1, refinements: 0, environment };
    await runCore({ ...base, sam: loadEcho, store: new MemoryRunStore(), sink: straight });

    const sink = new MemoryOutputSink();
    const controller = new AbortController();
    const err = await runCore({ ...base, sam: loadEcho, store, sink, signal: controller.signal }, (e) => {
      if (e.stage === 'sam' && e.message?.startsWith('round 1/') && e.done === 1) controller.abort();
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MedpersamUserError);
    expect((err as MedpersamUserError).code).toBe('ABORTED');
    expect(sink.masks.size).toBe(1);

    const resumed = (await runCore({ ...base, sam: loadEcho, store, sink })) as CoreSamResult;
    expect(resumed.record.resumed).toBe(true);
    expect(resumed.record.counters.imageRoundsReused).toBe(3 + 1);
    for (const [id, m] of straight.masks) expect(Buffer.from(sink.masks.get(id)!.data).equals(Buffer.from(m.data))).toBe(true);

    await expect(runCore({ ...base, refinements: 1, sam: loadEcho, store, sink })).rejects.toMatchObject({ code: 'RUN_SETTINGS_MISMATCH' });
  }, 180_000);

  it('three images in segmentation at once (decodeConcurrency 2): their decoder calls overlap; same masks, calls and run state', async () => {
    /** The echo model with the decode concurrency given, counting the decoder calls running at the same time. */
    const overlapCounting = (concurrency: number) => {
      let running = 0;
      const seen = { max: 0 };
      const load = async (): Promise<LoadedSam> => {
        const inner = (await loadEcho()).model as Awaited<ReturnType<typeof loadSamModel>>;
        const model: SamModelLike = {
          info: inner.info,
          decodeConcurrency: concurrency,
          encode: (image) => inner.encode(image),
          cachedEmbedding: (key, w, h) => inner.cachedEmbedding(key, w, h),
          releaseEncoder: () => inner.releaseEncoder(),
          stats: () => inner.stats(),
          async decode(embedding, prompts, opts) {
            seen.max = Math.max(seen.max, ++running);
            try {
              await new Promise((r) => setTimeout(r, 5)); // a call that takes a while, as a real decoder's does
              return await inner.decode(embedding, prompts, opts);
            } finally {
              running--;
            }
          },
        };
        return { model, record: await samModelRecord(inner.info, 'echo'), release: () => inner.release() };
      };
      return { load, seen };
    };
    const base = { ...browserInputs(), warp: { overrides: TINY_WARP }, retrainRounds: 1, refinements: 1, environment, saveRounds: true };
    const one = overlapCounting(1);
    const oneSink = new MemoryOutputSink();
    const oneStore = new MemoryRunStore();
    const a = (await runCore({ ...base, sam: one.load, store: oneStore, sink: oneSink })) as CoreSamResult;
    const two = overlapCounting(2);
    const twoSink = new MemoryOutputSink();
    const twoStore = new MemoryRunStore();
    const b = (await runCore({ ...base, sam: two.load, store: twoStore, sink: twoSink })) as CoreSamResult;
    expect(one.seen.max).toBe(1);
    expect(two.seen.max).toBe(3); // the fixture's 3 test images, all in one chunk
    expect([...twoSink.masks.keys()]).toEqual([...oneSink.masks.keys()]); // written in the same order
    for (const [id, m] of oneSink.masks) expect(Buffer.from(twoSink.masks.get(id)!.data).equals(Buffer.from(m.data))).toBe(true);
    expect(b.record.counters.decoderCalls).toBe(a.record.counters.decoderCalls);
    for (const round of [0, 1]) {
      for (const t of f.data.items.slice(1)) {
        const x = await oneStore.readRoundResult(round, t.id);
        const y = await twoStore.readRoundResult(round, t.id);
        expect(Buffer.from(y!.label.data).equals(Buffer.from(x!.label.data))).toBe(true);
        expect(y!.record.classes.map((c) => [c.points, c.box, c.iouScores])).toEqual(x!.record.classes.map((c) => [c.points, c.box, c.iouScores]));
      }
    }
  }, 180_000);
});
