#!/usr/bin/env python3
"""
Golden values for medpersam's PerSAM target-embedding graph patch (src/sam/target-embedding.ts).

Reference: PerSAM's own mask decoder and two-way transformer (Personalize-SAM, per_segment_anything/modeling)
run in PyTorch with the weights read from an official-format SAM decoder export (segment-anything
scripts/export_onnx_model.py), wrapped in segment-anything's SamOnnxModel pre/post-processing so that inputs and
outputs are exactly the decoder.onnx interface. The patched decoder (run by ONNX Runtime in the TypeScript test
test/sam/target-embedding-golden.test.ts) must reproduce these outputs within 1e-4.

NOT a runtime or test dependency: run it once by hand when the golden file must be regenerated.

  pip install torch onnx onnxruntime
  git clone https://github.com/facebookresearch/segment-anything      # at dca509fe793f601edb92606367a655c15ac00fdf
  git clone https://github.com/ZrrSkywalker/Personalize-SAM
  python tools/persam-reference/make_golden.py \
      --decoder ../shared/models/real-arch-mobile-sam/decoder.onnx \
      --segment-anything segment-anything --persam Personalize-SAM \
      --out test/fixtures/golden/persam-target-embedding.json \
      [--export-k1 /some/folder/decoder-k1.onnx]

What it writes (JSON, small): the case definitions (all inputs are generated from seeds by the same mulberry32
generator the TypeScript test uses, see gen_* below), and per case the reference outputs as base64 little-endian
float32: iou_predictions (all), masks and low_res_masks sampled at a fixed stride, plus whole-tensor sums
(sum and sum of squares) so every value takes part in the comparison. It also checks, and records, that the
weights were loaded correctly: the same torch model WITHOUT a target embedding reproduces ONNX Runtime's output
of the unpatched decoder.onnx (max abs difference `weightsCheckMaxAbsDiff`).
"""
import argparse
import base64
import hashlib
import json
import math
import sys
from types import SimpleNamespace

import numpy as np
import onnx
from onnx import numpy_helper
import torch
from torch import nn


# ---------------------------------------------------------------------------------------- deterministic inputs
# mulberry32, bit-exact with src/image/random.ts (32-bit integer arithmetic).
def mulberry32(seed):
    a = seed & 0xFFFFFFFF

    def imul(x, y):
        return (x * y) & 0xFFFFFFFF

    def nxt():
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        t &= 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296.0

    return nxt


def uniform_f32(seed, n, lo, hi):
    """n float32 values lo + (hi - lo) * u (computed in float64, then rounded to float32, as Math.fround does)."""
    r = mulberry32(seed)
    return np.array([lo + (hi - lo) * r() for _ in range(n)], dtype=np.float64).astype(np.float32)


def gen_image_embedding(seed):
    return uniform_f32(seed, 256 * 64 * 64, -1.0, 1.0).reshape(1, 256, 64, 64)


def gen_target_embedding(seed, scale):
    return uniform_f32(seed, 256, -scale, scale).reshape(1, 1, 256)


def gen_mask_input(cx, cy, r):
    """[1,1,256,256] logits: +8 inside the disc (cx, cy, r) of the 256 grid, -8 outside (integer test, exact)."""
    y, x = np.mgrid[0:256, 0:256]
    inside = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    return np.where(inside, 8.0, -8.0).astype(np.float32).reshape(1, 1, 256, 256)


# ---------------------------------------------------------------------------------------- model from decoder.onnx
def bare_package(dotted, root):
    import os
    import types
    m = types.ModuleType(dotted)
    m.__path__ = [os.path.join(root, *dotted.split('.'))]
    sys.modules[dotted] = m


