#!/usr/bin/env python3
"""
A SAM ViT-B pair with the REAL architecture and the official ONNX interfaces but seeded random weights (no
checkpoint can be downloaded where medpersam is built): for measuring real-size costs and loading real export
graphs. Masks from it are meaningless.

  - model: segment-anything's build_sam_vit_b(checkpoint=None) after torch.manual_seed(seed) (default init);
  - encoder.onnx: exported as samexporter's export_encoder.py does with --use-preprocess (ImageEncoderOnnxModel:
    input_image [H,W,3] raw 0..255 with dynamic H and W; normalise, pad to 1024 inside the graph), torch's
    TorchScript exporter — so its output is declared with symbolic dims, image_embeddings [?,256,?,?];
  - decoder.onnx: segment-anything's scripts/export_onnx_model.py settings (SamOnnxModel, return_single_mask=False,
    K = 4), opset 17.

NOT a runtime or test dependency. Usage (writes OUTSIDE the repository):
  pip install torch onnx
  git clone https://github.com/facebookresearch/segment-anything      # dca509fe793f601edb92606367a655c15ac00fdf
  git clone https://github.com/vietanhdev/samexporter                  # for reference only; its encoder wrapper is reproduced below
  python tools/real-arch-models/build_sam_vit_b.py --segment-anything segment-anything --out /path/to/real-arch-vit-b
"""
import argparse
import os
import sys
import types
import warnings

import torch
from torch import nn
from torch.nn import functional as F


def bare_package(dotted, root):
    m = types.ModuleType(dotted)
    m.__path__ = [os.path.join(root, *dotted.split('.'))]
    sys.modules[dotted] = m


class ImageEncoderOnnxModel(nn.Module):
    """samexporter's encoder wrapper with use_preprocess=True: raw [H,W,3] 0..255 in, [1,256,64,64] out."""

    def __init__(self, image_encoder):
        super().__init__()
        self.image_encoder = image_encoder
        self.register_buffer('pixel_mean', torch.tensor([123.675, 116.28, 103.53]), persistent=False)
        self.register_buffer('pixel_std', torch.tensor([58.395, 57.12, 57.375]), persistent=False)

    @torch.no_grad()
    def forward(self, input_image):
        x = (input_image - self.pixel_mean) / self.pixel_std
        x = torch.permute(x, (2, 0, 1))
        h, w = x.shape[-2:]
        x = F.pad(x, (0, self.image_encoder.img_size - w, 0, self.image_encoder.img_size - h))
        return self.image_encoder(torch.unsqueeze(x, 0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--segment-anything', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--opset', type=int, default=17)
    args = ap.parse_args()
    sys.path.insert(0, args.segment_anything)
    bare_package('segment_anything', args.segment_anything)  # its __init__ imports the predictor (torchvision)
    bare_package('segment_anything.utils', args.segment_anything)
    from segment_anything.build_sam import build_sam_vit_b
    from segment_anything.utils.onnx import SamOnnxModel

    torch.manual_seed(args.seed)
    sam = build_sam_vit_b(checkpoint=None).eval()
    os.makedirs(args.out, exist_ok=True)
    warnings.filterwarnings('ignore')

    enc = ImageEncoderOnnxModel(sam.image_encoder).eval()
    dummy = torch.randn(1024, 1024, 3)
    torch.onnx.export(enc, (dummy,), os.path.join(args.out, 'encoder.onnx'), export_params=True, opset_version=args.opset,
                      do_constant_folding=True, input_names=['input_image'], output_names=['image_embeddings'],
                      dynamic_axes={'input_image': {0: 'image_height', 1: 'image_width'}}, dynamo=False)
    print('encoder exported')

    dec = SamOnnxModel(model=sam, return_single_mask=False)
    dummy_inputs = dict(
        image_embeddings=torch.randn(1, 256, 64, 64),
        point_coords=torch.randint(low=0, high=1024, size=(1, 5, 2), dtype=torch.float),
        point_labels=torch.randint(low=0, high=4, size=(1, 5), dtype=torch.float),
        mask_input=torch.randn(1, 1, 256, 256),
        has_mask_input=torch.tensor([1], dtype=torch.float),
        orig_im_size=torch.tensor([1500, 2250], dtype=torch.float),
    )
    _ = dec(**dummy_inputs)
    torch.onnx.export(dec, tuple(dummy_inputs.values()), os.path.join(args.out, 'decoder.onnx'), export_params=True,
                      opset_version=args.opset, do_constant_folding=True, input_names=list(dummy_inputs.keys()),
                      output_names=['masks', 'iou_predictions', 'low_res_masks'],
                      dynamic_axes={'point_coords': {1: 'num_points'}, 'point_labels': {1: 'num_points'}}, dynamo=False)
    print('decoder exported')
    with open(os.path.join(args.out, 'README.md'), 'w') as f:
        f.write(f'SAM ViT-B, real architecture, RANDOM weights (torch.manual_seed({args.seed}), build_sam_vit_b(checkpoint=None)).\n'
                f'Built by medpersam tools/real-arch-models/build_sam_vit_b.py with torch {torch.__version__}, opset {args.opset}.\n'
                'encoder.onnx: samexporter --use-preprocess style (input_image [H,W,3], output image_embeddings [?,256,?,?]).\n'
                'decoder.onnx: segment-anything export_onnx_model.py defaults (K = 4).\n')


if __name__ == '__main__':
    main()
