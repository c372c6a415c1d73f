import type { FloatImage, LabelMap } from '../../src/image/types.js';
import { resolveWarpSettings, type WarpSettings, type WarpSettingsOverrides } from '../../src/warp/presets.js';

/** A bright disc (value 200) on a textured dark background, plus its label (1 inside). */
export function discPair(
  width: number,
  height: number,
  cx: number,
  cy: number,
  r: number,
): { image: FloatImage; label: LabelMap } {
  const data = new Float32Array(width * height);
  const lab = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      data[y * width + x] = inside ? 200 : 30 + 10 * Math.sin(x * 0.7) * Math.cos(y * 0.5);
      lab[y * width + x] = inside ? 1 : 0;
    }
  }
  return { image: { width, height, channels: 1, data }, label: { width, height, data: lab } };
}

/** Tiny, fast settings for tests (32 px working grid, small widths). */
export function tinySettings(over: WarpSettingsOverrides = {}): WarpSettings {
  return resolveWarpSettings('cpu', {
    network: { resolution: 32, encoderWidths: [8, 8, 8, 16, 16], decoderWidth: 16, attentionWindow: 4, ...over.network },
    loss: { ...over.loss },
    // One epoch unless the caller sets a steps budget.
    schedule: { batchSize: 4, augPerBatch: 1, learningRate: 1e-3, ...(over.schedule?.initialSteps === undefined ? { initialEpochs: 1 } : {}), ...over.schedule },
    preprocess: { ...over.preprocess },
  });
}

export function dice(a: LabelMap, b: LabelMap, cls = 1): number {
  let inter = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.data.length; i++) {
    const pa = a.data[i] === cls;
    const pb = b.data[i] === cls;
    if (pa) na++;
    if (pb) nb++;
    if (pa && pb) inter++;
  }
  return na + nb === 0 ? 1 : (2 * inter) / (na + nb);
}