def load_decoder_weights(decoder_path, persam_root, sam_root):
    # Import the modules without running the packages' __init__ (they import the image predictors, which need
    # torchvision / timm; the decoder needs neither).
    bare_package('per_segment_anything', persam_root)
    bare_package('per_segment_anything.modeling', persam_root)
    bare_package('segment_anything', sam_root)
    bare_package('segment_anything.utils', sam_root)
    from per_segment_anything.modeling.mask_decoder import MaskDecoder as PerSamMaskDecoder
    from per_segment_anything.modeling.transformer import TwoWayTransformer as PerSamTwoWayTransformer
    from per_segment_anything.modeling.prompt_encoder import PromptEncoder
    from segment_anything.utils.onnx import SamOnnxModel

    model = onnx.load(decoder_path)
    g = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    # The exporter shares equal initializers through Identity nodes (e.g. every default LayerNorm weight).
    for n in g.node:
        if n.op_type == 'Identity' and n.input[0] in inits:
            inits.setdefault(n.output[0], inits[n.input[0]])
    nodes = {n.name: n for n in g.node}

    prompt_encoder = PromptEncoder(embed_dim=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024), mask_in_chans=16)
    mask_decoder = PerSamMaskDecoder(
        num_multimask_outputs=3,
        transformer=PerSamTwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8),
        transformer_dim=256,
        iou_head_depth=3,
        iou_head_hidden_dim=256,
    )
    modules = {'prompt_encoder': prompt_encoder, 'mask_decoder': mask_decoder}
    loaded = set()

    def set_param(full, value):
        top, rest = full.split('.', 1)
        p = (dict(modules[top].named_parameters()) | dict(modules[top].named_buffers()))[rest]
        v = torch.from_numpy(np.array(value, dtype=np.float32)).reshape(p.shape)
        with torch.no_grad():
            p.copy_(v)
        loaded.add(full)

    # 1. Initializers that kept their parameter name.
    for name, value in inits.items():
        key = name[len('model.'):] if name.startswith('model.') else name
        top = key.split('.', 1)[0]
        if top in modules:
            rest = key.split('.', 1)[1]
            names = dict(modules[top].named_parameters()) | dict(modules[top].named_buffers())
            if rest in names and tuple(names[rest].shape) == tuple(value.shape):
                set_param(key, value)
    # 2. Linear weights folded into MatMul initializers ([in, out] = weight^T), found by the node's scope name.
    for pname, p in mask_decoder.named_parameters():
        full = f'mask_decoder.{pname}'
        if full in loaded or not pname.endswith('.weight'):
            continue
        scope = pname[: -len('.weight')].replace('.', '/').replace('layers/', 'layers.')
        # scope names keep "layers.N" and "mlp/lin1"
        mm = nodes.get('/' + scope.replace('transformer/', 'transformer/') + '/MatMul')
        ln = nodes.get('/' + scope + '/LayerNormalization')
        if mm is not None and mm.input[1] in inits:
            set_param(full, inits[mm.input[1]].T)
        elif ln is not None:
            set_param(full, inits[ln.input[1]])
            set_param(full[: -len('.weight')] + '.bias', inits[ln.input[2]])
    # 3. The output tokens (iou_token ; mask_tokens), constant-folded into the tokens Concat's Expand.
    tokens = next(v for k, v in inits.items() if v.shape == (1, 5, 256))
    set_param('mask_decoder.iou_token.weight', tokens[0, :1])
    set_param('mask_decoder.mask_tokens.weight', tokens[0, 1:])
    # 4. no_mask_embed, folded into the Mul of SamOnnxModel._embed_masks: (1 - has_mask_input) * no_mask_embed.
    no_mask = [v for k, v in inits.items() if v.shape == (1, 256, 1, 1)]
    assert len(no_mask) == 1, 'no_mask_embed not found'
    set_param('prompt_encoder.no_mask_embed.weight', no_mask[0].reshape(1, 256))
    # 5. LayerNorm2d affine parameters, folded to [C,1,1] constants of the Mul / Add nodes of their scope.
    for top, scope in (('prompt_encoder', 'mask_downscaling/mask_downscaling.1'), ('prompt_encoder', 'mask_downscaling/mask_downscaling.4'),
                       ('mask_decoder', 'output_upscaling/output_upscaling.1')):
        mul = nodes.get(f'/{scope}/Mul')
        add = nodes.get(f'/{scope}/Add_1')
        pname = scope.split('/')[1]
        if mul is not None and add is not None:
            w = [inits[i] for i in mul.input if i in inits]
            b = [inits[i] for i in add.input if i in inits]
            if len(w) == 1 and len(b) == 1:
                set_param(f'{top}.{pname}.weight', w[0].reshape(-1))
                set_param(f'{top}.{pname}.bias', b[0].reshape(-1))
    missing = [f'{t}.{n}' for t, m in modules.items() for n, _ in m.named_parameters() if f'{t}.{n}' not in loaded]
    # Whatever is left must be default LayerNorm affine parameters (ones / zeros); the output check below proves it.
    for full in missing:
        assert full.endswith(('.weight', '.bias')) and ('norm' in full or 'output_upscaling.1' in full or 'mask_downscaling.1' in full or 'mask_downscaling.4' in full), full

    holder = nn.Module()
    holder.prompt_encoder = prompt_encoder
    holder.mask_decoder = mask_decoder
    holder.image_encoder = SimpleNamespace(img_size=1024)
    holder.mask_threshold = 0.0
    holder.eval()
    return holder, SamOnnxModel, missing


