import { describe, expect, it } from 'vitest';
import { promptsFor, workingFrame } from '../../src/pipeline/medpersam.js';
import type { BinaryMask } from '../../src/image/types.js';

function ellipse(w: number, h: number, cx: number, cy: number, rx: number, ry: number): BinaryMask {
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1 ? 1 : 0;
  return { width: w, height: h, data };
}

describe('prompts in a working frame (App. C.1)', () => {
  it('working frame keeps the aspect ratio and never enlarges', () => {
    expect(workingFrame(1024, 768, 256)).toEqual({ width: 256, height: 192 });
    expect(workingFrame(200, 100, 256)).toEqual({ width: 200, height: 100 });
    expect(workingFrame(1024, 1024, 0)).toEqual({ width: 1024, height: 1024 });
  });

  it('points chosen at 256 px land in the original frame on the right side; box and mask stay original-size', () => {
    const mask = ellipse(640, 480, 300, 240, 120, 90);
    const work = workingFrame(640, 480, 256);
    const sim = new Float32Array(work.width * work.height).map((_, i) => Math.sin(i * 0.37));
    const p = promptsFor(mask, sim, work, { promptSet: 'P+B+M', promptOptions: { strategy: 'subregions' } })!;
    expect(p.boxOriginal).toEqual({ x0: 180, y0: 150, x1: 420, y1: 330 });
    expect(p.maskPrompt).toEqual({ kind: 'binary', mask });
    const pos = p.pointsOriginal!.filter((q) => q.label === 1);
    const neg = p.pointsOriginal!.filter((q) => q.label === 0);
    expect(pos.length).toBe(5);
    expect(neg.length).toBe(5);
    for (const q of p.pointsOriginal!) {
      expect(Number.isInteger(q.x) && Number.isInteger(q.y)).toBe(true);
      expect(q.x >= 0 && q.x < 640 && q.y >= 0 && q.y < 480).toBe(true);
    }
    // positives come from the eroded mask: inside the original ellipse
    for (const q of pos) expect(mask.data[q.y * 640 + q.x]).toBe(1);
  });

  it('prompt set B skips point generation; P on an empty mask yields nothing', () => {
    const mask = ellipse(64, 64, 30, 30, 10, 8);
    const b = promptsFor(mask, new Float32Array(64 * 64), { width: 64, height: 64 }, { promptSet: 'B', promptOptions: {} })!;
    expect(b).toEqual({ boxOriginal: { x0: 20, y0: 22, x1: 40, y1: 38 } });
    const empty = { width: 8, height: 8, data: new Uint8Array(64) };
    expect(promptsFor(empty, new Float32Array(64), { width: 8, height: 8 }, { promptSet: 'P', promptOptions: {} })).toBeNull();
  });
});
