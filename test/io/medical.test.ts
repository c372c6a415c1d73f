import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readImage } from '../../src/io/image.js';
import { useTempDir } from '../fixtures/temp-dir.js';
import { userError } from '../fixtures/user-error.js';
import { encodeDicom, encodeDicomRleFrame, encodeNifti, encodeNifti2, seededInts, UID, writeBytes } from './fixtures.js';

const tmp = useTempDir({ prefix: 'medpersam-io-' });

describe('readImage: DICOM', () => {
  it('16-bit signed explicit VR LE with rescale slope/intercept (e.g. CT → HU)', async () => {
    const stored = [-2000, -1, 0, 1, 1000, 32767];
    const path = await writeBytes(
      join(tmp.dir, 'ct.dcm'),
      encodeDicom({ rows: 2, columns: 3, signed: true, rescaleSlope: '2', rescaleIntercept: '-1024', values: stored }),
    );
    const r = await readImage(path);
    expect(r.format).toBe('dicom');
    expect(r.bitDepth).toBe(16);
    expect([r.image.width, r.image.height, r.image.channels]).toEqual([3, 2, 1]);
    expect(Array.from(r.image.data)).toEqual(stored.map((v) => v * 2 - 1024));
  });

  it('implicit VR LE 8-bit, and an extension-less file', async () => {
    const values = seededInts(12, 256, 2);
    const path = await writeBytes(
      join(tmp.dir, 'IM000001'),
      encodeDicom({ transferSyntax: UID.implicitLE, rows: 3, columns: 4, bitsAllocated: 8, values }),
    );
    const r = await readImage(path);
    expect(r.bitDepth).toBe(8);
    expect(Array.from(r.image.data)).toEqual(values);
  });

  it('explicit VR big endian 16-bit unsigned', async () => {
    const values = [0, 1, 256, 4095, 65535, 12345];
    const path = await writeBytes(join(tmp.dir, 'be.dcm'), encodeDicom({ transferSyntax: UID.explicitBE, rows: 3, columns: 2, values }));
    expect(Array.from((await readImage(path)).image.data)).toEqual(values);
  });

  it('deflated explicit VR little endian', async () => {
    const values = seededInts(20, 65536, 12);
    const path = await writeBytes(join(tmp.dir, 'deflated.dcm'), encodeDicom({ transferSyntax: UID.deflated, rows: 4, columns: 5, values }));
    expect(Array.from((await readImage(path)).image.data)).toEqual(values);
  });

  it('a raw data set without preamble (implicit VR LE) is still read', async () => {
    const values = [1, 2, 3, 4];
    const path = await writeBytes(
      join(tmp.dir, 'raw.dcm'),
      encodeDicom({ transferSyntax: UID.implicitLE, rows: 2, columns: 2, values, noPreamble: true }),
    );
    expect(Array.from((await readImage(path)).image.data)).toEqual(values);
  });

  it('BitsStored 12 ignores bits above it; signed 12-bit is sign-extended', async () => {
    const unsignedPath = await writeBytes(
      join(tmp.dir, 'b12.dcm'),
      encodeDicom({ rows: 1, columns: 3, bitsStored: 12, values: [0xf005, 0x0fff, 0x1001] }),
    );
    expect(Array.from((await readImage(unsignedPath)).image.data)).toEqual([5, 4095, 1]);
    const signedPath = await writeBytes(
      join(tmp.dir, 's12.dcm'),
      encodeDicom({ rows: 1, columns: 3, bitsStored: 12, signed: true, values: [0x0800, 0x0fff, 0x07ff] }),
    );
    expect(Array.from((await readImage(signedPath)).image.data)).toEqual([-2048, -1, 2047]);
  });

  it('MONOCHROME1 is inverted to the MONOCHROME2 convention within the value range', async () => {
    const path = await writeBytes(
      join(tmp.dir, 'mono1.dcm'),
      encodeDicom({ rows: 1, columns: 4, photometric: 'MONOCHROME1', values: [100, 200, 300, 1100] }),
    );
    expect(Array.from((await readImage(path)).image.data)).toEqual([1100, 1000, 900, 100]);
  });

  it('RGB with planar configuration 1 is interleaved', async () => {
    // 2 pixels: (10,20,30) and (40,50,60), stored RR GG BB.
    const path = await writeBytes(
      join(tmp.dir, 'rgb.dcm'),
      encodeDicom({ rows: 1, columns: 2, samplesPerPixel: 3, bitsAllocated: 8, planar: true, values: [10, 40, 20, 50, 30, 60] }),
    );
    const r = await readImage(path);
    expect(r.image.channels).toBe(3);
    expect(Array.from(r.image.data)).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it('multi-frame needs slice; the chosen frame is returned', async () => {
    const path = await writeBytes(
      join(tmp.dir, 'frames.dcm'),
      encodeDicom({ rows: 1, columns: 2, frames: 3, values: [1, 2, 10, 20, 100, 200] }),
    );
    const err = await userError(readImage(path));
    expect(err.code).toBe('SLICE_REQUIRED');
    expect(err.message).toContain('3 frames');
    expect(Array.from((await readImage(path, { slice: 2 })).image.data)).toEqual([100, 200]);
    expect((await userError(readImage(path, { slice: 3 }))).code).toBe('SLICE_OUT_OF_RANGE');
  });

  it('RLE Lossless 16-bit signed is decoded exactly', async () => {
    const values = [-5, -5, -5, -5, 0, 7, 300, 300, 300, 1234, -32768, 32767];
    const frame = encodeDicomRleFrame(values, 12, 1, 16);
    const path = await writeBytes(
      join(tmp.dir, 'rle.dcm'),
      encodeDicom({ transferSyntax: UID.rle, rows: 3, columns: 4, signed: true, fragments: [frame] }),
    );
    expect(Array.from((await readImage(path)).image.data)).toEqual(values);
  });

  it('JPEG Baseline encapsulated pixel data is decoded', async () => {
    const values = Array.from({ length: 16 * 8 }, (_, i) => 50 + (i % 16) * 8);
    const jpeg = await sharp(Uint8Array.from(values), { raw: { width: 16, height: 8, channels: 1 } })
      .toColourspace('b-w')
      .jpeg({ quality: 95 })
      .toBuffer();
    const path = await writeBytes(
      join(tmp.dir, 'jpeg.dcm'),
      encodeDicom({ transferSyntax: UID.jpegBaseline, rows: 8, columns: 16, bitsAllocated: 8, fragments: [jpeg] }),
    );
    const r = await readImage(path);
    expect([r.image.width, r.image.height, r.image.channels]).toEqual([16, 8, 1]);
    const meanAbs = values.reduce((s, v, i) => s + Math.abs(v - r.image.data[i]!), 0) / values.length;
    expect(meanAbs).toBeLessThan(2);
  });

  it('JPEG-LS and JPEG 2000 → UNSUPPORTED_TRANSFER_SYNTAX naming the UID and syntax', async () => {
    for (const [uid, name] of [
      [UID.jpegLs, 'JPEG-LS Lossless'],
      [UID.jpeg2000, 'JPEG 2000'],
    ] as const) {
      const path = await writeBytes(
        join(tmp.dir, `compressed-${uid}.dcm`),
        encodeDicom({ transferSyntax: uid, rows: 2, columns: 2, fragments: [Uint8Array.from([0xff, 0xd8, 0xff, 0xd9])] }),
      );
      const err = await userError(readImage(path));
      expect(err.code).toBe('UNSUPPORTED_TRANSFER_SYNTAX');
      expect(err.message).toContain(uid);
      expect(err.message).toContain(name);
      expect(err.message).toContain(path);
    }
  });

  it('truncated pixel data → UNREADABLE_IMAGE', async () => {
    const full = encodeDicom({ rows: 4, columns: 4, values: seededInts(16, 4096, 9) });
    const path = await writeBytes(join(tmp.dir, 'trunc.dcm'), full.subarray(0, full.length - 10));
    const err = await userError(readImage(path));
    expect(err.code).toBe('UNREADABLE_IMAGE');
    expect(err.message).toContain(path);
  });

  it('a file cut inside the header → UNREADABLE_IMAGE', async () => {
    const full = encodeDicom({ rows: 4, columns: 4, values: seededInts(16, 4096, 9) });
    const path = await writeBytes(join(tmp.dir, 'trunc-head.dcm'), full.subarray(0, 150));
    expect((await userError(readImage(path))).code).toBe('UNREADABLE_IMAGE');
  });
});

describe('readImage: NIfTI', () => {
  it('2D int16 with scl_slope/scl_inter applied', async () => {
    const values = [-100, 0, 50, 3000, 7, -1];
    const path = await writeBytes(
      join(tmp.dir, 'ct2d.nii'),
      encodeNifti({ dims: [3, 2], datatype: 'int16', values, sclSlope: 0.5, sclInter: 10 }),
    );
    const r = await readImage(path);
    expect(r.format).toBe('nifti');
    expect(r.bitDepth).toBe(16);
    expect([r.image.width, r.image.height, r.image.channels]).toEqual([3, 2, 1]);
    expect(Array.from(r.image.data)).toEqual(values.map((v) => v * 0.5 + 10));
    // A slice option is ignored for 2D files, as for PNG.
    expect(Array.from((await readImage(path, { slice: 3 })).image.data)).toEqual(values.map((v) => v * 0.5 + 10));
  });

  it('scl_slope 0 means no scaling; float32, float64, uint16, int32 and big-endian data', async () => {
    const cases = [
      { datatype: 'float32', values: [0.5, -2.25, 1e5, 3] },
      { datatype: 'float64', values: [0.125, -7, 1e9, 2] },
      { datatype: 'uint16', values: [0, 65535, 1000, 1] },
      { datatype: 'int32', values: [-100000, 100000, 0, 5] },
    ] as const;
    for (const c of cases) {
      for (const bigEndian of [false, true]) {
        const path = await writeBytes(
          join(tmp.dir, `${c.datatype}-${bigEndian}.nii`),
          encodeNifti({ dims: [2, 2], datatype: c.datatype, values: c.values, bigEndian }),
        );
        expect(Array.from((await readImage(path)).image.data)).toEqual(c.values);
      }
    }
  });

  it('3D volume: the chosen slice; no slice → SLICE_REQUIRED with the slice count; gzip works', async () => {
    const nx = 3;
    const ny = 2;
    const nz = 4;
    const values = Array.from({ length: nx * ny * nz }, (_, i) => i);
    for (const gzip of [false, true]) {
      const path = await writeBytes(
        join(tmp.dir, gzip ? 'vol.nii.gz' : 'vol.nii'),
        encodeNifti({ dims: [nx, ny, nz], datatype: 'uint8', values, gzip }),
      );
      const r = await readImage(path, { slice: 2 });
      expect([r.image.width, r.image.height]).toEqual([nx, ny]);
      expect(Array.from(r.image.data)).toEqual([12, 13, 14, 15, 16, 17]);
      const missing = await userError(readImage(path));
      expect(missing.code).toBe('SLICE_REQUIRED');
      expect(missing.message).toContain('0..3');
      expect((await userError(readImage(path, { slice: 4 }))).code).toBe('SLICE_OUT_OF_RANGE');
    }
  });

  it('NIfTI-2: 2D int16 with scaling and a 3D float32 slice', async () => {
    const p2d = await writeBytes(join(tmp.dir, 'n2.nii'), encodeNifti2([2, 2], 'int16', [-4, 0, 4, 8], 0.25, 1));
    const r = await readImage(p2d);
    expect(r.format).toBe('nifti');
    expect(Array.from(r.image.data)).toEqual([0, 1, 2, 3]);
    const p3d = await writeBytes(join(tmp.dir, 'n2vol.nii'), encodeNifti2([2, 1, 3], 'float32', [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]));
    expect(Array.from((await readImage(p3d, { slice: 1 })).image.data)).toEqual([2.5, 3.5]);
  });

  it('truncated NIfTI and truncated gzip → UNREADABLE_IMAGE', async () => {
    const full = encodeNifti({ dims: [8, 8], datatype: 'int16', values: seededInts(64, 1000, 3) });
    const p = await writeBytes(join(tmp.dir, 'trunc.nii'), full.subarray(0, 400));
    const e1 = await userError(readImage(p));
    expect(e1.code).toBe('UNREADABLE_IMAGE');
    expect(e1.message).toContain('truncated');
    const gz = encodeNifti({ dims: [8, 8], datatype: 'int16', values: seededInts(64, 1000, 3), gzip: true });
    const g = await writeBytes(join(tmp.dir, 'trunc.nii.gz'), gz.subarray(0, gz.length - 12));
    expect((await userError(readImage(g))).code).toBe('UNREADABLE_IMAGE');
  });
});
