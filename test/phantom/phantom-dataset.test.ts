import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatePhantom } from '../../src/image/phantom.js';
import { readImage } from '../../src/io/image.js';
import { readClassNames, readLabelMap } from '../../src/io/mask.js';
import { discoverDataset } from '../../src/io/dataset.js';
import { writePhantomDataset } from '../../src/io/phantom-dataset.js';
import { useTempDir } from '../fixtures/temp-dir.js';
import { expectUserError } from '../fixtures/user-error.js';

const tmp = useTempDir({ prefix: 'medpersam-phantom-ds-' });

describe('writePhantomDataset', () => {
  it('writes images/, masks/ and classes.json that read back as the generated phantoms, in mixed sizes', async () => {
    const root = join(tmp.dir, 'mixed');
    const events: number[] = [];
    const result = await writePhantomDataset(root, {
      count: 3,
      seed: 9,
      sizes: [
        { width: 64, height: 64 },
        { width: 80, height: 56 },
      ],
      onProgress: (e) => events.push(e.done),
    });
    expect(events).toEqual([0, 1, 2, 3]);
    expect(result.items.map((i) => [i.id, i.width, i.height])).toEqual([
      ['phantom_000', 64, 64],
      ['phantom_001', 80, 56],
      ['phantom_002', 64, 64],
    ]);
    expect((await readdir(join(root, 'images'))).sort()).toEqual(['phantom_000.png', 'phantom_001.png', 'phantom_002.png']);
    const classes = await readClassNames(join(root, 'classes.json'));
    expect([...classes]).toEqual([
      [0, 'background'],
      [1, 'right_lung'],
      [2, 'left_lung'],
      [3, 'heart'],
    ]);
    for (const [patient, item] of result.items.entries()) {
      const expected = generatePhantom({ seed: 9, patient, width: item.width, height: item.height });
      const label = await readLabelMap(item.maskPath, { classes });
      expect(label.width).toBe(item.width);
      expect(Buffer.from(label.data).equals(Buffer.from(expected.label.data))).toBe(true);
      const { image, bitDepth } = await readImage(item.imagePath);
      expect(bitDepth).toBe(8);
      expect(image.channels).toBe(1);
      for (let i = 0; i < image.data.length; i += 97) expect(image.data[i]).toBe(Math.round(expected.image.data[i]!));
    }
    // the layout is what dataset discovery reads; reference = first id
    const ds = await discoverDataset(root);
    expect(ds.reference.id).toBe('phantom_000');
    expect(ds.tests.map((t) => t.id)).toEqual(['phantom_001', 'phantom_002']);
  });

  it('writes identical bytes for the same seed', async () => {
    const a = await writePhantomDataset(join(tmp.dir, 'a'), { count: 2, width: 48, seed: 4 });
    const b = await writePhantomDataset(join(tmp.dir, 'b'), { count: 2, width: 48, seed: 4 });
    for (let i = 0; i < 2; i++) {
      expect((await readFile(a.items[i]!.imagePath)).equals(await readFile(b.items[i]!.imagePath))).toBe(true);
      expect((await readFile(a.items[i]!.maskPath)).equals(await readFile(b.items[i]!.maskPath))).toBe(true);
    }
  });

  it('refuses a folder that already holds images unless overwrite is set, leaving the files intact', async () => {
    const root = join(tmp.dir, 'taken');
    await mkdir(join(root, 'images'), { recursive: true });
    await writeFile(join(root, 'images', 'mine.png'), 'user data');
    await expectUserError(writePhantomDataset(root, { count: 1, width: 32 }), 'OUTPUT_EXISTS', join(root, 'images'));
    expect(await readFile(join(root, 'images', 'mine.png'), 'utf8')).toBe('user data');
    await writePhantomDataset(root, { count: 1, width: 32, overwrite: true });
    expect((await readdir(join(root, 'images'))).sort()).toEqual(['mine.png', 'phantom_000.png']);
  });

  it('rejects a count that is not a positive integer', async () => {
    await expect(writePhantomDataset(join(tmp.dir, 'zero'), { count: 0 })).rejects.toThrow(/count/);
  });
});
