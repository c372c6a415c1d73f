/**
 * `medpersam segment`: one annotated reference + a folder of images → a label mask per image.
 * The engine (warp model + SAM prompts, src/pipeline) is not in this build yet; the options are final.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailable } from './not-available.js';

export interface SegmentCommandOptions {
  /** Reference image file. */
  ref: string;
  /** Label mask of the reference image (0 background, 1..K classes). */
  refMask: string;
  /** Folder of images to segment. */
  images: string;
  /** Output folder (masks/, overlays/, run state). */
  out: string;
  /** SAM model: a registry id, a folder with encoder/decoder ONNX files, or "none" (warp model only). */
  sam: string;
  /** classes.json naming the classes of the reference mask. */
  classes?: string;
}

export function registerSegmentCommand(program: Command, _ctx: CliContext): void {
  program
    .command('segment')
    .description('segment a folder of images from one annotated reference image (Med-PerSAM)')
    .requiredOption('--ref <file>', 'reference image')
    .requiredOption('--ref-mask <file>', 'label mask of the reference image')
    .requiredOption('--images <dir>', 'folder of images to segment')
    .requiredOption('--out <dir>', 'output folder (masks/, overlays/)')
    .option('--sam <id|dir|none>', 'SAM model id, model folder, or "none" for the warp model alone', 'none')
    .option('--classes <file>', 'classes.json naming the classes of the reference mask')
    .addHelpText('after', '\nExample:\n  medpersam segment --ref ref.png --ref-mask ref_mask.png --images scans/ --out results/')
    .action(async (_opts: SegmentCommandOptions) => {
      throw notAvailable('segment (the Med-PerSAM segmentation pipeline)');
    });
}
