/** CRC-32 (IEEE 802.3, as zip and PNG use it). Pure; runs in a browser. */

let table: Uint32Array | undefined;

/** Running form: start with 0xffffffff, feed chunks, finish with `^ 0xffffffff` (then `>>> 0`). */
export function crc32Update(crc: number, data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  const t = table;
  let c = crc;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

/** CRC-32 of one byte array. */
export function crc32(data: Uint8Array): number {
  return (crc32Update(0xffffffff, data) ^ 0xffffffff) >>> 0;
}
