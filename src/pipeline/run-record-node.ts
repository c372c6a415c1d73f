/**
 * The runtime facts of a run record in Node (run-record.ts `RuntimeInfo`): package, Node, tfjs and
 * onnxruntime-node versions, platform, CPU count and glibc's mmap threshold when set.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import type { RuntimeInfo } from './run-record.js';

async function jsonVersion(url: URL | string): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(url, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

async function dependencyVersion(name: string): Promise<string | undefined> {
  try {
    return await jsonVersion(createRequire(import.meta.url).resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

export async function nodeRuntimeInfo(): Promise<RuntimeInfo> {
  return {
    toolVersion: (await jsonVersion(new URL('../../package.json', import.meta.url))) ?? 'unknown',
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: os.cpus().length,
    tfjs: await dependencyVersion('@tensorflow/tfjs'),
    onnxruntime: await dependencyVersion('onnxruntime-node'),
    ...(process.env.MALLOC_MMAP_THRESHOLD_ !== undefined ? { mallocMmapThreshold: process.env.MALLOC_MMAP_THRESHOLD_ } : {}),
  };
}
