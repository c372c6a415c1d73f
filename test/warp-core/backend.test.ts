import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initTf } from '../../src/warp/backend.js';

describe('initTf', () => {
  it("'auto' falls through the absent tfjs-node to wasm, idempotently", async () => {
    const a = await initTf();
    expect(a).toBe('wasm'); // @tensorflow/tfjs-node is not installed here
    expect(await initTf({ backend: 'auto' })).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it("an explicit 'tensorflow' request fails without tfjs-node; cpu and wasm can be switched", async () => {
    await expect(initTf({ backend: 'tensorflow' })).rejects.toThrow(/tfjs-node/);
    expect(await initTf({ backend: 'cpu' })).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await initTf({ backend: 'wasm' })).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('is deterministic: the same computation twice gives bit-identical results', async () => {
    await initTf({ backend: 'wasm' });
    const run = (): number[] => tf.tidy(() => {
      const x = tf.linspace(-1, 1, 2 * 8 * 8 * 3).reshape([2, 8, 8, 3]) as tf.Tensor4D;
      const w = tf.linspace(-0.5, 0.5, 3 * 3 * 3 * 4).reshape([3, 3, 3, 4]) as tf.Tensor4D;
      const g = tf.grad((a: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, w, 2, 'same'))))(x);
      return Array.from(g.dataSync());
    });
    expect(run()).toEqual(run());
  });

  it('finds the wasm binaries from any working directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warp-core-'));
    try {
      const script = join(dir, 'probe.mts');
      const backendUrl = pathToFileURL(resolve('src/warp/backend.ts')).href;
      writeFileSync(script, `import { initTf } from ${JSON.stringify(backendUrl)};\nprocess.stdout.write('BACKEND=' + await initTf());\n`);
      const tsx = resolve('node_modules/.bin/tsx');
      const res = spawnSync(tsx, [script], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      expect(res.stdout).toContain('BACKEND=wasm');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
