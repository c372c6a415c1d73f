/**
 * Known SAM models in the official ONNX format (decoder with `mask_input`; see model-files.ts for the checks), and
 * SAM 2.1 in samexporter's SAM 2 interface (sam2-interface.ts).
 *
 * Pure data (browser-safe). Where the URLs come from: the public AnyLabeling model list
 * (`anylabeling/configs/auto_labeling/models.yaml`, which points at the Hugging Face repository
 * `vietanhdev/segment-anything-onnx-models`, one zip per model exported with samexporter) and the GitHub
 * releases of `vietanhdev/anylabeling-assets` (tag v0.4.0); for SAM 2.1 the model card of the Hugging Face
 * repository `vietanhdev/segment-anything-2.1-onnx-models` (samexporter's own SAM 2.1 exports, the ones AnyLabeling
 * loads; one zip per size). These URLs were NOT fetched from the machine
 * this code was built on (it has no internet access): they are public facts, not verified downloads.
 *
 * Checksums: no sha256 is pinned yet (none could be measured here and none is invented). When a file has
 * no `sha256`, `pullModel` records the sha256 it computed in `<dir>/manifest.json` (trust on first use) and
 * says so. Once someone measures a real download, put its sha256 here and mismatches become errors.
 * Sizes are approximate (estimated from the published checkpoint sizes), for display only.
 */

/** What a file of a model is. */
export type ModelFileRole = 'encoder' | 'decoder' | 'external-data' | 'archive';

export interface ModelFile {
  /** File name at the source (the last URL segment) and on disk. */
  name: string;
  role: ModelFileRole;
  /** Pinned lowercase hex sha256, when known. Absent = trust on first use. */
  sha256?: string;
  /** Exact size in bytes, when known (lets a download detect a wrong/changed file early). */
  bytes?: number;
}

export interface ModelSource {
  /** Short name shown to users, e.g. "huggingface" or "github-release". */
  label: string;
  /** Base URL; each file is fetched from `${baseUrl}/${file.name}`. */
  baseUrl: string;
  /** 'zip': one archive (files[0], role 'archive') unpacked into the model folder; 'files': loose files. */
  kind: 'zip' | 'files';
  files: readonly ModelFile[];
}

export interface KnownModel {
  /** Stable id used on the command line (`medpersam models pull <id>`, `--sam <id>`). */
  id: string;
  description: string;
  /** Approximate download size in bytes (display only). */
  approxBytes: number;
  /** Sources in order of preference; later ones are mirrors tried when an earlier one fails. */
  sources: readonly ModelSource[];
  /** Checkpoint name for users who export the model themselves (segment-anything / MobileSAM release). */
  checkpoint: string;
  /** `--model-type` for the export scripts. */
  exportModelType: string;
  /** SAM generation (default 'sam1'); 'sam2' = SAM 2 / 2.1 in samexporter's export_sam2.py interface. */
  family?: 'sam1' | 'sam2';
}

/** Environment variable that replaces every source's base URL (mirrors, tests on 127.0.0.1). */
export const MODEL_BASE_URL_ENV = 'MEDPERSAM_MODEL_BASE_URL';

/** True once the URLs below have been fetched and checked from a machine with internet access. */
export const SOURCE_URLS_VERIFIED = false;

const HF_BASE = 'https://huggingface.co/vietanhdev/segment-anything-onnx-models/resolve/main';
/**
 * SAM 2.1 zips (encoder.onnx + decoder.onnx from samexporter's export_sam2.py, exported 2026-02-21), as the
 * repository's model card lists them with their sizes (111 / 136 / 259 / 768 MB). Not fetched from here either.
 */
const HF_SAM21_BASE = 'https://huggingface.co/vietanhdev/segment-anything-2.1-onnx-models/resolve/main';
const GH_BASE = 'https://github.com/vietanhdev/anylabeling-assets/releases/download/v0.4.0';

const MB = 1_000_000;

function hfZip(name: string): ModelSource {
  return { label: 'huggingface', baseUrl: HF_BASE, kind: 'zip', files: [{ name, role: 'archive' }] };
}

