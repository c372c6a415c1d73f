/**
 * ONNX Runtime sessions (Node: onnxruntime-node). CPU by default; CUDA only when asked AND this
 * onnxruntime-node build has it — otherwise, or when creating the CUDA session fails, CPU with a warning.
 * Sessions are created from the file PATH whenever possible, so ONNX external data (`*_data.bin` beside the
 * model, ViT-H) is found by ONNX Runtime.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { MedpersamUserError } from '../errors.js';
import type { ExecutionProviderName } from './types.js';

export interface SessionOptions {
  /** intraOpNumThreads (default: ONNX Runtime's default). */
  threads?: number;
  executionProvider?: ExecutionProviderName;
  /**
   * ONNX Runtime's CPU memory arena and memory-pattern planning (default true: fastest repeated runs). false frees
   * each run's intermediate tensors after the run instead of keeping the arena at its high-water mark.
   */
  memoryArena?: boolean;
  /**
   * ONNX Runtime graph optimisers to skip (session config `optimization.disable_specified_optimizers`), e.g.
   * SAM 2 encoders' ReshapeFusion (sam2-interface.ts).
   */
  disabledOptimizers?: readonly string[];
}

export interface CreatedSession {
  session: ort.InferenceSession;
  provider: ExecutionProviderName;
  warnings: string[];
}

/** Whether this onnxruntime-node build lists the CUDA execution provider. */
export function cudaListed(): boolean {
  try {
    return ort.listSupportedBackends().some((b) => b.name === 'cuda');
  } catch {
    return false;
  }
}

/**
 * Whether the CUDA provider library is installed beside onnxruntime-node's binding (its postinstall downloads it
 * only with `--onnxruntime-node-install=cuda12`). false = certainly absent; true = present or cannot tell.
 */
export function cudaLibraryPresent(): boolean {
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    const binDir = join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
    if (!existsSync(binDir)) return true;
    const names = readdirSync(binDir);
    return names.some((n) => /onnxruntime_providers_cuda\.(so|dll)/.test(n));
  } catch {
    return true;
  }
}

function baseOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  const o: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    logSeverityLevel: 3,
    // No busy-waiting of idle intra-op threads after a run: on small machines the spinning threads compete
    // with our own JS (prompt conversion, post-processing) between runs.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
  if (opts.disabledOptimizers && opts.disabledOptimizers.length > 0) {
    o.extra = { ...(o.extra as object), optimization: { disable_specified_optimizers: opts.disabledOptimizers.join(';') } };
  }
  if (opts.memoryArena === false) {
    o.enableCpuMemArena = false;
    o.enableMemPattern = false;
  }
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) {
      throw new MedpersamUserError('INVALID_OPTION', `threads must be a positive integer, got ${opts.threads}`);
    }
    o.intraOpNumThreads = opts.threads;
  }
  return o;
}

/**
 * Create a session from a model path (preferred) or bytes. `label` names the file in errors.
 */
export async function createSession(source: string | Uint8Array, label: string, opts: SessionOptions = {}): Promise<CreatedSession> {
  const warnings: string[] = [];
  const base = baseOptions(opts);
  if (opts.executionProvider === 'cuda') {
    if (cudaListed() && cudaLibraryPresent()) {
      try {
        const session = await createRaw(source, { ...base, executionProviders: ['cuda', 'cpu'] });
        return { session, provider: 'cuda', warnings };
      } catch (err) {
        warnings.push(`CUDA execution provider failed for ${label} (${firstLine(err)}); running on CPU`);
      }
    } else {
      warnings.push(
        'this onnxruntime-node has no CUDA execution provider installed (reinstall it with ' +
          '`npm install onnxruntime-node --onnxruntime-node-install=cuda12` on a machine with CUDA 12); running on CPU',
      );
    }
  }
  try {
    const session = await createRaw(source, { ...base, executionProviders: ['cpu'] });
    return { session, provider: 'cpu', warnings };
  } catch (err) {
    throw new MedpersamUserError('ONNX_LOAD_FAILED', `ONNX Runtime cannot load this model: ${firstLine(err)}`, { file: label, cause: err });
  }
}

function createRaw(source: string | Uint8Array, o: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof source === 'string' ? ort.InferenceSession.create(source, o) : ort.InferenceSession.create(source, o);
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 300);
}

export { ort };

/** float32 tensors of onnxruntime-node, for the encoder and decoder runs (ort-types.ts). */
export const float32Tensor = (data: Float32Array, dims: readonly number[]): ort.Tensor => new ort.Tensor('float32', data, dims);
