/**
 * The frame size a JPEG file declares (its SOF marker), read without decoding: what the browser path checks
 * against the pixel limit before it hands the bytes to the platform's decoder.
 */

/** SOF markers (ITU T.81 Table B.1): FFC0..FFCF except DHT (C4), JPG (C8) and DAC (CC). */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Width and height of the first frame, or null when no frame header is found in the bytes. */
export function jpegFrameSize(bytes: Uint8Array): { width: number; height: number } | null {
  let at = 2; // after SOI
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // EOI / SOS before any frame header
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    if (isStartOfFrame(marker)) {
      if (at + 9 > bytes.length) return null;
      // SOF: length (2), precision (1), lines Y (2), samples per line X (2).
      return { height: (bytes[at + 5]! << 8) | bytes[at + 6]!, width: (bytes[at + 7]! << 8) | bytes[at + 8]! };
    }
    at += 2 + length;
  }
  return null;
}