function sam21(size: 'tiny' | 'small' | 'base_plus' | 'large', label: string, mb: number): KnownModel {
  return {
    id: `sam2.1-hiera-${size.replace('_', '-')}`,
    description: `SAM 2.1 Hiera-${label} (SAM 2 ONNX interface of samexporter's export_sam2.py)`,
    approxBytes: mb * MB,
    sources: [{ label: 'huggingface', baseUrl: HF_SAM21_BASE, kind: 'zip', files: [{ name: `sam2.1_hiera_${size}_20260221.zip`, role: 'archive' }] }],
    checkpoint: `sam2.1_hiera_${size}.pt (github.com/facebookresearch/sam2)`,
    exportModelType: `sam2.1_hiera_${size}`,
    family: 'sam2',
  };
}

export const KNOWN_MODELS: readonly KnownModel[] = [
  {
    id: 'mobile-sam',
    description: 'MobileSAM (TinyViT encoder, SAM decoder): small and fast on CPU',
    approxBytes: 37 * MB,
    sources: [
      hfZip('mobile_sam_20230629.zip'),
      {
        label: 'github-release',
        baseUrl: GH_BASE,
        kind: 'files',
        files: [
          { name: 'mobile_sam.encoder.onnx', role: 'encoder' },
          { name: 'mobile_sam.decoder.onnx', role: 'decoder' },
        ],
      },
    ],
    checkpoint: 'mobile_sam.pt (github.com/ChaoningZhang/MobileSAM)',
    exportModelType: 'mobile',
  },
  {
    id: 'sam-vit-b',
    description: 'SAM ViT-B (the smallest original SAM)',
    approxBytes: 375 * MB,
    sources: [hfZip('sam_vit_b_01ec64.zip')],
    checkpoint: 'sam_vit_b_01ec64.pth',
    exportModelType: 'vit_b',
  },
  {
    id: 'sam-vit-b-quant',
    description: 'SAM ViT-B, int8-quantised encoder (smaller download, slightly lower quality)',
    approxBytes: 110 * MB,
    sources: [
      hfZip('sam_vit_b_01ec64_quant.zip'),
      { label: 'github-release', baseUrl: GH_BASE, kind: 'zip', files: [{ name: 'segment_anything_vit_b_quant-r20230416.zip', role: 'archive' }] },
    ],
    checkpoint: 'sam_vit_b_01ec64.pth',
    exportModelType: 'vit_b',
  },
  {
    id: 'sam-vit-l',
    description: 'SAM ViT-L',
    approxBytes: 1250 * MB,
    sources: [hfZip('sam_vit_l_0b3195.zip')],
    checkpoint: 'sam_vit_l_0b3195.pth',
    exportModelType: 'vit_l',
  },
  {
    id: 'sam-vit-l-quant',
    description: 'SAM ViT-L, int8-quantised encoder',
    approxBytes: 330 * MB,
    sources: [hfZip('sam_vit_l_0b3195_quant.zip')],
    checkpoint: 'sam_vit_l_0b3195.pth',
    exportModelType: 'vit_l',
  },
  {
    id: 'sam-vit-h',
    description: 'SAM ViT-H (the model the Med-PerSAM paper uses; encoder weights in an external-data file)',
    approxBytes: 2560 * MB,
    sources: [hfZip('sam_vit_h_4b8939.zip')],
    checkpoint: 'sam_vit_h_4b8939.pth',
    exportModelType: 'vit_h',
  },
  {
    id: 'sam-vit-h-quant',
    description: 'SAM ViT-H, int8-quantised encoder',
    approxBytes: 660 * MB,
    sources: [hfZip('sam_vit_h_4b8939_quant.zip')],
    checkpoint: 'sam_vit_h_4b8939.pth',
    exportModelType: 'vit_h',
  },  sam21('tiny', 'Tiny', 111),
  sam21('small', 'Small', 136),
  sam21('base_plus', 'Base+', 259),
  sam21('large', 'Large', 768),
];

export function knownModelIds(): string[] {
  return KNOWN_MODELS.map((m) => m.id);
}

export function findKnownModel(id: string): KnownModel | undefined {
  return KNOWN_MODELS.find((m) => m.id === id);
}

/** True when every file of every source has a pinned sha256. */
export function hasPinnedChecksums(model: KnownModel): boolean {
  return model.sources.every((s) => s.files.every((f) => typeof f.sha256 === 'string'));
}

/** The URL of one file of a source, with an optional base-URL override (trailing slashes ignored). */
export function fileUrl(source: ModelSource, file: ModelFile, baseUrlOverride?: string): string {
  const base = (baseUrlOverride ?? source.baseUrl).replace(/\/+$/, '');
  return `${base}/${encodeURIComponent(file.name)}`;
}
