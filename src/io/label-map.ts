/**
 * Label masks and class names, pure (browser-safe): the rules that turn a decoded mask image into a label map,
 * classes.json parsing, and the reference-pair checks. The file side is mask.ts / reference.ts (Node).
 *
 * Reading (`readLabelMap`), in this order:
 *  1. the file is decoded like any image (`decodeImage`: PNG, TIFF, BMP, DICOM, NIfTI, …);
 *  2. with a colour table, every pixel's colour "#rrggbb" is looked up (a grey pixel v is "#vvvvvv");
 *     "#000000" is background unless the table says otherwise; an unknown colour → 'MASK_COLOR_NOT_IN_TABLE'
 *     naming the colour and the first pixel (x, y) that has it;
 *  3. without a table, a colour mask whose channels are equal everywhere is read as grey; any other colour
 *     mask → 'COLOR_MASK_NEEDS_TABLE';
 *  4. grey values must be integers 0..255 ('INVALID_MASK' otherwise); a mask holding exactly the two values
 *     {0, 255} is a binary mask and becomes 0/1;
 *  5. with `classes`, every value must be a class index ('MASK_VALUE_NOT_IN_CLASSES' lists the others).
 *
 * classes.json: `{"0": "background", "1": "right_lung", ...}` (an array of names, index = position, is also
 * accepted). Keys are integers 0..255, names non-empty and unique; 0 → "background" is added when missing.
 */
import { MedpersamUserError } from '../errors.js';
import { classesPresent } from '../image/labels.js';
import type { ClassNames, FloatImage, LabelMap } from '../image/types.js';

export interface ReadLabelMapOptions {
  /** Allowed class indices (e.g. from classes.json); values outside → 'MASK_VALUE_NOT_IN_CLASSES'. */
  classes?: ClassNames;
  /** Colour → class index for RGB colour masks, keys "#rrggbb" (lower or upper case). */
  colorTable?: ReadonlyMap<string, number>;
  /** Slice of a 3D NIfTI / frame of a multi-frame DICOM mask (as in readImage). */
  slice?: number;
}

function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}

/** Normalise a colour key to "#rrggbb" lower case; null when it is not a 6-digit hex colour. */
export function normalizeColorKey(key: string): string | null {
  const m = /^#?([0-9a-fA-F]{6})$/.exec(key.trim());
  return m ? `#${m[1]!.toLowerCase()}` : null;
}

function describeValues(values: number[], max = 20): string {
  const shown = values.slice(0, max).join(', ');
  return values.length > max ? `${shown}, … (${values.length} values)` : shown;
}

/** A decoded mask image → label map, by the rules of the module comment (steps 2–5). `path` names it in errors. */
export function labelMapFromImage(image: FloatImage, path: string, opts: ReadLabelMapOptions = {}): LabelMap {
  const { width, height, channels, data } = image;
  const pixels = width * height;
  const label = new Uint8Array(pixels);

  if (opts.colorTable) {
    const table = new Map<number, number>(); // packed 0xRRGGBB → class
    for (const [key, cls] of opts.colorTable) {
      const norm = normalizeColorKey(key);
      if (!norm) throw new MedpersamUserError('INVALID_COLOR_TABLE', `colour table key "${key}" is not a "#rrggbb" colour`, { file: path });
      if (!Number.isInteger(cls) || cls < 0 || cls > 255) {
        throw new MedpersamUserError('INVALID_COLOR_TABLE', `colour ${norm} maps to ${cls}, not a class index 0..255`, { file: path });
      }
      table.set(parseInt(norm.slice(1), 16), cls);
    }
    if (!table.has(0)) table.set(0, 0);
    for (let i = 0; i < pixels; i++) {
      const r = channels === 3 ? data[i * 3]! : data[i]!;
      const g = channels === 3 ? data[i * 3 + 1]! : r;
      const b = channels === 3 ? data[i * 3 + 2]! : r;
      const cls = Number.isInteger(r) && Number.isInteger(g) && Number.isInteger(b) && r <= 255 && g <= 255 && b <= 255 && r >= 0 && g >= 0 && b >= 0
        ? table.get((r << 16) | (g << 8) | b)
        : undefined;
      if (cls === undefined) {
        const colour = r <= 255 && g <= 255 && b <= 255 && r >= 0 && g >= 0 && b >= 0 ? `#${hex2(r)}${hex2(g)}${hex2(b)}` : `(${r}, ${g}, ${b})`;
        throw new MedpersamUserError(
          'MASK_COLOR_NOT_IN_TABLE',
          `colour ${colour} at pixel (x=${i % width}, y=${Math.floor(i / width)}) is not in the colour table (${[...opts.colorTable.keys()].join(', ')})`,
          { file: path },
        );
      }
      label[i] = cls;
    }
  } else {
    let grey: Float32Array;
    if (channels === 3) {
      grey = new Float32Array(pixels);
      for (let i = 0; i < pixels; i++) {
        const r = data[i * 3]!;
        if (r !== data[i * 3 + 1] || r !== data[i * 3 + 2]) {
          throw new MedpersamUserError(
            'COLOR_MASK_NEEDS_TABLE',
            `colour mask (pixel (x=${i % width}, y=${Math.floor(i / width)}) is (${r}, ${data[i * 3 + 1]}, ${data[i * 3 + 2]})): ` +
              'give a colour table mapping "#rrggbb" to class indices, or save the mask as a grey label map',
            { file: path },
          );
        }
        grey[i] = r;
      }
    } else {
      grey = data;
    }
    const seen = new Uint8Array(256);
    for (let i = 0; i < pixels; i++) {
      const v = grey[i]!;
      if (!Number.isInteger(v) || v < 0 || v > 255) {
        throw new MedpersamUserError(
          'INVALID_MASK',
          `value ${v} at pixel (x=${i % width}, y=${Math.floor(i / width)}) is not a label: a mask holds integers 0..255`,
          { file: path },
        );
      }
      label[i] = v;
      seen[v] = 1;
    }
    // Binary 0/255 mask → 0/1 (exactly the two values 0 and 255 present).
    let distinct = 0;
    for (let v = 0; v < 256; v++) distinct += seen[v]!;
    if (distinct === 2 && seen[0] && seen[255]) {
      for (let i = 0; i < pixels; i++) label[i] = label[i] === 255 ? 1 : 0;
    }
  }

  if (opts.classes) {
    const present = new Uint8Array(256);
    for (let i = 0; i < pixels; i++) present[label[i]!] = 1;
    const unknown: number[] = [];
    for (let v = 0; v < 256; v++) if (present[v] && !opts.classes.has(v)) unknown.push(v);
    if (unknown.length > 0) {
      throw new MedpersamUserError(
        'MASK_VALUE_NOT_IN_CLASSES',
        `mask values ${describeValues(unknown)} are not in the class list (${[...opts.classes.keys()].sort((a, b) => a - b).join(', ')})`,
        { file: path },
      );
    }
  }
  return { width, height, data: label };
}

