/**
 * Seeded byte mutations for decoder fuzzing: what a damaged download, a bad copy or a hostile file does to a valid
 * image. Each mutation is one of: random bytes overwritten, a 16/32-bit field set to an extreme value (sizes,
 * offsets, counts), the file cut short, or bytes inserted/removed in the middle (every later offset shifts).
 */
import { crc32 } from '../../src/io/crc32.js';

const EXTREMES = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

/** One mutated copy of `bytes` (the input is not changed); `random` is a seeded source in [0, 1). */
export function mutate(bytes: Uint8Array, random: () => number): Uint8Array {
  const at = (n = bytes.length) => Math.floor(random() * n);
  const out = Uint8Array.from(bytes);
  const kind = at(5);
  if (kind === 0) {
    // a few random bytes overwritten
    for (let k = 1 + at(4); k > 0; k--) out[at()] = at(256);
    return out;
  }
  if (kind === 1 || kind === 2) {
    // a 16- or 32-bit field (either byte order) set to an extreme value: most headers keep sizes and offsets so
    const width = kind === 1 ? 2 : 4;
    const pos = at(Math.max(1, out.length - width));
    const value = EXTREMES[at(EXTREMES.length)]!;
    const view = new DataView(out.buffer);
    const little = random() < 0.5;
    if (width === 2) view.setUint16(pos, value & 0xffff, little);
    else view.setUint32(pos, value >>> 0, little);
    return out;
  }
  if (kind === 3) return out.subarray(0, at()); // cut short
  // bytes inserted or removed in the middle
  const pos = at();
  if (random() < 0.5) return Uint8Array.from([...out.subarray(0, pos), ...new Uint8Array(1 + at(16)).map(() => at(256)), ...out.subarray(pos)]);
  return Uint8Array.from([...out.subarray(0, pos), ...out.subarray(Math.min(out.length, pos + 1 + at(16)))]);
}

/**
 * A mutated PNG with every chunk's CRC recomputed where the chunk still fits the file, so the mutation reaches the
 * decoder's header and data checks instead of stopping at the CRC check (a PNG writer with a bug makes such files).
 */
export function withPngCrcsFixed(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  const view = new DataView(out.buffer);
  let pos = 8;
  while (pos + 12 <= out.length) {
    const length = view.getUint32(pos);
    const end = pos + 8 + length;
    if (end + 4 > out.length) break;
    view.setUint32(end, crc32(out.subarray(pos + 4, end)));
    pos = end + 4;
  }
  return out;
}
