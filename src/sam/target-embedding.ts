/**
 * PerSAM "target-semantic prompting" (paper Appendix C.1) as an ONNX graph edit of an official-format SAM decoder
 * export. Pure: bytes in, bytes out.
 *
 * What PerSAM's two-way transformer computes (Personalize-SAM, per_segment_anything/modeling/transformer.py), with
 * T the target embedding [1,1,256] — the caller's mean SAM feature of the reference under its mask, NOT normalised
 * (PerSAM passes the plain mean; so does our pipeline):
 *   for each layer L:  queries += T            (layer 0: `queries` IS the tokens tensor, so this in-place add also
 *                                               changes the query positional encoding, for every later use too)
 *                      queries, keys = layer_L(queries, keys, query_pe = tokens, key_pe)
 *   final:             q = queries + tokens;  q += T;  attention(q, keys + key_pe, keys)
 * The graph edit reproduces exactly that:
 *   1. tokens' = tokens + T replaces the tokens `Concat` output for ALL its consumers (queries and query_pe alike);
 *   2. for every later layer L, Q' = Q + T (Q = the layer's input queries, the data input of
 *      `layers.L/self_attn/v_proj/MatMul`) replaces Q only for layer L's own nodes. Layer L-1 also consumes Q (its
 *      image-to-token attention reads its own output queries) and must not see T. torch's exporter merges equal
 *      sub-expressions across layers — in SAM, `Q + query_pe` is both layer L-1's image-to-token key and layer L's
 *      self-attention query — so such a shared node is duplicated first: the copy reads Q' and feeds layer L, the
 *      original keeps feeding layer L-1;
 *   3. T added to the input of `final_attn_token_to_image/q_proj/MatMul` for that node only.
 * Nodes are found by the scoped names torch's exporter gives them (`.../layers.N/...`). Checked against PerSAM's
 * transformer run in PyTorch with the same weights on the real MobileSAM decoder graph (K = 4 and K = 1):
 * test/sam/target-embedding-golden.test.ts, values from tools/persam-reference/make_golden.py.
 * When the graph does not show this structure the model is returned unchanged with a warning (never an exception).
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type Node = onnxProto.onnx.INodeProto;

export const TARGET_EMBEDDING_INPUT = 'target_embedding';

export interface TargetEmbeddingPatchResult {
  /** The patched model, or the input bytes unchanged when not patched. */
  bytes: Uint8Array;
  patched: boolean;
  /** Add nodes inserted (0 when not patched or already patched): one per transformer layer + the final attention. */
  addedNodes: number;
  /** Nodes the exporter shared between two layers that were duplicated so that only the later layer sees T. */
  duplicatedNodes: number;
  /** Why it was not patched (to show the user once). */
  warning?: string;
}

const LAYER_V_PROJ = /^(.*?)layers\.(\d+)\/self_attn\/v_proj\/MatMul$/;
const FINAL_Q_PROJ = /final_attn_token_to_image\/q_proj\/MatMul$/;
/** Elementwise ops that may be duplicated when a layer boundary runs through them. */
const DUPLICABLE_OPS = new Set(['Add', 'Sub', 'Mul', 'Div']);

class PatternNotFound extends Error {}

export function patchDecoderForTargetEmbedding(modelBytes: Uint8Array): TargetEmbeddingPatchResult {
  const unpatched = (why: string): TargetEmbeddingPatchResult => ({
    bytes: modelBytes,
    patched: false,
    addedNodes: 0,
    duplicatedNodes: 0,
    warning: `target-semantic prompting is off: ${why}; SAM runs without the target embedding`,
  });
  try {
    const model = onnx.ModelProto.decode(modelBytes);
    const graph = model.graph;
    if (!graph) return unpatched('the decoder has no graph');
    const inputs = (graph.input ??= []);
    if (inputs.some((i) => i.name === TARGET_EMBEDDING_INPUT)) {
      return { bytes: modelBytes, patched: true, addedNodes: 0, duplicatedNodes: 0 };
    }
    const nodes = (graph.node ??= []);
    const { added, duplicated } = rewire(nodes);
    const available = new Set<string>([TARGET_EMBEDDING_INPUT]);
    for (const i of inputs) available.add(i.name ?? '');
    for (const t of graph.initializer ?? []) available.add(t.name ?? '');
    graph.node = topologicalOrder(nodes, available);
    inputs.push(
      new onnx.ValueInfoProto({
        name: TARGET_EMBEDDING_INPUT,
        type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 1 }, { dimValue: 256 }] } } },
      }),
    );
    return { bytes: onnx.ModelProto.encode(model).finish(), patched: true, addedNodes: added, duplicatedNodes: duplicated };
  } catch (err) {
    if (err instanceof PatternNotFound) return unpatched(err.message);
    return unpatched(`the decoder graph could not be edited (${String((err as Error)?.message ?? err).slice(0, 200)})`);
  }
}

