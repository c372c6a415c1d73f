/**
 * The app's per-image budget (src/app/tab-memory.ts): a file too large for the tab is refused before its bytes are
 * read, an image whose header declares more pixels than the tab holds is refused before it is decoded.
 */
import { describe, expect, it } from 'vitest';
import { checkFileFitsTab, tabImageBudget, TAB_BUDGET_CAP_BYTES } from '../../src/app/tab-memory.js';
import { MedpersamUserError } from '../../src/errors.js';
import { MAX_IMAGE_PIXELS } from '../../src/io/pixel-limit.js';
import { decodeImage } from '../../src/io/raster-browser.js';
import { encodePng, seededInts, tiffDeclaring } from '../io/fixtures.js';

const GIB = 1024 ** 3;

describe('tab image budget', () => {
  it('a quarter of the reported device memory, at most 2 GiB; 2 GiB when the browser does not say', () => {
    expect(tabImageBudget(4).bytes).toBe(GIB);
    expect(tabImageBudget(2).bytes).toBe(GIB / 2);
    expect(tabImageBudget(8).bytes).toBe(TAB_BUDGET_CAP_BYTES);
    expect(tabImageBudget(32).bytes).toBe(2 * GIB);
    expect(tabImageBudget(undefined).bytes).toBe(2 * GIB);
    expect(tabImageBudget(Number.NaN).bytes).toBe(2 * GIB);
  });

  it('pixels: 32 bytes each within the budget (2 GiB → 67,108,864 = 8192²), never above the readers\' limit', () => {
    expect(tabImageBudget(undefined).pixelLimit.pixels).toBe(8192 * 8192);
    expect(tabImageBudget(1).pixelLimit.pixels).toBe(GIB / 4 / 32);
    expect(tabImageBudget(undefined).pixelLimit.pixels).toBeLessThan(MAX_IMAGE_PIXELS);
    expect(tabImageBudget(undefined).maxFileBytes).toBe(GIB);
  });

  it('a file over the budget is refused by its size, naming it (IMAGE_TOO_LARGE)', () => {
    const budget = tabImageBudget(2);
    expect(() => checkFileFitsTab({ name: 'ok.dcm', size: budget.maxFileBytes }, budget)).not.toThrow();
    let err: unknown;
    try {
      checkFileFitsTab({ name: 'scan.nii', size: budget.maxFileBytes + 1 }, budget);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MedpersamUserError);
    expect((err as MedpersamUserError).code).toBe('IMAGE_TOO_LARGE');
    expect((err as MedpersamUserError).message).toBe('scan.nii: the file is 256 MB, more than the 256 MB one file may take in this browser tab; it was not read (the command-line tool reads larger images)');
  });

  it('a header declaring more pixels than the tab holds is refused before decoding; within it the image decodes', async () => {
    const { pixelLimit } = tabImageBudget(undefined);
    const small = await decodeImage(encodePng(8, 4, 1, 8, seededInts(32, 256, 1)), 'small.png', { pixelLimit }); // (also warms the code up)
    expect([small.image.width, small.image.height]).toEqual([8, 4]);
    const bomb = tiffDeclaring(12000, 12000, 8);
    const t0 = performance.now();
    const err = await decodeImage(bomb, 'big.tif', { pixelLimit }).then(() => null, (e: unknown) => e);
    expect(performance.now() - t0).toBeLessThan(100);
    expect(err).toBeInstanceOf(MedpersamUserError);
    expect((err as MedpersamUserError).code).toBe('IMAGE_TOO_LARGE');
    expect((err as MedpersamUserError).message).toContain("this browser tab's 2048 MB image budget");
  });
});
