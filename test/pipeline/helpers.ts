/** Fixtures for the pipeline tests: a tiny phantom dataset, generated SAM models, a tiny warp schedule. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePhantomDataset, type PhantomDatasetResult } from '../../src/io/phantom-dataset.js';
import type { MedPerSamOptions } from '../../src/pipeline/medpersam.js';
import type { WarpSettingsOverrides } from '../../src/warp/presets.js';
import { writeTestSamModel, type TestSamModelOptions } from '../fixtures/sam-models.js';

/** A warp model small enough for tests: 32 px working grid, narrow layers, 1 epoch per phase. */
export const TINY_WARP: WarpSettingsOverrides = {
  network: { resolution: 32, encoderWidths: [4, 8, 8, 8, 8], decoderWidth: 8, arch: 'conv' },
  schedule: { initialEpochs: 1, retrainEpochs: 1, batchSize: 4, augPerBatch: 1, seed: 7 },
};

export interface Fixture {
  root: string;
  data: PhantomDatasetResult;
  /** Folder of a generated SAM model per behaviour. */
  sam: (opts?: TestSamModelOptions) => Promise<string>;
  cacheDir: string;
  out: (name: string) => string;
  cleanup: () => Promise<void>;
}

export async function makeFixture(opts: { count?: number; size?: number } = {}): Promise<Fixture> {
  const root = await mkdtemp(join(tmpdir(), 'medpersam-pipeline-'));
  const data = await writePhantomDataset(join(root, 'data'), { count: opts.count ?? 4, width: opts.size ?? 64, seed: 3 });
  let n = 0;
  return {
    root,
    data,
    sam: async (o = {}) => (await writeTestSamModel(join(root, `sam-${n++}`), o)).dir,
    cacheDir: join(root, 'cache'),
    out: (name) => join(root, 'out', name),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** Options for a run on the fixture: reference = first phantom, the others are tests (with GT). */
export function baseOptions(f: Fixture, samDir: string, outName: string, extra: Partial<MedPerSamOptions> = {}): MedPerSamOptions {
  const [ref, ...tests] = f.data.items;
  return {
    referenceImage: ref!.imagePath,
    referenceMask: ref!.maskPath,
    images: tests.map((t) => ({ id: t.id, imagePath: t.imagePath, gtMaskPath: t.maskPath })),
    outDir: f.out(outName),
    sam: samDir,
    samLoad: { cacheDir: f.cacheDir, threads: 1 },
    // One thread: no worker start-up per run (test/warp-model/parallel.test.ts and warp-reuse.test.ts cover threads).
    warp: { overrides: TINY_WARP, backend: 'wasm', threads: 1 },
    retrainRounds: 0,
    refinements: 0,
    report: false,
    ...extra,
  };
}
