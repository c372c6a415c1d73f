import { describe, expect, it } from 'vitest';
import {
  KNOWN_MODELS,
  SOURCE_URLS_VERIFIED,
  fileUrl,
  findKnownModel,
  hasPinnedChecksums,
  knownModelIds,
} from '../../src/sam/registry.js';

const HF = 'https://huggingface.co/vietanhdev/segment-anything-onnx-models/resolve/main/';
const GH = 'https://github.com/vietanhdev/anylabeling-assets/releases/download/v0.4.0/';
const HF_SAM21 = 'https://huggingface.co/vietanhdev/segment-anything-2.1-onnx-models/resolve/main/';

describe('KNOWN_MODELS', () => {
  it('has unique kebab-case ids covering MobileSAM, SAM ViT-B/L/H and the four SAM 2.1 sizes', () => {
    const ids = knownModelIds();
    expect(new Set(ids).size).toBe(ids.length);
    // A dot only inside a version (sam2.1).
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]+(\.[0-9]+)?(-[a-z0-9]+)*$/);
    for (const id of ['mobile-sam', 'sam-vit-b', 'sam-vit-b-quant', 'sam-vit-l', 'sam-vit-h']) expect(ids).toContain(id);
    for (const size of ['tiny', 'small', 'base-plus', 'large']) {
      const m = findKnownModel(`sam2.1-hiera-${size}`)!;
      expect(m.family).toBe('sam2');
      expect(m.sources[0]!.files[0]!.name).toBe(`sam2.1_hiera_${size.replace('-', '_')}_20260221.zip`);
    }
    expect(findKnownModel('sam-vit-b')!.checkpoint).toBe('sam_vit_b_01ec64.pth');
    expect(findKnownModel('nope')).toBeUndefined();
  });

  it('only points at the published official-format locations (the AnyLabeling model list)', () => {
    for (const model of KNOWN_MODELS) {
      expect(model.sources.length).toBeGreaterThan(0);
      expect(model.approxBytes).toBeGreaterThan(1e6);
      for (const source of model.sources) {
        for (const file of source.files) {
          const url = fileUrl(source, file);
          expect(url.startsWith(HF) || url.startsWith(GH) || url.startsWith(HF_SAM21)).toBe(true);
        }
        if (source.kind === 'zip') {
          expect(source.files).toHaveLength(1);
          expect(source.files[0]!.role).toBe('archive');
          expect(source.files[0]!.name).toMatch(/\.zip$/);
        } else {
          expect(source.files.filter((f) => f.role === 'encoder')).toHaveLength(1);
          expect(source.files.filter((f) => f.role === 'decoder')).toHaveLength(1);
        }
      }
    }
  });

  it('pins no checksum it could not measure, and says the URLs are unverified', () => {
    // Any pinned value must be a real sha256 (64 lowercase hex); today none is pinned (see registry.ts).
    for (const model of KNOWN_MODELS) {
      for (const s of model.sources) for (const f of s.files) if (f.sha256 !== undefined) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(hasPinnedChecksums(model)).toBe(false);
    }
    expect(SOURCE_URLS_VERIFIED).toBe(false);
  });

  it('builds URLs from a base-URL override, ignoring trailing slashes', () => {
    const source = findKnownModel('mobile-sam')!.sources[0]!;
    const file = source.files[0]!;
    expect(fileUrl(source, file)).toBe(`${HF}mobile_sam_20230629.zip`);
    expect(fileUrl(source, file, 'http://127.0.0.1:8080/m//')).toBe('http://127.0.0.1:8080/m/mobile_sam_20230629.zip');
  });
});
