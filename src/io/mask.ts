/**
 * Label masks and class names on disk (Node): reading goes through decodeImage (src/io/image.ts) and the rules of
 * label-map.ts (see its comment: colour tables, binary 0/255 masks, class checks); writing is 8-bit grey PNG
 * through sharp, atomically.
 */
import sharp from 'sharp';
import type { ClassNames, LabelMap } from '../image/types.js';
import { writeFileAtomic } from './atomic.js';
import { decodeImage, readFileBytes } from './image.js';
import { invalidClasses, labelMapFromImage, parseClassNames, type ReadLabelMapOptions } from './label-map.js';

export { labelMapFromImage, normalizeColorKey, parseClassNames, type ReadLabelMapOptions } from './label-map.js';

/** Read a label mask; see label-map.ts for the rules. */
export async function readLabelMap(path: string, opts: ReadLabelMapOptions = {}): Promise<LabelMap> {
  const bytes = await readFileBytes(path, 'mask file');
  const { image } = await decodeImage(bytes, path, { slice: opts.slice });
  return labelMapFromImage(image, path, opts);
}

/** Encode a label map as an 8-bit single-channel PNG (values stored unchanged). */
export async function encodeLabelPng(label: LabelMap): Promise<Uint8Array> {
  if (label.data.length !== label.width * label.height) {
    throw new Error(`label map data length ${label.data.length} does not match ${label.width}x${label.height}`);
  }
  const png = await sharp(label.data, { raw: { width: label.width, height: label.height, channels: 1 } })
    .toColourspace('b-w')
    .png({ compressionLevel: 6, palette: false })
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** Write a label map as an 8-bit grey PNG at the label's own size (atomic: temp file + rename). */
export async function writeLabelPng(path: string, label: LabelMap): Promise<void> {
  await writeFileAtomic(path, await encodeLabelPng(label));
}

/** Read and validate classes.json. Missing → 'FILE_NOT_FOUND'; bad JSON/content → 'INVALID_CLASSES'. */
export async function readClassNames(path: string): Promise<ClassNames> {
  const bytes = await readFileBytes(path, 'classes file');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw invalidClasses(path, `not valid JSON (${(err as Error).message})`);
  }
  return parseClassNames(json, path);
}

/** Write classes.json (`{"0": "background", ...}`, sorted by index), atomically. */
export async function writeClassNames(path: string, names: ClassNames): Promise<void> {
  const validated = parseClassNames(Object.fromEntries([...names].map(([k, v]) => [String(k), v])), path);
  const object: Record<string, string> = {};
  for (const [index, name] of validated) object[String(index)] = name;
  await writeFileAtomic(path, `${JSON.stringify(object, null, 2)}\n`);
}
