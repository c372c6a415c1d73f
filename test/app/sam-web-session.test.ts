/**
 * How the app opens an ONNX file with onnxruntime-web when default options fail (src/app/sam-web.ts
 * `createWithOptimiserRetry`): first ReshapeFusion and ConstantFolding disabled (what onnxruntime-web 1.30's wasm
 * build needs for samexporter's SAM 2 encoder), then graph optimisations off; the run record's warnings say which.
 *
 *  - with a scripted runtime that accepts only some option sets (each order and message checked exactly);
 *  - with onnxruntime-web's wasm build itself (run in Node) on the real-architecture SAM 2.1 Hiera-Tiny encoder, where
 *    MEDPERSAM_SAM2_REAL_ARCH names its folder (as for test/sam/sam2-golden.test.ts); skipped with a message elsewhere.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as OrtWeb from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { createWithOptimiserRetry } from '../../src/app/sam-web.js';

type Options = OrtWeb.InferenceSession.SessionOptions;

const disabledOptimisers = (o: Options): string[] =>
  ((o.extra as { optimization?: { disable_specified_optimizers?: string } } | undefined)?.optimization?.disable_specified_optimizers ?? '')
    .split(';')
    .filter(Boolean);

/** A stand-in for onnxruntime-web that creates a session only when `accepts` says so, recording every options set. */
function scriptedOrt(accepts: (o: Options) => boolean) {
  const calls: Options[] = [];
  const session = { inputNames: ['image'], outputNames: ['image_embed'] };
  const ort = {
    InferenceSession: {
      create: async (_bytes: Uint8Array, options: Options) => {
        calls.push(options);
        if (!accepts(options)) throw new Error(`Can't create a session. ERROR_CODE: ${calls.length}, ERROR_MESSAGE: \nstack`);
        return session;
      },
    },
  } as unknown as typeof OrtWeb;
  return { ort, calls, session };
}

const file = { name: 'encoder.onnx', bytes: new Uint8Array([1, 2, 3]) };

describe('createWithOptimiserRetry (scripted runtime)', () => {
  it('opens with default options when they work, without a warning', async () => {
    const { ort, calls, session } = scriptedOrt(() => true);
    const warnings: string[] = [];
    expect(await createWithOptimiserRetry(ort, file, 'wasm', warnings)).toBe(session);
    expect(calls).toEqual([{ executionProviders: ['wasm'], graphOptimizationLevel: 'all' }]);
    expect(warnings).toEqual([]);
  });

  it('retries with ReshapeFusion and ConstantFolding disabled, all other optimisations on, and says so', async () => {
    // Like onnxruntime-web 1.30 (wasm) on samexporter's SAM 2 encoder: fails while either optimiser runs.
    const { ort, calls, session } = scriptedOrt((o) => ['ReshapeFusion', 'ConstantFolding'].every((n) => disabledOptimisers(o).includes(n)));
    const warnings: string[] = [];
    expect(await createWithOptimiserRetry(ort, file, 'wasm', warnings)).toBe(session);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.graphOptimizationLevel).toBe('all');
    expect(disabledOptimisers(calls[1]!)).toEqual(['ReshapeFusion', 'ConstantFolding']);
    expect(warnings).toEqual([
      "encoder.onnx: loaded with ONNX Runtime's ReshapeFusion;ConstantFolding disabled (default options failed: Can't create a session. ERROR_CODE: 1, ERROR_MESSAGE: )",
    ]);
  });

  it('falls back to graph optimisations off, then reports the first failure when nothing works', async () => {
    const off = scriptedOrt((o) => o.graphOptimizationLevel === 'disabled');
    const warnings: string[] = [];
    expect(await createWithOptimiserRetry(off.ort, file, 'webgpu', warnings)).toBe(off.session);
    expect(off.calls.map((o) => [o.executionProviders, o.graphOptimizationLevel])).toEqual([
      [['webgpu'], 'all'],
      [['webgpu'], 'all'],
      [['webgpu'], 'disabled'],
    ]);
    expect(warnings).toEqual(["encoder.onnx: loaded with ONNX Runtime's graph optimisations off (default options failed: Can't create a session. ERROR_CODE: 1, ERROR_MESSAGE: )"]);

    const none = scriptedOrt(() => false);
    await expect(createWithOptimiserRetry(none.ort, file, 'wasm', [])).rejects.toThrow("Can't create a session. ERROR_CODE: 1,");
    expect(none.calls).toHaveLength(3);
  });
});

const ENV = 'MEDPERSAM_SAM2_REAL_ARCH';
const dir = process.env[ENV];
const present = dir !== undefined && existsSync(join(dir, 'encoder.onnx'));

(present ? describe : describe.skip)(
  present
    ? "onnxruntime-web (wasm) opens the exporter's SAM 2.1 Hiera-Tiny encoder"
    : `onnxruntime-web on the real SAM 2 encoder (skipped: set ${ENV} to the real-architecture SAM 2.1 Hiera-Tiny folder built by ../shared/tools/real-arch-sam2/make.py)`,
  () => {
    it('with ReshapeFusion and ConstantFolding disabled (default options fail on a shape conflict)', async () => {
      const ort = await import('onnxruntime-web');
      ort.env.wasm.numThreads = 1;
      const warnings: string[] = [];
      const encoder = { name: 'encoder.onnx', bytes: readFileSync(join(dir!, 'encoder.onnx')) };
      const session = await createWithOptimiserRetry(ort, encoder, 'wasm', warnings);
      expect(session.outputNames).toEqual(['high_res_feats_0', 'high_res_feats_1', 'image_embed']);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^encoder\.onnx: loaded with ONNX Runtime's ReshapeFusion;ConstantFolding disabled \(default options failed: .*Can't merge shape info/);
      await session.release();
    }, 120_000);
  },
);
