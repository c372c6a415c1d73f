import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { readImage } from '../../src/io/image.js';
import { readEveryInput, UnreadableInputsError, type InputImage } from '../../src/pipeline/input-check.js';
import { writeLabelPng } from '../../src/io/mask.js';
import { useTempDir } from '../fixtures/temp-dir.js';

const tmp = useTempDir({ prefix: 'medpersam-input-check-' });

async function folder(): Promise<InputImage[]> {
  const dir = join(tmp.dir, 'scans');
  await mkdir(dir, { recursive: true });
  const good = { width: 8, height: 6, data: new Uint8Array(48).fill(3) };
  await writeLabelPng(join(dir, 'a.png'), good);
  await writeFile(join(dir, 'b.png'), 'this is not a png');
  await writeLabelPng(join(dir, 'c.png'), good);
  await writeFile(join(dir, 'd.dcm'), new Uint8Array(10));
  await writeFile(join(dir, 'e.png'), new Uint8Array(0));
  return ['a.png', 'b.png', 'c.png', 'd.dcm', 'e.png', 'gone.png'].map((f) => ({ id: f.split('.')[0]!, file: join(dir, f) }));
}

describe('readEveryInput', () => {
  it('tries every image and lists all unreadable ones in one error, before anything is used', async () => {
    const inputs = await folder();
    const used: string[] = [];
    const err = await readEveryInput(inputs, (i) => readImage(i.file), (i) => void used.push(i.id), { folder: 'scans' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreadableInputsError);
    const e = err as UnreadableInputsError;
    expect(e.code).toBe('UNREADABLE_IMAGES');
    expect(e.unreadable.map((u) => u.id)).toEqual(['b', 'd', 'e', 'gone']);
    expect(e.unreadable.map((u) => u.code)).toEqual(['UNSUPPORTED_FORMAT', 'UNSUPPORTED_FORMAT', 'UNREADABLE_IMAGE', 'FILE_NOT_FOUND']);
    expect(e.message).toMatch(/^scans: 4 of 6 images cannot be read/);
    for (const f of ['b.png', 'd.dcm', 'e.png', 'gone.png']) expect(e.message).toContain(f);
    expect(e.message).toMatch(/--skip-unreadable to segment the other 2/);
    // the readable images were read (and handed over) but the caller gets an error before training
    expect(used).toEqual(['a', 'c']);
  });

  it('with skipUnreadable: uses the others and returns what was skipped; all unreadable is still an error', async () => {
    const inputs = await folder();
    const used: string[] = [];
    const skipped = await readEveryInput(inputs, (i) => readImage(i.file), (i) => void used.push(i.id), { skipUnreadable: true });
    expect(used).toEqual(['a', 'c']);
    expect(skipped.map((s) => s.id)).toEqual(['b', 'd', 'e', 'gone']);
    const bad = inputs.filter((i) => i.id !== 'a' && i.id !== 'c');
    await expect(readEveryInput(bad, (i) => readImage(i.file), () => {}, { skipUnreadable: true })).rejects.toThrow(/None of the images can be read/);
  });

  it('a bug in the reader is not taken for an unreadable image', async () => {
    await expect(readEveryInput([{ id: 'x', file: 'x.png' }], async () => { throw new TypeError('boom'); }, () => {})).rejects.toThrow(TypeError);
  });
});

describe('warpThreadsFor', () => {
  it('the run\'s count, else the environment default; one thread when the environment has no workers', async () => {
    const { warpThreadsFor } = await import('../../src/pipeline/warp-stage.js');
    const env = { startWarpWorkers: () => [], defaultWarpThreads: () => 4 };
    expect(warpThreadsFor(undefined, env)).toBe(4);
    expect(warpThreadsFor(2, env)).toBe(2);
    expect(warpThreadsFor(3, {})).toBe(1);
    expect(warpThreadsFor(undefined, { startWarpWorkers: () => [] })).toBe(1);
    expect(() => warpThreadsFor(0, env)).toThrow(/threads must be an integer >= 1/);
  });
});