/** The edits 1–3 above, in place on `nodes` (new nodes appended; the caller re-sorts). */
function rewire(nodes: Node[]): { added: number; duplicated: number } {
  const layers = new Map<number, Node>();
  let transformerScope: string | undefined;
  let finalQ: Node | undefined;
  for (const n of nodes) {
    const m = LAYER_V_PROJ.exec(n.name ?? '');
    if (m && n.opType === 'MatMul') {
      layers.set(Number(m[2]), n);
      transformerScope ??= m[1]!;
    } else if (FINAL_Q_PROJ.test(n.name ?? '') && n.opType === 'MatMul') {
      finalQ = n;
    }
  }
  const depth = layers.size;
  if (depth === 0 || !finalQ || transformerScope === undefined) {
    throw new PatternNotFound(
      'the decoder graph does not show the expected transformer node names (layers.0/self_attn/v_proj, final_attn_token_to_image/q_proj)',
    );
  }
  for (let l = 0; l < depth; l++) {
    if (!layers.has(l)) throw new PatternNotFound(`the decoder's transformer layers are not numbered 0..${depth - 1}`);
  }
  const inLayer = (n: Node, l: number): boolean => (n.name ?? '').startsWith(`${transformerScope}layers.${l}/`);
  const consumersOf = (tensor: string): Node[] => nodes.filter((n) => n.input?.includes(tensor));
  const producerOf = (tensor: string): Node | undefined => nodes.find((n) => n.output?.includes(tensor));
  const replaceInput = (n: Node, from: string, to: string): void => {
    n.input = n.input!.map((i) => (i === from ? to : i));
  };
  let added = 0;
  let duplicated = 0;
  const addTarget = (tensor: string, label: string): string => {
    const out = `${tensor}__plus_${TARGET_EMBEDDING_INPUT}_${label}`;
    nodes.push(new onnx.NodeProto({ opType: 'Add', name: `${TARGET_EMBEDDING_INPUT}/Add_${label}`, input: [tensor, TARGET_EMBEDDING_INPUT], output: [out] }));
    added++;
    return out;
  };

  // 1. Layer 0: the tokens themselves (queries and query_pe are one tensor in PerSAM's in-place add).
  const tokens = layers.get(0)!.input![0]!;
  if (producerOf(tokens)?.opType !== 'Concat') {
    throw new PatternNotFound('the first transformer layer is not fed directly by the tokens Concat');
  }
  const tokensConsumers = consumersOf(tokens);
  const tokensPlusT = addTarget(tokens, 'layers.0');
  for (const c of tokensConsumers) replaceInput(c, tokens, tokensPlusT);

  // 2. Every later layer: its input queries, for its own nodes only.
  for (let l = 1; l < depth; l++) {
    const queries = layers.get(l)!.input![0]!;
    const producer = producerOf(queries);
    if (!producer || !inLayer(producer, l - 1)) {
      throw new PatternNotFound(`the input queries of transformer layer ${l} do not come from layer ${l - 1}`);
    }
    const consumers = consumersOf(queries);
    const queriesPlusT = addTarget(queries, `layers.${l}`);
    for (const c of consumers) {
      if (inLayer(c, l)) {
        replaceInput(c, queries, queriesPlusT);
        continue;
      }
      // A node outside layer L that reads Q: if layer L also reads its result, the exporter shared it between layers.
      const sharedOutputs = (c.output ?? []).filter((o) => consumersOf(o).some((n) => inLayer(n, l)));
      if (sharedOutputs.length === 0) continue;
      if (!DUPLICABLE_OPS.has(c.opType ?? '') || (c.output ?? []).length !== 1) {
        throw new PatternNotFound(`node ${c.name} (${c.opType}) is shared by transformer layers ${l - 1} and ${l} and cannot be split`);
      }
      const out = `${c.output![0]!}__layers.${l}`;
      const copy = new onnx.NodeProto({
        opType: c.opType,
        name: `${c.name}__for_layers.${l}`,
        input: c.input!.map((i) => (i === queries ? queriesPlusT : i)),
        output: [out],
        attribute: c.attribute ?? [],
      });
      for (const n of consumersOf(c.output![0]!)) if (inLayer(n, l)) replaceInput(n, c.output![0]!, out);
      nodes.push(copy);
      duplicated++;
    }
    if (nodes.some((n) => inLayer(n, l) && n.input?.includes(queries))) {
      throw new PatternNotFound(`transformer layer ${l} still reads its queries without the target embedding`);
    }
  }

  // 3. The final token-to-image attention's query (queries + query_pe, then += T).
  const finalQuery = finalQ.input![0]!;
  const finalPlusT = addTarget(finalQuery, 'final_attn');
  replaceInput(finalQ, finalQuery, finalPlusT);
  return { added, duplicated };
}

/**
 * Nodes in an order where every input is produced before use (Kahn's algorithm, keeping the original order among
 * ready nodes). `available` holds the graph inputs and initializers. Throws when the graph has a cycle or reads a
 * tensor nobody produces (a broken edit: the caller then leaves the model unpatched).
 */
function topologicalOrder(nodes: Node[], available: Set<string>): Node[] {
  const produced = new Set(available);
  produced.add('');
  const pending = nodes.slice();
  const ordered: Node[] = [];
  while (pending.length > 0) {
    const i = pending.findIndex((n) => (n.input ?? []).every((t) => produced.has(t)) && subgraphInputsReady(n, produced));
    if (i < 0) throw new Error(`node ${pending[0]!.name} reads a tensor that is never produced`);
    const [n] = pending.splice(i, 1);
    for (const o of n!.output ?? []) produced.add(o);
    ordered.push(n!);
  }
  return ordered;
}

/** Control-flow nodes (If/Loop) read outer tensors from their subgraphs; they are ready only when those exist. */
function subgraphInputsReady(n: Node, produced: Set<string>): boolean {
  for (const a of n.attribute ?? []) {
    const graphs = [...(a.g ? [a.g] : []), ...(a.graphs ?? [])];
    for (const g of graphs) {
      const local = new Set<string>([...(g.input ?? []).map((i) => i.name ?? ''), ...(g.initializer ?? []).map((t) => t.name ?? '')]);
      for (const sn of g.node ?? []) for (const o of sn.output ?? []) local.add(o);
      for (const sn of g.node ?? []) for (const t of sn.input ?? []) if (t && !local.has(t) && !produced.has(t)) return false;
    }
  }
  return true;
}