def make_reference(holder, SamOnnxModel, return_single_mask):
    class PerSamOnnxReference(SamOnnxModel):
        """segment-anything's SamOnnxModel.forward, calling PerSAM's predict_masks with a target embedding."""

        @torch.no_grad()
        def forward(self, image_embeddings, point_coords, point_labels, mask_input, has_mask_input, orig_im_size, target_embedding=None):
            sparse = self._embed_points(point_coords, point_labels)
            dense = self._embed_masks(mask_input, has_mask_input)
            masks, scores = self.model.mask_decoder.predict_masks(
                image_embeddings=image_embeddings,
                image_pe=self.model.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                target_embedding=None if target_embedding is None else target_embedding.clone(),
            )
            if self.return_single_mask:
                masks, scores = self.select_masks(masks, scores, point_coords.shape[1])
            return self.mask_postprocessing(masks, orig_im_size), scores, masks

    ref = PerSamOnnxReference.__new__(PerSamOnnxReference)
    nn.Module.__init__(ref)
    ref.mask_decoder = holder.mask_decoder
    ref.model = holder
    ref.img_size = 1024
    ref.return_single_mask = return_single_mask
    ref.use_stability_score = False
    ref.stability_score_offset = 1.0
    ref.return_extra_metrics = False
    return ref.eval()


# ---------------------------------------------------------------------------------------- cases
CASES = [
    # P+B+M as the Med-PerSAM loop prompts: 2 positive, 1 negative point, a box, a mask prompt.
    dict(name='k4-points-box-mask', k=4, embeddingSeed=101, targetSeed=202, targetScale=0.5, width=128, height=96,
         points=[[40.0, 30.0, 1], [70.5, 52.0, 1], [10.0, 80.0, 0]], box=[25.0, 20.0, 90.0, 70.0],
         mask=dict(cx=90, cy=80, r=40)),
    # Point only (padding point appended), no mask.
    dict(name='k4-point', k=4, embeddingSeed=303, targetSeed=404, targetScale=0.5, width=80, height=120,
         points=[[33.0, 61.0, 1]], box=None, mask=None),
    # K = 1: with a box the single-mask token is picked (num_points > 2.5) ...
    dict(name='k1-points-box-mask', k=1, embeddingSeed=101, targetSeed=202, targetScale=0.5, width=128, height=96,
         points=[[40.0, 30.0, 1], [70.5, 52.0, 1], [10.0, 80.0, 0]], box=[25.0, 20.0, 90.0, 70.0],
         mask=dict(cx=90, cy=80, r=40)),
    # ... with one click (+ padding = 2 points) the best multimask output by predicted IoU.
    dict(name='k1-point', k=1, embeddingSeed=303, targetSeed=404, targetScale=0.5, width=80, height=120,
         points=[[33.0, 61.0, 1]], box=None, mask=None),
]
STRIDE_MASKS = 7
STRIDE_LOW = 97


def case_inputs(c):
    """The decoder inputs, built as src/sam/prompt-frames.ts builds them (points in the 1024 frame)."""
    w, h = c['width'], c['height']
    scale = 1024.0 / max(w, h)
    rw = math.floor(w * scale + 0.5)
    rh = math.floor(h * scale + 0.5)
    to1024 = lambda x, y: [x * rw / w, y * rh / h]  # frames.ts xyOriginalToXySam1024, same operation order
    coords, labels = [], []
    for x, y, l in c['points']:
        coords.append(to1024(x, y))
        labels.append(float(l))
    if c['box']:
        x0, y0, x1, y1 = c['box']
        coords += [to1024(x0, y0), to1024(x1, y1)]
        labels += [2.0, 3.0]
    else:
        coords.append([0.0, 0.0])
        labels.append(-1.0)
    mask = gen_mask_input(**c['mask']) if c['mask'] else np.zeros((1, 1, 256, 256), np.float32)
    return dict(
        image_embeddings=gen_image_embedding(c['embeddingSeed']),
        point_coords=np.array([coords], np.float32),
        point_labels=np.array([labels], np.float32),
        mask_input=mask,
        has_mask_input=np.array([1.0 if c['mask'] else 0.0], np.float32),
        orig_im_size=np.array([h, w], np.float32),
    )


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype='<f4').tobytes()).decode('ascii')


