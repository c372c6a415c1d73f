import { afterEach, describe, expect, it, vi } from 'vitest';
import { StageTimer, timeBreakdown } from '../../src/pipeline/run-record.js';

describe('timeBreakdown', () => {
  it('warp stages (the pseudolabels brought to the working grid too) vs ONNX Runtime vs the rest', () => {
    const b = timeBreakdown(
      { 'warp-train': 1000, 'warp-pseudolabels': 50, 'warp-apply': 30, 'state-io': 20, 'sam-decode': 700, 'prompts-points': 40 },
      { encoderRunMs: 0, decoderRunMs: 650 },
    );
    expect(b).toEqual({ totalMs: 1840, warpMs: 1080, onnxRuntimeMs: 650, otherMs: 110 });
  });
});

describe('timeBreakdown with decoder calls of two images overlapping', () => {
  it('counts the wall time waited for the decoder, not the summed call times', () => {
    // Two images' calls overlapped: 900 ms of calls in 600 ms of waiting.
    const b = timeBreakdown({ 'sam-decode': 600, 'prompts-points': 100 }, { encoderRunMs: 0, decoderRunMs: 900 });
    expect(b).toEqual({ totalMs: 700, warpMs: 0, onnxRuntimeMs: 600, otherMs: 100 });
  });
});

describe('StageTimer', () => {
  afterEach(() => vi.useRealTimers());

  it('sections that overlap without nesting: the time goes to the latest running section, the sum is the wall time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
    const timer = new StageTimer();
    const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
    // a runs 0–100 ms, b 50–200 ms: a ends while b runs.
    const a = timer.time('a', () => wait(100));
    await vi.advanceTimersByTimeAsync(50);
    const b = timer.time('b', () => wait(150));
    await vi.advanceTimersByTimeAsync(150);
    await Promise.all([a, b]);
    const t = timer.totals();
    expect(t['a']).toBeCloseTo(50, 6);
    expect(t['b']).toBeCloseTo(150, 6);
    // A section after both: nothing left running, its time is its own.
    timer.time('c', () => undefined);
    expect(Object.values(timer.totals()).reduce((x, y) => x + y, 0)).toBeCloseTo(200, 6);
  });

  it('nested sections: the outer clock pauses while the inner one runs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
    const timer = new StageTimer();
    const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
    const outer = timer.time('outer', async () => {
      await wait(10);
      await timer.time('inner', () => wait(30));
      await wait(5);
    });
    await vi.advanceTimersByTimeAsync(45);
    await outer;
    expect(timer.totals()).toEqual({ outer: 15, inner: 30 });
  });
});
