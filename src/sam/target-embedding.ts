/**
 * PerSAM "target-semantic prompting" (paper Appendix C.1; docs/sam-onnx.md §5) as an ONNX graph edit. Pure.
 *
 * PerSAM adds the target embedding T (the L2-normalised class prototype, [1,1,256]) to the token queries before
 * each layer of the two-way transformer — the first add is in place, so it also reaches the query positional
 * encoding (both are the same tensor, the tokens `Concat`) — and to the queries before the final token-to-image
 * attention. In an official-format decoder export this is:
 *   1. T added to the tokens Concat output (the data input of `.../layers.0/self_attn/v_proj/MatMul`), for ALL its
 *      consumers (queries and query_pe alike);
 *   2. for every later layer L, T added to the layer's input queries (data input of `layers.L/self_attn/v_proj`);
 *   3. T added to the input of `.../final_attn_token_to_image/q_proj/MatMul`.
 * Nodes are found by the scoped names torch's exporter gives them. This matches a toy graph built to that pattern;
 * whether a given real export names its nodes this way is NOT verified here. When the pattern is not found the
 * model is returned unchanged with a warning (never an exception).
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const TARGET_EMBEDDING_INPUT = 'target_embedding';

export interface TargetEmbeddingPatchResult {
  /** The patched model, or the input bytes unchanged when not patched. */
  bytes: Uint8Array;
  patched: boolean;
  /** Add nodes inserted (0 when not patched or already patched). */
  addedNodes: number;
  /** Why it was not patched (to show the user once). */
  warning?: string;
}

const LAYER_V_PROJ = /(?:^|\/)layers\.(\d+)\/self_attn\/v_proj\/MatMul$/;
const FINAL_Q_PROJ = /final_attn_token_to_image\/q_proj\/MatMul$/;

export function patchDecoderForTargetEmbedding(modelBytes: Uint8Array): TargetEmbeddingPatchResult {
  const unpatched = (why: string): TargetEmbeddingPatchResult => ({
    bytes: modelBytes,
    patched: false,
    addedNodes: 0,
    warning: `target-semantic prompting is off: ${why}; SAM runs without the target embedding`,
  });
  try {
    const model = onnx.ModelProto.decode(modelBytes);
    const graph = model.graph;
    if (!graph) return unpatched('the decoder has no graph');
    const inputs = (graph.input ??= []);
    if (inputs.some((i) => i.name === TARGET_EMBEDDING_INPUT)) {
      return { bytes: modelBytes, patched: true, addedNodes: 0 };
    }
    const nodes = (graph.node ??= []);
    const layers = new Map<number, onnxProto.onnx.INodeProto>();
    let finalQ: onnxProto.onnx.INodeProto | undefined;
    for (const n of nodes) {
      const name = n.name ?? '';
      const m = LAYER_V_PROJ.exec(name);
      if (m && n.opType === 'MatMul') layers.set(Number(m[1]), n);
      else if (FINAL_Q_PROJ.test(name) && n.opType === 'MatMul') finalQ = n;
    }
    const layer0 = layers.get(0);
    if (!layer0 || !finalQ) {
      return unpatched('the decoder graph does not show the expected transformer node names (layers.0/self_attn/v_proj, final_attn_token_to_image/q_proj)');
    }
    const tokens = layer0.input![0]!;
    const producer = nodes.find((n) => n.output?.includes(tokens));
    if (!producer || producer.opType !== 'Concat') {
      return unpatched('the first transformer layer is not fed directly by the tokens Concat');
    }
    const wired: Array<{ tensor: string; onlyFor?: onnxProto.onnx.INodeProto }> = [{ tensor: tokens }];
    for (const [index, node] of [...layers.entries()].sort((a, b) => a[0] - b[0])) {
      if (index > 0) wired.push({ tensor: node.input![0]! });
    }
    wired.push({ tensor: finalQ.input![0]!, onlyFor: finalQ });
    let added = 0;
    for (const { tensor, onlyFor } of wired) {
      const out = `${tensor}__plus_target_${added}`;
      const add = new onnx.NodeProto({
        opType: 'Add',
        name: `target_embedding/Add_${added}`,
        input: [tensor, TARGET_EMBEDDING_INPUT],
        output: [out],
      });
      const consumers = onlyFor ? [onlyFor] : nodes.filter((n) => n.input?.includes(tensor));
      for (const c of consumers) c.input = c.input!.map((i) => (i === tensor ? out : i));
      // Keep the node list topologically sorted: right after the producer (or first when it is a graph input).
      const at = nodes.findIndex((n) => n.output?.includes(tensor));
      nodes.splice(at + 1, 0, add);
      added++;
    }
    inputs.push(
      new onnx.ValueInfoProto({
        name: TARGET_EMBEDDING_INPUT,
        type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 1 }, { dimValue: 256 }] } } },
      }),
    );
    return { bytes: onnx.ModelProto.encode(model).finish(), patched: true, addedNodes: added };
  } catch (err) {
    return unpatched(`the decoder graph could not be edited (${String((err as Error)?.message ?? err).slice(0, 200)})`);
  }
}
