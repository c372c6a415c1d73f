#!/usr/bin/env python3
"""Golden outputs of the official SAM 2.1 image predictor for test/sam/sam2-golden.test.ts.

Runs SAM2ImagePredictor (facebookresearch/sam2, PyTorch) on the real-architecture SAM 2.1 Hiera-Tiny that
../shared/tools/real-arch-sam2/make.py builds (random seeded weights; the ONNX pair in its models/sam2.1-hiera-tiny/
is that model exported with samexporter's interface), for one small RGB image and a few prompts, and writes
test/fixtures/golden/sam2-hiera-tiny.json: the predicted IoUs, the 256x256 low-resolution logits and the full-size
logits at a few hundred sampled positions, and their means. The test runs medpersam's SAM 2 path (preprocessing,
ONNX encoder, decoder inputs, resizing of the outputs) on the ONNX files and compares within 1e-4.

Preprocessing is the official pipeline's (SAM2Transforms: ToTensor -> Resize((1024, 1024)) -> Normalize with the
ImageNet statistics) written with torch ops, as torchvision is not installable here: Resize on a tensor is
F.interpolate(bilinear, align_corners=False, antialias=True); the image is smaller than 1024 on both axes, so this
is plain bilinear upsampling. make.py's predictor takes the normalised 1024x1024 tensor (its PrenormalisedTransforms);
`_orig_hw` is then set to the image's own size, as set_image sets it for the image itself, so prompts and masks are
transformed by the official code.

The 'persam' case runs PerSAM's target-semantic prompting (paper App. C.1) in SAM 2's two-way transformer: the target
embedding T is added to the queries before every layer (the first addition, in place, also reaches the query
positional encoding: PerSAM's `queries += target_embedding` on the point embedding itself) and to the final
attention's query. The same rule as src/sam/target-embedding.ts implements on the decoder graph.

Usage: SAM2_BUILD_DIR=<writable copy of real-arch-sam2 with models/ built> \
         <that dir>/.venv/bin/python tools/sam2-reference/make_golden.py
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("SAM2_BUILD_DIR", "")).resolve()
sys.path.insert(0, str(BUILD))
sys.path.insert(0, str(REPO / "tools" / "persam-reference"))
from make_golden import mulberry32, uniform_f32  # noqa: E402  (same generators as src/image/random.ts)

OUT = REPO / "test" / "fixtures" / "golden" / "sam2-hiera-tiny.json"
WIDTH, HEIGHT = 300, 200
IMAGE_SEED = 2024
TARGET_SEED = 77
TARGET_SCALE = 0.5
SAMPLES_LOW, SAMPLES_FULL = 150, 200
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def make_image() -> np.ndarray:
    """HxWx3 uint8, row-major RGB: floor(256 u) from mulberry32(IMAGE_SEED)."""
    nxt = mulberry32(IMAGE_SEED)
    v = [int(nxt() * 256) for _ in range(HEIGHT * WIDTH * 3)]
    return np.array(v, dtype=np.uint8).reshape(HEIGHT, WIDTH, 3)


def preprocess(image: np.ndarray) -> torch.Tensor:
    """SAM2Transforms' ToTensor -> Resize((1024, 1024)) -> Normalize, as torch ops ([1,3,1024,1024])."""
    x = torch.from_numpy(image).permute(2, 0, 1).float().div(255)[None]
    x = F.interpolate(x, size=(1024, 1024), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def persam_transformer_forward(target):
    """SAM 2's TwoWayTransformer.forward with PerSAM's target embedding (see the module docstring)."""

    def forward(self, image_embedding, image_pe, point_embedding):
        image_embedding = image_embedding.flatten(2).permute(0, 2, 1)
        image_pe = image_pe.flatten(2).permute(0, 2, 1)
        point_embedding = point_embedding.clone()
        queries = point_embedding
        keys = image_embedding
        for layer in self.layers:
            queries += target  # layer 0: in place on point_embedding too, as PerSAM's code does
            queries, keys = layer(queries=queries, keys=keys, query_pe=point_embedding, key_pe=image_pe)
        q = queries + point_embedding + target
        k = keys + image_pe
        queries = queries + self.final_attn_token_to_image(q=q, k=k, v=keys)
        return self.norm_final_attn(queries), keys

    return forward


def sample_positions(seed: int, n: int, size: int) -> list[int]:
    nxt = mulberry32(seed)
    return sorted({int(nxt() * size) for _ in range(n)})


def summarise(masks: np.ndarray, low: np.ndarray, iou: np.ndarray, low_pos, full_pos) -> dict:
    k = masks.shape[0]
    return {
        "iouPredictions": [float(v) for v in iou],
        "lowRes": [[float(low[i].reshape(-1)[p]) for p in low_pos] for i in range(k)],
        "lowResMean": [float(low[i].astype(np.float64).mean()) for i in range(k)],
        "masks": [[float(masks[i].reshape(-1)[p]) for p in full_pos] for i in range(k)],
        "masksMean": [float(masks[i].astype(np.float64).mean()) for i in range(k)],
    }


def to_json(golden: dict) -> str:
    """Compact JSON, floats to 9 significant digits (float32 round-trips; the file stays small)."""

    def rounded(v):
        if isinstance(v, float):
            return float(f"{v:.9g}")
        if isinstance(v, list):
            return [rounded(x) for x in v]
        if isinstance(v, dict):
            return {k: rounded(x) for k, x in v.items()}
        return v

    def compact(v) -> str:
        return json.dumps(v, separators=(",", ":"))

    r = rounded(golden)
    cases = ",\n  ".join(compact(c) for c in r.pop("cases"))
    head = ",\n".join(f" {json.dumps(k)}: {compact(v)}" for k, v in r.items())
    return f'{{\n{head},\n "cases": [\n  {cases}\n ]\n}}\n'


def main() -> None:
    import make as builder  # the builder's make.py: sources, import shims, the seeded model

    builder.install_import_shims()
    import onnxruntime as ort
    from sam2.modeling.sam.transformer import TwoWayTransformer

    torch.set_num_threads(1)
    model = builder.build_model()
    predictor = builder.make_predictor(model)
    image = make_image()
    x = preprocess(image)
    with torch.no_grad():
        predictor.set_image(np.ascontiguousarray(x[0].permute(1, 2, 0).numpy()))
    predictor._orig_hw = [(HEIGHT, WIDTH)]

    # The ONNX encoder on the same input must give the predictor's features (else the files are not this model).
    model_dir = BUILD / "models" / "sam2.1-hiera-tiny"
    so = ort.SessionOptions()
    so.add_session_config_entry("optimization.disable_specified_optimizers", "ReshapeFusion")
    enc = ort.InferenceSession(str(model_dir / "encoder.onnx"), so, providers=["CPUExecutionProvider"])
    onnx_out = dict(zip([o.name for o in enc.get_outputs()], enc.run(None, {"image": x.numpy()})))
    feats = predictor._features
    encoder_diff = max(
        float(np.abs(onnx_out["image_embed"] - feats["image_embed"].numpy()).max()),
        float(np.abs(onnx_out["high_res_feats_0"] - feats["high_res_feats"][0].numpy()).max()),
        float(np.abs(onnx_out["high_res_feats_1"] - feats["high_res_feats"][1].numpy()).max()),
    )
    print(f"ONNX encoder vs predictor features: max |diff| {encoder_diff:.2e}")

    low_pos = sample_positions(11, SAMPLES_LOW, 256 * 256)
    full_pos = sample_positions(12, SAMPLES_FULL, WIDTH * HEIGHT)
    target = torch.from_numpy(uniform_f32(TARGET_SEED, 256, -TARGET_SCALE, TARGET_SCALE)).view(1, 1, 256)
    box = [60.0, 40.0, 240.0, 160.0]
    cases = [
        {"name": "points", "points": [[150, 100, 1], [40, 170, 0]], "box": None, "maskFrom": None, "target": False},
        {"name": "box+point", "points": [[150, 100, 1]], "box": box, "maskFrom": None, "target": False},
        {"name": "mask+point", "points": [[150, 100, 1]], "box": None, "maskFrom": "box+point", "target": False},
        {"name": "persam box+point+mask", "points": [[150, 100, 1]], "box": box, "maskFrom": "box+point", "target": True},
    ]
    low_by_name = {}
    original_forward = TwoWayTransformer.forward
    for c in cases:
        pts = np.array([[p[0], p[1]] for p in c["points"]], dtype=np.float32)
        labels = np.array([p[2] for p in c["points"]], dtype=np.int32)
        mask_input = None
        if c["maskFrom"]:
            prev_low, prev_iou = low_by_name[c["maskFrom"]]
            mask_input = prev_low[int(np.argmax(prev_iou))][None]
            c["maskChannel"] = int(np.argmax(prev_iou))
        TwoWayTransformer.forward = persam_transformer_forward(target) if c["target"] else original_forward
        with torch.no_grad():
            masks, iou, low = predictor.predict(
                point_coords=pts, point_labels=labels, box=np.array(c["box"], dtype=np.float32) if c["box"] else None,
                mask_input=mask_input, multimask_output=True, return_logits=True,
            )
        TwoWayTransformer.forward = original_forward
        low_by_name[c["name"]] = (low, iou)
        c.update(summarise(masks, low, iou, low_pos, full_pos))
        print(f"{c['name']}: iou {np.round(iou, 5).tolist()}, mask logits in [{masks.min():.3f}, {masks.max():.3f}]")

    enc_sha = hashlib.sha256((model_dir / "encoder.onnx").read_bytes()).hexdigest()
    dec_sha = hashlib.sha256((model_dir / "decoder.onnx").read_bytes()).hexdigest()
    golden = {
        "about": "SAM2ImagePredictor (sam2 @ 2b90b9f) on real-arch-sam2's Hiera-Tiny (random weights); tools/sam2-reference/make_golden.py",
        "encoderSha256": enc_sha,
        "decoderSha256": dec_sha,
        "onnxEncoderVsPredictorMaxAbsDiff": encoder_diff,
        "width": WIDTH,
        "height": HEIGHT,
        "imageSeed": IMAGE_SEED,
        "targetSeed": TARGET_SEED,
        "targetScale": TARGET_SCALE,
        "lowResPositions": low_pos,
        "fullPositions": full_pos,
        "cases": cases,
    }
    OUT.write_text(to_json(golden))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
