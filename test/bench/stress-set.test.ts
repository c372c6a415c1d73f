import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeStressDataset } from '../../bench/stress/generate.js';
import { drawGeometry, StressRng, DEFAULT_STRESS_RANGES, outToSource } from '../../bench/stress/transforms.js';
import { applyAffine } from '../../src/image/affine.js';
import { readImage } from '../../src/io/image.js';
import { readLabelMap } from '../../src/io/mask.js';
import { generatePhantom } from '../../src/image/phantom.js';
import { resampleLabelAffine } from '../../src/image/affine.js';
import { useTempDir } from '../fixtures/temp-dir.js';

const tmp = useTempDir({ prefix: 'medpersam-stress-' });

describe('stress-set generator', () => {
  it('draws parameters inside the stated ranges, deterministically per (seed, index)', () => {
    for (let i = 0; i < 50; i++) {
      const r = drawGeometry('similarity', 200, 100, new StressRng(7, i), DEFAULT_STRESS_RANGES);
      expect(Math.abs(r.rotationDeg)).toBeLessThanOrEqual(45);
      expect(r.scale).toBeGreaterThanOrEqual(0.6);
      expect(r.scale).toBeLessThanOrEqual(1.5);
      expect(Math.abs(r.shiftPx.x)).toBeLessThanOrEqual(0.25 * 200);
      expect(Math.abs(r.shiftPx.y)).toBeLessThanOrEqual(0.25 * 100);
      // The centre moves by the shift exactly.
      const c = applyAffine(r.srcToOut as never, 99.5, 49.5);
      expect(c.x - 99.5).toBeCloseTo(r.shiftPx.x, 9);
    }
    expect(drawGeometry('rotate', 64, 64, new StressRng(7, 3), DEFAULT_STRESS_RANGES)).toEqual(drawGeometry('rotate', 64, 64, new StressRng(7, 3), DEFAULT_STRESS_RANGES));
    const m = drawGeometry('mixed-size', 256, 256, new StressRng(1, 2), DEFAULT_STRESS_RANGES);
    // The field of view's corners land on the output's corners.
    const fov = m.fieldOfView!;
    const corner = applyAffine(m.srcToOut as never, fov.x0 + fov.width - 0.5, fov.y0 + fov.height - 0.5);
    expect(corner.x).toBeCloseTo(m.output.width - 0.5, 6);
    expect(corner.y).toBeCloseTo(m.output.height - 0.5, 6);
  });

  it('writes a dataset whose masks are the source masks moved by the recorded transform; the reference is untouched', async () => {
    const out = join(tmp.dir, 'rotate');
    const { manifest } = await writeStressDataset({ source: { phantom: { count: 4, size: 96 } }, transform: 'rotate', out, seed: 3 });
    expect(manifest.reference).toBe('phantom_000');
    expect(Object.keys(manifest.images)).toEqual(['phantom_000', 'phantom_001', 'phantom_002', 'phantom_003']);
    expect(manifest.images['phantom_000']!.rotationDeg).toBe(0);
    const onDisk = JSON.parse(await readFile(join(out, 'transforms.json'), 'utf8'));
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(manifest)));
    const refImage = (await readImage(join(out, 'images', 'phantom_000.png'))).image;
    const src0 = generatePhantom({ seed: 1, patient: 0, width: 96, height: 96 });
    expect(Array.from(refImage.data)).toEqual(Array.from(src0.image.data, (v) => Math.round(v)));
    for (const id of ['phantom_001', 'phantom_002']) {
      const rec = manifest.images[id]!;
      expect(Math.abs(rec.rotationDeg)).toBeGreaterThan(0);
      const src = generatePhantom({ seed: 1, patient: Number(id.slice(-3)), width: 96, height: 96 });
      const expected = resampleLabelAffine(src.label, 96, 96, outToSource(rec));
      const mask = await readLabelMap(join(out, 'masks', `${id}.png`));
      expect(Array.from(mask.data)).toEqual(Array.from(expected.data));
    }
    await expect(writeStressDataset({ source: { phantom: { count: 2, size: 32 } }, transform: 'rotate', out })).rejects.toThrow(/already holds/);
  });

  it('colour, mixed-size and inversion folders hold what the manifest says', async () => {
    const rgb = await writeStressDataset({ source: { phantom: { count: 3, size: 64 } }, transform: 'rgb', out: join(tmp.dir, 'rgb') });
    const refRgb = (await readImage(join(rgb.out, 'images', 'phantom_000.png'))).image;
    expect(refRgb.channels).toBe(3);
    expect(rgb.manifest.images['phantom_000']!.rgb).not.toBeNull();
    const mixed = await writeStressDataset({ source: { phantom: { count: 4, size: 64 } }, transform: 'mixed-size', out: join(tmp.dir, 'mixed') });
    for (const [id, rec] of Object.entries(mixed.manifest.images)) {
      const img = (await readImage(join(mixed.out, 'images', `${id}.png`))).image;
      expect([img.width, img.height]).toEqual([rec.output.width, rec.output.height]);
    }
    const inv = await writeStressDataset({ source: { phantom: { count: 9, size: 48 } }, transform: 'invert', out: join(tmp.dir, 'inv'), ranges: { invertProbability: 1 } });
    const tests = Object.values(inv.manifest.images).filter((r) => !r.isReference);
    expect(tests.every((r) => r.inverted)).toBe(true);
    expect(inv.manifest.images['phantom_000']!.inverted).toBe(false);
  });
});
