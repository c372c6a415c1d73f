/**
 * What one image may take in a browser tab, and the checks that refuse a larger one before it is decoded: by the
 * file's size before its bytes are read, and by the pixels its header declares (the decoders' pixel limit,
 * lowered to the tab's budget) before any pixel is decoded. Browser-safe and pure (the page and the worker pass
 * what the browser reports), so it is tested in Node.
 *
 * Budget: a quarter of the device memory the browser reports (`navigator.deviceMemory`, GiB, rounded down by the
 * browser), at most 2 GiB, 2 GiB where the browser does not say. A tab also holds the warp model's training
 * tensors and, with SAM, the encoder session (hundreds of MB), and one decoded image is held beside its working
 * copies. Bytes per pixel: 32 (up to 3 float32 channels = 12 B, the decoder's stored samples beside them up to
 * 8 B, the grey and resized working copies and the overlay for the rest).
 */
import { MedpersamUserError } from '../errors.js';
import { MAX_IMAGE_PIXELS, type PixelLimit } from '../io/pixel-limit.js';

const GIB = 1024 ** 3;
export const TAB_BUDGET_CAP_BYTES = 2 * GIB;
export const BYTES_PER_DECODED_PIXEL = 32;

export interface TabImageBudget {
  /** Bytes of memory one image may take in this tab. */
  bytes: number;
  /** The largest file read (its bytes, and a .nii.gz's inflated copy, are held while it is decoded). */
  maxFileBytes: number;
  /** The decoders' pixel limit in this tab (never above MAX_IMAGE_PIXELS). */
  pixelLimit: PixelLimit;
}

/** The budget for a device with `deviceMemoryGiB` of memory (undefined: the browser does not say). */
export function tabImageBudget(deviceMemoryGiB: number | undefined): TabImageBudget {
  const known = deviceMemoryGiB !== undefined && Number.isFinite(deviceMemoryGiB) && deviceMemoryGiB > 0;
  const bytes = Math.min(TAB_BUDGET_CAP_BYTES, known ? (deviceMemoryGiB * GIB) / 4 : TAB_BUDGET_CAP_BYTES);
  const mib = Math.round(bytes / 1024 ** 2);
  return {
    bytes,
    maxFileBytes: bytes / 2,
    pixelLimit: {
      pixels: Math.min(MAX_IMAGE_PIXELS, Math.floor(bytes / BYTES_PER_DECODED_PIXEL)),
      reason: `what this browser tab's ${mib} MB image budget holds; the command-line tool reads larger images`,
    },
  };
}

/** The budget of the browser this runs in (page or worker). */
export function currentTabImageBudget(): TabImageBudget {
  return tabImageBudget((globalThis.navigator as { deviceMemory?: number } | undefined)?.deviceMemory);
}

/** Refuse a file whose bytes alone exceed the budget, before reading them (IMAGE_TOO_LARGE naming the file). */
export function checkFileFitsTab(file: { name: string; size: number }, budget: TabImageBudget): void {
  if (file.size > budget.maxFileBytes) {
    const mb = (n: number) => `${Math.round(n / 1024 ** 2)} MB`;
    throw new MedpersamUserError(
      'IMAGE_TOO_LARGE',
      `the file is ${mb(file.size)}, more than the ${mb(budget.maxFileBytes)} one file may take in this browser tab; ` +
        'it was not read (the command-line tool reads larger images)',
      { file: file.name },
    );
  }
}

/** A file's bytes, read only when the file fits the tab's budget. */
export async function readFileWithinBudget(file: File, budget: TabImageBudget): Promise<Uint8Array> {
  checkFileFitsTab(file, budget);
  return new Uint8Array(await file.arrayBuffer());
}
