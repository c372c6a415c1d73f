/**
 * Safe, streaming unpacking of a ZIP archive from disk (Node-only; used by `models pull`).
 *
 * Reads the central directory (the authoritative list of entries; ZIP64 supported), checks EVERY entry name
 * before writing anything (no absolute paths, no `..`, no symlinks, no encryption), then inflates entry by
 * entry with fflate's streaming `Inflate`, checking size and CRC-32 and computing each file's sha256 on
 * the way. Memory stays bounded by one compressed chunk (multi-GB ViT-H archives are fine).
 * Unpacks into a temporary sibling folder and renames it into place: the destination appears complete or
 * not at all.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep, basename } from 'node:path';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { createHash, randomBytes } from 'node:crypto';
import { Inflate } from 'fflate';
import { MedpersamUserError } from '../errors.js';
import { crc32Update } from '../io/crc32.js';
import type { ProgressCallback } from '../progress.js';
import { pathExists } from '../io/exists.js';

export interface ZipEntryInfo {
  /** Name as stored in the archive. */
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
  isDirectory: boolean;
  isSymlink: boolean;
  encrypted: boolean;
}

export interface ExtractedFile {
  /** Path relative to the destination folder, '/'-separated. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface ExtractOptions {
  /** When every entry sits under one top-level folder, unpack its content directly (default true). */
  stripSingleRoot?: boolean;
  /** Progress: stage 'unzip', bytes written / total uncompressed bytes. */
  onProgress?: ProgressCallback;
}

