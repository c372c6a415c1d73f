/**
 * What the encoder and decoder runs need from an ONNX Runtime package, as types only (browser-safe): a session and
 * a way to make float32 tensors. The package itself is chosen at the edge — onnxruntime-node in Node (session.ts
 * `float32Tensor`), onnxruntime-web in the browser app — and passed in, so encoder.ts and decoder.ts load neither.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';

export type OrtSession = InferenceSession;
export type OrtTensor = Tensor;

/** Makes a float32 tensor of the given shape over `data` (no copy). */
export type Float32TensorFactory = (data: Float32Array, dims: readonly number[]) => Tensor;
