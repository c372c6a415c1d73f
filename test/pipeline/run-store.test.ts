/** The browser-safe label codec of run-store.ts reads and writes exactly what the earlier Buffer-based one did. */
import { deflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeLabel, encodeLabel, fromBase64, runLengthEncode, toBase64 } from '../../src/pipeline/run-store.js';
import { seededInts } from '../io/fixtures.js';

describe('run-store label codec', () => {
  it('base64 matches Node Buffer for every length and byte value', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from(seededInts(n, 256, n + 1));
      const b64 = toBase64(bytes);
      expect(b64).toBe(Buffer.from(bytes).toString('base64'));
      expect(Array.from(fromBase64(b64, 'x'))).toEqual(Array.from(bytes));
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
