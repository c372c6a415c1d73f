/**
 * Embedding cache (on-disk cache: Node-only).
 *
 *  - key   = sha256(preprocessing version, image dims, image float32 bytes) + encoder id
 *  - encoder id = sha256 of the encoder .onnx (and its external data files), computed once per file version and
 *    memoised by (path, size, mtime) in memory and in `<cacheDir>/encoder-ids.json`
 *  - disk: `<cacheDir>/<encoderId[0:16]>/<imageHash>.f32`, raw little-endian float32, written atomically
 *  - memory: a small LRU (default 4 entries), so memory does not grow with the number of images.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { FloatImage } from '../image/types.js';

/** Bump when the preprocessing changes, so stale embeddings are never reused. */
export const PREPROCESS_VERSION = 'sam-pre-v1';

/** sha256 of the image content (+ size, channels, preprocessing version), hex. */
export function imageContentHash(image: FloatImage): string {
  const h = createHash('sha256');
  h.update(`${PREPROCESS_VERSION}:${image.width}x${image.height}x${image.channels}:`);
  h.update(new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength));
  return h.digest('hex');
}

const idMemo = new Map<string, string>();

async function sha256File(path: string, h: ReturnType<typeof createHash>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = createReadStream(path);
    s.on('data', (chunk) => h.update(chunk));
    s.on('end', () => resolve());
    s.on('error', reject);
  });
}

/**
 * sha256 over the given files (the encoder .onnx first, then its external data files), memoised per
 * (path, size, mtime) in memory and, when `cacheDir` is given, in `<cacheDir>/encoder-ids.json`.
 */
export async function encoderFileId(paths: string[], cacheDir?: string): Promise<string> {
  const stats = await Promise.all(paths.map((p) => stat(p)));
  const memoKey = paths.map((p, i) => `${p}|${stats[i]!.size}|${stats[i]!.mtimeMs}`).join(';');
  const inMemory = idMemo.get(memoKey);
  if (inMemory) return inMemory;
  const memoFile = cacheDir ? join(cacheDir, 'encoder-ids.json') : undefined;
  let onDisk: Record<string, string> = {};
  if (memoFile) {
    try {
      onDisk = JSON.parse(await readFile(memoFile, 'utf8')) as Record<string, string>;
    } catch {
      onDisk = {};
    }
    const hit = onDisk[memoKey];
    if (typeof hit === 'string' && /^[0-9a-f]{64}$/.test(hit)) {
      idMemo.set(memoKey, hit);
      return hit;
    }
  }
  const h = createHash('sha256');
  for (const p of paths) await sha256File(p, h);
  const id = h.digest('hex');
  idMemo.set(memoKey, id);
  if (memoFile) {
    onDisk[memoKey] = id;
    await writeFileAtomic(memoFile, JSON.stringify(onDisk, null, 1)).catch(() => {});
  }
  return id;
}

export interface EmbeddingCacheOptions {
  /** Disk folder; undefined = memory only. */
  dir?: string;
  /** LRU entries in memory (default 4). */
  memoryEntries?: number;
}

export class EmbeddingCache {
  private readonly lru = new Map<string, Float32Array>();
  private readonly capacity: number;
  constructor(
    private readonly opts: EmbeddingCacheOptions,
    /**
     * Floats per embedding (files of another size are ignored as corrupt); null while unknown (an encoder whose
     * embedding shape only its first run tells): the disk is then not read until `setLength`.
     */
    private length: number | null,
  ) {
    this.capacity = Math.max(0, opts.memoryEntries ?? 4);
  }

  setLength(length: number): void {
    this.length = length;
  }

  private file(key: string): string | undefined {
    if (!this.opts.dir) return undefined;
    const [model, image] = key.split(':') as [string, string];
    return join(this.opts.dir, model.slice(0, 16), `${image}.f32`);
  }

  /** Looks in memory, then on disk. `where` tells the caller which (for stats). */
  async get(key: string): Promise<{ data: Float32Array; where: 'memory' | 'disk' } | null> {
    const m = this.lru.get(key);
    if (m) {
      this.lru.delete(key);
      this.lru.set(key, m);
      return { data: m, where: 'memory' };
    }
    const f = this.file(key);
    if (!f || this.length === null) return null;
    let buf: Buffer;
    try {
      buf = await readFile(f);
    } catch {
      return null;
    }
    if (buf.byteLength !== this.length * 4) return null; // truncated / foreign file: re-encode
    // The file's bytes viewed as floats (readFile's buffer of a file this size is its own, 4-byte aligned
    // allocation); a copy only when it is not aligned.
    let data: Float32Array;
    if (buf.byteOffset % 4 === 0) data = new Float32Array(buf.buffer, buf.byteOffset, this.length);
    else {
      data = new Float32Array(this.length);
      new Uint8Array(data.buffer).set(buf);
    }
    this.remember(key, data);
    return { data, where: 'disk' };
  }

  async put(key: string, data: Float32Array): Promise<void> {
    this.remember(key, data);
    const f = this.file(key);
    if (f) await writeFileAtomic(f, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  private remember(key: string, data: Float32Array): void {
    if (this.capacity === 0) return;
    this.lru.delete(key);
    this.lru.set(key, data);
    while (this.lru.size > this.capacity) this.lru.delete(this.lru.keys().next().value as string);
  }

  /** Entries held in memory now (for tests). */
  get memorySize(): number {
    return this.lru.size;
  }
}
