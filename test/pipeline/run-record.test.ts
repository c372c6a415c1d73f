import { describe, expect, it } from 'vitest';
import { timeBreakdown } from '../../src/pipeline/run-record.js';

describe('timeBreakdown', () => {
  it('warp stages (the pseudolabels brought to the working grid too) vs ONNX Runtime vs the rest', () => {
    const b = timeBreakdown(
      { 'warp-train': 1000, 'warp-pseudolabels': 50, 'warp-apply': 30, 'state-io': 20, 'sam-decode': 700, 'prompts-points': 40 },
      { encoderRunMs: 0, decoderRunMs: 650 },
    );
    expect(b).toEqual({ totalMs: 1840, warpMs: 1080, onnxRuntimeMs: 650, otherMs: 110 });
  });
});
