#!/usr/bin/env python3
"""Classical baseline on any dataset folder (images of any size, aspect ratio, grey or RGB): elastix (Debian
package) affine + B-spline with the parameter files of the team's elastix baseline (Mattes MI, 3 resolutions,
500 iterations, centre-of-gravity initialisation), the reference = first image file alphabetically.

Same protocol as ../shared/tools/elastix-baseline/run.py, generalised to mixed sizes: each image is box-filtered
so that its longest side is WORK px and written with a physical pixel spacing; the reference label is warped
nearest-neighbour onto each test image's own full-resolution grid and scored against its mask (Dice per class
present in the reference). How test pixels map to physical units (--frame):
  squash   every image spans the reference's extent (run.py: each image resized to the same square; default)
  longest  isotropic, every image's longest side spans the reference's longest side
  pixels   isotropic, one original pixel = one unit in every image
For images of the reference's size all three are the same.

usage: elastix.py DATASET_DIR OUT_DIR [--work 256] [--limit N] [--jobs 2] [--params DIR] [--frame squash|longest|pixels]
writes OUT_DIR/summary.json (mean Dice per class, mDice, per-image Dice, wall time)."""
import argparse, json, os, re, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
import numpy as np
from PIL import Image

ap = argparse.ArgumentParser()
ap.add_argument('dataset'); ap.add_argument('out')
ap.add_argument('--work', type=int, default=256)
ap.add_argument('--limit', type=int, default=0)
ap.add_argument('--jobs', type=int, default=2)
ap.add_argument('--frame', choices=['squash', 'longest', 'pixels'], default='squash')
here = os.path.dirname(os.path.abspath(__file__))
default_params = os.path.normpath(os.path.join(here, '..', '..', '..', 'shared', 'tools', 'elastix-baseline'))
ap.add_argument('--params', default=os.environ.get('ELASTIX_PARAMS', default_params))
a = ap.parse_args()
for f in ('affine.txt', 'bspline.txt'):
    if not os.path.exists(os.path.join(a.params, f)):
        sys.exit(f'{a.params}/{f} not found: pass --params DIR holding affine.txt and bspline.txt')
os.makedirs(a.out, exist_ok=True)
names = sorted(os.listdir(os.path.join(a.dataset, 'images')))
stem = lambda n: os.path.splitext(n)[0]
masks = {stem(n): n for n in os.listdir(os.path.join(a.dataset, 'masks'))}
names = [n for n in names if stem(n) in masks]
ref, tests = names[0], names[1:]
if a.limit: tests = tests[:a.limit]

def load(p, mode='L'):
    return np.array(Image.open(p).convert(mode))

def write_mha(path, arr, spacing, origin, etype):
    raw = path[:-4] + '.raw'
    arr.tofile(raw)
    with open(path, 'w') as f:
        f.write(f"ObjectType = Image\nNDims = 2\nDimSize = {arr.shape[1]} {arr.shape[0]}\nElementSpacing = {spacing[0]} {spacing[1]}\n"
                f"Offset = {origin[0]} {origin[1]}\nElementType = {etype}\nElementDataFile = {os.path.basename(raw)}\n")

def read_mha(path):
    hdr = dict(l.split(' = ', 1) for l in open(path).read().strip().split('\n'))
    w, h = map(int, hdr['DimSize'].split()); et = hdr['ElementType']
    dt = {'MET_UCHAR': np.uint8, 'MET_FLOAT': np.float32, 'MET_SHORT': np.int16, 'MET_USHORT': np.uint16}[et]
    return np.fromfile(os.path.join(os.path.dirname(path), hdr['ElementDataFile']), dtype=dt).reshape(h, w)

def unit(shape):
    """Physical size (x, y) of one original pixel of an image of this shape (the reference's pixels are 1)."""
    H, W = shape
    Hr, Wr = refimg.shape
    if a.frame == 'squash': return Wr / W, Hr / H
    if a.frame == 'longest': return (max(Wr, Hr) / max(W, H),) * 2
    return 1.0, 1.0

def small(img):
    """Box-filtered copy with longest side WORK, its spacing and origin in physical units (pixel centres)."""
    H, W = img.shape
    ux, uy = unit(img.shape)
    if a.frame == 'squash':
        w = h = a.work
    else:
        f = max(W, H) / a.work
        w, h = max(1, round(W / f)), max(1, round(H / f))
    sx, sy = ux * W / w, uy * H / h
    arr = np.array(Image.fromarray(img).resize((w, h), Image.BOX)).astype(np.float32)
    return arr, (sx, sy), ((sx - ux) / 2, (sy - uy) / 2)

