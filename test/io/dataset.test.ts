import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverDataset, listImages } from '../../src/io/dataset.js';
import { readImage } from '../../src/io/image.js';
import { useTempDir } from '../fixtures/temp-dir.js';
import { userError } from '../fixtures/user-error.js';
import { encodeDicom, encodeNifti, encodePng, writeBytes } from './fixtures.js';

const tmp = useTempDir({ prefix: 'medpersam-io-', scope: 'each' });

const png = (w = 2, h = 2) => encodePng(w, h, 1, 8, new Array(w * h).fill(0).map((_, i) => i % 2));

/** Build DIR/images and DIR/masks from file-name lists (all tiny PNGs unless the name says otherwise). */
async function layout(images: string[], masks: string[] = []): Promise<void> {
  await mkdir(join(tmp.dir, 'images'), { recursive: true });
  if (masks.length) await mkdir(join(tmp.dir, 'masks'), { recursive: true });
  for (const name of images) await writeBytes(join(tmp.dir, 'images', name), png());
  for (const name of masks) await writeBytes(join(tmp.dir, 'masks', name), png());
}

describe('discoverDataset', () => {
  it('matches masks by stem, tolerating _mask/-mask/_label/_seg suffixes, in code-point order', async () => {
    await layout(
      ['case_b.png', 'case_a.png', 'Case_C.tif', 'case_d.bmp', 'case_e.jpg', 'no_mask.png', 'readme.txt', '.hidden.png'],
      ['case_a.png', 'case_b_mask.png', 'Case_C-mask.png', 'case_d_label.png', 'case_e_SEG.png', 'orphan_seg.png'],
    );
    const ds = await discoverDataset(tmp.dir);
    expect(ds.items.map((it) => it.id)).toEqual(['Case_C', 'case_a', 'case_b', 'case_d', 'case_e', 'no_mask']);
    const maskOf = Object.fromEntries(ds.items.map((it) => [it.id, it.maskPath?.split('/').pop()]));
    expect(maskOf).toEqual({
      Case_C: 'Case_C-mask.png',
      case_a: 'case_a.png',
      case_b: 'case_b_mask.png',
      case_d: 'case_d_label.png',
      case_e: 'case_e_SEG.png',
      no_mask: undefined,
    });
    expect(ds.unmatchedMasks.map((p) => p.split('/').pop())).toEqual(['orphan_seg.png']);
    // Reference: first id in code-point order ('C' < 'c'), the others are tests.
    expect(ds.reference.id).toBe('Case_C');
    expect(ds.tests.map((t) => t.id)).toEqual(['case_a', 'case_b', 'case_d', 'case_e', 'no_mask']);
    expect(ds.classes).toBeUndefined();
  });

  it('picks up DICOM (also without extension) and NIfTI (.nii.gz stem) images', async () => {
    await mkdir(join(tmp.dir, 'images'), { recursive: true });
    await mkdir(join(tmp.dir, 'masks'), { recursive: true });
    await writeBytes(join(tmp.dir, 'images', 'IM0001'), encodeDicom({ rows: 2, columns: 2, values: [1, 2, 3, 4] }));
    await writeBytes(join(tmp.dir, 'images', 'scan.dcm'), encodeDicom({ rows: 2, columns: 2, values: [1, 2, 3, 4] }));
    await writeBytes(join(tmp.dir, 'images', 'vol.nii.gz'), encodeNifti({ dims: [2, 2], datatype: 'uint8', values: [1, 2, 3, 4], gzip: true }));
    await writeBytes(join(tmp.dir, 'images', 'notes'), Buffer.from('plain text, no extension'));
    await writeBytes(join(tmp.dir, 'masks', 'IM0001_mask.png'), png());
    await writeBytes(join(tmp.dir, 'masks', 'vol.png'), png());
    const ds = await discoverDataset(tmp.dir);
    expect(ds.items.map((it) => it.id)).toEqual(['IM0001', 'scan', 'vol']);
    expect(ds.items.map((it) => it.maskPath !== undefined)).toEqual([true, false, true]);
  });

  it('an exact stem match wins over a suffix match', async () => {
    await layout(['a.png', 'a_mask.png'], ['a.png', 'a_mask_mask.png', 'a_mask.png']);
    const ds = await discoverDataset(tmp.dir);
    const byId = Object.fromEntries(ds.items.map((it) => [it.id, it.maskPath?.split('/').pop()]));
    expect(byId).toEqual({ a: 'a.png', a_mask: 'a_mask.png' });
    expect(ds.unmatchedMasks.map((p) => p.split('/').pop())).toEqual(['a_mask_mask.png']);
  });

  it('a named reference (by id or file name); unknown → REFERENCE_NOT_FOUND; without mask → REFERENCE_WITHOUT_MASK', async () => {
    await layout(['x1.png', 'x2.png', 'x3.png'], ['x1.png', 'x2.png']);
    expect((await discoverDataset(tmp.dir, { reference: 'x2' })).reference.id).toBe('x2');
    const byName = await discoverDataset(tmp.dir, { reference: 'x2.png' });
    expect(byName.reference.id).toBe('x2');
    expect(byName.tests.map((t) => t.id)).toEqual(['x1', 'x3']);
    const missing = await userError(discoverDataset(tmp.dir, { reference: 'x9' }));
    expect(missing.code).toBe('REFERENCE_NOT_FOUND');
    expect(missing.message).toContain('x9');
    expect((await userError(discoverDataset(tmp.dir, { reference: 'x3' }))).code).toBe('REFERENCE_WITHOUT_MASK');
  });

  it('default reference skips images without a mask; no masks at all → NO_REFERENCE_MASK', async () => {
    await layout(['a.png', 'b.png'], ['b.png']);
    expect((await discoverDataset(tmp.dir)).reference.id).toBe('b');
    await tmp.renew();
    await layout(['a.png']);
    expect((await userError(discoverDataset(tmp.dir))).code).toBe('NO_REFERENCE_MASK');
  });

  it('reads classes.json when present', async () => {
    await layout(['a.png'], ['a.png']);
    await writeFile(join(tmp.dir, 'classes.json'), '{"0": "background", "1": "lung"}');
    expect([...((await discoverDataset(tmp.dir)).classes ?? [])]).toEqual([
      [0, 'background'],
      [1, 'lung'],
    ]);
  });

  it('images of different sizes in one set are allowed', async () => {
    await mkdir(join(tmp.dir, 'images'), { recursive: true });
    await mkdir(join(tmp.dir, 'masks'), { recursive: true });
    await writeBytes(join(tmp.dir, 'images', 'small.png'), png(2, 3));
    await writeBytes(join(tmp.dir, 'images', 'large.png'), png(5, 4));
    await writeBytes(join(tmp.dir, 'masks', 'small.png'), png(2, 3));
    const ds = await discoverDataset(tmp.dir);
    const sizes = await Promise.all(ds.items.map(async (it) => (await readImage(it.imagePath)).image));
    expect(sizes.map((s) => `${s.width}x${s.height}`)).toEqual(['5x4', '2x3']);
  });

  it('bad layouts: empty images/ → EMPTY_DATASET, no images/ → DATASET_LAYOUT, missing dir → FILE_NOT_FOUND, duplicate ids', async () => {
    await mkdir(join(tmp.dir, 'images'), { recursive: true });
    await writeFile(join(tmp.dir, 'images', 'readme.txt'), 'no images here');
    const empty = await userError(discoverDataset(tmp.dir));
    expect(empty.code).toBe('EMPTY_DATASET');
    expect(empty.message).toContain(join(tmp.dir, 'images'));

    const noImages = join(tmp.dir, 'other');
    await mkdir(noImages);
    expect((await userError(discoverDataset(noImages))).code).toBe('DATASET_LAYOUT');
    expect((await userError(discoverDataset(join(tmp.dir, 'absent')))).code).toBe('FILE_NOT_FOUND');

    await writeBytes(join(tmp.dir, 'images', 'p.png'), png());
    await writeBytes(join(tmp.dir, 'images', 'p.tif'), png());
    const dup = await userError(discoverDataset(tmp.dir));
    expect(dup.code).toBe('DUPLICATE_ID');
    expect(dup.message).toContain('p.png');
    expect(dup.message).toContain('p.tif');
  });
});

describe('listImages', () => {
  it('lists supported image files sorted by name, skipping others; empty folder → []', async () => {
    for (const name of ['b.png', 'a.nii.gz', 'c.JPG', 'z.txt', '.x.png']) await writeBytes(join(tmp.dir, name), png());
    await mkdir(join(tmp.dir, 'sub.png'));
    expect((await listImages(tmp.dir)).map((p) => p.split('/').pop())).toEqual(['a.nii.gz', 'b.png', 'c.JPG']);
    const empty = join(tmp.dir, 'empty');
    await mkdir(empty);
    expect(await listImages(empty)).toEqual([]);
    expect((await userError(listImages(join(tmp.dir, 'missing')))).code).toBe('FILE_NOT_FOUND');
  });
});
