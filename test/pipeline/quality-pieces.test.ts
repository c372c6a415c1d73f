/**
 * The fragmentation signal counts as many pieces as the reference's class has (pipeline/quality.ts with
 * eval/quality-signals.ts pieceShares): both lungs annotated as one class are two pieces, not a fragmented mask.
 */
import { describe, expect, it } from 'vitest';
import { imageQualitySignals, qualityContext } from '../../src/pipeline/quality.js';
import type { FloatImage, LabelMap } from '../../src/image/types.js';

const S = 32;

/** A label map with class 1 on the given blocks [x0, y0, x1, y1) (exclusive ends). */
function blocks(...rects: [number, number, number, number][]): LabelMap {
  const data = new Uint8Array(S * S);
  for (const [x0, y0, x1, y1] of rects) for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * S + x] = 1;
  return { width: S, height: S, data };
}

const grey: FloatImage = { width: S, height: S, channels: 1, data: new Float32Array(S * S).fill(0.5) };

describe('reference pieces', () => {
  it('two lungs as one class: 2 pieces expected, the two halves hold the whole class; a stray third piece is counted out', () => {
    const lungs: [number, number, number, number][] = [[2, 4, 12, 28], [18, 4, 28, 28]]; // 240 px each
    const ctx = qualityContext({ image: grey, label: blocks(...lungs) }, [1], 16);
    expect(ctx.referencePieces.get(1)).toBe(2);
    const same = imageQualitySignals(ctx, { id: 'a', image: grey, label: blocks(...lungs) }).perClass[0]!;
    expect(same).toMatchObject({ components: 2, largestShare: 0.5, referencePieces: 2, mainPiecesShare: 1 });
    // A stray 4×15 piece between the halves: 480 of 540 pixels in the two main pieces.
    const stray = imageQualitySignals(ctx, { id: 'b', image: grey, label: blocks(...lungs, [13, 0, 17, 15]) }).perClass[0]!;
    expect(stray.components).toBe(3);
    expect(stray.mainPiecesShare).toBeCloseTo(480 / 540, 12);
  });

  it('a one-piece class expects one piece: a split mask is judged by its largest piece, as before', () => {
    const ctx = qualityContext({ image: grey, label: blocks([4, 4, 28, 28]) }, [1], 16);
    expect(ctx.referencePieces.get(1)).toBe(1);
    const split = imageQualitySignals(ctx, { id: 'a', image: grey, label: blocks([2, 4, 12, 28], [18, 4, 28, 28]) }).perClass[0]!;
    expect(split.mainPiecesShare).toBe(0.5);
    expect(split.mainPiecesShare).toBe(split.largestShare);
  });
});
