import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../../src/warp/backend.js';
import { WarpModel } from '../../src/warp/model.js';
import type { SavedWarpModel } from '../../src/warp/saved-model.js';
import { discPair, tinySettings } from './helpers.js';

beforeAll(async () => {
  await initTf({ backend: 'wasm' });
});

const reference = { imageSha256: 'x', labelSha256: 'y', width: 64, height: 64 };

describe('warm start from a saved warp model (--init-model)', () => {
  const ref = discPair(64, 64, 32, 32, 12);
  const withTests = (model: WarpModel): WarpModel => {
    model.addTest('t0', discPair(64, 64, 36, 32, 12).image);
    model.addTest('t1', discPair(64, 64, 34, 33, 12).image);
    return model;
  };

  it('starts from the saved weights (the same flows before any step), then trains on', async () => {
    const settings = tinySettings({ loss: { augmentation: false }, schedule: { initialSteps: 3 } });
    const first = withTests(new WarpModel(settings, ref));
    await first.train('initial', { unit: 'steps', steps: 3 });
    const saved = first.toSavedModel({ reference, medpersamVersion: 'test' });
    const second = withTests(new WarpModel(settings, ref));
    const random = second.predictFlowsWork([second.testWorkingImage('t0')])[0]!;
    second.initialiseFrom(saved, 'first.mpwarp');
    const started = second.predictFlowsWork([second.testWorkingImage('t0')])[0]!;
    expect([...started]).toEqual([...first.predictFlowsWork([first.testWorkingImage('t0')])[0]!]);
    expect([...started]).not.toEqual([...random]);
    await second.train('initial', { unit: 'steps', steps: 3 });
    expect(second.progress.totalSteps).toBe(3);
    expect(() => second.initialiseFrom(saved, 'first.mpwarp')).toThrow(/already trained 3 steps/);
    first.dispose();
    second.dispose();
  }, 60_000);

  it('refuses a model of another network or other classes, naming the file and what differs', () => {
    const model = new WarpModel(tinySettings(), ref);
    const saved = model.toSavedModel({ reference, medpersamVersion: 'test' });
    const other = (network: Partial<SavedWarpModel['settings']['network']>): SavedWarpModel => ({ ...saved, settings: { ...saved.settings, network: { ...saved.settings.network, ...network } } });
    expect(() => model.initialiseFrom(other({ resolution: 64 }), 'big.mpwarp')).toThrow(/big\.mpwarp: .*another network: resolution 64 \(this run: 32\)/);
    expect(() => model.initialiseFrom(other({ arch: 'nice-trans' }), 'm')).toThrow(/arch "nice-trans" \(this run: "conv"\)/);
    expect(() => model.initialiseFrom({ ...saved, reference: { ...saved.reference, classes: [1, 2] } }, 'two.mpwarp')).toThrow(
      /two\.mpwarp: .*classes 1, 2, this reference mask has 1/,
    );
    model.dispose();
  });
});
