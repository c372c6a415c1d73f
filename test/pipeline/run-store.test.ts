/** The browser-safe label codec of run-store.ts reads and writes exactly what the earlier Buffer-based one did. */
import { deflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeLabel, encodeLabel, fromBase64, runLengthEncode, toBase64 } from '../../src/pipeline/run-store.js';
import { seededInts } from '../io/fixtures.js';

/** The pixel-by-pixel run-length coder the stored format was defined with (the reference for the fast one). */
function runLengthEncodeReference(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < data.length) {
    const v = data[i]!;
    let j = i + 1;
    while (j < data.length && data[j] === v) j++;
    out.push(v);
    let run = j - i;
    while (run >= 0x80) {
      out.push((run & 0x7f) | 0x80);
      run = Math.floor(run / 128);
    }
    out.push(run);
    i = j;
  }
  return Uint8Array.from(out);
}

/** A map of runs with lengths drawn from `maxRun` (1: noise; large: long runs crossing word boundaries). */
function runsMap(n: number, maxRun: number, values: number, seed: number): Uint8Array {
  const r = seededInts(2 * n + 2, 1 << 30, seed);
  const data = new Uint8Array(n);
  let i = 0;
  let k = 0;
  while (i < n) {
    const len = 1 + (r[k++]! % maxRun);
    data.fill(r[k++]! % values === 0 ? 255 : r[k - 1]! % values, i, Math.min(n, i + len));
    i += len;
  }
  return data;
}

describe('run-store label codec', () => {
  it('base64 matches Node Buffer for every length and byte value', () => {
    for (const n of [...Array.from({ length: 40 }, (_, k) => k), 1000, 65537, 100001]) {
      const bytes = Uint8Array.from(seededInts(n, 256, n + 1));
      const b64 = toBase64(bytes);
      expect(b64).toBe(Buffer.from(bytes).toString('base64'));
      expect(Array.from(fromBase64(b64, 'x'))).toEqual(Array.from(bytes));
    }
  });

  it('run-length coding gives the bytes of the pixel-by-pixel coder: any run length, value, size and alignment', () => {
    const cases: Uint8Array[] = [new Uint8Array(0), new Uint8Array(1), new Uint8Array(7).fill(255), new Uint8Array(70000).fill(3)];
    for (const [n, maxRun, values] of [[1, 1, 2], [13, 3, 3], [4096, 1, 4], [4099, 9, 4], [50001, 200, 3], [300000, 40000, 4]] as const) {
      for (let seed = 1; seed <= 3; seed++) cases.push(runsMap(n, maxRun, values, seed));
    }
    for (const data of cases) {
      expect(Array.from(runLengthEncode(data))).toEqual(Array.from(runLengthEncodeReference(data)));
      // Views that do not start on a 4-byte boundary take the pixel-by-pixel path.
      for (const offset of [1, 2, 3]) {
        const shifted = new Uint8Array(data.length + offset);
        shifted.set(data, offset);
        const view = shifted.subarray(offset);
        expect(Array.from(runLengthEncode(view))).toEqual(Array.from(runLengthEncodeReference(view)));
      }
    }
  });

  it('a label map round-trips; its stored text is the run-length + deflate + base64 of the pre-split format', () => {
    const data = Uint8Array.from(seededInts(64 * 48, 4, 9).map((v, i) => (i % 50 < 30 ? 0 : v)));
    const label = { width: 64, height: 48, data };
    const text = encodeLabel(label);
    expect(text).toBe(Buffer.from(deflateSync(runLengthEncode(data), { level: 1 })).toString('base64'));
    expect(Array.from(decodeLabel(text, 64, 48, 'x').data)).toEqual(Array.from(data));
    expect(() => decodeLabel(text, 64, 47, 'x')).toThrow(/stored label/);
  });
});
