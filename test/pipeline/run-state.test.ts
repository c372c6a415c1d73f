import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstDifference, RunState, RUN_STATE_DIR } from '../../src/pipeline/run-state.js';

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'medpersam-runstate-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('RunState', () => {
  it('round results round-trip (label, warped label, prompts) and mark images done', async () => {
    const out = await tmp();
    const s = await RunState.open(out, { a: 1 });
    expect(s.resumed).toBe(false);
    expect(await s.hasRoundResult(0, 'img')).toBe(false);
    const label = { width: 3, height: 2, data: Uint8Array.from([0, 1, 2, 3, 0, 255]) };
    const warped = { width: 3, height: 2, data: Uint8Array.from([1, 1, 1, 0, 0, 0]) };
    const record = {
      id: 'img',
      round: 0,
      width: 3,
      height: 2,
      classes: [{ cls: 1, points: [{ x: 1, y: 0, label: 1 as const }], box: { x0: 0, y0: 0, x1: 2, y1: 1 }, maskPromptPixels: 3, iouScores: [0.5], decoderCalls: 1, notes: [] }],
      timingsMs: { prompts: 1.5 },
    };
    await s.writeRoundResult(record, label, warped);
    expect(await s.hasRoundResult(0, 'img')).toBe(true);
    const back = (await s.readRoundResult(0, 'img'))!;
    expect(back.record).toEqual(record);
    expect(Array.from(back.label.data)).toEqual(Array.from(label.data));
    expect(Array.from(back.warped.data)).toEqual(Array.from(warped.data));
    expect(await s.readRoundResult(1, 'img')).toBeNull();
    const again = await RunState.open(out, { a: 1 });
    expect(again.resumed).toBe(true);
  });

  it('stored labels survive long runs, every byte value and noise exactly', async () => {
    const out = await tmp();
    const s = await RunState.open(out, {});
    const w = 700;
    const h = 300;
    const data = new Uint8Array(w * h);
    for (let i = 0; i < data.length; i++) {
      if (i < 150_000) data[i] = 0; // a run longer than 2^14
      else if (i < 150_300) data[i] = i % 256; // runs of 1, every byte value
      else data[i] = (i * 2654435761) % 7 < 2 ? 3 : 255; // noise
    }
    const label = { width: w, height: h, data };
    const record = { id: 'n', round: 2, width: w, height: h, classes: [], timingsMs: {} };
    await s.writeRoundResult(record, label, { width: w, height: h, data: new Uint8Array(w * h).fill(255) });
    const back = (await s.readRoundResult(2, 'n'))!;
    expect(Buffer.from(back.label.data).equals(Buffer.from(data))).toBe(true);
    expect(back.warped.data.every((v) => v === 255)).toBe(true);
  });

  it('a different fingerprint names the first differing setting', async () => {
    const out = await tmp();
    await RunState.open(out, { warp: { epochs: 3, lr: 1 }, set: 'P+B+M' });
    await expect(RunState.open(out, { warp: { epochs: 4, lr: 1 }, set: 'P+B+M' })).rejects.toMatchObject({
      code: 'RUN_SETTINGS_MISMATCH',
      message: expect.stringContaining('warp.epochs: was 3, now 4'),
    });
    expect(firstDifference({ a: [1, 2] }, { a: [1, 3] })).toBe('a');
    expect(firstDifference({ a: 1 }, { a: 1 })).toBeNull();
  });

  it('refuses a fresh run into output folders holding files; corrupt state is a clear error', async () => {
    const out = await tmp();
    await mkdir(join(out, 'masks'), { recursive: true });
    await writeFile(join(out, 'masks', 'x.png'), 'x');
    await expect(RunState.open(out, {}, { outputFolders: ['masks'] })).rejects.toMatchObject({ code: 'OUTPUT_EXISTS' });
    const out2 = await tmp();
    await mkdir(join(out2, RUN_STATE_DIR), { recursive: true });
    await writeFile(join(out2, RUN_STATE_DIR, 'settings.json'), '{not json');
    await expect(RunState.open(out2, {})).rejects.toMatchObject({ code: 'BAD_RUN_STATE' });
  });
});