export interface ExtractResult {
  dir: string;
  files: ExtractedFile[];
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

/** List the entries of a ZIP file from its central directory. */
export async function readZipEntries(zipPath: string): Promise<ZipEntryInfo[]> {
  const fh = await open(zipPath, 'r').catch((err: unknown) => {
    throw new MedpersamUserError('ARCHIVE_UNREADABLE', `cannot open archive (${(err as NodeJS.ErrnoException).code})`, {
      file: zipPath,
      cause: err,
    });
  });
  try {
    const fileSize = (await fh.stat()).size;
    const bad = (why: string): MedpersamUserError =>
      new MedpersamUserError('ARCHIVE_CORRUPT', `not a valid ZIP archive: ${why}`, { file: zipPath });

    // End of central directory: last 22 bytes + up to 65535 bytes of comment.
    const tailLen = Math.min(fileSize, 22 + 0xffff);
    const tail = await readAt(fh, fileSize - tailLen, tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw bad('end-of-central-directory record not found');
    let entryCount = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (entryCount === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const locPos = fileSize - tailLen + eocd - 20;
      if (locPos < 0) throw bad('ZIP64 locator missing');
      const loc = await readAt(fh, locPos, 20);
      if (loc.readUInt32LE(0) !== SIG_ZIP64_LOCATOR) throw bad('ZIP64 locator missing');
      const z64Pos = Number(loc.readBigUInt64LE(8));
      const z64 = await readAt(fh, z64Pos, 56);
      if (z64.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw bad('ZIP64 end record missing');
      entryCount = Number(z64.readBigUInt64LE(32));
      cdSize = Number(z64.readBigUInt64LE(40));
      cdOffset = Number(z64.readBigUInt64LE(48));
    }
    if (cdOffset + cdSize > fileSize) throw bad('central directory lies outside the file (truncated download?)');
    const cd = await readAt(fh, cdOffset, cdSize);

    const entries: ZipEntryInfo[] = [];
    let p = 0;
    for (let i = 0; i < entryCount; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) throw bad(`central directory entry ${i} is damaged`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc32 = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const externalAttrs = cd.readUInt32LE(p + 38);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      const nameBytes = cd.subarray(p + 46, p + 46 + nameLen);
      const name = nameBytes.toString(flags & 0x800 ? 'utf8' : 'latin1');
      // ZIP64 extra field (id 1): the 64-bit values for the fields that hold 0xFFFFFFFF, in this order.
      const extra = cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
      for (let q = 0; q + 4 <= extra.length; ) {
        const id = extra.readUInt16LE(q);
        const len = extra.readUInt16LE(q + 2);
        if (id === 0x0001) {
          let r = q + 4;
          if (size === 0xffffffff) (size = Number(extra.readBigUInt64LE(r))), (r += 8);
          if (compressedSize === 0xffffffff) (compressedSize = Number(extra.readBigUInt64LE(r))), (r += 8);
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = Number(extra.readBigUInt64LE(r));
        }
        q += 4 + len;
      }
      const unixMode = externalAttrs >>> 16;
      entries.push({
        name,
        method,
        compressedSize,
        size,
        crc32,
        localHeaderOffset,
        isDirectory: name.endsWith('/') || name.endsWith('\\'),
        isSymlink: (unixMode & 0o170000) === 0o120000,
        encrypted: (flags & 0x1) !== 0,
      });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  } finally {
    await fh.close();
  }
}

/**
 * Normalise an entry name to a safe relative '/'-path, or return an explanation of why it is unsafe.
 * Rejects absolute paths, drive letters, `..` segments and NUL bytes.
 */
export function safeEntryPath(name: string): { path: string } | { unsafe: string } {
  if (name.includes('\0')) return { unsafe: 'contains a NUL byte' };
  const slashed = name.replace(/\\/g, '/');
  if (slashed.startsWith('/')) return { unsafe: 'is an absolute path' };
  if (/^[a-zA-Z]:/.test(slashed)) return { unsafe: 'starts with a drive letter' };
  const parts = slashed.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.some((s) => s === '..')) return { unsafe: "contains '..' (path traversal)" };
  return { path: parts.join('/') };
}

/**
 * Unpack `zipPath` into `destDir` (which must not exist yet). Throws 'ARCHIVE_UNSAFE_PATH' (nothing written)
 * when any entry would land outside `destDir`, 'ARCHIVE_CORRUPT' on CRC/size/format errors.
 */
export async function extractZip(zipPath: string, destDir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const entries = await readZipEntries(zipPath);
  const plan: { entry: ZipEntryInfo; path: string }[] = [];
  for (const entry of entries) {
    const checked = safeEntryPath(entry.name);
    if ('unsafe' in checked) {
      throw new MedpersamUserError(
        'ARCHIVE_UNSAFE_PATH',
        `refusing to unpack: entry "${entry.name}" ${checked.unsafe}; nothing was unpacked`,
        { file: zipPath },
      );
    }
    if (entry.isSymlink) {
      throw new MedpersamUserError('ARCHIVE_UNSAFE_PATH', `refusing to unpack: entry "${entry.name}" is a symbolic link`, {
        file: zipPath,
      });
    }
    if (checked.path === '' || checked.path.startsWith('__MACOSX/') || checked.path === '__MACOSX') continue;
    if (entry.encrypted) {
      throw new MedpersamUserError('ARCHIVE_CORRUPT', `entry "${entry.name}" is encrypted; cannot unpack`, { file: zipPath });
    }
    if (!entry.isDirectory && entry.method !== 0 && entry.method !== 8) {
      throw new MedpersamUserError(
        'ARCHIVE_CORRUPT',
        `entry "${entry.name}" uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`,
        { file: zipPath },
      );
    }
    plan.push({ entry, path: checked.path });
  }
  if ((opts.stripSingleRoot ?? true) && plan.length > 0) {
    const firstSegments = new Set(plan.map((x) => x.path.split('/')[0]));
    const allNested = plan.every((x) => x.path.includes('/') || x.entry.isDirectory);
    if (firstSegments.size === 1 && allNested) {
      const root = [...firstSegments][0] + '/';
      for (const x of plan) x.path = x.path.startsWith(root) ? x.path.slice(root.length) : '';
    }
  }

  const absDest = resolve(destDir);
  if (await pathExists(absDest)) {
    throw new MedpersamUserError('OUTPUT_EXISTS', 'refusing to unpack into an existing folder', { file: absDest });
  }
  const tmp = join(dirname(absDest), `.${basename(absDest)}.unzip-${randomBytes(4).toString('hex')}`);
  const totalBytes = plan.reduce((s, x) => s + (x.entry.isDirectory ? 0 : x.entry.size), 0);
  let doneBytes = 0;
  const files: ExtractedFile[] = [];
  const seen = new Set<string>();
  try {
    await mkdir(tmp, { recursive: true });
    const fh = await open(zipPath, 'r');
    try {
      for (const { entry, path } of plan) {
        if (path === '') continue;
        const target = resolve(tmp, ...path.split('/'));
        // Belt and braces: the resolved path must stay inside the temp folder.
        if (!target.startsWith(tmp + sep)) {
          throw new MedpersamUserError('ARCHIVE_UNSAFE_PATH', `refusing to unpack: entry "${entry.name}" escapes the folder`, {
            file: zipPath,
          });
        }
        if (entry.isDirectory) {
          await mkdir(target, { recursive: true });
          continue;
        }
        if (seen.has(path)) {
          throw new MedpersamUserError('ARCHIVE_CORRUPT', `entry "${entry.name}" appears twice`, { file: zipPath });
        }
        seen.add(path);
        await mkdir(dirname(target), { recursive: true });
        const dataStart = await localDataOffset(fh, entry, zipPath);
        const { bytes, sha256 } = await inflateEntry(zipPath, entry, dataStart, target, (n) => {
          doneBytes += n;
          opts.onProgress?.({ stage: 'unzip', done: doneBytes, total: totalBytes, message: path });
        });
        files.push({ path, bytes, sha256 });
      }
    } finally {
      await fh.close();
    }
    await rename(tmp, absDest);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
  return { dir: absDest, files };
}

async function localDataOffset(fh: FileHandle, entry: ZipEntryInfo, zipPath: string): Promise<number> {
  const head = await readAt(fh, entry.localHeaderOffset, 30);
  if (head.length < 30 || head.readUInt32LE(0) !== SIG_LOCAL) {
    throw new MedpersamUserError('ARCHIVE_CORRUPT', `local header of "${entry.name}" is damaged`, { file: zipPath });
  }
  return entry.localHeaderOffset + 30 + head.readUInt16LE(26) + head.readUInt16LE(28);
}

async function inflateEntry(
  zipPath: string,
  entry: ZipEntryInfo,
  dataStart: number,
  target: string,
  onBytes: (n: number) => void,
): Promise<{ bytes: number; sha256: string }> {
  const out = createWriteStream(target, { flags: 'wx' });
  const hash = createHash('sha256');
  let crc = 0xffffffff;
  let written = 0;
  let pending: Uint8Array[] = [];
  const inflater = entry.method === 8 ? new Inflate((chunk) => pending.push(chunk)) : undefined;
  const flush = async (): Promise<void> => {
    const chunks = pending;
    pending = [];
    for (const c of chunks) {
      hash.update(c);
      crc = crc32Update(crc, c);
      written += c.length;
      onBytes(c.length);
      if (!out.write(c)) await once(out, 'drain');
    }
  };
  try {
    if (entry.compressedSize > 0) {
      const input = createReadStream(zipPath, {
        start: dataStart,
        end: dataStart + entry.compressedSize - 1,
        highWaterMark: 1 << 20,
      });
      for await (const chunk of input) {
        const bytes = new Uint8Array((chunk as Buffer).buffer, (chunk as Buffer).byteOffset, (chunk as Buffer).length);
        if (inflater) inflater.push(bytes, false);
        else pending.push(Uint8Array.from(bytes));
        await flush();
      }
    }
    if (inflater) inflater.push(new Uint8Array(0), true);
    await flush();
    out.end();
    await finished(out);
  } catch (err) {
    out.destroy();
    if (err instanceof MedpersamUserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code && (err as NodeJS.ErrnoException).syscall) {
      throw new MedpersamUserError('UNWRITABLE_OUTPUT', `cannot unpack "${entry.name}" (${code})`, { file: target, cause: err });
    }
    throw new MedpersamUserError('ARCHIVE_CORRUPT', `entry "${entry.name}" cannot be inflated (${(err as Error).message})`, {
      file: zipPath,
      cause: err,
    });
  }
  crc = (crc ^ 0xffffffff) >>> 0;
  if (written !== entry.size || crc !== entry.crc32) {
    throw new MedpersamUserError(
      'ARCHIVE_CORRUPT',
      `entry "${entry.name}" is damaged (size ${written} vs ${entry.size}, CRC-32 ${hex8(crc)} vs ${hex8(entry.crc32)})`,
      { file: zipPath },
    );
  }
  return { bytes: written, sha256: hash.digest('hex') };
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

