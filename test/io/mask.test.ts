import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { LabelMap } from '../../src/image/types.js';
import { readClassNames, readLabelMap, writeClassNames, writeLabelPng } from '../../src/io/mask.js';
import { readReferencePair } from '../../src/io/reference.js';
import { writeFileAtomic } from '../../src/io/atomic.js';
import { useTempDir } from '../fixtures/temp-dir.js';
import { userError } from '../fixtures/user-error.js';
import { encodeNifti, encodePng, encodeTiff, writeBytes } from './fixtures.js';

const tmp = useTempDir({ prefix: 'medpersam-io-' });

const CLASSES = new Map([
  [0, 'background'],
  [1, 'right_lung'],
  [2, 'left_lung'],
  [3, 'heart'],
]);

describe('readLabelMap', () => {
  it('reads an 8-bit grey label map unchanged', async () => {
    const values = [0, 1, 2, 3, 0, 0, 3, 2];
    const label = await readLabelMap(await writeBytes(join(tmp.dir, 'lab.png'), encodePng(4, 2, 1, 8, values)), { classes: CLASSES });
    expect([label.width, label.height]).toEqual([4, 2]);
    expect(Array.from(label.data)).toEqual(values);
  });

  it('turns a 0/255 binary mask into 0/1', async () => {
    const label = await readLabelMap(await writeBytes(join(tmp.dir, 'bin.png'), encodePng(3, 1, 1, 8, [0, 255, 255])));
    expect(Array.from(label.data)).toEqual([0, 1, 1]);
  });

  it('keeps 255 when other values are present too (not a binary mask)', async () => {
    const label = await readLabelMap(await writeBytes(join(tmp.dir, 'three.png'), encodePng(3, 1, 1, 8, [0, 1, 255])));
    expect(Array.from(label.data)).toEqual([0, 1, 255]);
  });

  it('reads 16-bit PNG, TIFF and NIfTI label maps with small integer values', async () => {
    const values = [0, 1, 2, 3];
    const a = await readLabelMap(await writeBytes(join(tmp.dir, 'lab16.png'), encodePng(2, 2, 1, 16, values)));
    const b = await readLabelMap(await writeBytes(join(tmp.dir, 'lab.tif'), encodeTiff(2, 2, 'u16', values)));
    const c = await readLabelMap(await writeBytes(join(tmp.dir, 'lab.nii.gz'), encodeNifti({ dims: [2, 2], datatype: 'uint8', values, gzip: true })));
    for (const l of [a, b, c]) expect(Array.from(l.data)).toEqual(values);
  });

  it('reads 1/2/4-bit grey PNG label maps with their stored values', async () => {
    const one = await readLabelMap(await writeBytes(join(tmp.dir, 'b1.png'), encodePng(5, 1, 1, 1, [0, 1, 1, 0, 1])));
    expect(Array.from(one.data)).toEqual([0, 1, 1, 0, 1]);
    const two = await readLabelMap(await writeBytes(join(tmp.dir, 'b2.png'), encodePng(5, 1, 1, 2, [0, 1, 2, 3, 1])));
    expect(Array.from(two.data)).toEqual([0, 1, 2, 3, 1]);
    const four = await readLabelMap(await writeBytes(join(tmp.dir, 'b4.png'), encodePng(3, 1, 1, 4, [0, 9, 15])));
    expect(Array.from(four.data)).toEqual([0, 9, 15]);
  });

  it('reads an RGB mask whose channels are equal as grey', async () => {
    const label = await readLabelMap(await writeBytes(join(tmp.dir, 'rgbgrey.png'), encodePng(2, 1, 3, 8, [0, 0, 0, 2, 2, 2])));
    expect(Array.from(label.data)).toEqual([0, 2]);
  });

  it('maps an RGB colour mask through a colour table (black = background by default)', async () => {
    const rgb = [0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 0, 0];
    const table = new Map([
      ['#FF0000', 1],
      ['#00ff00', 2],
    ]);
    const label = await readLabelMap(await writeBytes(join(tmp.dir, 'colour.png'), encodePng(2, 2, 3, 8, rgb)), { colorTable: table });
    expect(Array.from(label.data)).toEqual([0, 1, 2, 1]);
  });

  it('unknown colour → MASK_COLOR_NOT_IN_TABLE naming the colour and a pixel', async () => {
    const rgb = [0, 0, 0, 255, 0, 0, 0, 0, 0, 12, 34, 56];
    const path = await writeBytes(join(tmp.dir, 'colour-bad.png'), encodePng(2, 2, 3, 8, rgb));
    const err = await userError(readLabelMap(path, { colorTable: new Map([['#ff0000', 1]]) }));
    expect(err.code).toBe('MASK_COLOR_NOT_IN_TABLE');
    expect(err.message).toContain('#0c2238');
    expect(err.message).toContain('x=1, y=1');
    expect(err.message).toContain(path);
  });

  it('colour mask without a table → COLOR_MASK_NEEDS_TABLE', async () => {
    const path = await writeBytes(join(tmp.dir, 'colour-notable.png'), encodePng(2, 1, 3, 8, [0, 0, 0, 255, 0, 0]));
    expect((await userError(readLabelMap(path))).code).toBe('COLOR_MASK_NEEDS_TABLE');
  });

  it('values not in classes.json → MASK_VALUE_NOT_IN_CLASSES listing them', async () => {
    const path = await writeBytes(join(tmp.dir, 'extra.png'), encodePng(5, 1, 1, 8, [0, 1, 7, 4, 7]));
    const err = await userError(readLabelMap(path, { classes: CLASSES }));
    expect(err.code).toBe('MASK_VALUE_NOT_IN_CLASSES');
    expect(err.message).toContain('4, 7');
    expect(err.message).toContain(path);
  });

  it('non-integer or out-of-range values → INVALID_MASK', async () => {
    const f = await writeBytes(join(tmp.dir, 'float-mask.tif'), encodeTiff(2, 1, 'f32', [0, 0.5]));
    expect((await userError(readLabelMap(f))).code).toBe('INVALID_MASK');
    const big = await writeBytes(join(tmp.dir, 'big-mask.png'), encodePng(2, 1, 1, 16, [0, 1000]));
    const err = await userError(readLabelMap(big));
    expect(err.code).toBe('INVALID_MASK');
    expect(err.message).toContain('1000');
  });

  it('missing mask → FILE_NOT_FOUND', async () => {
    expect((await userError(readLabelMap(join(tmp.dir, 'none.png')))).code).toBe('FILE_NOT_FOUND');
  });
});

