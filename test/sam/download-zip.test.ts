import { describe, expect, it } from 'vitest';
import { readFile, writeFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { extractZip, readZipEntries, safeEntryPath } from '../../src/sam/zip.js';
import { useTempDir } from '../fixtures/temp-dir.js';
import { expectUserError } from '../fixtures/user-error.js';
import { sha256Hex, testBytes } from './download-server.js';

const tmp = useTempDir({ prefix: 'medpersam-zip-', scope: 'each' });

describe('extractZip', () => {
  it('unpacks deflated and stored entries byte-identically, strips a single root folder, reports sha256', async () => {
    const enc = testBytes(2_500_000, 21); // random: deflate cannot shrink it, several read chunks
    const dec = new Uint8Array(400_000).fill(7); // very compressible: inflates to far more than a read chunk
    const zip = zipSync({
      'pack/config.yaml': strToU8('encoder_model_path: a.encoder.onnx\n'),
      'pack/a.encoder.onnx': [enc, { level: 0 }],
      'pack/sub/b.decoder.onnx': [dec, { level: 6 }],
    });
    const zipPath = join(tmp.dir, 'm.zip');
    await writeFile(zipPath, zip);
    const dest = join(tmp.dir, 'out');
    const r = await extractZip(zipPath, dest);
    expect(Buffer.compare(await readFile(join(dest, 'a.encoder.onnx')), Buffer.from(enc))).toBe(0);
    expect(Buffer.compare(await readFile(join(dest, 'sub', 'b.decoder.onnx')), Buffer.from(dec))).toBe(0);
    const byPath = new Map(r.files.map((f) => [f.path, f]));
    expect(byPath.get('a.encoder.onnx')).toEqual({ path: 'a.encoder.onnx', bytes: enc.length, sha256: sha256Hex(enc) });
    expect(byPath.get('sub/b.decoder.onnx')?.sha256).toBe(sha256Hex(dec));
    expect(byPath.has('config.yaml')).toBe(true);
    // No temp folder left beside the destination.
    expect((await readdir(tmp.dir)).sort()).toEqual(['m.zip', 'out']);
  });

  it.each([
    ['../evil.onnx', "'..'"],
    ['ok/../../evil.onnx', "'..'"],
    ['/abs/evil.onnx', 'absolute'],
    ['..\\evil.onnx', "'..'"],
    ['C:/evil.onnx', 'drive letter'],
  ])('rejects the path-traversal entry %s and writes nothing', async (name, why) => {
    const zip = zipSync({ 'good.onnx': testBytes(100), [name]: testBytes(100, 2) });
    const zipPath = join(tmp.dir, 'bad.zip');
    await writeFile(zipPath, zip);
    const dest = join(tmp.dir, 'deep', 'out');
    const err = await expectUserError(extractZip(zipPath, dest), 'ARCHIVE_UNSAFE_PATH');
    expect(err.message).toContain(why);
    expect(err.message).toContain('nothing was unpacked');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(join(tmp.dir, 'evil.onnx'))).toBe(false);
    expect(existsSync(join(tmp.dir, 'deep', 'evil.onnx'))).toBe(false);
  });

  it('detects a damaged entry (CRC-32) and leaves no destination folder', async () => {
    const data = testBytes(10_000, 5);
    const zip = zipSync({ 'x.onnx': [data, { level: 0 }] });
    // Stored entry: its bytes follow the 30-byte local header and the name. Flip one.
    const nameLen = 'x.onnx'.length;
    zip[30 + nameLen + 500]! ^= 0xff;
    const zipPath = join(tmp.dir, 'c.zip');
    await writeFile(zipPath, zip);
    const err = await expectUserError(extractZip(zipPath, join(tmp.dir, 'out')), 'ARCHIVE_CORRUPT');
    expect(err.message).toContain('CRC-32');
    expect(await readdir(tmp.dir)).toEqual(['c.zip']);
  });

  it('says a truncated download is not a ZIP', async () => {
    const zip = zipSync({ 'x.onnx': testBytes(10_000) });
    const zipPath = join(tmp.dir, 't.zip');
    await writeFile(zipPath, zip.subarray(0, 5_000));
    await expectUserError(extractZip(zipPath, join(tmp.dir, 'out')), 'ARCHIVE_CORRUPT');
    expect(existsSync(join(tmp.dir, 'out'))).toBe(false);
  });

  it('refuses to unpack into an existing folder', async () => {
    const zipPath = join(tmp.dir, 'm.zip');
    await writeFile(zipPath, zipSync({ 'a.onnx': testBytes(10) }));
    await expectUserError(extractZip(zipPath, tmp.dir), 'OUTPUT_EXISTS');
  });

  it('lists entries from the central directory', async () => {
    const zipPath = join(tmp.dir, 'm.zip');
    await writeFile(zipPath, zipSync({ 'd/a.onnx': testBytes(1234), 'd/e/': new Uint8Array(0) }));
    const entries = await readZipEntries(zipPath);
    expect(entries.map((e) => [e.name, e.size, e.isDirectory])).toEqual([
      ['d/a.onnx', 1234, false],
      ['d/e/', 0, true],
    ]);
  });
});

describe('safeEntryPath', () => {
  it('normalises harmless names and flags unsafe ones', () => {
    expect(safeEntryPath('./a//b/c.onnx')).toEqual({ path: 'a/b/c.onnx' });
    expect(safeEntryPath('a\\b.onnx')).toEqual({ path: 'a/b.onnx' });
    expect(safeEntryPath('a/..b/c')).toEqual({ path: 'a/..b/c' }); // '..b' is a normal name
    expect('unsafe' in safeEntryPath('a/../../b')).toBe(true);
    expect('unsafe' in safeEntryPath('/etc/passwd')).toBe(true);
  });
});