export function invalidClasses(path: string, problem: string): MedpersamUserError {
  return new MedpersamUserError('INVALID_CLASSES', `invalid classes.json: ${problem}`, { file: path });
}

/** Validate parsed classes.json content; `path` is for messages. Returns a map sorted by index. */
export function parseClassNames(json: unknown, path = 'classes.json'): ClassNames {
  const entries: [number, string][] = [];
  if (Array.isArray(json)) {
    json.forEach((name, index) => entries.push([index, name as string]));
  } else if (json && typeof json === 'object') {
    for (const [key, name] of Object.entries(json as Record<string, unknown>)) {
      if (!/^\d+$/.test(key)) throw invalidClasses(path, `key "${key}" is not a class index (0..255)`);
      entries.push([Number(key), name as string]);
    }
  } else {
    throw invalidClasses(path, 'expected an object like {"0": "background", "1": "lung"}');
  }
  const map = new Map<number, string>();
  const names = new Set<string>();
  for (const [index, name] of entries) {
    if (index < 0 || index > 255) throw invalidClasses(path, `class index ${index} is outside 0..255`);
    if (typeof name !== 'string' || name.trim() === '') throw invalidClasses(path, `class ${index} has no name`);
    if (names.has(name)) throw invalidClasses(path, `class name "${name}" is used twice`);
    names.add(name);
    map.set(index, name);
  }
  if (!map.has(0)) map.set(0, 'background');
  if (map.size < 2) throw invalidClasses(path, 'no foreground class (need at least one class besides 0)');
  return new Map([...map.entries()].sort((a, b) => a[0] - b[0]));
}

/**
 * The checks the method needs of its one annotated example: image and mask the same size ('SIZE_MISMATCH') and at
 * least one foreground pixel ('EMPTY_REFERENCE_MASK'). Returns the foreground classes present, sorted.
 */
export function checkReferencePair(
  image: { width: number; height: number },
  label: LabelMap,
  names: { image: string; mask: string },
): number[] {
  if (label.width !== image.width || label.height !== image.height) {
    throw new MedpersamUserError(
      'SIZE_MISMATCH',
      `reference mask ${names.mask} is ${label.width}x${label.height} but reference image ${names.image} is ` +
        `${image.width}x${image.height}; they must be the same size`,
      { file: names.mask },
    );
  }
  const present = classesPresent(label);
  if (present.length === 0) {
    throw new MedpersamUserError(
      'EMPTY_REFERENCE_MASK',
      'the reference mask has no foreground pixels (all 0): the one annotated example must mark at least one class',
      { file: names.mask },
    );
  }
  return present;
}