describe('writeLabelPng', () => {
  it('writes an 8-bit 1-channel PNG at the label size that reads back identically', async () => {
    const width = 7;
    const height = 5;
    const data = Uint8Array.from({ length: width * height }, (_, i) => (i * 7) % 4);
    const label: LabelMap = { width, height, data };
    const path = join(tmp.dir, 'out', 'nested', 'pred.png');
    await writeLabelPng(path, label);
    const meta = await sharp(path).metadata();
    expect([meta.width, meta.height, meta.channels, meta.depth, meta.format]).toEqual([width, height, 1, 'uchar', 'png']);
    const back = await readLabelMap(path);
    expect(Array.from(back.data)).toEqual(Array.from(data));
    // atomic write leaves no temporary file behind
    expect((await readdir(join(tmp.dir, 'out', 'nested'))).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('an output path whose parent is a file → UNWRITABLE_OUTPUT, earlier output intact', async () => {
    const earlier = join(tmp.dir, 'earlier.png');
    const label: LabelMap = { width: 2, height: 1, data: Uint8Array.from([1, 2]) };
    await writeLabelPng(earlier, label);
    const before = await readFile(earlier);
    const blocker = join(tmp.dir, 'blocker');
    await writeFile(blocker, 'a regular file');
    const err = await userError(writeLabelPng(join(blocker, 'sub', 'pred.png'), label));
    expect(err.code).toBe('UNWRITABLE_OUTPUT');
    expect(err.message).toContain(join(blocker, 'sub', 'pred.png'));
    expect(Buffer.compare(await readFile(earlier), before)).toBe(0);
  });

  it('a failed write over an existing target leaves the target untouched and no temp file', async () => {
    const target = join(tmp.dir, 'is-a-folder.png');
    await mkdir(join(target, 'child'), { recursive: true });
    const err = await userError(writeFileAtomic(target, 'data'));
    expect(err.code).toBe('UNWRITABLE_OUTPUT');
    expect(await readdir(target)).toEqual(['child']);
    expect((await readdir(tmp.dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

describe('classes.json', () => {
  it('round-trips through write and read, sorted by index', async () => {
    const path = join(tmp.dir, 'classes.json');
    await writeClassNames(path, new Map([[2, 'left_lung'], [0, 'background'], [1, 'right_lung']]));
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ '0': 'background', '1': 'right_lung', '2': 'left_lung' });
    expect([...(await readClassNames(path))]).toEqual([
      [0, 'background'],
      [1, 'right_lung'],
      [2, 'left_lung'],
    ]);
  });

  it('adds 0 → background when missing and accepts an array of names', async () => {
    const a = join(tmp.dir, 'c-no0.json');
    await writeFile(a, '{"1": "lung"}');
    expect([...(await readClassNames(a))]).toEqual([
      [0, 'background'],
      [1, 'lung'],
    ]);
    const b = join(tmp.dir, 'c-array.json');
    await writeFile(b, '["bg", "lung", "heart"]');
    expect((await readClassNames(b)).get(2)).toBe('heart');
  });

  it('invalid content → INVALID_CLASSES naming the file and the problem', async () => {
    const cases: [string, string][] = [
      ['{not json', 'not valid JSON'],
      ['{"x": "lung"}', '"x"'],
      ['{"0": "bg", "1": ""}', 'class 1 has no name'],
      ['{"0": "bg", "1": "lung", "2": "lung"}', 'used twice'],
      ['{"300": "lung"}', 'outside 0..255'],
      ['{"0": "background"}', 'no foreground'],
    ];
    for (const [i, [text, problem]] of cases.entries()) {
      const path = join(tmp.dir, `bad-classes-${i}.json`);
      await writeFile(path, text);
      const err = await userError(readClassNames(path));
      expect(err.code).toBe('INVALID_CLASSES');
      expect(err.message).toContain(path);
      expect(err.message).toContain(problem);
    }
  });
});

describe('readReferencePair', () => {
  it('loads image and mask of one size and lists the classes present', async () => {
    const img = await writeBytes(join(tmp.dir, 'ref.png'), encodePng(3, 2, 1, 8, [10, 20, 30, 40, 50, 60]));
    const mask = await writeBytes(join(tmp.dir, 'ref_mask.png'), encodePng(3, 2, 1, 8, [0, 3, 3, 0, 1, 0]));
    const pair = await readReferencePair(img, mask, CLASSES);
    expect(pair.image.image.width).toBe(3);
    expect(pair.classesPresent).toEqual([1, 3]);
  });

  it('different sizes → SIZE_MISMATCH naming both files and both sizes', async () => {
    const img = await writeBytes(join(tmp.dir, 'ref2.png'), encodePng(3, 2, 1, 8, [1, 2, 3, 4, 5, 6]));
    const mask = await writeBytes(join(tmp.dir, 'ref2_mask.png'), encodePng(2, 2, 1, 8, [0, 1, 1, 0]));
    const err = await userError(readReferencePair(img, mask));
    expect(err.code).toBe('SIZE_MISMATCH');
    for (const text of [img, mask, '3x2', '2x2']) expect(err.message).toContain(text);
  });

  it('a mask without foreground → EMPTY_REFERENCE_MASK', async () => {
    const img = await writeBytes(join(tmp.dir, 'ref3.png'), encodePng(2, 1, 1, 8, [1, 2]));
    const mask = await writeBytes(join(tmp.dir, 'ref3_mask.png'), encodePng(2, 1, 1, 8, [0, 0]));
    const err = await userError(readReferencePair(img, mask));
    expect(err.code).toBe('EMPTY_REFERENCE_MASK');
    expect(err.message).toContain(mask);
  });
});