def summary(a):
    a64 = a.astype(np.float64)
    return dict(sum=float(a64.sum()), sumSquares=float((a64 * a64).sum()), count=int(a.size))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--decoder', required=True)
    ap.add_argument('--segment-anything', required=True)
    ap.add_argument('--persam', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--export-k1', help='also export a return_single_mask (K = 1) decoder with the same weights here')
    args = ap.parse_args()
    torch.manual_seed(0)
    holder, SamOnnxModel, defaults = load_decoder_weights(args.decoder, args.persam, args.segment_anything)

    import onnxruntime as ort
    sess = ort.InferenceSession(args.decoder, providers=['CPUExecutionProvider'])
    out = dict(
        about='PerSAM reference (PyTorch) for the target-embedding patch; generated by tools/persam-reference/make_golden.py',
        decoderSha256=hashlib.sha256(open(args.decoder, 'rb').read()).hexdigest(),
        torch=torch.__version__,
        strideMasks=STRIDE_MASKS,
        strideLowRes=STRIDE_LOW,
        parametersLeftAtDefault=defaults,
        cases=[],
    )
    worst_weights = 0.0
    for c in CASES:
        ref = make_reference(holder, SamOnnxModel, return_single_mask=(c['k'] == 1))
        inp = case_inputs(c)
        t = torch.from_numpy(gen_target_embedding(c['targetSeed'], c['targetScale']))
        tin = {k: torch.from_numpy(v) for k, v in inp.items()}
        masks, iou, low = (x.numpy() for x in ref(**tin, target_embedding=t))
        masks0, iou0, low0 = (x.numpy() for x in ref(**tin, target_embedding=None))
        if c['k'] == 4:
            o_masks, o_iou, o_low = sess.run(None, inp)
            worst_weights = max(worst_weights, float(np.abs(o_masks - masks0).max()), float(np.abs(o_iou - iou0).max()), float(np.abs(o_low - low0).max()))
        effect = max(float(np.abs(masks - masks0).max()), float(np.abs(low - low0).max()))
        print(f"{c['name']}: masks {masks.shape} iou {iou.ravel()} (without T {iou0.ravel()}), effect of T on logits {effect:.4f}")
        out['cases'].append(dict(
            **c,
            targetEffectMaxAbs=effect,
            # sha256 of the generated inputs (float32 little-endian): the test checks its generator against them.
            imageEmbeddingsSha256=hashlib.sha256(inp['image_embeddings'].astype('<f4').tobytes()).hexdigest(),
            targetEmbeddingSha256=hashlib.sha256(t.numpy().astype('<f4').tobytes()).hexdigest(),
            iouPredictions=iou.ravel().tolist(),
            masksShape=list(masks.shape), masksStrided=b64(masks.ravel()[::STRIDE_MASKS]), masksSummary=summary(masks),
            lowResShape=list(low.shape), lowResStrided=b64(low.ravel()[::STRIDE_LOW]), lowResSummary=summary(low),
        ))
    out['weightsCheckMaxAbsDiff'] = worst_weights
    print(f'weights check (torch without T vs ONNX Runtime on the unpatched decoder): max abs diff {worst_weights:.2e}')
    if worst_weights > 1e-4:
        sys.exit('the weights were not loaded correctly from the decoder; golden values not written')

    if args.export_k1:
        export_single_mask(holder, SamOnnxModel, args.export_k1)

    with open(args.out, 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    print(f'wrote {args.out}')


def export_single_mask(holder, SamOnnxModel, path):
    """The official export (scripts/export_onnx_model.py settings) with return_single_mask=True, same weights."""
    m = SamOnnxModel.__new__(SamOnnxModel)
    nn.Module.__init__(m)
    m.mask_decoder = holder.mask_decoder
    m.model = holder
    m.img_size = 1024
    m.return_single_mask = True
    m.use_stability_score = False
    m.stability_score_offset = 1.0
    m.return_extra_metrics = False

    class Plain(nn.Module):
        # PerSAM's predict_masks without a target embedding is SAM's predict_masks.
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *a):
            return self.inner(*a)

    dummy = dict(
        image_embeddings=torch.randn(1, 256, 64, 64),
        point_coords=torch.randint(0, 1024, (1, 5, 2), dtype=torch.float),
        point_labels=torch.randint(0, 4, (1, 5), dtype=torch.float),
        mask_input=torch.randn(1, 1, 256, 256),
        has_mask_input=torch.tensor([1], dtype=torch.float),
        orig_im_size=torch.tensor([1500, 2250], dtype=torch.float),
    )
    torch.onnx.export(m, tuple(dummy.values()), path, export_params=True, opset_version=17, do_constant_folding=True,
                      input_names=list(dummy.keys()), output_names=['masks', 'iou_predictions', 'low_res_masks'],
                      dynamic_axes={'point_coords': {1: 'num_points'}, 'point_labels': {1: 'num_points'}}, dynamo=False)
    print(f'exported K = 1 decoder to {path}')


if __name__ == '__main__':
    main()