refimg = load(os.path.join(a.dataset, 'images', ref))
refmask = load(os.path.join(a.dataset, 'masks', masks[stem(ref)]))
classes = [int(k) for k in np.unique(refmask) if k != 0]

def one(name):
    s = stem(name); d = os.path.join(a.out, s); os.makedirs(d, exist_ok=True)
    img = load(os.path.join(a.dataset, 'images', name)); gt = load(os.path.join(a.dataset, 'masks', masks[s]))
    fs, fsp, fo = small(img); ms, msp, mo = small(refimg)
    write_mha(os.path.join(d, 'f.mha'), fs, fsp, fo, 'MET_FLOAT'); write_mha(os.path.join(d, 'm.mha'), ms, msp, mo, 'MET_FLOAT')
    write_mha(os.path.join(d, 'lab.mha'), refmask.astype(np.uint8), (1.0, 1.0), (0.0, 0.0), 'MET_UCHAR')
    t0 = time.time()
    r = subprocess.run(['elastix', '-f', 'f.mha', '-m', 'm.mha', '-p', os.path.join(a.params, 'affine.txt'), '-p',
                        os.path.join(a.params, 'bspline.txt'), '-out', '.', '-threads', '1'], cwd=d, capture_output=True, text=True)
    if r.returncode: return s, None, time.time() - t0
    tp1 = open(os.path.join(d, 'TransformParameters.1.txt')).read()
    tp1 = re.sub(r'\(InitialTransformParametersFileName "[^"]*"\)', '(InitialTransformParametersFileName "./TransformParameters.0.txt")', tp1)
    tp1 = re.sub(r'\(FinalBSplineInterpolationOrder \d\)', '(FinalBSplineInterpolationOrder 0)', tp1)
    tp1 = re.sub(r'\(Size [^)]*\)', f'(Size {gt.shape[1]} {gt.shape[0]})', tp1)
    ux, uy = unit(gt.shape)
    tp1 = re.sub(r'\(Spacing [^)]*\)', f'(Spacing {ux} {uy})', tp1)
    tp1 = re.sub(r'\(Origin [^)]*\)', '(Origin 0 0)', tp1)
    tp1 = re.sub(r'\(ResultImagePixelType "[^"]*"\)', '(ResultImagePixelType "unsigned char")', tp1)
    if 'ResultImagePixelType' not in tp1: tp1 += '\n(ResultImagePixelType "unsigned char")\n'
    open(os.path.join(d, 'tp_nn.txt'), 'w').write(tp1)
    r = subprocess.run(['transformix', '-in', 'lab.mha', '-tp', 'tp_nn.txt', '-out', '.', '-threads', '1'], cwd=d, capture_output=True, text=True)
    dt = time.time() - t0
    if r.returncode: return s, None, dt
    pred = read_mha(os.path.join(d, 'result.mhd')).astype(np.uint8)
    res = {}
    for k in classes:
        p, g = pred == k, gt == k; den = p.sum() + g.sum()
        res[k] = float(2 * (p & g).sum() / den) if den else 1.0
    for f in os.listdir(d):
        if f.endswith(('.raw', '.mha', '.mhd')): os.remove(os.path.join(d, f))
    return s, res, dt

t0 = time.time(); rows = []
with ThreadPoolExecutor(a.jobs) as ex:
    for s, res, dt in ex.map(one, tests):
        rows.append((s, res, dt))
        print(s, 'FAIL' if res is None else ' '.join(f'{k}:{v:.3f}' for k, v in res.items()), f'{dt:.1f}s', flush=True)
ok = [r for r in rows if r[1]]
# A failed registration counts as Dice 0 for every class (what a user would get: no mask).
summ = {'dataset': os.path.abspath(a.dataset), 'ref': ref, 'n': len(rows), 'failed': len(rows) - len(ok), 'work_px': a.work, 'frame': a.frame,
        'wall_s': time.time() - t0, 'mean_s_per_image': float(np.mean([r[2] for r in rows]))}
for k in classes:
    summ[f'dice_{k}'] = float(np.mean([r[1][k] if r[1] else 0.0 for r in rows]))
summ['mDice'] = float(np.mean([summ[f'dice_{k}'] for k in classes]))
summ['per_image'] = {r[0]: ({str(k): round(v, 4) for k, v in r[1].items()} if r[1] else None) for r in rows}
json.dump(summ, open(os.path.join(a.out, 'summary.json'), 'w'), indent=1)
print(json.dumps({k: v for k, v in summ.items() if k != 'per_image'}))
